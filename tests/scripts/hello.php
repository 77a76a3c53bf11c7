<?php
// The smallest page: a 200 with a fixed body.
echo "Hello, world!\n";
