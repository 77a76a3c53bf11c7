/*
 * abi_check: checks, from C, what needs no server: that the header and the library
 * agree (ABI and release versions), the result messages, and the argument checks of
 * the config, run, worker and request functions. Exits 0 when every check passes,
 * 1 after printing each failure.
 *
 * Build and run (from the repository root, after `cargo build --lib`):
 *   cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/abi_check.c \
 *      -Ltarget/debug -lsfpm -Wl,-rpath,$PWD/target/debug -o abi_check && ./abi_check
 * (libsfpm.so's soname is libsfpm.so.0: target/debug needs the link
 * `ln -sf libsfpm.so target/debug/libsfpm.so.0`, or use libsfpm.a as for echo.c.)
 */
#include <sfpm.h>

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

/* True when `text` (`len` bytes, also NUL-terminated) is exactly `expected`. */
static int text_is(const char *text, size_t len, const char *expected)
{
	return text != NULL && len == strlen(expected) && strcmp(text, expected) == 0;
}

static uint32_t handle(void *userdata, sfpm_request *request)
{
	(void) userdata;
	(void) request;
	return 0;
}

static int worker_main(void *userdata, sfpm_worker *worker)
{
	(void) userdata;
	(void) worker;
	return 0;
}

static void check_versions(void)
{
	char expected[64];

	CHECK(sfpm_abi_version() == SFPM_ABI_VERSION);
	CHECK(sfpm_version() != NULL);
	CHECK(strcmp(sfpm_version(), SFPM_VERSION) == 0);
	/* The numeric macros spell the same release (a pre-release suffix may follow). */
	snprintf(expected, sizeof expected, "%d.%d.%d", SFPM_VERSION_MAJOR, SFPM_VERSION_MINOR, SFPM_VERSION_PATCH);
	CHECK(strncmp(sfpm_version(), expected, strlen(expected)) == 0);
	CHECK(sfpm_version()[strlen(expected)] == '\0' || sfpm_version()[strlen(expected)] == '-');
	CHECK(sizeof(sfpm_result) == 4);
	CHECK(sizeof(sfpm_protocol) == 4);
}

static void check_results(void)
{
	static const struct {
		sfpm_result result;
		unsigned int value;
		const char *message;
	} table[] = {
		{ SFPM_OK, 0, "success" },
		{ SFPM_ERR_INVALID_ARG, 1, "invalid argument (NULL pointer, bad length or no open request)" },
		{ SFPM_ERR_IO, 2, "I/O error (see the error log)" },
		{ SFPM_ERR_CONFIG, 3, "invalid configuration" },
		{ SFPM_ERR_PROTOCOL, 4, "protocol error from the web server" },
		{ SFPM_ERR_ABORTED, 5, "the web server aborted the request or closed the connection" },
		{ SFPM_ERR_PANIC, 6, "internal error: sfpm panicked (see the error log)" },
		{ SFPM_ERR_NOT_FOUND, 7, "not found" },
		{ SFPM_ERR_FINISHED, 8, "the request is already finished" },
		{ SFPM_ERR_ABI_MISMATCH, 9, "the handler was built for another SFPM_ABI_VERSION" },
		{ SFPM_ERR_INIT, 10, "master_init failed" },
		{ SFPM_ERR_STOPPED, 11, "the worker is stopping: no more requests" },
	};
	size_t i;

	for (i = 0; i < sizeof table / sizeof table[0]; i++) {
		CHECK(table[i].result == table[i].value);
		CHECK(strcmp(sfpm_result_message(table[i].result), table[i].message) == 0);
	}
	CHECK(strcmp(sfpm_result_message(12), "unknown sfpm result") == 0);
	CHECK(strcmp(sfpm_result_message(0xffffffffu), "unknown sfpm result") == 0);
}

static void check_config(void)
{
	sfpm_config *config = NULL;
	const char *message = "untouched";
	size_t len = 12345;

	CHECK(sfpm_config_new(NULL) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_config_new(&config) == SFPM_OK);
	CHECK(config != NULL);

	CHECK(sfpm_config_error(config, &message, &len) == SFPM_OK);
	CHECK(text_is(message, len, ""));

	CHECK(sfpm_config_set(config, "x", "1") == SFPM_ERR_CONFIG);
	CHECK(sfpm_config_error(config, &message, &len) == SFPM_OK);
	CHECK(text_is(message, len, "unknown entry 'x'"));

	CHECK(sfpm_config_set(config, "pm.max_children", "four") == SFPM_ERR_CONFIG);
	CHECK(sfpm_config_error(config, &message, &len) == SFPM_OK);
	CHECK(text_is(message, len, "pm.max_children: is not a valid number (greater or equal than zero)"));

	CHECK(sfpm_config_set(config, "listen.protocol", "http") == SFPM_ERR_CONFIG);
	CHECK(sfpm_config_set(config, "pm.max_children", "3") == SFPM_OK);
	CHECK(sfpm_config_error(config, &message, &len) == SFPM_OK);
	CHECK(text_is(message, len, ""));

	/* NULL arguments are refused, and outputs are written only on SFPM_OK. */
	CHECK(sfpm_config_set(NULL, "listen", "127.0.0.1:9000") == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_config_set(config, NULL, "1") == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_config_set(config, "listen", NULL) == SFPM_ERR_INVALID_ARG);
	message = "untouched";
	len = 12345;
	CHECK(sfpm_config_error(NULL, &message, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_config_error(config, NULL, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_config_error(config, &message, NULL) == SFPM_ERR_INVALID_ARG);
	CHECK(strcmp(message, "untouched") == 0 && len == 12345);

	sfpm_config_free(config);
	sfpm_config_free(NULL);
}

/* sfpm_run refuses bad arguments before it binds or forks anything. */
static void check_run(void)
{
	sfpm_config *config = NULL;
	sfpm_handler handler = { 0 }, bad;

	handler.abi_version = SFPM_ABI_VERSION;
	handler.handle = handle;
	CHECK(sfpm_config_new(&config) == SFPM_OK);

	CHECK(sfpm_run(NULL, &handler) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_run(config, NULL) == SFPM_ERR_INVALID_ARG);
	bad = handler;
	bad.abi_version = SFPM_ABI_VERSION + 1;
	CHECK(sfpm_run(config, &bad) == SFPM_ERR_ABI_MISMATCH);
	bad = handler;
	bad.handle = NULL;
	CHECK(sfpm_run(config, &bad) == SFPM_ERR_INVALID_ARG);
	bad = handler;
	bad.worker_main = worker_main;
	CHECK(sfpm_run(config, &bad) == SFPM_ERR_INVALID_ARG);
	/* No listen address yet: an incomplete configuration. */
	CHECK(sfpm_run(config, &handler) == SFPM_ERR_CONFIG);

	sfpm_config_free(config);
}

/* Worker and request functions outside a server: NULL handles. */
static void check_null_handles(void)
{
	sfpm_request *request = NULL;
	const uint8_t *bytes = NULL;
	size_t len = 0, read = 0;
	uint8_t buf[8];

	CHECK(sfpm_worker_accept(NULL, &request) == SFPM_ERR_INVALID_ARG);
	CHECK(request == NULL);
	CHECK(sfpm_worker_pool(NULL, &bytes, &len) == SFPM_ERR_INVALID_ARG);

	CHECK(sfpm_request_role(NULL) == 0);
	CHECK(sfpm_request_protocol(NULL) == SFPM_PROTOCOL_NONE);
	CHECK(sfpm_request_param_count(NULL) == 0);
	CHECK(sfpm_request_param(NULL, (const uint8_t *) "A", 1, &bytes, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_param_at(NULL, 0, &bytes, &len, &bytes, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_read_stdin(NULL, buf, sizeof buf, &read) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_read_data(NULL, buf, sizeof buf, &read) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_write_stdout(NULL, (const uint8_t *) "x", 1) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_write_stderr(NULL, (const uint8_t *) "x", 1) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_flush(NULL) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_finish(NULL, 0) == SFPM_ERR_INVALID_ARG);
	CHECK(!sfpm_request_aborted(NULL));
	CHECK(sfpm_request_peer(NULL, &bytes, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(sfpm_request_pool(NULL, &bytes, &len) == SFPM_ERR_INVALID_ARG);
	CHECK(bytes == NULL && len == 0 && read == 0);
}

int main(void)
{
	check_versions();
	check_results();
	check_config();
	check_run();
	check_null_handles();
	if (failures > 0) {
		fprintf(stderr, "abi_check: %d check(s) failed\n", failures);
		return 1;
	}
	printf("abi_check: ok (libsfpm %s, ABI %lu)\n", sfpm_version(), (unsigned long) sfpm_abi_version());
	return 0;
}
