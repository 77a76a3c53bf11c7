# sfpm in php-src's Makefile (config.m4): the program is linked like sapi/cli's, from
# libphp's objects, plus $(SFPM_LIBS).

sfpm: $(SAPI_SFPM_PATH)

$(SAPI_SFPM_PATH): $(PHP_GLOBAL_OBJS) $(PHP_BINARY_OBJS) $(PHP_SFPM_OBJS)
	$(LIBTOOL) --tag=CC --mode=link $(CC) -export-dynamic $(CFLAGS_CLEAN) $(EXTRA_CFLAGS) \
		$(EXTRA_LDFLAGS_PROGRAM) $(LDFLAGS) $(PHP_RPATHS) $(PHP_GLOBAL_OBJS:.lo=.o) \
		$(PHP_BINARY_OBJS:.lo=.o) $(PHP_SFPM_OBJS:.lo=.o) $(SFPM_LIBS) $(EXTRA_LIBS) \
		$(ZEND_EXTRA_LIBS) -o $@

install-sfpm: $(SAPI_SFPM_PATH)
	@echo "Installing sfpm binary:           $(INSTALL_ROOT)$(sbindir)/"
	@$(mkinstalldirs) $(INSTALL_ROOT)$(sbindir)
	@$(INSTALL) -m 0755 $(SAPI_SFPM_PATH) $(INSTALL_ROOT)$(sbindir)/$(program_prefix)sfpm$(program_suffix)$(EXEEXT)
