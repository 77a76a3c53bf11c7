<?php
// A Location header with nothing else: PHP answers 302 Found.
header('Location: /hello.php');
