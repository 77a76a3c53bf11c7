//! `sfpm_request`: the request a worker is serving: its parameters, body, response and
//! peer, as borrowed (pointer, length) pairs.
//!
//! An `sfpm_request *` is the worker's handle ([`super::server::WorkerHandle`]); every
//! function here asks the worker for its open request, so a call made when none is open
//! (after `sfpm_worker_accept()` said `SFPM_ERR_STOPPED`, say) is refused with
//! `SFPM_ERR_INVALID_ARG` rather than reaching freed memory.

use super::handle;
use super::result::sfpm_result;
use crate::fastcgi::Role;
use crate::request::{Protocol, Request};

/// One request being served, lent by sfpm: to `handle` for the length of the call
/// (callback style), or by `sfpm_worker_accept()` until the next accept (pull style).
///
/// Functions: `sfpm_request_role`, `sfpm_request_protocol`, `sfpm_request_param`,
/// `sfpm_request_param_count`, `sfpm_request_param_at`, `sfpm_request_read_stdin`,
/// `sfpm_request_read_data`, `sfpm_request_write_stdout`, `sfpm_request_write_stderr`,
/// `sfpm_request_flush`, `sfpm_request_finish`, `sfpm_request_aborted`,
/// `sfpm_request_peer`, `sfpm_request_pool`. Usual sequence: read params, read the body
/// until a read returns 0 bytes, write headers ("Status: 200 OK\r\nContent-Type:
/// ...\r\n\r\n") and body, then return (or `sfpm_request_finish()` and go on working).
///
/// Every pointer a request function returns (params, peer, pool) is owned by sfpm and
/// valid until the request ends: the next `sfpm_worker_accept()`, or the return of the
/// `handle` or `worker_main` callback. Output is buffered: small responses leave in one
/// write with the end of the request. Not thread-safe: use a request from the thread of
/// its callback only.
pub struct sfpm_request {
    _private: [u8; 0],
}

/// The protocol a request arrived by.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sfpm_protocol {
    /// No request: the handle was NULL or no request is open.
    SFPM_PROTOCOL_NONE = 0,
    /// FastCGI 1.0.
    SFPM_PROTOCOL_FASTCGI = 1,
    /// SCGI.
    SFPM_PROTOCOL_SCGI = 2,
}

/// The open request behind a handle; `None` for NULL or when no request is open.
fn open<'a>(request: *const sfpm_request) -> Option<Request<'a>> {
    handle::lent(request)?.request()
}

/// The FastCGI role the web server asked for: 1 responder, 2 authorizer, 3 filter
/// (`FCGI_RESPONDER`, ...). SCGI requests are responders. Returns 0 if `request` is
/// NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_role(request: *const sfpm_request) -> u16 {
    ffi_panic_boundary! {
        let request = try_arg!(open(request));
        request.role() as u16
    }
}

/// The protocol the request arrived by: `SFPM_PROTOCOL_FASTCGI` or
/// `SFPM_PROTOCOL_SCGI`; `SFPM_PROTOCOL_NONE` if `request` is NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_protocol(request: *const sfpm_request) -> sfpm_protocol {
    ffi_panic_boundary! {
        match try_arg!(open(request)).protocol() {
            Protocol::FastCgi => sfpm_protocol::SFPM_PROTOCOL_FASTCGI,
            Protocol::Scgi => sfpm_protocol::SFPM_PROTOCOL_SCGI,
        }
    }
}

/// Looks up parameter (CGI variable) `name`, `name_len` bytes, e.g. "SCRIPT_FILENAME".
/// When the web server sent the name more than once, the last value wins (as php-fpm).
///
/// On `SFPM_OK`, `*value` points to `*value_len` bytes (not NUL-terminated, possibly
/// empty) owned by the request. Returns `SFPM_ERR_NOT_FOUND` if there is no such
/// parameter; `SFPM_ERR_INVALID_ARG` if a pointer is NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_param(
    request: *const sfpm_request,
    name: *const u8,
    name_len: usize,
    value: *mut *const u8,
    value_len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let request = try_arg!(open(request));
        let name = try_arg!(handle::bytes(name, name_len));
        let (value, value_len) = (try_arg!(handle::out(value)), try_arg!(handle::out(value_len)));
        match request.param(name) {
            Some(found) => {
                handle::write_bytes(value, value_len, found);
                sfpm_result::SFPM_OK
            }
            None => sfpm_result::SFPM_ERR_NOT_FOUND,
        }
    }
}

/// The number of parameters, repeated names counted each time; 0 if `request` is NULL
/// or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_param_count(request: *const sfpm_request) -> usize {
    ffi_panic_boundary! { try_arg!(open(request)).params().len() }
}

/// The parameter at `index` (0 to `sfpm_request_param_count() - 1`), in the order the
/// web server sent them.
///
/// On `SFPM_OK`, `*name` and `*value` point to `*name_len` and `*value_len` bytes (not
/// NUL-terminated) owned by the request. Returns `SFPM_ERR_NOT_FOUND` if `index` is past
/// the end; `SFPM_ERR_INVALID_ARG` if a pointer is NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_param_at(
    request: *const sfpm_request,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
    value: *mut *const u8,
    value_len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let request = try_arg!(open(request));
        let (name, name_len) = (try_arg!(handle::out(name)), try_arg!(handle::out(name_len)));
        let (value, value_len) = (try_arg!(handle::out(value)), try_arg!(handle::out(value_len)));
        match request.params().get_index(index) {
            Some((n, v)) => {
                handle::write_bytes(name, name_len, n);
                handle::write_bytes(value, value_len, v);
                sfpm_result::SFPM_OK
            }
            None => sfpm_result::SFPM_ERR_NOT_FOUND,
        }
    }
}

/// Reads body bytes into one of the two streams' readers below.
fn read(
    request: *const sfpm_request,
    buf: *mut u8,
    len: usize,
    out_read: *mut usize,
    data: bool,
) -> sfpm_result {
    let mut request = try_arg!(open(request));
    let buf = try_arg!(handle::bytes_mut(buf, len));
    let out_read = try_arg!(handle::out(out_read));
    if buf.is_empty() {
        // A zero-length read could not tell "nothing read" from the end of the body.
        return sfpm_result::SFPM_ERR_INVALID_ARG;
    }
    let read = if data { request.read_data(buf) } else { request.read_stdin(buf) };
    match read {
        Ok(n) => {
            out_read.write(n);
            sfpm_result::SFPM_OK
        }
        Err(e) => sfpm_result::from_io(&e),
    }
}

/// Reads up to `len` bytes of the request body (FastCGI `STDIN`, the SCGI body) into
/// `buf`; blocks until some arrive.
///
/// On `SFPM_OK`, `*out_read` is the number of bytes read, 0 at the end of the body (or
/// once the request was aborted or finished: check `sfpm_request_aborted()`). Returns
/// `SFPM_ERR_PROTOCOL` if the web server broke the protocol, `SFPM_ERR_ABORTED` or
/// `SFPM_ERR_IO` if the connection failed; `SFPM_ERR_INVALID_ARG` if a pointer is NULL,
/// `len` is 0 or no request is open. `buf` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_read_stdin(
    request: *mut sfpm_request,
    buf: *mut u8,
    len: usize,
    out_read: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! { read(request, buf, len, out_read, false) }
}

/// Reads up to `len` bytes of a FILTER request's data stream (FastCGI `DATA`, the file
/// to filter) into `buf`, as `sfpm_request_read_stdin()` does for the body. The web
/// server sends the whole body first: body bytes not read yet are skipped. Other roles
/// have no data: the first read returns 0 bytes.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_read_data(
    request: *mut sfpm_request,
    buf: *mut u8,
    len: usize,
    out_read: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! { read(request, buf, len, out_read, true) }
}

/// Writes to one of the response streams.
fn write(request: *mut sfpm_request, buf: *const u8, len: usize, stderr: bool) -> sfpm_result {
    let mut request = try_arg!(open(request));
    let buf = try_arg!(handle::bytes(buf, len));
    if request.is_finished() {
        return sfpm_result::SFPM_ERR_FINISHED;
    }
    let written = if stderr { request.write_stderr(buf) } else { request.write_stdout(buf) };
    sfpm_result::from_io_result(written)
}

/// Appends `len` bytes from `buf` to the response: CGI headers, a blank line, then the
/// body (`"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>..."`).
///
/// Output is buffered and sent in large writes, at the latest by
/// `sfpm_request_finish()` or when the request ends; `sfpm_request_flush()` sends it now.
/// Returns `SFPM_OK`; `SFPM_ERR_FINISHED` after `sfpm_request_finish()`;
/// `SFPM_ERR_ABORTED` if the web server aborted the request or went away (nothing more
/// can be sent); `SFPM_ERR_IO` if sending failed otherwise; `SFPM_ERR_INVALID_ARG` if a
/// pointer is NULL or no request is open. `buf` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_write_stdout(
    request: *mut sfpm_request,
    buf: *const u8,
    len: usize,
) -> sfpm_result {
    ffi_panic_boundary! { write(request, buf, len, false) }
}

/// Sends `len` bytes from `buf` to the web server's error log (FastCGI `STDERR`; SCGI
/// has none, so the text goes to sfpm's error log). Results as
/// `sfpm_request_write_stdout()`.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_write_stderr(
    request: *mut sfpm_request,
    buf: *const u8,
    len: usize,
) -> sfpm_result {
    ffi_panic_boundary! { write(request, buf, len, true) }
}

/// Sends the buffered response bytes now (streaming, long polls). Returns `SFPM_OK`
/// (also when nothing is buffered or the request is finished); `SFPM_ERR_ABORTED` or
/// `SFPM_ERR_IO` if sending failed; `SFPM_ERR_INVALID_ARG` if `request` is NULL or no
/// request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_flush(request: *mut sfpm_request) -> sfpm_result {
    ffi_panic_boundary! {
        let mut request = try_arg!(open(request));
        sfpm_result::from_io_result(request.flush())
    }
}

/// Ends the response on the wire with application status `app_status` (FastCGI
/// `END_REQUEST`; SCGI closes the connection), like PHP's `fastcgi_finish_request()`:
/// the web server gets the whole response now, and the application may go on working
/// until it returns. Later writes return `SFPM_ERR_FINISHED`; finishing again does
/// nothing and returns `SFPM_OK`.
///
/// Returns `SFPM_OK`; `SFPM_ERR_ABORTED` or `SFPM_ERR_IO` if sending failed (the
/// request is finished all the same); `SFPM_ERR_INVALID_ARG` if `request` is NULL or no
/// request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_finish(request: *mut sfpm_request, app_status: u32) -> sfpm_result {
    ffi_panic_boundary! {
        let mut request = try_arg!(open(request));
        sfpm_result::from_io_result(request.finish(app_status))
    }
}

/// True when the web server aborted the request (FastCGI `ABORT_REQUEST`) or closed
/// the connection; long-running handlers may poll it and stop early. Looks at the
/// socket without blocking once the body has been read. False if `request` is NULL or
/// no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_aborted(request: *mut sfpm_request) -> bool {
    ffi_panic_boundary! { try_arg!(open(request)).aborted() }
}

/// The peer that sent the request, i.e. the web server, as text: its IP address
/// ("127.0.0.1", "::1") or "unix" for a Unix socket. (The HTTP client's address is in
/// the `REMOTE_ADDR` parameter.)
///
/// On `SFPM_OK`, `*text` points to `*len` bytes (not NUL-terminated) owned by the
/// request. `SFPM_ERR_INVALID_ARG` if a pointer is NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_peer(
    request: *const sfpm_request,
    text: *mut *const u8,
    len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let lent = try_arg!(handle::lent(request));
        let (text, len) = (try_arg!(handle::out(text)), try_arg!(handle::out(len)));
        handle::write_bytes(text, len, try_arg!(lent.peer()).as_bytes());
        sfpm_result::SFPM_OK
    }
}

/// The name of the pool serving the request ("www" unless the `name` directive was
/// set).
///
/// On `SFPM_OK`, `*name` points to `*len` bytes (not NUL-terminated) owned by sfpm,
/// valid for the worker's life. `SFPM_ERR_INVALID_ARG` if a pointer is NULL or no
/// request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_pool(
    request: *const sfpm_request,
    name: *mut *const u8,
    len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let request = try_arg!(open(request));
        let (name, len) = (try_arg!(handle::out(name)), try_arg!(handle::out(len)));
        handle::write_bytes(name, len, request.pool().as_bytes());
        sfpm_result::SFPM_OK
    }
}

// The role values C sees are the FastCGI wire values (§6), which `Role` carries.
const _: () =
    assert!(Role::Responder as u16 == 1 && Role::Authorizer as u16 == 2 && Role::Filter as u16 == 3);

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn null_requests_get_neutral_values_or_invalid_arg() {
        assert_eq!(sfpm_request_role(ptr::null()), 0);
        assert_eq!(sfpm_request_protocol(ptr::null()), sfpm_protocol::SFPM_PROTOCOL_NONE);
        assert_eq!(sfpm_request_param_count(ptr::null()), 0);
        assert!(!sfpm_request_aborted(ptr::null_mut()));
        let mut n = 0;
        let mut buf = [0u8; 4];
        assert_eq!(
            sfpm_request_read_stdin(ptr::null_mut(), buf.as_mut_ptr(), buf.len(), &mut n),
            sfpm_result::SFPM_ERR_INVALID_ARG
        );
        assert_eq!(
            sfpm_request_write_stdout(ptr::null_mut(), b"x".as_ptr(), 1),
            sfpm_result::SFPM_ERR_INVALID_ARG
        );
        assert_eq!(sfpm_request_finish(ptr::null_mut(), 0), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(sfpm_request_flush(ptr::null_mut()), sfpm_result::SFPM_ERR_INVALID_ARG);
        let (mut text, mut len) = (ptr::null(), 0);
        assert_eq!(sfpm_request_peer(ptr::null(), &mut text, &mut len), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(sfpm_request_pool(ptr::null(), &mut text, &mut len), sfpm_result::SFPM_ERR_INVALID_ARG);
    }
}
