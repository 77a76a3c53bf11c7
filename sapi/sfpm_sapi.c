/*
   sfpm SAPI: the thin shim between libsfpm and libphp.

   Callbacks are trampolines into the C ABI of libsfpm (include/sfpm.h) with the request
   being served; decisions — which script, which $_SERVER, 404 or 403 — are made by the
   Rust core (sfpm_request_cgi()) and only rendered here. Every entry from sfpm into PHP
   wraps its PHP work in zend_try, so a bailout (longjmp) never crosses a Rust frame.

   Lifecycle, by phase:
   - SINIT + MINIT in the master (master_init): sapi_startup(), php_module_startup().
     Opcache creates its shared memory here, so every forked worker shares it.
   - RINIT .. RSHUTDOWN in a worker, per request (handle): php_request_startup(), the
     script, php_request_shutdown().
   - MSHUTDOWN + SSHUTDOWN in the master at exit (master_exit).
*/

#include "php.h"
#include "php_main.h"
#include "php_variables.h"
#include "php_ini.h"
#include "php_output.h"
#include "SAPI.h"
#include "fopen_wrappers.h"
#include "http_status_codes.h"
#include "ext/standard/info.h"
#include "ext/standard/head.h"
#include "zend_ini.h"
#include "zend_ini_scanner.h"
#include "zend_smart_str.h"
#include "zend_extensions.h"

#include <unistd.h>

#include "sfpm.h"
#include "sfpm_sapi.h"
#include "sfpm_arginfo.h"

/* The request being served; NULL between requests. */
static sfpm_request *current;
/* The core's view of it: script, request URI, $_SERVER. */
static sfpm_cgi cgi;
/* fastcgi_finish_request() ended the response: later output is discarded. */
static bool finished;
/* A message already went to FCGI_STDERR in this request (php-fpm joins them with "; "). */
static bool stderr_started;

/* php.ini settings of the FastCGI SAPI, as php-fpm registers them. */
typedef struct sfpm_cgi_globals {
	bool rfc2616_headers;
	bool nph;
	bool fix_pathinfo;
	bool discard_path;
	bool fcgi_logging;
	char *error_header;
} sfpm_cgi_globals;

static sfpm_cgi_globals cgi_globals;

/* One line for sfpm's error log: `prefix` + `message`. */
static void log_line(sfpm_log_level level, const char *prefix, const char *message)
{
	char line[2048];
	int len = snprintf(line, sizeof(line), "%s%s", prefix, message);

	if (len > 0) {
		sfpm_log(level, (const uint8_t *) line, (size_t) len < sizeof(line) ? (size_t) len : sizeof(line) - 1);
	}
}

PHP_INI_BEGIN()
	STD_PHP_INI_BOOLEAN("cgi.rfc2616_headers", "0", PHP_INI_ALL, OnUpdateBool, rfc2616_headers, sfpm_cgi_globals, cgi_globals)
	STD_PHP_INI_BOOLEAN("cgi.nph", "0", PHP_INI_ALL, OnUpdateBool, nph, sfpm_cgi_globals, cgi_globals)
	STD_PHP_INI_BOOLEAN("cgi.fix_pathinfo", "1", PHP_INI_SYSTEM, OnUpdateBool, fix_pathinfo, sfpm_cgi_globals, cgi_globals)
	STD_PHP_INI_BOOLEAN("cgi.discard_path", "0", PHP_INI_SYSTEM, OnUpdateBool, discard_path, sfpm_cgi_globals, cgi_globals)
	STD_PHP_INI_BOOLEAN("fastcgi.logging", "1", PHP_INI_SYSTEM, OnUpdateBool, fcgi_logging, sfpm_cgi_globals, cgi_globals)
	STD_PHP_INI_ENTRY("fastcgi.error_header", NULL, PHP_INI_SYSTEM, OnUpdateString, error_header, sfpm_cgi_globals, cgi_globals)
PHP_INI_END()

/* How many of cgi.vars are the request's params (with php-fpm's rewrites): all but the
   last, PHP_SELF, which php-fpm computes apart and registers in $_SERVER only — not in
   getenv(), $_ENV (unless copied from $_SERVER) or apache_request_headers(). */
static size_t param_count(void)
{
	return current && cgi.var_count > 0 ? cgi.var_count - 1 : 0;
}

/* The value of param `name` for the current request, or NULL (php-fpm's FCGI_GETENV).
   Values are NUL-terminated by the core. */
static const char *server_var(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < param_count(); i++) {
		const sfpm_cgi_var *v = &cgi.vars[i];
		if (v->name_len == len && memcmp(v->name, name, len) == 0) {
			return (const char *) v->value;
		}
	}
	return NULL;
}

/* {{{ SAPI callbacks */

/* Outside a request (-i, -m, -v): standard output. */
static size_t write_stdout(const char *str, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, str + done, len - done);
		if (n <= 0) {
			break;
		}
		done += (size_t) n;
	}
	return done;
}

static size_t sfpm_ub_write(const char *str, size_t len)
{
	if (!current) {
		return write_stdout(str, len);
	}
	if (finished) {
		/* After fastcgi_finish_request() the response is complete: output is dropped. */
		return len;
	}
	if (sfpm_request_write_stdout(current, (const uint8_t *) str, len) != SFPM_OK) {
		php_handle_aborted_connection();
	}
	return len;
}

static void sfpm_flush(void *server_context)
{
	(void) server_context;
	if (current && !finished && sfpm_request_flush(current) != SFPM_OK) {
		php_handle_aborted_connection();
	}
}

static char *sfpm_getenv(const char *name, size_t name_len)
{
	for (size_t i = 0; i < param_count(); i++) {
		const sfpm_cgi_var *v = &cgi.vars[i];
		if (v->name_len == name_len && memcmp(v->name, name, name_len) == 0) {
			return (char *) v->value;
		}
	}
	return getenv(name);
}

/* The CGI header block, php-fpm's format: a Status line when the code is not 200
   (unless the script set a Status: header itself), every header, a blank line. */
static int sfpm_send_headers(sapi_headers_struct *headers)
{
	smart_str block = {0};
	zend_llist_position pos;
	sapi_header_struct *h;
	bool has_status = false;
	bool wrote_status = false;
	int code = SG(sapi_headers).http_response_code;

	if (SG(request_info).no_headers) {
		return SAPI_HEADER_SENT_SUCCESSFULLY;
	}
	for (h = zend_llist_get_first_ex(&headers->headers, &pos); h; h = zend_llist_get_next_ex(&headers->headers, &pos)) {
		if (h->header_len > 7 && strncasecmp(h->header, "Status:", 7) == 0) {
			has_status = true;
		}
	}
	if (cgi_globals.nph || code != 200) {
		const char *line = SG(sapi_headers).http_status_line;
		const char *space = line ? strchr(line, ' ') : NULL;

		if (cgi_globals.rfc2616_headers && line) {
			smart_str_appends(&block, line);
			smart_str_appendl(&block, "\r\n", 2);
			wrote_status = true;
			code = space ? atoi(space + 1) : code;
		} else if (space && space - line >= 5 && strncasecmp(line, "HTTP/", 5) == 0) {
			/* header("HTTP/1.1 503 Service Unavailable"): keep its reason phrase. */
			smart_str_appends(&block, "Status:");
			smart_str_appends(&block, space);
			smart_str_appendl(&block, "\r\n", 2);
			wrote_status = true;
			code = atoi(space + 1);
		} else if (!has_status) {
			const http_response_status_code_pair *s = http_status_map;
			while (s->code != 0 && s->code != code) {
				s++;
			}
			smart_str_append_printf(&block, s->str ? "Status: %d %s\r\n" : "Status: %d\r\n", code, s->str);
			wrote_status = true;
		}
	}
	for (h = zend_llist_get_first_ex(&headers->headers, &pos); h; h = zend_llist_get_next_ex(&headers->headers, &pos)) {
		if (!h->header_len) {
			continue;
		}
		if (h->header_len > 7 && strncasecmp(h->header, "Status:", 7) == 0) {
			/* The script's own Status: header, once, unless a status line went out. */
			if (wrote_status) {
				continue;
			}
			wrote_status = true;
		} else if (code == 304 && h->header_len > 13 && strncasecmp(h->header, "Content-Type:", 13) == 0) {
			continue;
		}
		smart_str_appendl(&block, h->header, h->header_len);
		smart_str_appendl(&block, "\r\n", 2);
	}
	smart_str_appendl(&block, "\r\n", 2);
	sfpm_ub_write(ZSTR_VAL(block.s), ZSTR_LEN(block.s));
	smart_str_free(&block);
	return SAPI_HEADER_SENT_SUCCESSFULLY;
}

static size_t sfpm_read_post(char *buffer, size_t count)
{
	size_t total = 0;
	size_t remaining = SG(request_info).content_length - SG(read_post_bytes);

	if (!current) {
		return 0;
	}
	if (remaining < count) {
		count = remaining;
	}
	while (total < count) {
		size_t got = 0;
		if (sfpm_request_read_stdin(current, (uint8_t *) buffer + total, count - total, &got) != SFPM_OK || got == 0) {
			break;
		}
		total += got;
	}
	return total;
}

static char *sfpm_read_cookies(void)
{
	return (char *) server_var("HTTP_COOKIE");
}

/* PHP's own import of the process environment, which the hooks below wrap. */
static void (*import_process_environment)(zval *array);

/* True when `which` (TRACK_VARS_ENV or _SERVER) is built, non-empty, and not `array`. */
static bool other_track_vars(int which, zval *array)
{
	zval *built = &PG(http_globals)[which];

	return Z_TYPE_P(built) == IS_ARRAY && Z_ARR_P(array) != Z_ARR_P(built)
		&& zend_hash_num_elements(Z_ARRVAL_P(built)) > 0;
}

/* $_SERVER and $_ENV (variables_order E): php-fpm's cgi_php_import_environment_variables.
   Once one of the two exists, the other is a copy of it (so $_ENV built after $_SERVER
   has PHP_SELF, REQUEST_TIME, argv ...); otherwise the worker's environment, then the
   params, each through the input filter (ext/filter keeps the raw values for
   filter_input(INPUT_SERVER/INPUT_ENV)) and as a C string: php-fpm cuts a value at its
   first NUL here. Installed as php_import_environment_variables. */
static void sfpm_import_environment_variables(zval *array)
{
	int filter_arg;

	if (other_track_vars(TRACK_VARS_ENV, array) || other_track_vars(TRACK_VARS_SERVER, array)) {
		int which = other_track_vars(TRACK_VARS_ENV, array) ? TRACK_VARS_ENV : TRACK_VARS_SERVER;

		zend_array_destroy(Z_ARR_P(array));
		Z_ARR_P(array) = zend_array_dup(Z_ARR(PG(http_globals)[which]));
		return;
	}
	import_process_environment(array);
	filter_arg = Z_TYPE(PG(http_globals)[TRACK_VARS_ENV]) == IS_ARRAY
		&& Z_ARR_P(array) == Z_ARR(PG(http_globals)[TRACK_VARS_ENV]) ? PARSE_ENV : PARSE_SERVER;
	for (size_t i = 0; i < param_count(); i++) {
		const sfpm_cgi_var *v = &cgi.vars[i];
		char *value = (char *) v->value;
		size_t len = strlen(value);

		if (sapi_module.input_filter(filter_arg, (const char *) v->name, &value, len, &len)) {
			php_register_variable_safe((const char *) v->name, value, len, array);
		}
	}
}

/* getenv() without arguments: the environment, then the params unfiltered and whole
   (php-fpm's cgi_php_load_environment_variables). Installed as
   php_load_environment_variables. */
static void sfpm_load_environment_variables(zval *array)
{
	import_process_environment(array);
	for (size_t i = 0; i < param_count(); i++) {
		const sfpm_cgi_var *v = &cgi.vars[i];
		php_register_variable_safe((const char *) v->name, (const char *) v->value, v->value_len, array);
	}
}

/* $_SERVER: the import above, then PHP_SELF (computed by the core), filtered too. */
static void sfpm_register_variables(zval *track_vars_array)
{
	sfpm_import_environment_variables(track_vars_array);
	if (current && cgi.var_count > 0) {
		const sfpm_cgi_var *self = &cgi.vars[cgi.var_count - 1];
		char *value = (char *) self->value;
		size_t len = strlen(value);

		if (sapi_module.input_filter(PARSE_SERVER, "PHP_SELF", &value, len, &len)) {
			php_register_variable_safe("PHP_SELF", value, len, track_vars_array);
		}
	}
}

/* Sends `prefix` + `message` to the web server's log (FCGI_STDERR) when fastcgi.logging
   is on; messages of one request are joined with "; ", as php-fpm does. */
static void log_to_web_server(const char *prefix, const char *message)
{
	if (!current || finished || !cgi_globals.fcgi_logging || !*message) {
		return;
	}
	if (stderr_started) {
		sfpm_request_write_stderr(current, (const uint8_t *) "; ", 2);
	}
	stderr_started = true;
	sfpm_request_write_stderr(current, (const uint8_t *) prefix, strlen(prefix));
	sfpm_request_write_stderr(current, (const uint8_t *) message, strlen(message));
}

/* PHP's error_log lines: to sfpm's error log and to the web server's, as php-fpm. */
static void sfpm_log_message(const char *message, int syslog_type)
{
	(void) syslog_type;
	log_line(SFPM_LOG_NOTICE, "PHP message: ", message);
	log_to_web_server("PHP message: ", message);
}

static int sfpm_module_startup(sapi_module_struct *module);

static sapi_module_struct sfpm_sapi_module = {
	"fpm-fcgi",                 /* name: opcache enables itself only for SAPIs it knows */
	"sfpm",                     /* pretty name */

	sfpm_module_startup,        /* startup */
	php_module_shutdown_wrapper, /* shutdown */

	NULL,                       /* activate */
	NULL,                       /* deactivate: the core ends the request on the wire */

	sfpm_ub_write,              /* unbuffered write */
	sfpm_flush,                 /* flush */
	NULL,                       /* get uid */
	sfpm_getenv,                /* getenv */

	php_error,                  /* error handler */

	NULL,                       /* header handler */
	sfpm_send_headers,          /* send headers handler */
	NULL,                       /* send header handler */

	sfpm_read_post,             /* read POST data */
	sfpm_read_cookies,          /* read Cookies */

	sfpm_register_variables,    /* register server variables */
	sfpm_log_message,           /* Log message */
	NULL,                       /* Get request time */
	NULL,                       /* Child terminate */

	STANDARD_SAPI_MODULE_PROPERTIES
};
/* }}} */

/* {{{ PHP functions: fastcgi_finish_request(), apache_request_headers(), getallheaders() */

PHP_FUNCTION(fastcgi_finish_request)
{
	ZEND_PARSE_PARAMETERS_NONE();

	if (finished || !current) {
		RETURN_FALSE;
	}
	/* Everything buffered goes out, headers first even for an empty body. */
	php_output_end_all();
	php_header();
	sfpm_request_finish(current, 0);
	finished = true;
	RETURN_TRUE;
}

/* HTTP_ACCEPT_LANGUAGE → Accept-Language, exactly as php-fpm's sapi_add_request_header():
   the first character and each one after a '_' are kept as they are, '_' becomes '-',
   other upper-case letters are lowered ("X__Y" → "X-_y", "x_foo" → "x-foo"). */
static void add_request_header(zval *array, const char *name, size_t name_len, const char *value, size_t value_len)
{
	char *header = estrndup(name, name_len);

	for (size_t i = 1; i < name_len; i++) {
		if (header[i] == '_') {
			header[i] = '-';
			i++;
		} else if (header[i] >= 'A' && header[i] <= 'Z') {
			header[i] = header[i] - 'A' + 'a';
		}
	}
	add_assoc_stringl_ex(array, header, name_len, value, value_len);
	efree(header);
}

PHP_FUNCTION(apache_request_headers)
{
	ZEND_PARSE_PARAMETERS_NONE();

	array_init(return_value);
	for (size_t i = 0; i < param_count(); i++) {
		const sfpm_cgi_var *v = &cgi.vars[i];
		const char *name = (const char *) v->name;

		if (v->name_len > 5 && memcmp(name, "HTTP_", 5) == 0) {
			add_request_header(return_value, name + 5, v->name_len - 5, (const char *) v->value, v->value_len);
		} else if ((v->name_len == 12 && memcmp(name, "CONTENT_TYPE", 12) == 0)
				|| (v->name_len == 14 && memcmp(name, "CONTENT_LENGTH", 14) == 0)) {
			add_request_header(return_value, name, v->name_len, (const char *) v->value, v->value_len);
		}
	}
}

/* php-fpm's fpm_get_status(): the pool and its workers, from sfpm's scoreboard. */
PHP_FUNCTION(fpm_get_status)
{
	sfpm_status st;
	zval procs;

	ZEND_PARSE_PARAMETERS_NONE();

	if (!current || sfpm_request_status(current, &st) != SFPM_OK) {
		RETURN_FALSE;
	}
	array_init(return_value);
	add_assoc_stringl(return_value, "pool", (const char *) st.pool, st.pool_len);
	add_assoc_string(return_value, "process-manager", st.process_manager);
	add_assoc_long(return_value, "start-time", st.start_time);
	add_assoc_long(return_value, "start-since", st.start_since);
	add_assoc_long(return_value, "accepted-conn", (zend_long) st.accepted_conn);
	add_assoc_long(return_value, "listen-queue", (zend_long) st.listen_queue);
	add_assoc_long(return_value, "max-listen-queue", (zend_long) st.max_listen_queue);
	add_assoc_long(return_value, "listen-queue-len", (zend_long) st.listen_queue_len);
	add_assoc_long(return_value, "idle-processes", (zend_long) st.idle_processes);
	add_assoc_long(return_value, "active-processes", (zend_long) st.active_processes);
	add_assoc_long(return_value, "total-processes", (zend_long) st.total_processes);
	add_assoc_long(return_value, "max-active-processes", (zend_long) st.max_active_processes);
	add_assoc_long(return_value, "max-children-reached", (zend_long) st.max_children_reached);
	add_assoc_long(return_value, "slow-requests", (zend_long) st.slow_requests);
	array_init(&procs);
	for (size_t i = 0; i < st.process_count; i++) {
		const sfpm_status_process *p = &st.processes[i];
		zval proc;

		array_init(&proc);
		add_assoc_long(&proc, "pid", p->pid);
		add_assoc_string(&proc, "state", p->state);
		add_assoc_long(&proc, "start-time", p->start_time);
		add_assoc_long(&proc, "start-since", st.start_time + st.start_since - p->start_time);
		add_assoc_long(&proc, "requests", (zend_long) p->requests);
		add_assoc_long(&proc, "request-duration", (zend_long) p->request_duration);
		add_assoc_stringl(&proc, "request-method", (const char *) p->request_method, p->request_method_len);
		add_assoc_stringl(&proc, "request-uri", (const char *) p->request_uri, p->request_uri_len);
		add_assoc_stringl(&proc, "query-string", (const char *) p->query_string, p->query_string_len);
		add_assoc_long(&proc, "request-length", (zend_long) p->request_length);
		add_assoc_stringl(&proc, "user", (const char *) p->user, p->user_len);
		add_assoc_stringl(&proc, "script", (const char *) p->script, p->script_len);
		add_assoc_double(&proc, "last-request-cpu", p->last_request_cpu);
		add_assoc_long(&proc, "last-request-memory", (zend_long) p->last_request_memory);
		add_next_index_zval(&procs, &proc);
	}
	add_assoc_zval(return_value, "procs", &procs);
}

static PHP_MINIT_FUNCTION(sfpm_cgi)
{
	(void) type;
	REGISTER_INI_ENTRIES();
	return SUCCESS;
}

static PHP_MSHUTDOWN_FUNCTION(sfpm_cgi)
{
	(void) type;
	UNREGISTER_INI_ENTRIES();
	return SUCCESS;
}

static PHP_MINFO_FUNCTION(sfpm_cgi)
{
	php_info_print_table_start();
	php_info_print_table_row(2, "php-fpm", "active");
	php_info_print_table_row(2, "sfpm", sfpm_version());
	php_info_print_table_end();
	DISPLAY_INI_ENTRIES();
}

/* Named like php-fpm's module, which applications may look for. */
static zend_module_entry sfpm_cgi_module_entry = {
	STANDARD_MODULE_HEADER,
	"cgi-fcgi",
	ext_functions,
	PHP_MINIT(sfpm_cgi),
	PHP_MSHUTDOWN(sfpm_cgi),
	NULL,
	NULL,
	PHP_MINFO(sfpm_cgi),
	PHP_VERSION,
	STANDARD_MODULE_PROPERTIES
};
/* }}} */

static int sfpm_module_startup(sapi_module_struct *module)
{
	return php_module_startup(module, &sfpm_cgi_module_entry);
}

/* {{{ Lifecycle */

/* One php_admin_value: set as the master value and locked to system level, so a
   script's ini_set() cannot change it (php-fpm's semantics). */
static void apply_admin_entry(const char *name, size_t name_len, const char *value, size_t value_len)
{
	zend_ini_entry *entry = zend_hash_str_find_ptr(EG(ini_directives), name, name_len);
	zend_string *duplicate;
	char line[512];

	if (!entry) {
		snprintf(line, sizeof(line), "php_admin_value: unknown ini setting '%.*s'", (int) name_len, name);
		log_line(SFPM_LOG_ERROR, "", line);
		return;
	}
	duplicate = zend_string_init(value, value_len, 1);
	if (!entry->on_modify
			|| entry->on_modify(entry, duplicate, entry->mh_arg1, entry->mh_arg2, entry->mh_arg3, ZEND_INI_STAGE_ACTIVATE) == SUCCESS) {
		entry->value = duplicate;
		entry->modifiable = ZEND_INI_SYSTEM;
	} else {
		zend_string_release_ex(duplicate, 1);
		snprintf(line, sizeof(line), "php_admin_value: invalid value for '%.*s'", (int) name_len, name);
		log_line(SFPM_LOG_ERROR, "", line);
	}
}

/* "name=value\n" lines, from the pool's php_admin_value[] and php_admin_flag[]. */
static void apply_admin_entries(const char *lines)
{
	while (*lines) {
		const char *end = strchr(lines, '\n');
		const char *eq = memchr(lines, '=', end ? (size_t) (end - lines) : strlen(lines));
		size_t len = end ? (size_t) (end - lines) : strlen(lines);

		if (eq) {
			apply_admin_entry(lines, (size_t) (eq - lines), eq + 1, len - (size_t) (eq - lines) - 1);
		}
		lines += len + (end ? 1 : 0);
	}
}

/* SINIT + MINIT. Signal handlers must already be installed: zend_signal_startup()
   records them, and each request's zend_signal_activate() forwards to them. */
static int startup(const sfpm_interpreter_options *options)
{
	zend_signal_startup();
	sapi_startup(&sfpm_sapi_module);
	sfpm_sapi_module.php_ini_ignore_cwd = 1;
	sfpm_sapi_module.php_ini_ignore = options && options->ini_ignore;
	if (options && options->ini_path) {
		sfpm_sapi_module.php_ini_path_override = (char *) options->ini_path;
	}
	if (options && options->ini_entries) {
		sfpm_sapi_module.ini_entries = strdup(options->ini_entries);
	}
	/* PHP reads the scan directory from the environment at start-up only. */
	if (options && options->scan_dir && !getenv("PHP_INI_SCAN_DIR")) {
		setenv("PHP_INI_SCAN_DIR", options->scan_dir, 0);
	}
	/* Requests import the environment and the request's variables through these hooks:
	   $_SERVER and $_ENV, and getenv() without arguments. */
	if (php_import_environment_variables != sfpm_import_environment_variables) {
		import_process_environment = php_import_environment_variables;
		php_import_environment_variables = sfpm_import_environment_variables;
		php_load_environment_variables = sfpm_load_environment_variables;
	}
	if (sfpm_sapi_module.startup(&sfpm_sapi_module) == FAILURE) {
		return -1;
	}
	if (options && options->admin_entries) {
		apply_admin_entries(options->admin_entries);
	}
	return 0;
}

static void shutdown_php(void)
{
	php_module_shutdown();
	sapi_shutdown();
	free(sfpm_sapi_module.ini_entries);
	sfpm_sapi_module.ini_entries = NULL;
}

static int master_init(void *userdata)
{
	if (startup((const sfpm_interpreter_options *) userdata) != 0) {
		log_line(SFPM_LOG_ERROR, "", "PHP startup failed");
		return -1;
	}
	return 0;
}

static void master_exit(void *userdata)
{
	(void) userdata;
	shutdown_php();
}

/* Fills SG(request_info) from the core's view of the request (RINIT needs it). */
static void fill_request_info(void)
{
	const char *length = server_var("CONTENT_LENGTH");
	const char *type = server_var("CONTENT_TYPE");

	SG(server_context) = current;
	SG(sapi_headers).http_response_code = 200;
	SG(request_info).request_method = server_var("REQUEST_METHOD");
	SG(request_info).query_string = (char *) server_var("QUERY_STRING");
	SG(request_info).request_uri = (char *) cgi.request_uri;
	SG(request_info).content_type = type ? type : "";
	SG(request_info).content_length = length ? ZEND_ATOL(length) : 0;
	SG(request_info).path_translated = cgi.script ? estrdup(cgi.script) : NULL;
	php_handle_auth_data(server_var("HTTP_AUTHORIZATION"));
}

/* Runs the request's script, or renders the core's refusal through PHP so headers
   match php-fpm's (X-Powered-By, default Content-type). */
/* One entry of a PHP_VALUE/PHP_ADMIN_VALUE param, at the level `arg` points to. */
static void apply_ini_entry(zval *name, zval *value, zval *unused, int callback_type, void *arg)
{
	int level = *(int *) arg;
	char line[512];

	(void) unused;
	if (callback_type != ZEND_INI_PARSER_ENTRY || !name || !value || Z_TYPE_P(name) != IS_STRING
			|| Z_TYPE_P(value) != IS_STRING) {
		log_to_web_server("", "Passing INI directive through FastCGI: only classic entries are allowed");
		return;
	}
	/* The runtime stage: PHP restores the previous value when the request ends, so the
	   setting stays with this request (php-fpm changes the worker's value for good). */
	if (zend_alter_ini_entry_chars(Z_STR_P(name), Z_STRVAL_P(value), Z_STRLEN_P(value), level,
			PHP_INI_STAGE_RUNTIME) == FAILURE) {
		snprintf(line, sizeof(line), "Passing INI directive through FastCGI: unable to set '%s'", Z_STRVAL_P(name));
		log_line(SFPM_LOG_ERROR, "", line);
		log_to_web_server("", line);
	}
}

/* Applies a request's PHP_VALUE (per-directory level) or PHP_ADMIN_VALUE (system level). */
static void apply_request_ini(const char *text, int level)
{
	if (text) {
		zend_parse_ini_string((char *) text, 1, ZEND_INI_SCANNER_NORMAL, apply_ini_entry, &level);
	}
}

/* The pool's ping or status page, rendered by the core: never cached, and the headers
 * in php-fpm's order (ping names its content type first, status last). */
static void send_own_page(const sfpm_cgi *cgi)
{
	static const char expires[] = "Expires: Thu, 01 Jan 1970 00:00:00 GMT";
	static const char cache_control[] = "Cache-Control: no-cache, no-store, must-revalidate, max-age=0";
	char content_type[128];
	int len = snprintf(content_type, sizeof(content_type), "Content-Type: %s", cgi->content_type);
	bool has_type = len > 0 && (size_t)len < sizeof(content_type);

	if (has_type && cgi->action == SFPM_CGI_PING) {
		sapi_add_header_ex(content_type, (size_t)len, 1, 1);
	}
	sapi_add_header_ex(expires, sizeof(expires) - 1, 1, 1);
	sapi_add_header_ex(cache_control, sizeof(cache_control) - 1, 1, 1);
	if (has_type && cgi->action == SFPM_CGI_STATUS) {
		sapi_add_header_ex(content_type, (size_t)len, 1, 1);
	}
	PHPWRITE((const char *)cgi->response, cgi->response_len);
}

static void run_script(void)
{
	zend_file_handle file;
	char *script;

	switch (cgi.action) {
	case SFPM_CGI_NOT_FOUND:
		SG(sapi_headers).http_response_code = 404;
		PUTS("File not found.\n");
		log_to_web_server("", "Primary script unknown");
		return;
	case SFPM_CGI_ACCESS_DENIED: {
		/* php-fpm's NOTICE reaches the web server through its FCGI_STDERR logger. */
		char *message;

		spprintf(&message, 0, "Access to the script '%s' has been denied (see security.limit_extensions)",
			cgi.script ? cgi.script : "");
		log_to_web_server("", message);
		efree(message);
		SG(sapi_headers).http_response_code = 403;
		PUTS("Access denied.\n");
		return;
	}
	case SFPM_CGI_PING:
	case SFPM_CGI_STATUS:
		send_own_page(&cgi);
		return;
	case SFPM_CGI_RUN:
		break;
	}
	/* php_fopen_primary_script() may free path_translated on failure. */
	script = estrdup(SG(request_info).path_translated);
	/* PHP's "Failed to open stream" warning shows errno even when the open did not set
	   it (a directory named x.php): start clean, as php-fpm happens to, rather than
	   show whatever the core's last system call left there. */
	errno = 0;
	if (php_fopen_primary_script(&file) == FAILURE) {
		int error = errno;
		char *message;

		/* php-fpm's ERROR goes to its log and, like every php-fpm log line of a
		   request, to the web server (FCGI_STDERR). */
		spprintf(&message, 0, "Unable to open primary script: %s (%s)", script, strerror(error));
		log_line(SFPM_LOG_ERROR, "", message);
		log_to_web_server("", message);
		efree(message);
		errno = error;
		if (errno == EACCES) {
			SG(sapi_headers).http_response_code = 403;
			PUTS("Access denied.\n");
		} else {
			SG(sapi_headers).http_response_code = 404;
			PUTS("No input file specified.\n");
		}
	} else {
		EG(exit_status) = 0;
		php_execute_script(&file);
		if (!file.in_list) {
			zend_destroy_file_handle(&file);
		}
	}
	efree(script);
}

/* One request: RINIT, the script, RSHUTDOWN. Returns the script's exit status. */
static uint32_t handle(void *userdata, sfpm_request *request)
{
	sfpm_cgi_settings settings = {
		.fix_pathinfo = cgi_globals.fix_pathinfo,
		.discard_path = cgi_globals.discard_path,
		.doc_root = PG(doc_root),
	};
	volatile uint32_t status = 0;
	volatile bool broken = false;

	(void) userdata;
	if (sfpm_request_cgi(request, &settings, &cgi) != SFPM_OK) {
		return 1;
	}
	current = request;
	finished = false;
	stderr_started = false;
	zend_try {
		fill_request_info();
		if (php_request_startup() == FAILURE) {
			broken = true;
		} else {
			/* php_value is per-directory level (as .user.ini), php_admin_value system level. */
			apply_request_ini(cgi.php_value, PHP_INI_PERDIR);
			apply_request_ini(cgi.php_admin_value, PHP_INI_SYSTEM);
			/* No REQUEST_METHOD: not an HTTP request; nothing is run (php-fpm). */
			if (SG(request_info).request_method) {
				run_script();
			}
			status = (uint32_t) EG(exit_status);
			if (EG(exit_status) == 255 && cgi_globals.error_header && *cgi_globals.error_header
					&& !SG(headers_sent)) {
				sapi_header_line line = {0};
				line.line = cgi_globals.error_header;
				line.line_len = strlen(cgi_globals.error_header);
				sapi_header_op(SAPI_HEADER_REPLACE, &line);
			}
			if (SG(request_info).path_translated) {
				efree(SG(request_info).path_translated);
				SG(request_info).path_translated = NULL;
			}
			/* For fpm_get_status()'s last-request-memory, as php-fpm measures it. */
			sfpm_request_report_memory(request, (uint64_t) zend_memory_peak_usage(1));
			php_request_shutdown(NULL);
		}
	} zend_catch {
		broken = true;
	} zend_end_try();
	SG(server_context) = NULL;
	current = NULL;
	if (broken) {
		/* PHP's state after a failed startup or a stray bailout cannot be trusted: this
		   worker ends, the master forks a fresh one. */
		log_line(SFPM_LOG_ERROR, "", "PHP request could not be completed; worker exits");
		fflush(stderr);
		_exit(70);
	}
	return status;
}
/* }}} */

static void fill_handler(const sfpm_interpreter_options *options, sfpm_handler *handler)
{
	memset(handler, 0, sizeof(*handler));
	handler->abi_version = SFPM_ABI_VERSION;
	handler->userdata = (void *) options;
	handler->master_init = master_init;
	handler->handle = handle;
	handler->master_exit = master_exit;
}

static int module_name_cmp(Bucket *a, Bucket *b)
{
	return strcasecmp(((zend_module_entry *) Z_PTR(a->val))->name, ((zend_module_entry *) Z_PTR(b->val))->name);
}

/* php -m's listing: loaded modules by name, then Zend extensions. */
static void print_modules(void)
{
	HashTable sorted;
	zend_module_entry *module;
	zend_llist_position pos;
	zend_extension *ext;

	zend_hash_init(&sorted, zend_hash_num_elements(&module_registry), NULL, NULL, 0);
	zend_hash_copy(&sorted, &module_registry, NULL);
	zend_hash_sort(&sorted, module_name_cmp, 0);
	php_printf("[PHP Modules]\n");
	ZEND_HASH_FOREACH_PTR(&sorted, module) {
		php_printf("%s\n", module->name);
	} ZEND_HASH_FOREACH_END();
	zend_hash_destroy(&sorted);
	php_printf("\n[Zend Modules]\n");
	for (ext = zend_llist_get_first_ex(&zend_extensions, &pos); ext; ext = zend_llist_get_next_ex(&zend_extensions, &pos)) {
		php_printf("%s\n", ext->name);
	}
	php_printf("\n");
}

static int print_info(uint32_t what, const sfpm_interpreter_options *options)
{
	volatile int result = 0;

	if (startup(options) != 0) {
		return -1;
	}
	zend_try {
		switch (what) {
		case SFPM_PRINT_MODULES:
			php_output_activate();
			SG(headers_sent) = 1;
			print_modules();
			php_output_end_all();
			php_output_deactivate();
			break;
		case SFPM_PRINT_INFO:
		case SFPM_PRINT_VERSION:
			sapi_module.phpinfo_as_text = 1;
			if (php_request_startup() == FAILURE) {
				result = -1;
				break;
			}
			SG(headers_sent) = 1;
			SG(request_info).no_headers = 1;
			if (what == SFPM_PRINT_INFO) {
				php_print_info(0xFFFFFFFF);
			} else {
				php_printf("PHP %s (%s) (sfpm %s)\nCopyright (c) The PHP Group\n%s",
					PHP_VERSION, sfpm_sapi_module.name, sfpm_version(), get_zend_version());
			}
			php_request_shutdown(NULL);
			break;
		}
	} zend_catch {
		result = -1;
	} zend_end_try();
	shutdown_php();
	return result;
}

const sfpm_interpreter sfpm_sapi_interpreter = {
	.abi_version = SFPM_ABI_VERSION,
	.handler = fill_handler,
	.print = print_info,
};
