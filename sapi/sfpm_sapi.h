/*
   sfpm SAPI: PHP running in-process inside sfpm's workers.

   This header is PHP-free: it is what a main needs to run PHP through libsfpm, the
   cargo-built `sfpm` binary (whose Rust side reads it with bindgen) or sfpm_main.c in a
   php-src build:

       int main(int argc, char **argv)
       {
           return sfpm_main(argc, (const char *const *) argv, &sfpm_sapi_interpreter);
       }
*/

#ifndef SFPM_SAPI_H
#define SFPM_SAPI_H

#include "sfpm.h"

/* PHP as an sfpm interpreter: `handler` runs MINIT in the master (once, before the fork,
   so opcache's shared memory is shared by every worker) and one PHP request per sfpm
   request in the workers; `print` serves -i, -m and -v. */
extern const sfpm_interpreter sfpm_sapi_interpreter;

#endif /* SFPM_SAPI_H */
