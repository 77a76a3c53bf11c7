<?php
/* The request as PHP sees it, one "path<TAB>typed value" line per scalar, in order:
   $_SERVER, $_GET, $_POST, $_COOKIE, $_REQUEST, $_ENV, $_FILES (plus each upload's size and md5),
   php://input, getallheaders(), apache_request_headers(), and a few facts.
   Bytes outside printable ASCII are C-escaped, so every line is exact and readable.
   Query parameters ask for a response shape first: status, http_status (a status
   line), status_header, location, header[], setcookie, fatal, exit, body. */

function esc($s) { return addcslashes((string) $s, "\0..\37\\\177..\377"); }

function flat($path, $v) {
	if (is_array($v)) {
		if (!$v) {
			echo $path, "\t[]\n";
		}
		foreach ($v as $k => $item) {
			flat($path . '[' . esc($k) . ']', $item);
		}
		return;
	}
	$type = is_string($v) ? 's' : (is_int($v) ? 'i' : (is_float($v) ? 'f' : (is_bool($v) ? 'b' : 'n')));
	echo $path, "\t", $type, ':', is_bool($v) ? ($v ? 'true' : 'false') : esc($v), "\n";
}

$q = $_GET;
if (isset($q['status'])) { http_response_code((int) $q['status']); }
if (isset($q['http_status'])) { header('HTTP/1.1 ' . $q['http_status']); }
if (isset($q['status_header'])) { header('Status: ' . $q['status_header']); }
if (isset($q['location'])) { header('Location: ' . $q['location']); }
foreach ((array) ($q['header'] ?? []) as $h) { header($h, false); }
if (isset($q['setcookie'])) { setcookie($q['setcookie'], 'v a;l', ['path' => '/p', 'httponly' => true]); }
if (isset($q['fatal'])) { undefined_function_for_a_fatal_error(); }

flat('server', $_SERVER);
flat('get', $_GET);
flat('post', $_POST);
flat('cookie', $_COOKIE);
flat('request', $_REQUEST);
flat('env', $_ENV);
foreach ($_FILES as $field => $f) {
	flat("files[$field]", $f);
	if (is_string($f['tmp_name'] ?? null) && $f['tmp_name'] !== '') {
		flat("upload[$field]", ['size' => filesize($f['tmp_name']), 'md5' => md5_file($f['tmp_name'])]);
	}
}
flat('input', file_get_contents('php://input'));
flat('getallheaders', getallheaders());
flat('apache_request_headers', apache_request_headers());
flat('php', [
	'sapi' => php_sapi_name(),
	'pid' => getmypid(),
	'auto_prepend_file' => ini_get('auto_prepend_file'),
	'response_code' => http_response_code(),
	'cwd' => getcwd(),
	'getenv_method' => getenv('REQUEST_METHOD'),
	'getenv_proxy' => getenv('HTTP_PROXY'),
	'getenv_all' => implode(',', array_keys(getenv())),
	'getenv_php_self' => getenv('PHP_SELF'),
	'filter_input_server' => filter_input(INPUT_SERVER, 'REQUEST_METHOD'),
	'filter_input_env' => filter_input(INPUT_ENV, 'SCRIPT_NAME'),
]);
if (isset($q['exit'])) { exit((int) $q['exit']); }
if (isset($q['body'])) { echo $q['body']; }
echo "end\n";
