<?php
/* Allocates until memory_limit stops it. */
ini_set('memory_limit', '16M');
$keep = [];
while (true) {
	$keep[] = str_repeat('x', 1 << 20);
}
