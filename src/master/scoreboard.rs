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
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
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

/// One worker's published state. Integers only: see the module documentation.
#[derive(Debug, Default)]
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

    /// A request started being read.
    pub fn request_started(&self) {
        self.request_started_us.store(now_us(), Ordering::Relaxed);
        self.stage.store(Stage::Reading as u32, Ordering::Release);
    }

    /// The request ended; the worker goes back to waiting.
    pub fn request_done(&self) {
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
}

impl Scoreboard {
    /// A zeroed scoreboard for `workers` slots, shared with every worker forked later.
    pub fn new(workers: usize) -> io::Result<Scoreboard> {
        Ok(Scoreboard { slots: SharedSlice::new(workers)? })
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
