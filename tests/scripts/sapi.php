<?php
// Which SAPI runs the script, and whether opcache enabled itself for it (PHP 8.2 opcache
// does so only for SAPIs on its list, fpm-fcgi among them).
echo php_sapi_name(), "\n";
$status = function_exists('opcache_get_status') ? opcache_get_status(false) : false;
echo 'opcache ', is_array($status) && $status['opcache_enabled'] ? 'on' : 'off', "\n";
