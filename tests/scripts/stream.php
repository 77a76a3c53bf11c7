<?php
/* Output buffering + flush(): the first chunk (with the worker's pid) must reach the
   client while the script still runs; it then waits (at most 10 s) for the file named by
   ?go before ending. The opcache test uses it to keep a worker busy. */
ob_start();
echo "first-chunk pid=", getmypid(), "\n";
ob_flush();
flush();
$go = $_GET['go'];
for ($i = 0; $i < 1000 && !file_exists($go); $i++) {
	usleep(10000);
}
echo file_exists($go) ? "second-chunk\n" : "timed-out\n";
