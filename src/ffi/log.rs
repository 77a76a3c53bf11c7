//! `sfpm_log`: lines for sfpm's error log from C code (the PHP SAPI's messages), in the
//! same format and through the same writer as the core's own.

use super::handle;
use crate::log::{self, Level};

/// Severity of a log line, php-fpm's `log_level` values.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sfpm_log_level {
    /// `ALERT`.
    SFPM_LOG_ALERT = 1,
    /// `ERROR`.
    SFPM_LOG_ERROR = 2,
    /// `WARNING`.
    SFPM_LOG_WARNING = 3,
    /// `NOTICE`.
    SFPM_LOG_NOTICE = 4,
    /// `DEBUG`.
    SFPM_LOG_DEBUG = 5,
}

/// Writes one line to sfpm's error log: `[24-Nov-2026 01:38:20] NOTICE: message`, cut at
/// the log line limit, if `level` is within the configured `log_level`. `message` is
/// `len` bytes (not NUL-terminated; invalid UTF-8 is replaced), borrowed for the call.
/// An unknown `level` is logged as `ERROR`; a NULL `message` logs nothing. Safe to call
/// from any process of the server, master or worker.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_log(level: u32, message: *const u8, len: usize) {
    ffi_panic_boundary! {
        let message = try_arg!(handle::bytes(message, len));
        use sfpm_log_level::*;
        let level = match level {
            l if l == SFPM_LOG_ALERT as u32 => Level::Alert,
            l if l == SFPM_LOG_WARNING as u32 => Level::Warning,
            l if l == SFPM_LOG_NOTICE as u32 => Level::Notice,
            l if l == SFPM_LOG_DEBUG as u32 => Level::Debug,
            // SFPM_LOG_ERROR, and anything unknown.
            l => {
                debug_assert!(l == SFPM_LOG_ERROR as u32 || l > SFPM_LOG_DEBUG as u32 || l == 0);
                Level::Error
            }
        };
        let text = String::from_utf8_lossy(message);
        log::write(level, format_args!("{}", text.trim_end_matches('\n')));
    }
}
