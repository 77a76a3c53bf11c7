<?php
/* Leaves a trace that it ran: the bad-input tests check it never does. */
file_put_contents(__DIR__ . '/mark.ran', ($_SERVER['SCRIPT_FILENAME'] ?? '') . "\n", FILE_APPEND);
echo "mark ran\n";
