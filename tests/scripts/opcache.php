<?php
/* Opcache as this worker sees it: pid, status, global hit/miss counters, and the
   per-script hit count of $_GET['script'] (absent when not cached). */
$s = opcache_get_status(true);
$script = $_GET['script'] ?? '';
echo "pid=", getmypid(), "\n";
echo "sapi=", php_sapi_name(), "\n";
echo "enabled=", var_export($s !== false && $s['opcache_enabled'], true), "\n";
echo "hits=", $s ? $s['opcache_statistics']['hits'] : -1, "\n";
echo "misses=", $s ? $s['opcache_statistics']['misses'] : -1, "\n";
echo "script_hits=", $s && isset($s['scripts'][$script]) ? $s['scripts'][$script]['hits'] : 'uncached', "\n";
