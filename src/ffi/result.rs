//! `sfpm_result`: what every fallible C function returns, and its messages.
//!
//! The enum is `#[repr(u32)]` so its C width is fixed whatever the compiler; C code
//! stores it as `sfpm_result` (a `uint32_t`). Values are explicit and never reused: a
//! retired code stays here as a comment. `sfpm_result_message` takes a plain integer,
//! never the Rust enum, so any value C hands back is safe to ask about.

use std::ffi::{CStr, c_char, c_uint};
use std::io;

/// The outcome of a call: `SFPM_OK`, or why it failed.
///
/// Functions write their out-parameters only when they return `SFPM_OK`.
/// `sfpm_result_message()` gives a fixed English description of each value.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sfpm_result {
    /// Success.
    SFPM_OK = 0,
    /// A required pointer was NULL, a length was impossible, a handler struct was
    /// malformed, or a request function was called when no request is open.
    SFPM_ERR_INVALID_ARG = 1,
    /// A system call failed (socket I/O, bind, fork, ...); details are in the error log.
    SFPM_ERR_IO = 2,
    /// A configuration key or value was refused (`sfpm_config_error()` says why), or the
    /// configuration is incomplete when `sfpm_run()` starts.
    SFPM_ERR_CONFIG = 3,
    /// The web server broke the FastCGI or SCGI protocol in the request body.
    SFPM_ERR_PROTOCOL = 4,
    /// The web server aborted the request or closed the connection.
    SFPM_ERR_ABORTED = 5,
    /// sfpm panicked (a bug): the call did nothing reliable and the handle involved
    /// should not be used again. The error log has details.
    SFPM_ERR_PANIC = 6,
    /// The thing asked for does not exist (no such parameter, index past the end).
    SFPM_ERR_NOT_FOUND = 7,
    /// The response was already finished with `sfpm_request_finish()`.
    SFPM_ERR_FINISHED = 8,
    /// The handler was built against another `SFPM_ABI_VERSION` than this library's.
    SFPM_ERR_ABI_MISMATCH = 9,
    /// The handler's `master_init` callback failed (returned non-zero).
    SFPM_ERR_INIT = 10,
    /// The worker must exit: it was told to stop (`SIGQUIT`, `pm.max_requests`). A
    /// `worker_main` callback returns when `sfpm_worker_accept()` says this.
    SFPM_ERR_STOPPED = 11,
}

/// Every result and its description, in value order.
const MESSAGES: [(sfpm_result, &CStr); 12] = [
    (sfpm_result::SFPM_OK, c"success"),
    (sfpm_result::SFPM_ERR_INVALID_ARG, c"invalid argument (NULL pointer, bad length or no open request)"),
    (sfpm_result::SFPM_ERR_IO, c"I/O error (see the error log)"),
    (sfpm_result::SFPM_ERR_CONFIG, c"invalid configuration"),
    (sfpm_result::SFPM_ERR_PROTOCOL, c"protocol error from the web server"),
    (sfpm_result::SFPM_ERR_ABORTED, c"the web server aborted the request or closed the connection"),
    (sfpm_result::SFPM_ERR_PANIC, c"internal error: sfpm panicked (see the error log)"),
    (sfpm_result::SFPM_ERR_NOT_FOUND, c"not found"),
    (sfpm_result::SFPM_ERR_FINISHED, c"the request is already finished"),
    (sfpm_result::SFPM_ERR_ABI_MISMATCH, c"the handler was built for another SFPM_ABI_VERSION"),
    (sfpm_result::SFPM_ERR_INIT, c"master_init failed"),
    (sfpm_result::SFPM_ERR_STOPPED, c"the worker is stopping: no more requests"),
];

const UNKNOWN: &CStr = c"unknown sfpm result";

/// Describes a result code.
///
/// `result` is any integer, usually an `sfpm_result`. Returns a static, NUL-terminated
/// English string that C must not free or modify; "unknown sfpm result" for a value
/// this library does not define. Never NULL. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_result_message(result: c_uint) -> *const c_char {
    ffi_panic_boundary! {
        let found = MESSAGES.iter().find(|(r, _)| *r as c_uint == result);
        found.map_or(UNKNOWN, |(_, message)| message).as_ptr()
    }
}

impl sfpm_result {
    /// What a failed socket operation on a request means to C.
    pub(crate) fn from_io(error: &io::Error) -> sfpm_result {
        match error.kind() {
            // The peer went away (EPIPE, ECONNRESET) or the request was aborted; the
            // worker reports an aborted request as BrokenPipe. NotConnected: the
            // FastCGI connection no longer has the request, which only an abort does
            // (finished requests are caught before writing).
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof => sfpm_result::SFPM_ERR_ABORTED,
            // The body's records broke the protocol.
            io::ErrorKind::InvalidData => sfpm_result::SFPM_ERR_PROTOCOL,
            _ => sfpm_result::SFPM_ERR_IO,
        }
    }

    /// `SFPM_OK` for `Ok`, the mapped error otherwise.
    pub(crate) fn from_io_result(result: io::Result<()>) -> sfpm_result {
        result.map_or_else(|e| sfpm_result::from_io(&e), |()| sfpm_result::SFPM_OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: c_uint) -> &'static str {
        // SAFETY: sfpm_result_message always returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(sfpm_result_message(result)) }.to_str().unwrap()
    }

    #[test]
    fn every_result_has_its_own_message_in_value_order() {
        for (i, (result, _)) in MESSAGES.iter().enumerate() {
            assert_eq!(*result as usize, i, "MESSAGES is in value order without gaps");
        }
        let texts: std::collections::HashSet<_> = (0..12).map(message).collect();
        assert_eq!(texts.len(), 12);
        assert!(!texts.contains("unknown sfpm result"));
        assert_eq!(message(12), "unknown sfpm result");
        assert_eq!(message(u32::MAX), "unknown sfpm result");
        assert_eq!(message(0), "success");
    }

    #[test]
    fn io_errors_map_by_kind() {
        let map = |kind: io::ErrorKind| sfpm_result::from_io(&io::Error::from(kind));
        assert_eq!(map(io::ErrorKind::BrokenPipe), sfpm_result::SFPM_ERR_ABORTED);
        assert_eq!(map(io::ErrorKind::ConnectionReset), sfpm_result::SFPM_ERR_ABORTED);
        assert_eq!(map(io::ErrorKind::InvalidData), sfpm_result::SFPM_ERR_PROTOCOL);
        assert_eq!(map(io::ErrorKind::TimedOut), sfpm_result::SFPM_ERR_IO);
        assert_eq!(sfpm_result::from_io_result(Ok(())), sfpm_result::SFPM_OK);
    }
}
