dnl sfpm as a php-src program SAPI: sapi/sfpm/sfpm, libphp's objects + the shim + libsfpm.
PHP_ARG_ENABLE([sfpm],,
  [AS_HELP_STRING([[--enable-sfpm[=DIR]]],
    [Build sfpm, the php-fpm replacement, with libsfpm installed in DIR [DIR=/usr/local]])],
  [no],
  [no])

AC_MSG_CHECKING([for libsfpm])
if test "$PHP_SFPM" != "no"; then
  test "$PHP_SFPM" = "yes" && PHP_SFPM=/usr/local
  PHP_EXPAND_PATH([$PHP_SFPM], [PHP_SFPM])
  test -f "$PHP_SFPM/include/sfpm.h" ||
    AC_MSG_ERROR([no $PHP_SFPM/include/sfpm.h: install libsfpm there (make install PREFIX=$PHP_SFPM)])
  AC_MSG_RESULT([$PHP_SFPM])
  dnl The shared libsfpm, found at run time through its run path.
  SFPM_LIBS="-L$PHP_SFPM/lib -lsfpm"
  test -n "$ld_runpath_switch" && SFPM_LIBS="$ld_runpath_switch$PHP_SFPM/lib $SFPM_LIBS"
  SAPI_SFPM_PATH=sapi/sfpm/sfpm
  PHP_SELECT_SAPI([sfpm], [program], [sfpm_sapi.c sfpm_main.c],
    [-I$PHP_SFPM/include -DZEND_ENABLE_STATIC_TSRMLS_CACHE=1])
  PHP_ADD_MAKEFILE_FRAGMENT([$abs_srcdir/sapi/sfpm/Makefile.frag])
  PHP_SUBST([SAPI_SFPM_PATH])
  PHP_SUBST([SFPM_LIBS])
else
  AC_MSG_RESULT([no])
fi
