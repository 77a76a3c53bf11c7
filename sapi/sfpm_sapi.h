/*
   sfpm SAPI: PHP running in-process inside sfpm's workers.

   This header is PHP-free: it is what a main (the cargo-built `sfpm` binary, or
   sapi/sfpm_main.c inside php-src) needs to run PHP through libsfpm. The Rust side reads
   it with bindgen.
*/

#ifndef SFPM_SAPI_H
#define SFPM_SAPI_H

#include <stdbool.h>

#include "sfpm.h"

/* How the PHP interpreter is started (php-fpm's -c, -n, -d). */
typedef struct sfpm_sapi_options {
	/* php.ini file or directory (-c); NULL: PHPRC, then the built-in path. */
	const char *ini_path;
	/* Ignore php.ini (-n). */
	bool ini_ignore;
	/* "name=value\n" lines applied after php.ini (-d), or NULL. */
	const char *ini_entries;
	/* Directory of additional .ini files, used when PHP_INI_SCAN_DIR is not set in the
	   environment; NULL: libphp's built-in one. */
	const char *scan_dir;
} sfpm_sapi_options;

/* What sfpm_sapi_print() prints (php-fpm's -i, -m, -v). */
typedef enum sfpm_sapi_print_what {
	SFPM_SAPI_PRINT_INFO = 1,
	SFPM_SAPI_PRINT_MODULES = 2,
	SFPM_SAPI_PRINT_VERSION = 3
} sfpm_sapi_print_what;

/* Fills `handler` with the callbacks that run PHP: MINIT in master_init (once, before
   the fork, so opcache's shared memory is shared by every worker), one PHP request per
   sfpm request in `handle`, MSHUTDOWN in master_exit. `options` must stay valid until
   sfpm_run() returns. */
void sfpm_sapi_handler(const sfpm_sapi_options *options, sfpm_handler *handler);

/* Starts PHP, prints what is asked on standard output, shuts PHP down.
   Returns 0 on success. */
int sfpm_sapi_print(sfpm_sapi_print_what what, const sfpm_sapi_options *options);

#endif /* SFPM_SAPI_H */
