/*
 * echo: a pre-forked FastCGI + SCGI echo server on libsfpm alone, in C99.
 *
 *   echo [listen] [workers] [callback|pull] [KEY=VALUE ...]
 *
 * listen     "127.0.0.1:9000" (default), "[::1]:9000", or a Unix socket path
 * workers    pm.max_children, default 2
 * style      "callback" (default): sfpm calls handle() for each request;
 *            "pull": each worker loops on sfpm_worker_accept() in worker_main()
 * KEY=VALUE  any php-fpm pool directive, e.g. listen.allowed_clients=127.0.0.1
 *            (as examples/echo.rs takes them)
 *
 * Every request is answered exactly as examples/echo.rs does: CGI headers, then its
 * role, protocol, pool, peer, each parameter in the order received, the body and,
 * for FILTER requests, the data stream. A parameter ECHO_SLEEP_MS=n makes it wait
 * n milliseconds first (graceful-stop tests).
 *
 * Build (from the repository root, after `cargo build --lib`):
 *   cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/echo.c \
 *      -Ltarget/debug -lsfpm -Wl,-rpath,$PWD/target/debug -o echo
 * or statically:
 *   cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/echo.c \
 *      target/debug/libsfpm.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o echo
 * Stop it with SIGTERM or SIGINT (at once) or SIGQUIT (after the requests in flight).
 */
#define _POSIX_C_SOURCE 200809L

#include <sfpm.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A growable byte buffer. */
struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/* Makes room for `more` bytes; returns 0, or -1 when out of memory. */
static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	uint8_t *data;

	if (more > SIZE_MAX - b->len) {
		return -1;
	}
	while (cap - b->len < more) {
		if (cap > SIZE_MAX / 2) {
			return -1;
		}
		cap *= 2;
	}
	if (cap == b->cap) {
		return 0;
	}
	data = realloc(b->data, cap);
	if (data == NULL) {
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

static int buf_append(struct buf *b, const void *bytes, size_t len)
{
	if (len == 0) {
		return 0;
	}
	if (buf_reserve(b, len) != 0) {
		return -1;
	}
	memcpy(b->data + b->len, bytes, len);
	b->len += len;
	return 0;
}

static int buf_printf(struct buf *b, const char *format, ...)
{
	char text[256];
	va_list args;
	int n;

	va_start(args, format);
	n = vsnprintf(text, sizeof text, format, args);
	va_end(args);
	if (n < 0 || (size_t) n >= sizeof text) {
		return -1;
	}
	return buf_append(b, text, (size_t) n);
}

typedef sfpm_result (*read_fn)(sfpm_request *, uint8_t *, size_t, size_t *);

/* Reads a body stream to its end, or to the first error (as an aborted request ends). */
static int read_all(sfpm_request *request, read_fn read, struct buf *into)
{
	uint8_t chunk[8192];
	size_t n;

	while (read(request, chunk, sizeof chunk, &n) == SFPM_OK && n > 0) {
		if (buf_append(into, chunk, n) != 0) {
			return -1;
		}
	}
	return 0;
}

static const char *role_name(uint16_t role)
{
	switch (role) {
	case 1:
		return "RESPONDER";
	case 2:
		return "AUTHORIZER";
	case 3:
		return "FILTER";
	default:
		return "UNKNOWN";
	}
}

/* Waits ECHO_SLEEP_MS milliseconds if the request has that parameter (digits only). */
static void sleep_if_asked(const sfpm_request *request)
{
	static const char name[] = "ECHO_SLEEP_MS";
	const uint8_t *value;
	size_t len, i;
	unsigned long ms = 0;
	struct timespec delay;

	if (sfpm_request_param(request, (const uint8_t *) name, sizeof name - 1, &value, &len) != SFPM_OK ||
	    len == 0 || len > 9) {
		return;
	}
	for (i = 0; i < len; i++) {
		if (value[i] < '0' || value[i] > '9') {
			return;
		}
		ms = ms * 10 + (unsigned long) (value[i] - '0');
	}
	delay.tv_sec = (time_t) (ms / 1000);
	delay.tv_nsec = (long) (ms % 1000) * 1000000L;
	while (nanosleep(&delay, &delay) != 0) {
		/* EINTR: sleep for the rest */
	}
}

/* Appends "label=<text>\n" for a (pointer, length) string. */
static int append_line(struct buf *out, const char *label, const uint8_t *text, size_t len)
{
	return buf_printf(out, "%s=", label) || buf_append(out, text, len) || buf_append(out, "\n", 1);
}

/* Answers one request; returns its application status. */
static uint32_t echo(sfpm_request *request)
{
	struct buf body = { 0 }, data = { 0 }, out = { 0 };
	uint16_t role = sfpm_request_role(request);
	const uint8_t *text, *value;
	size_t len, value_len, i, count;
	int failed = 0;

	sleep_if_asked(request);
	failed |= read_all(request, sfpm_request_read_stdin, &body);
	if (role == 3) {
		failed |= read_all(request, sfpm_request_read_data, &data);
	}

	failed |= buf_printf(&out, "Status: 200 OK\r\nContent-Type: text/plain\r\nX-Worker-Pid: %ld\r\n\r\n",
			     (long) getpid());
	failed |= buf_printf(&out, "role=%s\nprotocol=%s\n", role_name(role),
			     sfpm_request_protocol(request) == SFPM_PROTOCOL_FASTCGI ? "fastcgi" : "scgi");
	if (sfpm_request_pool(request, &text, &len) == SFPM_OK) {
		failed |= append_line(&out, "pool", text, len);
	}
	if (sfpm_request_peer(request, &text, &len) == SFPM_OK) {
		failed |= append_line(&out, "peer", text, len);
	}
	count = sfpm_request_param_count(request);
	for (i = 0; i < count; i++) {
		if (sfpm_request_param_at(request, i, &text, &len, &value, &value_len) == SFPM_OK) {
			failed |= buf_append(&out, text, len);
			failed |= buf_append(&out, "=", 1);
			failed |= buf_append(&out, value, value_len);
			failed |= buf_append(&out, "\n", 1);
		}
	}
	failed |= buf_printf(&out, "stdin=%lu:", (unsigned long) body.len);
	failed |= buf_append(&out, body.data, body.len);
	failed |= buf_append(&out, "\n", 1);
	if (role == 3) {
		failed |= buf_printf(&out, "data=%lu:", (unsigned long) data.len);
		failed |= buf_append(&out, data.data, data.len);
		failed |= buf_append(&out, "\n", 1);
	}

	if (failed) {
		static const char oom[] = "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n"
					  "echo: out of memory\n";
		sfpm_request_write_stdout(request, (const uint8_t *) oom, sizeof oom - 1);
	} else {
		/* A failed write means the web server went away: nothing more to do. */
		sfpm_request_write_stdout(request, out.data, out.len);
	}
	free(body.data);
	free(data.data);
	free(out.data);
	return 0;
}

/* Callback style: sfpm accepts, calls this, and finishes with the returned status. */
static uint32_t handle(void *userdata, sfpm_request *request)
{
	(void) userdata;
	return echo(request);
}

/* Pull style: the worker's own loop. */
static int worker_main(void *userdata, sfpm_worker *worker)
{
	sfpm_request *request;
	sfpm_result result;

	(void) userdata;
	while ((result = sfpm_worker_accept(worker, &request)) == SFPM_OK) {
		sfpm_request_finish(request, echo(request));
	}
	if (result != SFPM_ERR_STOPPED) {
		fprintf(stderr, "echo: sfpm_worker_accept: %s\n", sfpm_result_message(result));
		return 1;
	}
	return 0;
}

/* Sets one directive, printing why it was refused. */
static int set(sfpm_config *config, const char *key, const char *value)
{
	const char *why = "";
	size_t len;

	if (sfpm_config_set(config, key, value) == SFPM_OK) {
		return 0;
	}
	sfpm_config_error(config, &why, &len);
	fprintf(stderr, "echo: %s\n", why);
	return -1;
}

/* Sets a "KEY=VALUE" directive from the command line. */
static int set_pair(sfpm_config *config, const char *pair)
{
	const char *eq = strchr(pair, '=');
	char key[128];
	size_t len = (size_t) (eq - pair);

	if (len >= sizeof key) {
		fprintf(stderr, "echo: directive name too long: %s\n", pair);
		return -1;
	}
	memcpy(key, pair, len);
	key[len] = '\0';
	return set(config, key, eq + 1);
}

int main(int argc, char **argv)
{
	const char *listen = argc > 1 ? argv[1] : "127.0.0.1:9000";
	const char *workers = argc > 2 ? argv[2] : "2";
	sfpm_handler handler = { 0 };
	sfpm_config *config;
	sfpm_result result;
	int i;

	if (sfpm_abi_version() != SFPM_ABI_VERSION) {
		fprintf(stderr, "echo: built for sfpm ABI %d, libsfpm has ABI %lu\n", SFPM_ABI_VERSION,
			(unsigned long) sfpm_abi_version());
		return 1;
	}
	handler.abi_version = SFPM_ABI_VERSION;
	handler.handle = handle;

	if (sfpm_config_new(&config) != SFPM_OK) {
		return 1;
	}
	if (set(config, "listen", listen) != 0 || set(config, "pm.max_children", workers) != 0) {
		sfpm_config_free(config);
		return 2;
	}
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "pull") == 0) {
			handler.handle = NULL;
			handler.worker_main = worker_main;
		} else if (strcmp(argv[i], "callback") == 0) {
			handler.handle = handle;
			handler.worker_main = NULL;
		} else if (strchr(argv[i], '=') != NULL) {
			if (set_pair(config, argv[i]) != 0) {
				sfpm_config_free(config);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: echo [listen] [workers] [callback|pull] [KEY=VALUE ...]\n");
			sfpm_config_free(config);
			return 2;
		}
	}

	fflush(NULL); /* workers exit with exit(3): nothing buffered may be written twice */
	result = sfpm_run(config, &handler);
	sfpm_config_free(config);
	if (result != SFPM_OK) {
		fprintf(stderr, "echo: %s\n", sfpm_result_message(result));
		return 1;
	}
	return 0;
}
