<?php
/* For the CVE-2019-11043 shape: what PATH_INFO became, who answered, whether an
   auto_prepend_file sneaked in, and which $_SERVER keys exist. */
echo "path_info=", array_key_exists('PATH_INFO', $_SERVER) ? var_export($_SERVER['PATH_INFO'], true) : 'unset', "\n";
echo "pid=", getmypid(), "\n";
echo "auto_prepend_file=", var_export(ini_get('auto_prepend_file'), true), "\n";
echo "keys=", implode(',', array_keys($_SERVER)), "\n";
