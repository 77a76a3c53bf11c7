<?php
// Both roles of a FastCGI authorizer (lighttpd mod_fastcgi "mode" => "authorizer"): asked as
// AUTHORIZER it answers 200 (plus a Variable- header the web server passes on) to a request
// carrying the token and 403 to any other; asked as RESPONDER it serves the page, showing
// the variable the authorizer set.
if ($_SERVER['FCGI_ROLE'] === 'AUTHORIZER') {
    if (($_SERVER['HTTP_X_TOKEN'] ?? '') === 'let-me-in') {
        header('Variable-GUARD_USER: ada');
        exit;
    }
    http_response_code(403);
    echo "denied by the authorizer\n";
    exit;
}
echo 'role=', $_SERVER['FCGI_ROLE'], "\n";
echo 'user=', $_SERVER['GUARD_USER'] ?? '', "\n";
