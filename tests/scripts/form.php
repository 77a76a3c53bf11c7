<?php
// A form handler: the request method, then every $_POST field as name=value lines.
echo 'method=', $_SERVER['REQUEST_METHOD'], "\n";
foreach ($_POST as $name => $value) {
    echo $name, '=', is_string($value) ? $value : json_encode($value), "\n";
}
