<?php
/* A script for opcache to compile in one worker and serve from the other; reports who
   ran it and opcache's counters as this run sees them. */
$s = opcache_get_status(true);
echo "pid=", getmypid(), "\n";
echo "misses=", $s ? $s['opcache_statistics']['misses'] : -1, "\n";
echo "script_hits=", $s && isset($s['scripts'][__FILE__]) ? $s['scripts'][__FILE__]['hits'] : 'uncached', "\n";
