<?php
/* Named by a PHP_VALUE auto_prepend_file param in a test: must never run unasked. */
echo "PREPENDED\n";
