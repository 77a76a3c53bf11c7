/*
   The `sfpm` program as a C main: php-fpm's command line (parsed by libsfpm) with PHP
   (sfpm_sapi.c) as the interpreter. The php-src build of this SAPI and the tests' C build
   use it; the cargo-built binary has the same main in Rust (src/main.rs).
*/

#include "sfpm_sapi.h"

int main(int argc, char **argv)
{
	return sfpm_main(argc, (const char *const *) argv, &sfpm_sapi_interpreter);
}
