<?php
/* fastcgi_finish_request(): the client gets the response now; the script goes on,
   waits (at most 10 s) for the file named by ?go, then writes the file named by ?out. */
header('X-Before-Finish: yes');
echo "before-finish\n";
$r1 = fastcgi_finish_request();
echo "after-finish\n";
$r2 = fastcgi_finish_request();
$go = $_GET['go'];
for ($i = 0; $i < 1000 && !file_exists($go); $i++) {
	usleep(10000);
}
file_put_contents($_GET['out'], sprintf("r1=%s r2=%s go=%s pid=%d\n",
	var_export($r1, true), var_export($r2, true), var_export(file_exists($go), true), getmypid()));
