//! Versions: the library's release and the ABI it implements.
//!
//! `SFPM_ABI_VERSION` is the one ABI number: a C program compares it (compiled in from
//! the header) with `sfpm_abi_version()` (from the library it runs with), and
//! `sfpm_handler.abi_version` carries it into `sfpm_run()`. The release macros
//! (`SFPM_VERSION`, `SFPM_VERSION_MAJOR`, ...) are written into the header by `build.rs`
//! from Cargo.toml, the same source `sfpm_version()` is built from; the C test
//! `examples/c/abi_check.c` checks that they agree.

use std::ffi::c_char;

/// The version of the C ABI declared by this header. It changes when an existing
/// function, struct or enum value changes meaning or layout; additions keep it. Set
/// `sfpm_handler.abi_version` to it, and compare it with `sfpm_abi_version()`.
pub const SFPM_ABI_VERSION: u32 = 1;

/// The release, NUL-terminated, from Cargo.toml.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's release, e.g. "0.1.0": the same text as the `SFPM_VERSION` macro of
/// the header it was built with.
///
/// Returns a static NUL-terminated string that C must not free or modify. Never NULL.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_version() -> *const c_char {
    ffi_panic_boundary! { VERSION.as_ptr().cast() }
}

/// The C ABI version the library implements: `SFPM_ABI_VERSION` of the header it was
/// built with. A program built against another header should refuse to run.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_abi_version() -> u32 {
    ffi_panic_boundary! { SFPM_ABI_VERSION }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_is_cargo_s() {
        // SAFETY: sfpm_version returns a static NUL-terminated string.
        let text = unsafe { CStr::from_ptr(sfpm_version()) };
        assert_eq!(text.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
        assert_eq!(sfpm_abi_version(), SFPM_ABI_VERSION);
    }
}
