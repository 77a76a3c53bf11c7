//! The server from C: `sfpm_handler` (the C callbacks), `sfpm_run` (the pre-forked
//! server around them) and `sfpm_worker` (a worker process, for the pull style).
//!
//! [`CHandler`] is a Rust [`Handler`] that forwards to the callbacks. It overrides
//! `serve` so that both styles hand C the same object: a [`WorkerHandle`] on the
//! worker's stack, lent as `sfpm_worker *` and as `sfpm_request *`. The request itself is
//! never stored: each request function asks the worker for its open request again
//! ([`Worker::request`]), so nothing is self-referential and a request pointer is valid
//! exactly as long as the worker keeps that request open (until the next accept).

use super::config::sfpm_config;
use super::handle::{self, Castable, Lent};
use super::request::sfpm_request;
use super::result::sfpm_result;
use super::version::SFPM_ABI_VERSION;
use crate::master::{self, RunError};
use crate::request::Request;
use crate::worker::{Handler, Worker};
use std::ffi::{c_int, c_void};
use std::fmt::Write as _;

/// A worker process, lent to the `worker_init` and `worker_main` callbacks.
///
/// Functions: `sfpm_worker_accept`, `sfpm_worker_pool`. Pull style, in `worker_main`:
///
/// ```c
/// sfpm_request *request;
/// while (sfpm_worker_accept(worker, &request) == SFPM_OK) {
///     ... sfpm_request_param(request, ...), sfpm_request_write_stdout(request, ...) ...
///     sfpm_request_finish(request, 0);
/// }
/// return 0;  // SFPM_ERR_STOPPED: the worker must exit
/// ```
///
/// Owned by sfpm; valid until the callback it was passed to returns. Use it from the
/// thread that runs the callback only.
pub struct sfpm_worker {
    _private: [u8; 0],
}

/// The callbacks that make up an application, and the pointer passed back to them.
///
/// Set `abi_version` to `SFPM_ABI_VERSION` and exactly one of `handle` (callback style)
/// and `worker_main` (pull style); every other callback may be NULL. Zero-initialise the
/// struct (`sfpm_handler h = {0};`) so that callbacks added by later versions are NULL.
/// `sfpm_run()` copies it when it starts.
///
/// Lifecycle: `master_init` once in the master, before any worker is forked (load code,
/// warm caches: what every worker shares); then in each worker process `worker_init`,
/// the requests (`handle` for each, or one `worker_main` call), and `worker_exit`;
/// finally `master_exit` once in the master after every worker is gone. Workers are
/// separate processes: what a worker changes in `userdata` is its own copy.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_handler {
    /// Must be `SFPM_ABI_VERSION`; otherwise `sfpm_run()` returns
    /// `SFPM_ERR_ABI_MISMATCH`. First, so it is read safely whatever the layout.
    pub abi_version: u32,
    /// Passed as the first argument of every callback; sfpm never reads it.
    pub userdata: *mut c_void,
    /// Runs once in the master before forking; returns 0, or non-zero to make
    /// `sfpm_run()` return `SFPM_ERR_INIT`. May be NULL.
    pub master_init: Option<unsafe extern "C" fn(userdata: *mut c_void) -> c_int>,
    /// Runs once in each worker after the fork; returns 0, or non-zero to end the
    /// worker with exit code 1 (the master starts another, with back-off). May be NULL.
    pub worker_init: Option<unsafe extern "C" fn(userdata: *mut c_void, worker: *mut sfpm_worker) -> c_int>,
    /// Callback style: serves one request and returns its application status (the
    /// FastCGI `END_REQUEST` appStatus, usually 0). sfpm reads nothing more of the
    /// request afterwards and finishes it with that status unless the callback already
    /// did (`sfpm_request_finish()`). `request` is valid until the callback returns.
    pub handle: Option<unsafe extern "C" fn(userdata: *mut c_void, request: *mut sfpm_request) -> u32>,
    /// Pull style: called once per worker instead of `handle`; loops on
    /// `sfpm_worker_accept()` until it returns `SFPM_ERR_STOPPED`, then returns the
    /// worker's exit code (0; non-zero ends the worker with that code). A request still
    /// open when it returns is finished with status 0.
    pub worker_main: Option<unsafe extern "C" fn(userdata: *mut c_void, worker: *mut sfpm_worker) -> c_int>,
    /// Runs once in each worker before it exits normally (not when killed). May be NULL.
    pub worker_exit: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    /// Runs once in the master after every worker has exited. May be NULL.
    pub master_exit: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
}

/// The one request-serving callback a handler sets.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// `handle`: sfpm accepts, calls it, finishes.
    Callback(unsafe extern "C" fn(*mut c_void, *mut sfpm_request) -> u32),
    /// `worker_main`: C accepts, in its own loop.
    Pull(unsafe extern "C" fn(*mut c_void, *mut sfpm_worker) -> c_int),
}

/// A C `sfpm_handler` as a Rust [`Handler`].
#[derive(Debug)]
struct CHandler {
    callbacks: sfpm_handler,
    style: Style,
    /// What `worker_main` returned, for `worker_exit` to exit with.
    exit_code: c_int,
}

impl CHandler {
    /// `None` unless exactly one of `handle` and `worker_main` is set.
    fn new(callbacks: sfpm_handler) -> Option<CHandler> {
        let style = match (callbacks.handle, callbacks.worker_main) {
            (Some(handle), None) => Style::Callback(handle),
            (None, Some(main)) => Style::Pull(main),
            _ => return None,
        };
        Some(CHandler { callbacks, style, exit_code: 0 })
    }
}

/// Reads a C init callback's answer: 0 is success.
fn init_result(name: &str, code: c_int) -> Result<(), String> {
    if code == 0 { Ok(()) } else { Err(format!("{name} callback returned {code}")) }
}

// SAFETY (every callback call below): the C contract of `sfpm_handler` is that a
// non-NULL callback is a function of exactly this signature, callable from this process
// (the master, or a worker forked from it); `userdata` goes back to it untouched and
// the handles passed are live for the call.
impl Handler for CHandler {
    fn master_init(&mut self) -> Result<(), String> {
        let Some(init) = self.callbacks.master_init else { return Ok(()) };
        // SAFETY: see the comment on this impl.
        init_result("master_init", unsafe { init(self.callbacks.userdata) })
    }

    fn worker_init(&mut self, worker: &mut Worker<'_>) -> Result<(), String> {
        let Some(init) = self.callbacks.worker_init else { return Ok(()) };
        let mut lent = WorkerHandle::new(worker);
        // SAFETY: see the comment on this impl.
        init_result("worker_init", unsafe { init(self.callbacks.userdata, handle::lend(&mut lent)) })
    }

    /// Unused: `serve` below drives both styles so that C always gets the worker
    /// handle. Answers with an error status rather than panicking, should that change.
    fn handle(&mut self, _request: &mut Request<'_>) -> u32 {
        crate::log!(Error, "sfpm_handler: unexpected call of handle() outside serve()");
        1
    }

    fn serve(&mut self, worker: &mut Worker<'_>) {
        let mut lent = WorkerHandle::new(worker);
        match self.style {
            Style::Callback(handle) => {
                while lent.accept() {
                    // SAFETY: see the comment on this impl.
                    let status = unsafe { handle(self.callbacks.userdata, handle::lend(&mut lent)) };
                    if let Some(mut request) = lent.request() {
                        // A failed write already marked the request aborted; nothing more to do.
                        let _ = request.finish(status);
                    }
                }
            }
            Style::Pull(main) => {
                // SAFETY: see the comment on this impl.
                self.exit_code = unsafe { main(self.callbacks.userdata, handle::lend(&mut lent)) };
                if let Some(mut request) = lent.request() {
                    let _ = request.finish(0);
                }
            }
        }
    }

    fn worker_exit(&mut self) {
        if let Some(exit) = self.callbacks.worker_exit {
            // SAFETY: see the comment on this impl.
            unsafe { exit(self.callbacks.userdata) };
        }
        if self.exit_code != 0 {
            // `worker_main` chose the worker's exit code; the master logs it. exit(3)
            // runs atexit handlers and flushes stdio, as a normal worker exit does.
            std::process::exit(self.exit_code);
        }
    }

    fn master_exit(&mut self) {
        if let Some(exit) = self.callbacks.master_exit {
            // SAFETY: see the comment on this impl.
            unsafe { exit(self.callbacks.userdata) };
        }
    }
}

/// The parts of a [`Worker`] the C ABI uses, as a trait object so that a
/// [`WorkerHandle`] has one lifetime whatever the worker's pool lifetime is.
trait Serving {
    fn next_request(&mut self) -> bool;
    fn request(&mut self) -> Option<Request<'_>>;
    /// The open request and the pool as its handler sees it, borrowed together.
    fn request_and_pool(&mut self) -> Option<(Request<'_>, crate::worker::PoolView<'_>)>;
    fn pool_name(&self) -> &str;
    fn config(&self) -> &crate::config::PoolConfig;
    fn pool_status(&self) -> crate::worker::PoolStatus;
    fn report_memory(&self, bytes: u64) -> bool;
}

impl Serving for Worker<'_> {
    fn next_request(&mut self) -> bool {
        Worker::next_request(self)
    }
    fn request(&mut self) -> Option<Request<'_>> {
        Worker::request(self)
    }
    fn request_and_pool(&mut self) -> Option<(Request<'_>, crate::worker::PoolView<'_>)> {
        let view = self.pool_view();
        Worker::request(self).map(|r| (r, view))
    }
    fn pool_name(&self) -> &str {
        Worker::pool_name(self)
    }
    fn config(&self) -> &crate::config::PoolConfig {
        Worker::config(self)
    }
    fn pool_status(&self) -> crate::worker::PoolStatus {
        Worker::pool_status(self)
    }
    fn report_memory(&self, bytes: u64) -> bool {
        Worker::report_memory(self, bytes)
    }
}

/// What `sfpm_worker *` and `sfpm_request *` point to: the worker, and the text of the
/// open request's peer (which C borrows as bytes, so it must live somewhere until the
/// next accept).
pub struct WorkerHandle<'w> {
    worker: &'w mut (dyn Serving + 'w),
    peer: String,
    /// The open request's CGI view, when `sfpm_request_cgi()` was asked for it.
    cgi: super::cgi::CgiStore,
    /// The pool's status, when `sfpm_request_status()` was asked for it.
    status: super::status::StatusStore,
}

impl std::fmt::Debug for WorkerHandle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("pool", &self.worker.pool_name())
            .field("peer", &self.peer)
            .finish()
    }
}

impl Castable for sfpm_worker {
    type Ownership = Lent;
    type RustType<'a> = WorkerHandle<'a>;
}

impl Castable for sfpm_request {
    type Ownership = Lent;
    type RustType<'a> = WorkerHandle<'a>;
}

impl<'w> WorkerHandle<'w> {
    fn new(worker: &'w mut (dyn Serving + 'w)) -> WorkerHandle<'w> {
        WorkerHandle {
            worker,
            peer: String::new(),
            cgi: super::cgi::CgiStore::default(),
            status: super::status::StatusStore::default(),
        }
    }

    /// Waits for the next request, finishing the open one; false when the worker must exit.
    pub(super) fn accept(&mut self) -> bool {
        self.peer.clear();
        if !self.worker.next_request() {
            return false;
        }
        if let Some(request) = self.worker.request() {
            let _ = write!(self.peer, "{}", request.peer());
        }
        true
    }

    /// The open request, if any.
    pub(super) fn request(&mut self) -> Option<Request<'_>> {
        self.worker.request()
    }

    /// The open request's peer as text ("127.0.0.1", "::1", "unix"), if a request is open.
    pub(super) fn peer(&mut self) -> Option<&str> {
        self.worker.request()?;
        Some(&self.peer)
    }

    /// What the CGI view needs of the pool, the open request, the storage for its CGI
    /// view, and the pool as the request's handler sees it.
    pub(super) fn cgi_parts(
        &mut self,
    ) -> Option<(super::cgi::Pool, Request<'_>, &mut super::cgi::CgiStore, crate::worker::PoolView<'_>)> {
        let pool = super::cgi::Pool::of(self.worker.config());
        let (request, view) = self.worker.request_and_pool()?;
        Some((pool, request, &mut self.cgi, view))
    }

    /// The pool's status and the storage for its C view, while a request is open.
    pub(super) fn status_parts(
        &mut self,
    ) -> Option<(crate::worker::PoolStatus, &mut super::status::StatusStore)> {
        self.worker.request()?;
        Some((self.worker.pool_status(), &mut self.status))
    }

    /// Records the open request's peak memory; `None` when no request is open.
    pub(super) fn report_memory(&mut self, bytes: u64) -> Option<()> {
        self.worker.request()?;
        self.worker.report_memory(bytes).then_some(())
    }

    /// The worker's pool name.
    pub(super) fn pool_name(&self) -> &str {
        self.worker.pool_name()
    }
}

/// Reads `handler->abi_version` alone, before trusting the rest of the layout.
fn abi_version_of(handler: *const sfpm_handler) -> Option<u32> {
    if handler.is_null() {
        return None;
    }
    // SAFETY: C contract: a non-NULL handler points to a struct that starts with the
    // `uint32_t abi_version` of every ABI version; only those 4 bytes are read.
    Some(unsafe { (&raw const (*handler).abi_version).read() })
}

/// Runs the pre-forked server: binds the pool's socket, calls `master_init`, forks
/// `pm.max_children` workers that serve requests through `handler`, restarts workers
/// that die, and returns after `SIGTERM`, `SIGINT` (stop now) or `SIGQUIT` (finish the
/// requests in flight first) once every worker has exited and `master_exit` has run.
///
/// `config` is borrowed for the call (sfpm copies what it needs); `*handler` is copied
/// when the call starts. `userdata` is shared by copy: each worker process has its own.
///
/// Returns `SFPM_OK` after a signalled stop; `SFPM_ERR_INVALID_ARG` if a pointer is
/// NULL or not exactly one of `handle` and `worker_main` is set;
/// `SFPM_ERR_ABI_MISMATCH` if `handler->abi_version` is not `SFPM_ABI_VERSION`;
/// `SFPM_ERR_CONFIG` if the configuration is incomplete or invalid (no `listen`, no
/// `pm.max_children`, ...); `SFPM_ERR_IO` if a system call failed (bind, fork, ...);
/// `SFPM_ERR_INIT` if `master_init` failed. The reason is written to the error log
/// (standard error).
///
/// Fork and threads: call it from a single-threaded process, since it forks; it returns
/// only in the master: worker processes end inside it, with `exit(3)` after
/// `worker_exit` (so flush stdio before calling it, or buffered output is written
/// twice). It installs handlers for `SIGINT`, `SIGTERM`, `SIGQUIT` and `SIGCHLD` and
/// ignores `SIGPIPE`, in the master and the workers; they stay installed when it returns.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_run(config: *const sfpm_config, handler: *const sfpm_handler) -> sfpm_result {
    ffi_panic_boundary! {
        let config = try_arg!(handle::owned(config));
        if try_arg!(abi_version_of(handler)) != SFPM_ABI_VERSION {
            return sfpm_result::SFPM_ERR_ABI_MISMATCH;
        }
        let callbacks = *try_arg!(handle::c_struct(handler));
        let mut handler = try_arg!(CHandler::new(callbacks));
        match master::run(config.pool.clone(), &mut handler) {
            Ok(()) => sfpm_result::SFPM_OK,
            Err(e) => {
                crate::log!(Error, "{e}");
                match e {
                    RunError::Config(_) => sfpm_result::SFPM_ERR_CONFIG,
                    RunError::Io { .. } => sfpm_result::SFPM_ERR_IO,
                    RunError::Init(_) => sfpm_result::SFPM_ERR_INIT,
                }
            }
        }
    }
}

/// Runs `config` with a handler made of C callbacks (the PHP SAPI's), from Rust.
/// `reload`: `SIGUSR2` ends the run with [`master::Stopped::Reload`] (the command line
/// re-executes itself).
pub(crate) fn run_c_handler(
    config: crate::config::PoolConfig,
    callbacks: sfpm_handler,
    reload: bool,
) -> Result<master::Stopped, RunError> {
    let mut handler =
        CHandler::new(callbacks).ok_or_else(|| RunError::Init("the C handler is incomplete".into()))?;
    master::run_reloadable(config, &mut handler, reload)
}

/// Waits for the next request on `worker` (pull style, inside `worker_main`).
///
/// First finishes the request the previous call returned, with status 0 unless
/// `sfpm_request_finish()` was called; its pointers (params, peer, ...) become invalid.
/// Then blocks until a web server sends a request.
///
/// On `SFPM_OK`, `*request` is the new request, owned by the worker and valid until the
/// next `sfpm_worker_accept()` or until `worker_main` returns. Returns
/// `SFPM_ERR_STOPPED` when the worker must exit (`SIGQUIT`, `pm.max_requests`):
/// `worker_main` should then clean up and return. `SFPM_ERR_INVALID_ARG` if a pointer is
/// NULL. Call it from the thread running `worker_main` only.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_worker_accept(
    worker: *mut sfpm_worker,
    request: *mut *mut sfpm_request,
) -> sfpm_result {
    ffi_panic_boundary! {
        let lent = try_arg!(handle::lent(worker));
        let request = try_arg!(handle::out(request));
        if !lent.accept() {
            return sfpm_result::SFPM_ERR_STOPPED;
        }
        request.write(handle::lend(lent));
        sfpm_result::SFPM_OK
    }
}

/// The name of the worker's pool ("www" unless the `name` directive was set).
///
/// On `SFPM_OK`, `*name` points to `*len` bytes (not NUL-terminated) owned by sfpm,
/// valid for the worker's life. `SFPM_ERR_INVALID_ARG` if a pointer is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_worker_pool(
    worker: *const sfpm_worker,
    name: *mut *const u8,
    len: *mut usize,
) -> sfpm_result {
    ffi_panic_boundary! {
        let lent = try_arg!(handle::lent(worker));
        let (name, len) = (try_arg!(handle::out(name)), try_arg!(handle::out(len)));
        handle::write_bytes(name, len, lent.pool_name().as_bytes());
        sfpm_result::SFPM_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    unsafe extern "C" fn handle_nothing(_: *mut c_void, _: *mut sfpm_request) -> u32 {
        0
    }

    unsafe extern "C" fn main_nothing(_: *mut c_void, _: *mut sfpm_worker) -> c_int {
        0
    }

    fn handler() -> sfpm_handler {
        sfpm_handler {
            abi_version: SFPM_ABI_VERSION,
            userdata: ptr::null_mut(),
            master_init: None,
            worker_init: None,
            handle: Some(handle_nothing),
            worker_main: None,
            worker_exit: None,
            master_exit: None,
        }
    }

    #[test]
    fn run_checks_its_arguments_before_starting() {
        let mut config = ptr::null_mut();
        assert_eq!(super::super::config::sfpm_config_new(&mut config), sfpm_result::SFPM_OK);
        let h = handler();
        assert_eq!(sfpm_run(ptr::null(), &h), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(sfpm_run(config, ptr::null()), sfpm_result::SFPM_ERR_INVALID_ARG);
        assert_eq!(
            sfpm_run(config, &sfpm_handler { abi_version: 999, ..h }),
            sfpm_result::SFPM_ERR_ABI_MISMATCH
        );
        assert_eq!(sfpm_run(config, &sfpm_handler { handle: None, ..h }), sfpm_result::SFPM_ERR_INVALID_ARG);
        let both = sfpm_handler { worker_main: Some(main_nothing), ..h };
        assert_eq!(sfpm_run(config, &both), sfpm_result::SFPM_ERR_INVALID_ARG);
        // No listen address: refused before anything is bound or forked.
        assert_eq!(sfpm_run(config, &h), sfpm_result::SFPM_ERR_CONFIG);
        super::super::config::sfpm_config_free(config);
    }

    #[test]
    fn worker_functions_refuse_null() {
        let mut request = ptr::null_mut();
        assert_eq!(sfpm_worker_accept(ptr::null_mut(), &mut request), sfpm_result::SFPM_ERR_INVALID_ARG);
        let (mut name, mut len) = (ptr::null(), 0);
        assert_eq!(sfpm_worker_pool(ptr::null(), &mut name, &mut len), sfpm_result::SFPM_ERR_INVALID_ARG);
    }
}
