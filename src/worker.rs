//! The worker loop: accept a connection, read requests from it with the sans-IO
//! parsers, hand each to the handler, write the response.
//!
//! One request at a time per worker, on blocking sockets, as php-fpm does. Everything a
//! peer can do wrong — bad bytes, silence, hanging up — ends that connection with one
//! log line, and the worker goes on with the next client.
//!
//! System calls per FastCGI request on a fresh connection, when the web server sends the
//! whole request in one write (measured with `strace -c`): `accept4`, three `setsockopt`
//! (`TCP_NODELAY`, read and write timeouts), one `read`, one `write` (the response and its
//! `END_REQUEST` together) and `close`. On a kept connection: one `poll`, one `read`, one
//! `write`.

use crate::access_log;
use crate::config::{ListenProtocol, PoolConfig};
use crate::fastcgi::{self, ManagementValues, RecordType, Role};
use crate::listen::{AllowedClients, Listener, Peer, Stream};
use crate::master::scoreboard::{ProcessStatus, RequestFields, Scoreboard, Slot, Stage};
use crate::request::{Params, Protocol, Request};
use crate::scgi;
use crate::sniff::{self, sniff};
use crate::sys;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Size of a connection's read buffer: one read takes a whole typical request (nginx
/// sends params in one record of at most 64 KiB).
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Response bytes gathered before a write: small responses go out in one `write` with
/// their `END_REQUEST`; bigger ones stream in chunks of about this size.
const OUTPUT_BATCH_BYTES: usize = 64 * 1024;

/// How long a closing connection is drained of unread input (see [`Channel::close`]).
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// How many unread bytes a closing connection is drained of at most.
const DRAIN_BYTES: usize = 1 << 20;

/// The application run by each worker. Callback style: sfpm calls `handle` for every
/// request. Pull style: override `serve` and call [`Worker::accept`] in a loop.
pub trait Handler {
    /// Runs once in the master before any worker is forked (php-fpm: MINIT).
    fn master_init(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// Runs once in each worker after the fork.
    fn worker_init(&mut self, _worker: &mut Worker<'_>) -> Result<(), String> {
        Ok(())
    }
    /// Runs one request; returns the application status sent in `END_REQUEST`.
    fn handle(&mut self, request: &mut Request<'_>) -> u32;
    /// The worker's request loop. The default accepts and handles requests until the
    /// worker is told to stop.
    fn serve(&mut self, worker: &mut Worker<'_>) {
        while let Some(mut request) = worker.accept() {
            let status = self.handle(&mut request);
            // A failed write already marked the request aborted; nothing more to do.
            let _ = request.finish(status);
        }
    }
    /// Runs once in each worker before it exits.
    fn worker_exit(&mut self) {}
    /// Runs once in the master after every worker is gone.
    fn master_exit(&mut self) {}
}

/// A pool's state as status pages show it (see [`Worker::pool_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStatus {
    /// The pool's name.
    pub pool: String,
    /// `static`, `dynamic` or `ondemand`.
    pub process_manager: &'static str,
    /// When the master started, µs since the epoch.
    pub start_us: u64,
    /// Requests accepted by the pool.
    pub accepted: u64,
    /// Most workers seen active at once.
    pub max_active: u64,
    /// Times the process manager hit `pm.max_children`.
    pub max_children_reached: u64,
    /// The listening socket's accept queue: (waiting, size); (0, 0) for Unix sockets.
    pub listen_queue: (u32, u32),
    /// Most connections seen waiting in that queue since the master started.
    pub max_listen_queue: u64,
    /// Every running worker.
    pub processes: Vec<ProcessStatus>,
}

/// What a pool's workers share, set up by the master before forking.
#[derive(Debug)]
pub struct PoolRuntime {
    /// The pool's configuration.
    pub config: PoolConfig,
    /// The listening socket, inherited by every worker.
    pub listener: Listener,
    /// Who may connect over TCP.
    pub allowed: AllowedClients,
    /// What `GET_VALUES` answers: the pool's real capacity.
    pub values: ManagementValues,
    /// What a worker becomes after the fork: user, directory, environment.
    pub setup: WorkerSetup,
    /// `access.log`, opened by the master (workers inherit it, whatever their user).
    pub access_log: Option<AccessLog>,
}

/// A pool's access log: the open file and what to write into it.
#[derive(Debug)]
pub struct AccessLog {
    /// Where it is (re-opened there on `SIGUSR1`).
    pub path: std::path::PathBuf,
    /// Opened for appending; one `write()` per line.
    pub file: std::fs::File,
    /// `access.format`.
    pub format: access_log::Format,
    /// `access.suppress_path[]`: script URIs never logged.
    pub suppress: Vec<String>,
}

impl AccessLog {
    /// Opens the access log of `config`, if it has one.
    pub fn open(config: &PoolConfig) -> Result<Option<AccessLog>, String> {
        let Some(path) = &config.access_log else { return Ok(None) };
        let format = config.access_format.as_deref().unwrap_or(access_log::DEFAULT_FORMAT);
        let format = access_log::Format::parse(format)
            .map_err(|e| format!("[pool {}] wrong format for access.format '{format}' ({e})", config.name))?;
        let file = sys::open_append(path).map_err(|e| {
            format!("[pool {}] failed to open access log ({}): {e}", config.name, path.display())
        })?;
        Ok(Some(AccessLog {
            path: path.clone(),
            file,
            format,
            suppress: config.access_suppress_paths.clone(),
        }))
    }

    /// Opens the file again at its path (`SIGUSR1`, after logrotate moved it).
    pub fn reopen(&self) -> io::Result<()> {
        sys::reopen_append(&self.path, self.file.as_raw_fd())
    }
}

/// What a freshly forked worker applies before it serves anything, resolved by the
/// master (which can still read /etc/passwd and knows its own environment).
#[derive(Debug, Clone, Default)]
pub struct WorkerSetup {
    /// Switch to this group and, when `Some`, this user (name and uid): php-fpm's
    /// `user`/`group`, applied only when the master runs as root.
    pub identity: Option<(Option<(String, u32)>, u32)>,
    /// `chroot`: the workers' root directory (`chdir` is then inside it).
    pub chroot: Option<std::path::PathBuf>,
    /// `chdir`.
    pub chdir: Option<std::path::PathBuf>,
    /// The whole environment (`clear_env = yes` + `env[]`), or `None` to keep the
    /// master's with `env[]` added.
    pub environment: Vec<(String, String)>,
    /// Whether `environment` replaces the inherited one (`clear_env`).
    pub clear_env: bool,
    /// `process.priority`, `rlimit_files`, `rlimit_core` of the pool.
    pub limits: ProcessLimits,
    /// `process.dumpable`: stay dumpable (core dumps, ptrace by the pool's user) after
    /// the user switch, which otherwise clears it.
    pub dumpable: bool,
}

/// php-fpm's `process.priority`, `rlimit_files` and `rlimit_core`, of the master
/// (`[global]`) or of a pool's workers. Applied while the process may still raise them
/// (before it drops root).
#[derive(Debug, Clone, Default)]
pub struct ProcessLimits {
    /// Whose limits, for messages: `[pool www] ` or empty for the master.
    pub owner: String,
    /// The nice value; applied only as root (php-fpm ignores it otherwise).
    pub priority: Option<i32>,
    /// `RLIMIT_NOFILE`.
    pub files: Option<u32>,
    /// `RLIMIT_CORE`.
    pub core: Option<crate::config::CoreLimit>,
}

impl ProcessLimits {
    /// The limits for `owner` (`[pool www] `, or empty for the master); says, as
    /// php-fpm does, that a priority is ignored when not running as root.
    pub fn new(
        owner: String,
        priority: Option<i32>,
        files: Option<u32>,
        core: Option<crate::config::CoreLimit>,
    ) -> ProcessLimits {
        if priority.is_some() && sys::geteuid() != 0 {
            crate::log!(
                Notice,
                "{owner}'process.priority' directive is ignored when FPM is not running as root"
            );
        }
        ProcessLimits { owner, priority, files, core }
    }

    /// Applies the limits to this process.
    pub fn apply(&self) -> Result<(), String> {
        let owner = &self.owner;
        if let Some(nice) = self.priority.filter(|_| sys::geteuid() == 0) {
            sys::set_priority(nice).map_err(|e| format!("{owner}unable to set priority {nice}: {e}"))?;
        }
        if let Some(files) = self.files {
            sys::set_rlimit(sys::Limit::Files, Some(u64::from(files))).map_err(|e| {
                format!(
                    "{owner}failed to set rlimit_files (setrlimit(RLIMIT_NOFILE, {files})): {e}. \
                     Please check your system limits or decrease rlimit_files."
                )
            })?;
        }
        if let Some(core) = self.core {
            let value = match core {
                crate::config::CoreLimit::Unlimited => None,
                crate::config::CoreLimit::Bytes(n) => Some(n),
            };
            sys::set_rlimit(sys::Limit::Core, value).map_err(|e| {
                format!(
                    "{owner}failed to set rlimit_core (setrlimit(RLIMIT_CORE, {})): {e}. \
                     Please check your system limits or decrease rlimit_core.",
                    core.as_php_int()
                )
            })?;
        }
        Ok(())
    }
}

impl WorkerSetup {
    /// Applies the setup in the worker process: directory first (it may be readable by
    /// root only), then the identity, then the environment.
    pub fn apply(&self) -> Result<(), String> {
        self.limits.apply()?;
        if let Some(dir) = &self.chroot {
            sys::chroot(dir).map_err(|e| format!("chroot({}) failed: {e}", dir.display()))?;
        }
        if let Some(dir) = &self.chdir {
            std::env::set_current_dir(dir).map_err(|e| format!("chdir({}) failed: {e}", dir.display()))?;
        }
        if let Some((user, gid)) = &self.identity {
            sys::switch_user(user.as_ref().map(|(n, u)| (n.as_str(), *u)), *gid)
                .map_err(|e| format!("failed to switch to user/group: {e}"))?;
        }
        if self.dumpable {
            sys::set_dumpable().map_err(|e| format!("failed to prctl(PR_SET_DUMPABLE): {e}"))?;
        }
        if self.clear_env {
            sys::replace_environment(&self.environment);
        } else if !self.environment.is_empty() {
            let mut all: Vec<(String, String)> =
                std::env::vars().filter(|(k, _)| !self.environment.iter().any(|(n, _)| n == k)).collect();
            all.extend(self.environment.iter().cloned());
            sys::replace_environment(&all);
        }
        Ok(())
    }
}

/// One worker process's view of its pool and its current connection.
pub struct Worker<'p> {
    pool: &'p PoolRuntime,
    board: &'p Scoreboard,
    slot: &'p Slot,
    /// Process CPU time when the current request was accepted, µs.
    cpu_at_start_us: u64,
    /// The same split into user and system time, for the access log's `%C`.
    cpu_split_at_start_us: (u64, u64),
    channel: Option<Channel>,
    /// The buffers of the last closed connection, for the next one: allocating and
    /// zeroing 64 KiB per connection shows in profiles.
    spare: Option<Buffers>,
    /// The worker serves no new request (graceful stop or `pm.max_requests`).
    stopping: bool,
}

impl fmt::Debug for Worker<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker").field("pool", &self.pool.config.name).finish_non_exhaustive()
    }
}

/// What a request's handler reads and publishes about its pool: the status page's data,
/// and the script it resolved.
#[derive(Debug, Clone, Copy)]
pub struct PoolView<'p> {
    pool: &'p PoolRuntime,
    board: &'p Scoreboard,
    slot: &'p Slot,
}

impl PoolView<'_> {
    /// Every worker's published slot, validated, and the pool counters.
    pub fn status(&self) -> PoolStatus {
        let counters = self.board.counters();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let listen_queue = sys::listen_queue(self.pool.listener.as_raw_fd()).unwrap_or((0, 0));
        PoolStatus {
            pool: self.pool.config.name.clone(),
            process_manager: match self.pool.config.pm {
                crate::config::ProcessManager::Static => "static",
                crate::config::ProcessManager::Dynamic => "dynamic",
                crate::config::ProcessManager::OnDemand => "ondemand",
            },
            start_us: load(&counters.start_us),
            accepted: load(&counters.accepted),
            max_active: load(&counters.max_active),
            max_children_reached: load(&counters.max_children_reached),
            listen_queue,
            max_listen_queue: load(&counters.max_listen_queue).max(u64::from(listen_queue.0)),
            processes: self.board.processes(),
        }
    }

    /// Replaces the open request's published script and URI with the handler's resolved
    /// ones (php-fpm shows these, not the raw params: `-` for a missing script).
    pub fn report_script(&self, script: &[u8], uri: &[u8]) {
        self.slot.request_script(script, uri);
    }
}

impl<'p> Worker<'p> {
    /// A worker of `pool` publishing its state in `slot` of `board`.
    pub fn new(pool: &'p PoolRuntime, board: &'p Scoreboard, slot: &'p Slot) -> Worker<'p> {
        Worker {
            pool,
            board,
            slot,
            cpu_at_start_us: 0,
            cpu_split_at_start_us: (0, 0),
            channel: None,
            spare: None,
            stopping: false,
        }
    }

    /// The pool's state for status pages and `fpm_get_status()`: every worker's
    /// published slot, validated, and the pool counters.
    pub fn pool_status(&self) -> PoolStatus {
        self.pool_view().status()
    }

    /// The pool as the handler of the open request sees it, without borrowing the worker
    /// (the request stays borrowed meanwhile).
    pub fn pool_view(&self) -> PoolView<'p> {
        PoolView { pool: self.pool, board: self.board, slot: self.slot }
    }

    /// The pool's name.
    pub fn pool_name(&self) -> &str {
        &self.pool.config.name
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.pool.config
    }

    /// Blocks until the next request, or returns `None` when the worker must exit
    /// (`SIGQUIT`, `pm.max_requests`). A request still open from the previous call is
    /// finished first with status 0.
    pub fn accept(&mut self) -> Option<Request<'_>> {
        if self.next_request() { self.request() } else { None }
    }

    /// The request accepted last, while it is open.
    pub fn request(&mut self) -> Option<Request<'_>> {
        let pool = self.pool.config.name.as_str();
        self.channel.as_mut().filter(|c| c.request.is_some()).map(|c| Request::new(c, pool))
    }

    /// [`Worker::accept`] without the borrow: true when a request is open, reachable
    /// through [`Worker::request`]. The C ABI's handles are built on this.
    pub fn next_request(&mut self) -> bool {
        self.end_current();
        loop {
            if self.stopping || sys::signal_pending(libc::SIGQUIT) {
                self.close_channel(true);
                return false;
            }
            let reuse = self.channel.as_ref().is_some_and(|c| c.keep_open());
            if reuse {
                // Waiting on a kept connection: this worker takes no new connection, so it
                // counts as busy (php-fpm shows it as "Reading headers" too).
                self.slot.set_stage(Stage::Reading);
            } else {
                self.close_channel(true);
                self.slot.set_stage(Stage::Idle);
                match self.accept_connection() {
                    Some(channel) => self.channel = Some(channel),
                    None => continue,
                }
            }
            let Some(channel) = self.channel.as_mut() else { continue };
            match channel.read_request(self.slot, &self.pool.config) {
                Ok(true) => {
                    self.publish_request();
                    self.slot.set_stage(Stage::Running);
                    return true;
                }
                Ok(false) => self.close_channel(true),
                Err(e) => {
                    if !e.is_quiet() {
                        crate::log!(
                            Warning,
                            "[pool {}] closing connection from {}: {e}",
                            self.pool.config.name,
                            channel.peer
                        );
                    }
                    self.close_channel(false);
                }
            }
        }
    }

    /// Records the handler's peak memory for the open request (status pages'
    /// `last-request-memory`); false when no request is open.
    pub fn report_memory(&self, bytes: u64) -> bool {
        let open = self.channel.as_ref().is_some_and(|c| c.request.is_some());
        if open {
            self.slot.request_memory(bytes);
        }
        open
    }

    /// Publishes the accepted request for status pages, and counts it.
    fn publish_request(&mut self) {
        let Some(request) = self.channel.as_ref().and_then(|c| c.request.as_ref()) else { return };
        let p = &request.params;
        let get = |name: &[u8]| p.get(name).unwrap_or_default();
        let content_length = std::str::from_utf8(get(b"CONTENT_LENGTH")).ok().and_then(|v| v.parse().ok());
        let auth_user = p.get(b"HTTP_AUTHORIZATION").and_then(access_log::basic_auth_user);
        self.slot.request_info(&RequestFields {
            method: get(b"REQUEST_METHOD"),
            uri: p.get(b"SCRIPT_NAME").or_else(|| p.get(b"REQUEST_URI")).unwrap_or_default(),
            query: get(b"QUERY_STRING"),
            script: get(b"SCRIPT_FILENAME"),
            user: auth_user.as_deref().unwrap_or_default(),
            content_length: content_length.unwrap_or(0),
        });
        self.board.counters().accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.cpu_at_start_us = sys::process_cpu_us();
        if self.pool.access_log.is_some() {
            self.cpu_split_at_start_us = sys::process_cpu_split_us();
        }
    }

    /// Closes the current connection, if any, keeping its buffers for the next one.
    fn close_channel(&mut self, polite: bool) {
        if let Some(channel) = self.channel.take() {
            self.spare = Some(channel.close(polite));
        }
    }

    /// Ends the request accepted last: finishes it on the wire if the handler did not,
    /// counts it, and applies `pm.max_requests`.
    fn end_current(&mut self) {
        let Some(channel) = &mut self.channel else { return };
        let Some(request) = &channel.request else { return };
        if !request.finished {
            let _ = channel.finish(0);
        }
        if let Some(request) = channel.request.take() {
            channel.unread_input = !(request.stdin_done && request.data_done) || channel.start < channel.end;
            if let Some(log) = &self.pool.access_log {
                let peer = channel.peer;
                self.write_access_log(log, &request, &peer);
            }
        }
        self.slot.request_cpu(sys::process_cpu_us().saturating_sub(self.cpu_at_start_us));
        self.slot.request_done();
        let max = self.pool.config.max_requests;
        if max > 0 && self.slot.requests() >= max {
            self.stopping = true;
        }
    }

    /// Writes the access log line of `request`, which just ended.
    fn write_access_log(&self, log: &AccessLog, request: &OpenRequest, peer: &Peer) {
        use std::io::Write as _;
        // As php-fpm, from the scoreboard: what publish_request stored, with the script
        // and URI as the handler resolved them.
        let record = self.slot.request_record();
        if log.suppress.iter().any(|s| s.as_bytes() == record.uri) {
            return;
        }
        let response = crate::client::CgiResponse::parse(&request.head);
        let header = |name: &str| {
            let headers = response.as_ref().map(|r| r.headers.as_slice()).unwrap_or_default();
            headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes())
        };
        let param = |name: &str| request.params.get(name.as_bytes());
        let now_us = crate::master::scoreboard::now_us();
        let (user, system) = sys::process_cpu_split_us();
        let (user0, system0) = self.cpu_split_at_start_us;
        let remote = match peer {
            Peer::Tcp(_) => peer.to_string(),
            Peer::Unix => "-".to_string(),
        };
        let entry = access_log::Entry {
            pool: &self.pool.config.name,
            pid: sys::getpid(),
            master_pid: sys::getppid(),
            remote: &remote,
            method: &record.method,
            uri: &record.uri,
            query: &record.query,
            script: &record.script,
            user: &record.user,
            content_length: record.content_length,
            status: response.as_ref().map_or(200, |r| r.status),
            accepted_s: (record.started_us / 1_000_000) as i64,
            now_s: (now_us / 1_000_000) as i64,
            duration_us: now_us.saturating_sub(record.started_us),
            cpu_user_us: user.saturating_sub(user0),
            cpu_system_us: system.saturating_sub(system0),
            memory: record.memory,
            param: &param,
            header: &header,
        };
        let (line, cut) = log.format.render(&entry, &sys::strftime_local);
        if cut {
            crate::log!(
                Warning,
                "the log buffer is full ({}). The access log request has been truncated.",
                access_log::LINE_LIMIT
            );
        }
        if let Err(e) = (&log.file).write_all(&line) {
            crate::log!(Error, "[pool {}] failed to write the access log: {e}", self.pool.config.name);
        }
    }

    /// Accepts one connection; `None` when interrupted, refused or failed (logged).
    fn accept_connection(&mut self) -> Option<Channel> {
        let (stream, peer) = match self.pool.listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return None,
            // SIGQUIT took the listening socket away (see sys::enter_worker_mode).
            Err(_) if sys::signal_pending(libc::SIGQUIT) => return None,
            Err(e) => {
                crate::log!(Error, "[pool {}] accept() failed: {e}", self.pool.config.name);
                // Out of descriptors or memory: do not spin on the error.
                std::thread::sleep(Duration::from_millis(10));
                return None;
            }
        };
        if !self.pool.allowed.allows(&peer) {
            crate::log!(Error, "Connection disallowed: IP address '{peer}' has been dropped.");
            return None;
        }
        let timeout = Some(self.pool.config.request_read_timeout);
        if let Err(e) = stream.set_read_timeout(timeout).and_then(|()| stream.set_write_timeout(timeout)) {
            crate::log!(Error, "[pool {}] setsockopt() failed: {e}", self.pool.config.name);
            return None;
        }
        let buffers = self.spare.take().unwrap_or_else(Buffers::new);
        Some(Channel::new(stream, peer, self.pool, buffers))
    }
}

/// Why a connection is being closed.
#[derive(Debug)]
pub(crate) enum ChannelError {
    Io(io::Error),
    /// Nothing or too little arrived in time.
    Timeout,
    /// The peer closed the connection in the middle of a request head.
    Truncated,
    /// The first byte is neither FastCGI nor SCGI (or not the configured protocol).
    UnknownProtocol(u8),
    FastCgi(fastcgi::Error),
    Scgi(scgi::Error),
}

impl ChannelError {
    /// Errors that are part of normal life and not worth a log line.
    fn is_quiet(&self) -> bool {
        matches!(self, ChannelError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset)
    }
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Io(e) => write!(f, "read() failed: {e}"),
            ChannelError::Timeout => f.write_str("timed out reading the request"),
            ChannelError::Truncated => {
                f.write_str("the peer closed the connection in the middle of a request")
            }
            ChannelError::UnknownProtocol(b) => {
                write!(f, "first byte 0x{b:02x} is not the configured protocol")
            }
            ChannelError::FastCgi(e) => e.fmt(f),
            ChannelError::Scgi(e) => e.fmt(f),
        }
    }
}

impl From<fastcgi::Error> for ChannelError {
    fn from(e: fastcgi::Error) -> Self {
        ChannelError::FastCgi(e)
    }
}

impl From<scgi::Error> for ChannelError {
    fn from(e: scgi::Error) -> Self {
        ChannelError::Scgi(e)
    }
}

/// The protocol state of a connection.
enum ProtoState {
    /// Nothing read yet: the first byte decides.
    Unknown,
    FastCgi(fastcgi::Connection),
    Scgi {
        limits: scgi::Limits,
        body: Option<scgi::Body>,
    },
}

/// The request currently open on a channel.
#[derive(Debug)]
pub(crate) struct OpenRequest {
    pub(crate) params: Params,
    pub(crate) role: Role,
    pub(crate) protocol: Protocol,
    /// The body (`STDIN`) is complete.
    pub(crate) stdin_done: bool,
    /// The FILTER data (`DATA`) is complete.
    pub(crate) data_done: bool,
    /// The peer aborted or went away.
    pub(crate) aborted: bool,
    /// The response is complete on the wire.
    pub(crate) finished: bool,
    /// The start of the response (`STDOUT`) up to the end of its CGI headers, kept for
    /// the access log's `%s` and `%{Header}o` when the pool has one.
    pub(crate) head: Vec<u8>,
    /// Whether `head` is still being collected.
    pub(crate) collect_head: bool,
}

/// The most response bytes kept to find the CGI headers for the access log.
const RESPONSE_HEAD_LIMIT: usize = 8192;

impl OpenRequest {
    /// Keeps the response's first bytes until its headers are complete.
    fn collect_head(&mut self, data: &[u8]) {
        if !self.collect_head {
            return;
        }
        let room = RESPONSE_HEAD_LIMIT.saturating_sub(self.head.len());
        self.head.extend_from_slice(&data[..data.len().min(room)]);
        let ended = |h: &[u8]| h.windows(4).any(|w| w == b"\r\n\r\n") || h.windows(2).any(|w| w == b"\n\n");
        if self.head.len() >= RESPONSE_HEAD_LIMIT || ended(&self.head) {
            self.collect_head = false;
        }
    }
}

/// A connection's read and output buffers, handed from one connection to the next.
#[derive(Debug)]
struct Buffers {
    read: Vec<u8>,
    out: Vec<u8>,
}

impl Buffers {
    fn new() -> Buffers {
        Buffers { read: vec![0; READ_BUFFER_BYTES], out: Vec::with_capacity(OUTPUT_BATCH_BYTES) }
    }

    /// Takes a closed connection's buffers back, shrunk to the usual size if an SCGI head
    /// grew the read buffer, so one large request does not keep its memory.
    fn recycle(mut read: Vec<u8>, mut out: Vec<u8>) -> Buffers {
        read.truncate(READ_BUFFER_BYTES);
        read.shrink_to(READ_BUFFER_BYTES);
        out.clear();
        out.shrink_to(OUTPUT_BATCH_BYTES);
        Buffers { read, out }
    }
}

/// One accepted connection: the socket, its buffers and its protocol state.
pub(crate) struct Channel {
    stream: Stream,
    pub(crate) peer: Peer,
    fastcgi_limits: fastcgi::Limits,
    values: ManagementValues,
    keepalive_timeout: Duration,
    read_timeout: Duration,
    /// Bytes read from the socket; `buf[start..end]` are not yet parsed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Body bytes already parsed but not yet read by the handler, inside `buf`.
    pending: Range<usize>,
    /// Whether `pending` holds `DATA` (FILTER) rather than `STDIN` bytes.
    pending_is_data: bool,
    /// Response bytes not yet written.
    out: Vec<u8>,
    proto: ProtoState,
    pub(crate) request: Option<OpenRequest>,
    /// The last request's input was not read to its end: the peer may still be sending.
    unread_input: bool,
    eof: bool,
    /// Keep each response's head (the pool writes an access log).
    collect_head: bool,
}

impl Channel {
    fn new(stream: Stream, peer: Peer, pool: &PoolRuntime, buffers: Buffers) -> Channel {
        let config = &pool.config;
        Channel {
            stream,
            peer,
            fastcgi_limits: config.fastcgi_limits,
            values: pool.values,
            keepalive_timeout: config.keepalive_timeout,
            read_timeout: config.request_read_timeout,
            buf: buffers.read,
            start: 0,
            end: 0,
            pending: 0..0,
            pending_is_data: false,
            out: buffers.out,
            proto: ProtoState::Unknown,
            request: None,
            unread_input: false,
            eof: false,
            collect_head: pool.access_log.is_some(),
        }
    }

    /// True when the connection may carry another request: FastCGI with keep-conn, the
    /// last request ended, the peer still there.
    fn keep_open(&self) -> bool {
        let kept = matches!(&self.proto, ProtoState::FastCgi(conn) if !conn.should_close());
        kept && self.request.is_none() && !self.eof
    }

    /// Reads from the socket into `buf[end..]`, growing it up to `max` bytes when full.
    /// Returns false at end of stream.
    fn fill(&mut self, max: usize) -> Result<bool, ChannelError> {
        if self.start == self.end && self.pending.is_empty() {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 && self.pending.is_empty() {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < max {
                let len = (self.buf.len() * 2).min(max);
                self.buf.resize(len, 0);
            } else {
                return Err(ChannelError::Scgi(scgi::Error::LengthTooLarge));
            }
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(ChannelError::Timeout);
                }
                Err(e) => return Err(ChannelError::Io(e)),
            }
        }
    }

    /// Reads the next request's head. `Ok(false)`: the connection ended cleanly between
    /// requests (or the worker was asked to stop while it was idle).
    fn read_request(&mut self, slot: &Slot, config: &PoolConfig) -> Result<bool, ChannelError> {
        self.request = None;
        self.pending = 0..0;
        // The head must arrive within the read timeout of its first byte, however it
        // trickles in: a peer sending a byte now and then cannot hold the worker.
        let mut begun = Instant::now();
        let mut started = false;
        loop {
            if self.start == self.end {
                self.flush().map_err(ChannelError::Io)?;
                if !started && matches!(self.proto, ProtoState::FastCgi(_)) {
                    // An idle kept connection: wait for its next request, but not forever.
                    match sys::wait_readable(self.stream.as_raw_fd(), self.keepalive_timeout) {
                        Ok(true) => {}
                        Ok(false) => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                            if sys::signal_pending(libc::SIGQUIT) {
                                return Ok(false);
                            }
                            continue;
                        }
                        Err(e) => return Err(ChannelError::Io(e)),
                    }
                }
                if begun.elapsed() > self.read_timeout {
                    return Err(ChannelError::Timeout);
                }
                if !self.fill(self.buf.len())? {
                    return if started { Err(ChannelError::Truncated) } else { Ok(false) };
                }
                if !started {
                    started = true;
                    begun = Instant::now();
                    slot.request_started();
                }
            }
            if matches!(self.proto, ProtoState::Unknown) {
                self.proto = self.choose_protocol(self.buf[self.start], config)?;
            }
            match &mut self.proto {
                ProtoState::Unknown => unreachable!("chosen above"),
                ProtoState::FastCgi(conn) => {
                    let progress = conn.advance(&self.buf[self.start..self.end], &mut self.out)?;
                    self.start += progress.consumed;
                    if let Some(fastcgi::Event::Request(head)) = progress.event {
                        self.request = Some(OpenRequest {
                            params: head.params,
                            role: head.role,
                            protocol: Protocol::FastCgi,
                            stdin_done: false,
                            data_done: head.role != Role::Filter,
                            aborted: false,
                            finished: false,
                            head: Vec::new(),
                            collect_head: self.collect_head,
                        });
                        return Ok(true);
                    }
                    if conn.should_close() {
                        // A refused request (unknown role) without keep-conn.
                        self.flush().map_err(ChannelError::Io)?;
                        return Ok(false);
                    }
                }
                ProtoState::Scgi { limits, .. } => {
                    let limits = *limits;
                    let Some(head) = scgi::parse_head(&self.buf[self.start..self.end], &limits)? else {
                        // The head has not fully arrived: read more, growing the buffer up to
                        // the header limit (parse_head refuses longer heads by their length).
                        if !self.fill(limits.max_header_bytes.saturating_add(READ_BUFFER_BYTES))? {
                            return Err(ChannelError::Truncated);
                        }
                        continue;
                    };
                    if !head.merged.is_empty() {
                        let names: Vec<_> = head.merged.iter().map(|n| String::from_utf8_lossy(n)).collect();
                        crate::log!(
                            Notice,
                            "[pool {}] merged repeated SCGI headers: {}",
                            config.name,
                            names.join(", ")
                        );
                    }
                    self.start += head.header_len;
                    self.proto = ProtoState::Scgi { limits, body: Some(head.body()) };
                    let done = head.content_length == 0;
                    self.request = Some(OpenRequest {
                        params: head.params,
                        role: Role::Responder,
                        protocol: Protocol::Scgi,
                        stdin_done: done,
                        data_done: true,
                        aborted: false,
                        finished: false,
                        head: Vec::new(),
                        collect_head: self.collect_head,
                    });
                    return Ok(true);
                }
            }
        }
    }

    fn choose_protocol(&self, first: u8, config: &PoolConfig) -> Result<ProtoState, ChannelError> {
        let detected = sniff(first).ok_or(ChannelError::UnknownProtocol(first))?;
        let allowed = match config.listen_protocol {
            ListenProtocol::Auto => true,
            ListenProtocol::FastCgi => detected == sniff::Protocol::FastCgi,
            ListenProtocol::Scgi => detected == sniff::Protocol::Scgi,
        };
        if !allowed {
            return Err(ChannelError::UnknownProtocol(first));
        }
        Ok(match detected {
            sniff::Protocol::FastCgi => {
                ProtoState::FastCgi(fastcgi::Connection::new(self.fastcgi_limits, self.values))
            }
            sniff::Protocol::Scgi => ProtoState::Scgi { limits: config.scgi_limits, body: None },
        })
    }

    /// Reads request body bytes (`STDIN`, or `DATA` when `data` is set) into `dst`.
    /// Returns 0 at the end of the stream, or when the request was aborted.
    pub(crate) fn read_body(&mut self, dst: &mut [u8], data: bool) -> io::Result<usize> {
        loop {
            let Some(request) = &self.request else { return Ok(0) };
            if !self.pending.is_empty() && self.pending_is_data == data {
                let n = dst.len().min(self.pending.len());
                dst[..n].copy_from_slice(&self.buf[self.pending.start..self.pending.start + n]);
                self.pending.start += n;
                return Ok(n);
            }
            // Reading DATA skips STDIN the handler did not read (FILTER sends STDIN first).
            self.pending = 0..0;
            let done = if data { request.data_done } else { request.stdin_done };
            if done || request.aborted || request.finished || dst.is_empty() {
                return Ok(0);
            }
            if self.start == self.end {
                self.flush()?;
                match self.fill(self.buf.len()) {
                    Ok(true) => {}
                    Ok(false) | Err(_) => {
                        self.request.as_mut().expect("checked").aborted = true;
                        return Ok(0);
                    }
                }
            }
            if let Err(e) = self.advance_body() {
                // Bad body bytes (more STDIN than CONTENT_LENGTH, ...): the request cannot
                // be trusted; it is aborted and the connection is not reused.
                crate::log!(Warning, "closing connection from {}: {e}", self.peer);
                self.mark_aborted();
                self.eof = true;
                return Err(e);
            }
        }
    }

    /// Parses the body bytes already buffered, discarding them, without reading the
    /// socket: stops when the buffer is used up or both body streams are complete.
    fn skip_buffered_body(&mut self) {
        let body_open = |r: &OpenRequest| !(r.aborted || (r.stdin_done && r.data_done));
        while self.start < self.end && self.request.as_ref().is_some_and(body_open) {
            self.pending = 0..0;
            if self.advance_body().is_err() {
                self.mark_aborted();
            }
        }
        self.pending = 0..0;
    }

    /// Parses buffered bytes of an open request's body streams.
    fn advance_body(&mut self) -> io::Result<()> {
        let request = self.request.as_mut().expect("called with an open request");
        match &mut self.proto {
            ProtoState::FastCgi(conn) => {
                let input = &self.buf[self.start..self.end];
                let progress = conn
                    .advance(input, &mut self.out)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let base = self.start;
                self.start += progress.consumed;
                match progress.event {
                    Some(fastcgi::Event::Stdin(bytes)) | Some(fastcgi::Event::Data(bytes)) => {
                        let offset = base + (bytes.as_ptr() as usize - input.as_ptr() as usize);
                        self.pending_is_data = matches!(progress.event, Some(fastcgi::Event::Data(_)));
                        self.pending = offset..offset + bytes.len();
                    }
                    Some(fastcgi::Event::StdinEnd) => request.stdin_done = true,
                    Some(fastcgi::Event::DataEnd) => request.data_done = true,
                    Some(fastcgi::Event::Abort) => request.aborted = true,
                    Some(fastcgi::Event::Request(_)) | None => {}
                }
            }
            ProtoState::Scgi { body: Some(body), .. } => {
                let taken = body.take(&self.buf[self.start..self.end]).len();
                self.pending_is_data = false;
                self.pending = self.start..self.start + taken;
                self.start += taken;
                if body.is_complete() {
                    request.stdin_done = true;
                    // Bytes after the body are not part of the protocol (SCGI §3).
                    self.start = self.end;
                }
            }
            ProtoState::Scgi { body: None, .. } | ProtoState::Unknown => request.stdin_done = true,
        }
        Ok(())
    }

    /// Appends `data` to the response (`STDOUT`, or `STDERR` for FastCGI when `stderr`).
    pub(crate) fn write(&mut self, data: &[u8], stderr: bool) -> io::Result<()> {
        let Some(request) = &self.request else { return Err(io::ErrorKind::NotConnected.into()) };
        if request.finished || request.aborted {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the request is finished or aborted"));
        }
        if data.is_empty() {
            return Ok(());
        }
        if !stderr && let Some(request) = &mut self.request {
            request.collect_head(data);
        }
        let result = match &mut self.proto {
            ProtoState::FastCgi(conn) => {
                if self.out.len() + data.len() <= OUTPUT_BATCH_BYTES {
                    if stderr {
                        conn.write_stderr(data, &mut self.out).map_err(not_connected)
                    } else {
                        conn.write_stdout(data, &mut self.out).map_err(not_connected)
                    }
                } else {
                    let kind = if stderr { RecordType::Stderr } else { RecordType::Stdout };
                    let id = conn.request_id().ok_or(io::ErrorKind::NotConnected)?;
                    if stderr {
                        // Records STDERR use so END_REQUEST closes that stream too.
                        conn.write_stderr(&[], &mut self.out).map_err(not_connected)?;
                    }
                    let frames: Vec<_> = fastcgi::record::frames(kind, id, data).collect();
                    let mut slices = Vec::with_capacity(1 + frames.len() * 3);
                    slices.push(IoSlice::new(&self.out));
                    for f in &frames {
                        slices.extend([
                            IoSlice::new(&f.header),
                            IoSlice::new(f.content),
                            IoSlice::new(f.padding),
                        ]);
                    }
                    write_all_vectored(&mut self.stream, &mut slices).map(|()| self.out.clear())
                }
            }
            // SCGI has no STDERR: error text goes to the log instead.
            ProtoState::Scgi { .. } if stderr => {
                crate::log!(Warning, "{}", String::from_utf8_lossy(data).trim_end());
                Ok(())
            }
            ProtoState::Scgi { .. } | ProtoState::Unknown => {
                if self.out.len() + data.len() <= OUTPUT_BATCH_BYTES {
                    self.out.extend_from_slice(data);
                    Ok(())
                } else {
                    let mut slices = [IoSlice::new(&self.out), IoSlice::new(data)];
                    write_all_vectored(&mut self.stream, &mut slices).map(|()| self.out.clear())
                }
            }
        };
        result.inspect_err(|_| self.mark_aborted())
    }

    /// Writes buffered response bytes now.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = write_all(&mut self.stream, &self.out);
        self.out.clear();
        result.inspect_err(|_| self.mark_aborted())
    }

    fn mark_aborted(&mut self) {
        if let Some(r) = &mut self.request {
            r.aborted = true;
        }
    }

    /// Ends the response on the wire: FastCGI `END_REQUEST{app_status}` (in the same
    /// write as the last output), SCGI by closing our side. The handler may go on running.
    pub(crate) fn finish(&mut self, app_status: u32) -> io::Result<()> {
        let Some(request) = &mut self.request else { return Err(io::ErrorKind::NotConnected.into()) };
        if request.finished {
            return Ok(());
        }
        // The handler may not have read the body (a GET's empty STDIN record is usually
        // in the buffer already): parse what is buffered, so a request whose input is
        // complete is known to be, and closing the connection needs no drain.
        self.skip_buffered_body();
        let Some(request) = &mut self.request else { return Err(io::ErrorKind::NotConnected.into()) };
        request.finished = true;
        // FastCGI: END_REQUEST ends the response; the connection closes when the worker
        // moves on. SCGI has no end marker: closing our side is how the response ends
        // (§2), at once, since the handler may go on running.
        let ends_by_closing = match &mut self.proto {
            ProtoState::FastCgi(conn) => {
                conn.end_request(app_status, &mut self.out).map_err(not_connected)?;
                false
            }
            _ => true,
        };
        self.flush()?;
        if ends_by_closing {
            let _ = sys::shutdown_write(self.stream.as_raw_fd());
        }
        Ok(())
    }

    /// True when the peer aborted the open request. Looks at the socket without blocking
    /// when the body is complete, so an `ABORT_REQUEST` or hang-up is noticed.
    pub(crate) fn aborted(&mut self) -> bool {
        let Some(request) = &self.request else { return false };
        if request.aborted || request.finished || !request.stdin_done || !self.pending.is_empty() {
            return request.aborted;
        }
        if self.start == self.end {
            let readable = matches!(sys::wait_readable(self.stream.as_raw_fd(), Duration::ZERO), Ok(true));
            if readable && !matches!(self.fill(self.buf.len()), Ok(true)) {
                self.mark_aborted();
            }
        }
        while self.start < self.end && self.request.as_ref().is_some_and(|r| !r.aborted) {
            if self.advance_body().is_err() {
                self.mark_aborted();
            }
            // Body bytes after the end of STDIN would be a protocol error caught above;
            // anything else (GET_VALUES) was answered into `out`.
            if self.start < self.end && !self.pending.is_empty() {
                break;
            }
        }
        self.request.as_ref().is_some_and(|r| r.aborted)
    }

    /// Closes the connection. After a response (`polite`) whose request input was not
    /// read to its end, our side is shut down and the rest is drained for a moment: closing
    /// with unread input makes the kernel answer with a RST that can destroy the response
    /// still in flight. Otherwise, and after bad input, the socket is closed at once.
    fn close(mut self, polite: bool) -> Buffers {
        if polite {
            self.close_politely();
        }
        Buffers::recycle(self.buf, self.out)
    }

    fn close_politely(&mut self) {
        let _ = self.flush();
        if !self.unread_input {
            return;
        }
        let fd = self.stream.as_raw_fd();
        let _ = sys::shutdown_write(fd);
        let deadline = Instant::now() + DRAIN_TIME;
        let mut drained = 0;
        let mut scratch = [0u8; 4096];
        while drained < DRAIN_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !matches!(sys::wait_readable(fd, left), Ok(true)) {
                break;
            }
            match self.stream.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }
}

fn not_connected(_: fastcgi::conn::NoActiveRequest) -> io::Error {
    io::ErrorKind::NotConnected.into()
}

/// Writes all of `data`, retrying after signals.
fn write_all(stream: &mut Stream, data: &[u8]) -> io::Result<()> {
    stream.write_all(data)
}

/// Writes every slice in as few `writev` calls as the kernel allows.
fn write_all_vectored(stream: &mut Stream, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match stream.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
