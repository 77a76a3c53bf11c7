<?php
// Every string in $_SERVER as NAME=value lines, sorted, for tests to pick from.
ksort($_SERVER);
foreach ($_SERVER as $name => $value) {
    if (is_string($value)) {
        echo $name, '=', strtr($value, ["\n" => '\n']), "\n";
    }
}
