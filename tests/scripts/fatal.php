<?php
// A fatal error before any output: with display_errors off PHP answers 500, and the
// message goes to the log (FCGI_STDERR, which nginx writes to its error log).
undefined_function_for_the_test();
