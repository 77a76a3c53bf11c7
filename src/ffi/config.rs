//! `sfpm_config`: one pool's configuration, built key by key with php-fpm's directive
//! names, and the text of the last error.

use super::handle::{self, Castable, Owned};
use super::result::sfpm_result;
use crate::config::{self, PoolConfig};
use std::ffi::c_char;

/// A pool's configuration: php-fpm directives set one by one, then passed to
/// `sfpm_run()`.
///
/// Functions: `sfpm_config_new`, `sfpm_config_set`, `sfpm_config_error`,
/// `sfpm_config_free`. Usual sequence:
///
/// ```c
/// sfpm_config *config;
/// if (sfpm_config_new(&config) != SFPM_OK) ...;
/// if (sfpm_config_set(config, "listen", "127.0.0.1:9000") != SFPM_OK ||
///     sfpm_config_set(config, "pm.max_children", "4") != SFPM_OK) {
///     const char *why; size_t len;
///     sfpm_config_error(config, &why, &len);  // e.g. "pm.max_children: '0' must be a positive value"
/// }
/// sfpm_run(config, &handler);
/// sfpm_config_free(config);
/// ```
///
/// Owned by the caller from `sfpm_config_new` to `sfpm_config_free`. Not thread-safe:
/// use it from one thread at a time. After `fork()` each process has its own copy.
pub struct sfpm_config {
    _private: [u8; 0],
}

/// What an `sfpm_config` points to.
#[derive(Debug)]
pub struct Config {
    /// The pool being built.
    pub(super) pool: PoolConfig,
    /// The last `sfpm_config_set` error, NUL-terminated; empty (just the NUL) when the
    /// last call succeeded.
    error: Vec<u8>,
}

impl Castable for sfpm_config {
    type Ownership = Owned;
    type RustType<'a> = Config;
}

impl Config {
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let key = std::str::from_utf8(key).map_err(|_| "the key is not valid UTF-8".to_string())?;
        let value = std::str::from_utf8(value).map_err(|_| format!("{key}: the value is not valid UTF-8"))?;
        self.pool.set(key, value).map_err(|reason| {
            // Known keys get their name in front, as php-fpm names the directive; an
            // unknown key's reason names it already ("unknown entry 'x'").
            let known = config::DIRECTIVES.iter().any(|d| d.name.eq_ignore_ascii_case(key));
            if known { format!("{key}: {reason}") } else { reason }
        })
    }

    fn set_error(&mut self, text: &str) {
        self.error.clear();
        // No NUL can come from a C string key or value, but keep the terminator unique.
        self.error.extend(text.bytes().filter(|&b| b != 0));
        self.error.push(0);
    }
}

/// Creates a configuration with php-fpm's defaults (pool "www", `pm = static`, ...).
/// `listen` and `pm.max_children` must still be set before `sfpm_run()`.
///
/// On `SFPM_OK`, `*out` is a new configuration owned by the caller, to be freed with
/// `sfpm_config_free()`. Returns `SFPM_ERR_INVALID_ARG` if `out` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_config_new(out: *mut *mut sfpm_config) -> sfpm_result {
    ffi_panic_boundary! {
        let out = try_arg!(handle::out(out));
        out.write(handle::to_owned_ptr(Config { pool: PoolConfig::default(), error: vec![0] }));
        sfpm_result::SFPM_OK
    }
}

/// Sets one directive, named and spelled as in php-fpm.conf: `key` is e.g. "listen",
/// "pm.max_children", "listen.protocol"; `value` its text ("127.0.0.1:9000",
/// "/run/app.sock", "4", "30s"). Surrounding blanks in `value` are ignored.
///
/// Both strings are NUL-terminated, UTF-8, borrowed for the call only.
///
/// Returns `SFPM_OK`; `SFPM_ERR_CONFIG` for an unknown key or a bad value, with the
/// reason available from `sfpm_config_error()` (the configuration is unchanged);
/// `SFPM_ERR_INVALID_ARG` if any pointer is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_config_set(
    config: *mut sfpm_config,
    key: *const c_char,
    value: *const c_char,
) -> sfpm_result {
    ffi_panic_boundary! {
        let config = try_arg!(handle::owned_mut(config));
        let key = try_arg!(handle::c_str(key));
        let value = try_arg!(handle::c_str(value));
        match config.set(key.to_bytes(), value.to_bytes()) {
            Ok(()) => {
                config.set_error("");
                sfpm_result::SFPM_OK
            }
            Err(reason) => {
                config.set_error(&reason);
                sfpm_result::SFPM_ERR_CONFIG
            }
        }
    }
}

/// Why the last `sfpm_config_set()` on `config` failed, e.g. "unknown entry 'x'" or
/// "pm.max_children: '0' must be a positive value"; empty when it succeeded (or none
/// was made).
///
/// On `SFPM_OK`, `*message` points to `*len` bytes of text, also NUL-terminated for
/// printing, owned by `config` and valid until the next call on `config` or its
/// `sfpm_config_free()`. Returns `SFPM_ERR_INVALID_ARG` if any pointer is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_config_error(
    config: *const sfpm_config,
    message: *mut *const c_char,
    len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let config = try_arg!(handle::owned(config));
        let message = try_arg!(handle::out(message));
        let len = try_arg!(handle::out(len));
        message.write(config.error.as_ptr().cast());
        len.write(config.error.len() - 1);
        sfpm_result::SFPM_OK
    }
}

/// Frees a configuration made by `sfpm_config_new()`. NULL does nothing.
///
/// `config` must not be used afterwards, nor freed twice. `sfpm_run()` keeps no
/// reference to it once it returns.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_config_free(config: *mut sfpm_config) {
    ffi_panic_boundary! { handle::free_owned(config) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;
    use std::ptr;

    fn error_of(config: *const sfpm_config) -> String {
        let (mut text, mut len) = (ptr::null(), usize::MAX);
        assert_eq!(sfpm_config_error(config, &mut text, &mut len), sfpm_result::SFPM_OK);
        // SAFETY: on SFPM_OK, text is NUL-terminated and valid until the next call.
        let text = unsafe { CStr::from_ptr(text) }.to_str().unwrap().to_string();
        assert_eq!(text.len(), len);
        text
    }

    #[test]
    fn set_error_and_free() {
        let mut config = ptr::null_mut();
        assert_eq!(sfpm_config_new(&mut config), sfpm_result::SFPM_OK);
        assert_eq!(error_of(config), "");
        assert_eq!(sfpm_config_set(config, c"x".as_ptr(), c"1".as_ptr()), sfpm_result::SFPM_ERR_CONFIG);
        assert_eq!(error_of(config), "unknown entry 'x'");
        assert_eq!(
            sfpm_config_set(config, c"pm.max_children".as_ptr(), c"four".as_ptr()),
            sfpm_result::SFPM_ERR_CONFIG
        );
        assert_eq!(error_of(config), "pm.max_children: is not a valid number (greater or equal than zero)");
        assert_eq!(
            sfpm_config_set(config, c"listen".as_ptr(), c" /tmp/x.sock ".as_ptr()),
            sfpm_result::SFPM_OK
        );
        assert_eq!(error_of(config), "");
        let pool = &handle::owned(config).unwrap().pool;
        assert_eq!(pool.listen.as_deref(), Some("/tmp/x.sock"));
        assert_eq!(sfpm_config_set(config, ptr::null(), c"1".as_ptr()), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(
            sfpm_config_set(ptr::null_mut(), c"listen".as_ptr(), c"1".as_ptr()),
            sfpm_result::SFPM_ERR_INVALID_ARG
        );
        sfpm_config_free(config);
        sfpm_config_free(ptr::null_mut());
        assert_eq!(sfpm_config_new(ptr::null_mut()), sfpm_result::SFPM_ERR_INVALID_ARG);
    }

    #[test]
    fn outputs_are_untouched_on_error() {
        let (mut text, mut len) = (ptr::null::<c_char>(), 7usize);
        assert_eq!(sfpm_config_error(ptr::null(), &mut text, &mut len), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert!(text.is_null());
        assert_eq!(len, 7);
    }
}
