//! The scoreboard: one slot per worker in memory shared by the master and its workers.
//!
//! A worker publishes its own state with plain atomic stores (no lock, no syscall); the
//! master reads slots for status pages and timeouts. The master trusts nothing in it:
//! a worker running arbitrary PHP can write anything there (php-fpm's CVE-2021-21703
//! came from a root master following pointers kept in worker-writable memory). So a
//! slot holds only integers, the master copies each field once and validates it, and
//! everything the master decides with — which pid owns which slot — lives in its
//! private memory (`children`), never here.

use crate::sys::{self, SharedSlice};
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where a worker is in its request cycle, as php-fpm's status page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Stage {
    /// Slot not in use.
    Empty = 0,
    /// Waiting in `accept()` for a connection.
    Idle = 1,
    /// Reading a request's head (php-fpm: "Reading headers").
    Reading = 2,
    /// The handler runs the request.
    Running = 3,
    /// The response is complete on the wire; the handler still runs
    /// (after `fastcgi_finish_request()`).
    Finishing = 4,
}

impl Stage {
    /// The stage with this stored value; `None` for anything a worker should not write.
    pub fn from_u32(value: u32) -> Option<Stage> {
        Some(match value {
            0 => Stage::Empty,
            1 => Stage::Idle,
            2 => Stage::Reading,
            3 => Stage::Running,
            4 => Stage::Finishing,
            _ => return None,
        })
    }

    /// php-fpm's name for the stage.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Empty => "Empty",
            Stage::Idle => "Idle",
            Stage::Reading => "Reading headers",
            Stage::Running => "Running",
            Stage::Finishing => "Finishing",
        }
    }
}

/// A short text in shared memory, as bytes (no pointer): written by one worker, read
/// as a copy cut at the first NUL, so a torn or hostile value is at worst wrong text.
#[derive(Debug)]
#[repr(C)]
pub struct Text<const N: usize>([AtomicU8; N]);

impl<const N: usize> Text<N> {
    /// Stores `value`, cut to `N - 1` bytes (php-fpm's scoreboard cuts the same way).
    fn store(&self, value: &[u8]) {
        let len = value.len().min(N - 1);
        for (cell, byte) in self.0.iter().zip(value[..len].iter().chain(std::iter::once(&0))) {
            cell.store(*byte, Ordering::Relaxed);
        }
    }

    /// A copy, up to the first NUL.
    fn load(&self) -> Vec<u8> {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).take_while(|b| *b != 0).collect()
    }
}

/// What a worker publishes about the request it serves (php-fpm's status fields).
#[derive(Debug)]
#[repr(C)]
pub struct RequestInfo {
    method: Text<16>,
    uri: Text<128>,
    query: Text<512>,
    script: Text<256>,
    user: Text<32>,
    content_length: AtomicU64,
    /// Duration of the last finished request, µs.
    last_duration_us: AtomicU64,
    /// CPU time of the last finished request, µs.
    last_cpu_us: AtomicU64,
    /// Peak memory of the last request as the handler reported it, bytes.
    last_memory: AtomicU64,
}

/// The request fields a worker publishes when it starts one.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestFields<'a> {
    /// `REQUEST_METHOD`.
    pub method: &'a [u8],
    /// The script's URI (`SCRIPT_NAME`).
    pub uri: &'a [u8],
    /// `QUERY_STRING`.
    pub query: &'a [u8],
    /// `SCRIPT_FILENAME`.
    pub script: &'a [u8],
    /// The HTTP Basic user (PHP's `PHP_AUTH_USER`).
    pub user: &'a [u8],
    /// `CONTENT_LENGTH`.
    pub content_length: u64,
}

/// A copy of a slot's request fields ([`Slot::request_record`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRecord {
    /// `REQUEST_METHOD`, the script's URI, `QUERY_STRING`, the script, the HTTP Basic user.
    pub method: Vec<u8>,
    #[allow(missing_docs)]
    pub uri: Vec<u8>,
    #[allow(missing_docs)]
    pub query: Vec<u8>,
    #[allow(missing_docs)]
    pub script: Vec<u8>,
    #[allow(missing_docs)]
    pub user: Vec<u8>,
    /// `CONTENT_LENGTH`.
    pub content_length: u64,
    /// The handler's peak memory, bytes.
    pub memory: u64,
    /// When the request started (its first bytes arrived), µs since the epoch.
    pub started_us: u64,
}

/// One worker's published state. Integers and byte arrays only: see the module
/// documentation.
#[derive(Debug)]
#[repr(C)]
pub struct Slot {
    stage: AtomicU32,
    pid: AtomicI32,
    /// Requests served by the worker in this slot since it started.
    requests: AtomicU64,
    /// When the current request was accepted, µs since the epoch; 0 when none.
    request_started_us: AtomicU64,
    /// When the worker started, µs since the epoch.
    started_us: AtomicU64,
    /// When the worker last became idle, µs since the epoch (`pm.process_idle_timeout`).
    idle_since_us: AtomicU64,
    /// The current (or last) request.
    request: RequestInfo,
}

/// Pool-wide counters, in the same shared memory: workers count accepted requests, the
/// master the rest.
#[derive(Debug)]
#[repr(C)]
pub struct PoolCounters {
    /// When the master started, µs since the epoch.
    pub start_us: AtomicU64,
    /// Requests accepted by the pool's workers.
    pub accepted: AtomicU64,
    /// Most workers seen active at once.
    pub max_active: AtomicU64,
    /// Times the process manager hit `pm.max_children`.
    pub max_children_reached: AtomicU64,
    /// Most connections seen waiting in the listening socket's queue.
    pub max_listen_queue: AtomicU64,
}

/// Microseconds since the epoch, for slot timestamps.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

impl Slot {
    /// Called by a new worker: resets the slot for it.
    pub fn begin(&self, pid: sys::Pid) {
        self.requests.store(0, Ordering::Relaxed);
        self.request_started_us.store(0, Ordering::Relaxed);
        self.started_us.store(now_us(), Ordering::Relaxed);
        self.idle_since_us.store(now_us(), Ordering::Relaxed);
        self.pid.store(pid, Ordering::Relaxed);
        self.stage.store(Stage::Idle as u32, Ordering::Release);
    }

    /// Publishes a stage change.
    pub fn set_stage(&self, stage: Stage) {
        self.stage.store(stage as u32, Ordering::Release);
    }

    /// A request's head was read: publish what status pages show of it.
    pub fn request_info(&self, fields: &RequestFields<'_>) {
        let r = &self.request;
        r.method.store(fields.method);
        r.uri.store(fields.uri);
        r.query.store(fields.query);
        r.script.store(fields.script);
        r.user.store(fields.user);
        r.content_length.store(fields.content_length, Ordering::Relaxed);
    }

    /// The script and its URI as the handler resolved them (php-fpm shows these, not the
    /// raw params: `-` for a script that does not exist).
    pub fn request_script(&self, script: &[u8], uri: &[u8]) {
        self.request.script.store(script);
        self.request.uri.store(uri);
    }

    /// The handler's peak memory for the current request (PHP's peak usage).
    pub fn request_memory(&self, bytes: u64) {
        self.request.last_memory.store(bytes, Ordering::Relaxed);
    }

    /// What this slot published about its current request (the script and URI as the
    /// handler resolved them), cut to the slot's sizes as php-fpm's access log reads it.
    pub fn request_record(&self) -> RequestRecord {
        let r = &self.request;
        RequestRecord {
            method: r.method.load(),
            uri: r.uri.load(),
            query: r.query.load(),
            script: r.script.load(),
            user: r.user.load(),
            content_length: r.content_length.load(Ordering::Relaxed),
            memory: r.last_memory.load(Ordering::Relaxed),
            started_us: self.request_started_us.load(Ordering::Relaxed),
        }
    }

    /// The last request took `cpu_us` of CPU time.
    pub fn request_cpu(&self, cpu_us: u64) {
        self.request.last_cpu_us.store(cpu_us, Ordering::Relaxed);
    }

    /// A request started being read.
    pub fn request_started(&self) {
        self.request_started_us.store(now_us(), Ordering::Relaxed);
        self.stage.store(Stage::Reading as u32, Ordering::Release);
    }

    /// The request ended; the worker goes back to waiting.
    pub fn request_done(&self) {
        let started = self.request_started_us.load(Ordering::Relaxed);
        if started != 0 {
            self.request.last_duration_us.store(now_us().saturating_sub(started), Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.request_started_us.store(0, Ordering::Relaxed);
        self.idle_since_us.store(now_us(), Ordering::Relaxed);
        self.stage.store(Stage::Idle as u32, Ordering::Release);
    }

    /// Requests served so far (for the worker itself: `pm.max_requests`).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Called by the master once the worker in this slot is gone.
    pub fn clear(&self) {
        self.stage.store(Stage::Empty as u32, Ordering::Release);
        self.pid.store(0, Ordering::Relaxed);
    }
}

/// A worker as status pages show it: a validated copy of its slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStatus {
    /// Its pid (the worker's own claim).
    pub pid: i32,
    /// Its stage.
    pub stage: Stage,
    /// When it started, µs since the epoch.
    pub started_us: u64,
    /// Requests served, the current one included.
    pub requests: u64,
    /// The current request's age, or the last request's duration when idle, µs.
    pub duration_us: u64,
    /// Request method, URI, query string, script and user of the current (or last) request.
    pub method: Vec<u8>,
    #[allow(missing_docs)]
    pub uri: Vec<u8>,
    #[allow(missing_docs)]
    pub query: Vec<u8>,
    #[allow(missing_docs)]
    pub script: Vec<u8>,
    #[allow(missing_docs)]
    pub user: Vec<u8>,
    /// The request body's length.
    pub content_length: u64,
    /// CPU time of the last request, µs (0 unless idle, as php-fpm).
    pub last_cpu_us: u64,
    /// Peak memory of the last request, bytes (0 unless idle, as php-fpm).
    pub last_memory: u64,
}

/// A validated copy of a slot, safe for the master to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotView {
    /// The stage; `None` when the slot held a value no honest worker writes.
    pub stage: Option<Stage>,
    /// Requests served (a worker's own claim: for display only).
    pub requests: u64,
    /// When the current request started, µs since the epoch, if one is in progress.
    pub request_started_us: Option<u64>,
    /// When the worker last became idle, µs since the epoch (a worker's claim: it only
    /// decides when an idle worker is stopped).
    pub idle_since_us: u64,
}

/// All slots of one pool.
#[derive(Debug)]
pub struct Scoreboard {
    slots: SharedSlice<Slot>,
    counters: SharedSlice<PoolCounters>,
}

impl Scoreboard {
    /// A zeroed scoreboard for `workers` slots, shared with every worker forked later.
    pub fn new(workers: usize) -> io::Result<Scoreboard> {
        let board = Scoreboard { slots: SharedSlice::new(workers)?, counters: SharedSlice::new(1)? };
        board.counters().start_us.store(now_us(), Ordering::Relaxed);
        Ok(board)
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.as_slice().len()
    }

    /// True when there are no slots.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slot at `index`, for the worker that owns it. The index comes from the
    /// master's own bookkeeping, never from shared memory.
    pub fn slot(&self, index: usize) -> Option<&Slot> {
        self.slots.as_slice().get(index)
    }

    /// The pool-wide counters.
    pub fn counters(&self) -> &PoolCounters {
        &self.counters.as_slice()[0]
    }

    /// Every slot in use, validated, for status pages.
    pub fn processes(&self) -> Vec<ProcessStatus> {
        (0..self.len()).filter_map(|i| self.process(i)).collect()
    }

    /// Slot `index` as status pages show it; `None` when unused.
    pub fn process(&self, index: usize) -> Option<ProcessStatus> {
        let slot = self.slot(index)?;
        let stage = Stage::from_u32(slot.stage.load(Ordering::Acquire)).filter(|s| *s != Stage::Empty)?;
        let r = &slot.request;
        let record = slot.request_record();
        let started = record.started_us;
        let duration_us = match started {
            0 => r.last_duration_us.load(Ordering::Relaxed),
            t => now_us().saturating_sub(t),
        };
        Some(ProcessStatus {
            pid: slot.pid.load(Ordering::Relaxed),
            stage,
            started_us: slot.started_us.load(Ordering::Relaxed),
            requests: slot.requests.load(Ordering::Relaxed) + u64::from(started != 0),
            duration_us,
            method: record.method,
            uri: record.uri,
            query: record.query,
            script: record.script,
            user: record.user,
            content_length: record.content_length,
            last_cpu_us: if stage == Stage::Idle { r.last_cpu_us.load(Ordering::Relaxed) } else { 0 },
            last_memory: if stage == Stage::Idle { record.memory } else { 0 },
        })
    }

    /// A validated copy of slot `index`.
    pub fn view(&self, index: usize) -> Option<SlotView> {
        let slot = self.slot(index)?;
        let started = slot.request_started_us.load(Ordering::Relaxed);
        Some(SlotView {
            stage: Stage::from_u32(slot.stage.load(Ordering::Acquire)),
            requests: slot.requests.load(Ordering::Relaxed),
            request_started_us: (started != 0).then_some(started),
            idle_since_us: slot.idle_since_us.load(Ordering::Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_s_updates_are_seen_validated() {
        let board = Scoreboard::new(2).unwrap();
        assert_eq!(board.view(0).unwrap().stage, Some(Stage::Empty));
        let slot = board.slot(1).unwrap();
        slot.begin(1234);
        slot.request_started();
        let v = board.view(1).unwrap();
        assert_eq!(v.stage, Some(Stage::Reading));
        assert!(v.request_started_us.is_some());
        slot.request_done();
        let v = board.view(1).unwrap();
        assert_eq!((v.stage, v.requests, v.request_started_us), (Some(Stage::Idle), 1, None));
        assert!(board.view(2).is_none(), "indexes are bounded by the master's count");
    }

    #[test]
    fn garbage_written_by_a_worker_is_not_a_stage() {
        let board = Scoreboard::new(1).unwrap();
        board.slot(0).unwrap().stage.store(77, Ordering::Relaxed);
        assert_eq!(board.view(0).unwrap().stage, None);
    }
}
