<?php
register_shutdown_function(function () { echo "shutdown-function\n"; });
echo "before-exit\n";
exit(3);
echo "after-exit\n";
