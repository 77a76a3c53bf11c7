//! The C ABI: everything `include/sfpm.h` declares, and the only `extern "C"` code.
//!
//! Modelled on rustls-ffi: opaque handles, one result enum, no panic across the
//! boundary, ownership written on every function. `build.rs` runs cbindgen over this
//! module, so each export's `///` is its C contract. One file per concept:
//!
//! - [`result`]: `sfpm_result`, its messages, and how I/O errors map onto it;
//! - [`version`]: `sfpm_version`, `sfpm_abi_version`, `SFPM_ABI_VERSION`;
//! - [`log`]: `sfpm_log`, lines for the error log from C;
//! - [`handle`]: the only casts between C pointers and Rust values;
//! - [`config`]: `sfpm_config`, a pool built key by key;
//! - [`server`]: `sfpm_handler`, `sfpm_run` and `sfpm_worker`: C callbacks as a Rust
//!   [`crate::worker::Handler`];
//! - [`request`]: `sfpm_request`, the request being served;
//! - [`cgi`]: `sfpm_request_cgi`, the request as php-fpm would run it (for the PHP SAPI);
//! - [`status`]: `sfpm_request_status`, the pool's state (`fpm_get_status()`);
//! - [`main`]: `sfpm_main` and `sfpm_interpreter`, php-fpm's command line for a C main.
//!
//! Every export's body runs inside `ffi_panic_boundary!`, which turns a panic into the
//! return type's panic value; arguments are checked with `try_arg!`, which returns the
//! type's invalid-argument value. Both values come from [`FfiValue`].

#![allow(unsafe_code)]
// C-facing types keep their C names (`sfpm_request`), so one grep finds both sides.
#![allow(non_camel_case_types)]

/// Runs an export's body, catching any panic so it never unwinds into C: on a panic
/// it logs one line naming the export and returns [`FfiValue::on_panic`]. `return`
/// inside the body returns from the export.
macro_rules! ffi_panic_boundary {
    ($($body:tt)*) => {{
        fn here() {}
        // AssertUnwindSafe: after a panic the handle involved may be inconsistent; the C
        // contract (SFPM_ERR_PANIC's message) says not to use it again.
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $crate::ffi::panicked(::std::any::type_name_of_val(&here)),
        }
    }};
}

/// Unwraps an argument checked by a `handle` function, or returns
/// [`FfiValue::on_invalid`] from the export (`SFPM_ERR_INVALID_ARG`, NULL, 0, false).
macro_rules! try_arg {
    ($checked:expr) => {
        match $checked {
            Some(value) => value,
            None => return $crate::ffi::FfiValue::on_invalid(),
        }
    };
}

// Declared in the order cbindgen writes their items to the header (blank lines keep
// rustfmt from sorting them).
pub mod result;

pub mod version;

pub mod log;

pub mod handle;

pub mod config;

pub mod server;

pub mod request;

pub mod cgi;

pub mod status;

pub mod main;

#[cfg(feature = "php")]
pub mod sapi;

use request::sfpm_protocol;
use result::sfpm_result;

/// What an export returns when it panicked, and when an argument is invalid (NULL, a
/// bad length, no open request). Implemented for every type an export returns.
pub(crate) trait FfiValue {
    /// The value returned after a caught panic.
    fn on_panic() -> Self;
    /// The value returned for an invalid argument: an error code for fallible
    /// functions, a neutral value for infallible getters.
    fn on_invalid() -> Self;
}

impl FfiValue for sfpm_result {
    fn on_panic() -> Self {
        sfpm_result::SFPM_ERR_PANIC
    }
    fn on_invalid() -> Self {
        sfpm_result::SFPM_ERR_INVALID_ARG
    }
}

impl FfiValue for sfpm_protocol {
    fn on_panic() -> Self {
        sfpm_protocol::SFPM_PROTOCOL_NONE
    }
    fn on_invalid() -> Self {
        sfpm_protocol::SFPM_PROTOCOL_NONE
    }
}

impl<T> FfiValue for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
    fn on_invalid() -> Self {
        std::ptr::null()
    }
}

/// Plain values: a panic or an invalid argument gives the type's zero.
macro_rules! ffi_value_default {
    ($($t:ty),*) => {$(
        impl FfiValue for $t {
            fn on_panic() -> Self {
                Self::default()
            }
            fn on_invalid() -> Self {
                Self::default()
            }
        }
    )*};
}

ffi_value_default!((), bool, u16, u32, usize);

/// Exit statuses (`sfpm_main`): a panic is php-fpm's "software" failure (70), an
/// invalid argument its usage error (64) — never 0.
impl FfiValue for std::ffi::c_int {
    fn on_panic() -> Self {
        70
    }
    fn on_invalid() -> Self {
        64
    }
}

/// Logs a panic caught in the export whose local `here` function has type name `here`
/// (`sfpm::ffi::config::sfpm_config_new::here`), and returns the panic value.
#[cold]
pub(crate) fn panicked<T: FfiValue>(here: &str) -> T {
    let export = here.trim_end_matches("::here").rsplit("::").next().unwrap_or(here);
    crate::log!(Error, "{export}: panic caught at the C ABI boundary; returning an error");
    T::on_panic()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_value_and_names_the_export() {
        fn sfpm_example() -> sfpm_result {
            ffi_panic_boundary! {
                if std::hint::black_box(true) {
                    panic!("boom");
                }
                sfpm_result::SFPM_OK
            }
        }
        assert_eq!(sfpm_example(), sfpm_result::SFPM_ERR_PANIC);
        fn sfpm_getter() -> *const u8 {
            ffi_panic_boundary! { panic!("boom") }
        }
        assert!(sfpm_getter().is_null());
    }

    #[test]
    fn try_arg_returns_the_invalid_value() {
        fn check(value: Option<u32>) -> sfpm_result {
            ffi_panic_boundary! {
                let _value = try_arg!(value);
                sfpm_result::SFPM_OK
            }
        }
        assert_eq!(check(None), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(check(Some(1)), sfpm_result::SFPM_OK);
    }
}
