//! `sfpm_request_status`: the pool's state as php-fpm's `fpm_get_status()` returns it,
//! from the scoreboard (validated copies; a worker can only mislead about itself).

use super::handle;
use super::request::sfpm_request;
use super::result::sfpm_result;
use super::server::WorkerHandle;
use crate::master::scoreboard::ProcessStatus;
use crate::status_page::{Counts, cpu_percent, state_name};
use crate::worker::PoolStatus;
use std::ffi::{CStr, c_char};

/// One worker of the pool. Strings are (pointer, length), not NUL-terminated except
/// `state`, a static string.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_status_process {
    /// The worker's pid.
    pub pid: i32,
    /// php-fpm's name of its stage: `Idle`, `Reading headers`, `Running`, `Finishing`.
    pub state: *const c_char,
    /// When it started, seconds since the epoch.
    pub start_time: i64,
    /// Requests served, the current one included.
    pub requests: u64,
    /// The current request's age, or the last one's duration when idle, µs.
    pub request_duration: u64,
    /// The request's method.
    pub request_method: *const u8,
    /// Its length.
    pub request_method_len: usize,
    /// The script's URI.
    pub request_uri: *const u8,
    /// Its length.
    pub request_uri_len: usize,
    /// The query string.
    pub query_string: *const u8,
    /// Its length.
    pub query_string_len: usize,
    /// The script's path.
    pub script: *const u8,
    /// Its length.
    pub script_len: usize,
    /// The HTTP Basic user (PHP's `PHP_AUTH_USER`), or `-` (php-fpm's placeholder).
    pub user: *const u8,
    /// Its length.
    pub user_len: usize,
    /// The request body's length.
    pub request_length: u64,
    /// CPU use of the last request in percent of its duration; 0 unless idle.
    pub last_request_cpu: f64,
    /// Peak memory of the last request, as reported with `sfpm_request_report_memory()`;
    /// 0 unless idle.
    pub last_request_memory: u64,
}

/// The pool's state. Everything it points to is owned by the request and valid until
/// the next `sfpm_request_status()` call or the end of the request.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_status {
    /// The pool's name.
    pub pool: *const u8,
    /// Its length.
    pub pool_len: usize,
    /// `static`, `dynamic` or `ondemand`, NUL-terminated, static.
    pub process_manager: *const c_char,
    /// When the master started, seconds since the epoch.
    pub start_time: i64,
    /// Seconds since then.
    pub start_since: i64,
    /// Requests accepted by the pool.
    pub accepted_conn: u64,
    /// Connections waiting in the listen backlog (TCP; 0 for Unix sockets, as php-fpm).
    pub listen_queue: u64,
    /// Highest `listen_queue` seen (sfpm: the current one; not tracked over time yet).
    pub max_listen_queue: u64,
    /// Size of the listen backlog (TCP; 0 for Unix sockets).
    pub listen_queue_len: u64,
    /// Workers waiting for a connection.
    pub idle_processes: u64,
    /// Workers serving a request (or holding a kept connection).
    pub active_processes: u64,
    /// All workers.
    pub total_processes: u64,
    /// Most workers seen active at once.
    pub max_active_processes: u64,
    /// Times the process manager hit `pm.max_children`.
    pub max_children_reached: u64,
    /// Requests that hit `request_slowlog_timeout`: no slow log yet, 0.
    pub slow_requests: u64,
    /// The workers.
    pub processes: *const sfpm_status_process,
    /// How many.
    pub process_count: usize,
}

/// The status behind an `sfpm_status`, kept by the worker handle.
#[derive(Debug, Default)]
pub struct StatusStore {
    status: Option<PoolStatus>,
    processes: Vec<sfpm_status_process>,
}

fn text(bytes: &[u8]) -> (*const u8, usize) {
    (bytes.as_ptr(), bytes.len())
}

impl StatusStore {
    fn build(&mut self, status: PoolStatus) -> sfpm_status {
        let status = self.status.insert(status);
        let counts = Counts::of(status, crate::master::scoreboard::now_us());
        self.processes = status.processes.iter().map(process).collect();
        let process_manager: &'static CStr = match status.process_manager {
            "dynamic" => c"dynamic",
            "ondemand" => c"ondemand",
            _ => c"static",
        };
        sfpm_status {
            pool: status.pool.as_ptr(),
            pool_len: status.pool.len(),
            process_manager: process_manager.as_ptr(),
            start_time: counts.start_time,
            start_since: counts.start_since as i64,
            accepted_conn: status.accepted,
            listen_queue: u64::from(status.listen_queue.0),
            max_listen_queue: status.max_listen_queue,
            listen_queue_len: u64::from(status.listen_queue.1),
            idle_processes: counts.idle,
            active_processes: counts.active,
            total_processes: counts.total,
            max_active_processes: counts.max_active,
            max_children_reached: status.max_children_reached,
            slow_requests: 0,
            processes: self.processes.as_ptr(),
            process_count: self.processes.len(),
        }
    }
}

fn process(p: &ProcessStatus) -> sfpm_status_process {
    let (request_method, request_method_len) = text(&p.method);
    let (request_uri, request_uri_len) = text(&p.uri);
    let (query_string, query_string_len) = text(&p.query);
    let (script, script_len) = text(&p.script);
    let (user, user_len) = if p.user.is_empty() { text(b"-") } else { text(&p.user) };
    sfpm_status_process {
        pid: p.pid,
        state: state_name(p.stage).as_ptr(),
        start_time: (p.started_us / 1_000_000) as i64,
        requests: p.requests,
        request_duration: p.duration_us,
        request_method,
        request_method_len,
        request_uri,
        request_uri_len,
        query_string,
        query_string_len,
        script,
        script_len,
        user,
        user_len,
        request_length: p.content_length,
        last_request_cpu: cpu_percent(p),
        last_request_memory: p.last_memory,
    }
}

/// The state of the pool serving `request`: php-fpm's `fpm_get_status()` data.
///
/// On `SFPM_OK`, writes `*out`; what it points to is owned by the request and valid until
/// the next call or the end of the request. Returns `SFPM_ERR_INVALID_ARG` if a pointer is
/// NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_status(request: *mut sfpm_request, out: *mut sfpm_status) -> sfpm_result {
    ffi_panic_boundary! {
        let out = try_arg!(handle::out(out));
        let handle: &mut WorkerHandle<'_> = try_arg!(handle::lent(request));
        let (status, store) = try_arg!(handle.status_parts());
        out.write(store.build(status));
        sfpm_result::SFPM_OK
    }
}

/// Reports the handler's peak memory use for the current request (PHP: its peak
/// usage), shown as `last-request-memory` once the worker is idle again. Returns
/// `SFPM_ERR_INVALID_ARG` if `request` is NULL or no request is open.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_report_memory(request: *mut sfpm_request, bytes: u64) -> sfpm_result {
    ffi_panic_boundary! {
        let handle: &mut WorkerHandle<'_> = try_arg!(handle::lent(request));
        try_arg!(handle.report_memory(bytes));
        sfpm_result::SFPM_OK
    }
}
