//! The master's private record of its workers: which pid runs in which slot, since
//! when, and how often a slot's workers failed young. Nothing here is shared with
//! workers, so nothing a worker does can mislead the master about who its children are.

use super::pm::{self, SlotState};
use crate::sys::{ExitStatus, Pid};
use std::time::Instant;

/// One worker slot, from the master's side.
#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: Option<Pid>,
    started: Instant,
    /// Consecutive workers of this slot that failed young.
    failures: u32,
    /// When the slot may be refilled.
    not_before: Instant,
    /// The master asked the worker to stop (an idle one, under `pm = dynamic`).
    stopping: bool,
}

/// The workers of one pool.
#[derive(Debug)]
pub struct Children {
    entries: Vec<Entry>,
}

/// What became of a worker that exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    /// Its slot.
    pub slot: usize,
    /// How long it lived.
    pub lifetime: std::time::Duration,
    /// Delay before its slot is refilled (crash-loop backoff).
    pub respawn_delay: std::time::Duration,
}

impl Children {
    /// `slots` empty slots, all due now.
    pub fn new(slots: usize, now: Instant) -> Children {
        Children {
            entries: vec![
                Entry { pid: None, started: now, failures: 0, not_before: now, stopping: false };
                slots
            ],
        }
    }

    /// The state of every slot, for the process manager's decisions.
    pub fn states(&self) -> Vec<SlotState> {
        self.entries
            .iter()
            .map(|e| match e.pid {
                Some(_) => SlotState::Running,
                None => SlotState::Vacant { not_before: e.not_before },
            })
            .collect()
    }

    /// Records that `pid` now runs in `slot`.
    pub fn started(&mut self, slot: usize, pid: Pid, now: Instant) {
        let e = &mut self.entries[slot];
        e.pid = Some(pid);
        e.started = now;
        e.stopping = false;
    }

    /// Running workers: (slot, pid, start, asked to stop).
    pub fn running(&self) -> impl Iterator<Item = (usize, Pid, Instant, bool)> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| e.pid.map(|pid| (i, pid, e.started, e.stopping)))
    }

    /// Marks the worker in `slot` as asked to stop; its pid, if one runs there.
    pub fn begin_stop(&mut self, slot: usize) -> Option<Pid> {
        let e = self.entries.get_mut(slot)?;
        e.stopping = true;
        e.pid
    }

    /// Records an exit; `None` for a pid that is not ours. `expected` is true when the
    /// master asked it to stop (graceful stop, `pm.max_requests` ending is code 0).
    pub fn exited(&mut self, pid: Pid, status: ExitStatus, now: Instant) -> Option<Exited> {
        let slot = self.entries.iter().position(|e| e.pid == Some(pid))?;
        let e = &mut self.entries[slot];
        let lifetime = now.saturating_duration_since(e.started);
        let clean = status == ExitStatus::Code(0);
        e.failures = if clean || lifetime >= pm::HEALTHY_LIFETIME { 0 } else { e.failures.saturating_add(1) };
        let respawn_delay = pm::backoff(e.failures);
        e.pid = None;
        e.not_before = now + respawn_delay;
        Some(Exited { slot, lifetime, respawn_delay })
    }

    /// Pids of every running worker.
    pub fn pids(&self) -> Vec<Pid> {
        self.entries.iter().filter_map(|e| e.pid).collect()
    }

    /// True when no worker runs.
    pub fn is_empty(&self) -> bool {
        self.entries.iter().all(|e| e.pid.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn crash_loops_back_off_and_healthy_workers_reset_it() {
        let t0 = Instant::now();
        let mut c = Children::new(2, t0);
        c.started(1, 100, t0);
        let crash = ExitStatus::Signal { signal: 11, core: false };
        let e = c.exited(100, crash, t0 + Duration::from_millis(10)).unwrap();
        assert_eq!((e.slot, e.respawn_delay), (1, Duration::from_millis(100)));
        c.started(1, 101, t0);
        assert_eq!(c.exited(101, crash, t0).unwrap().respawn_delay, Duration::from_millis(200));
        c.started(1, 102, t0);
        let e = c.exited(102, crash, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(e.respawn_delay, Duration::ZERO, "a worker that lived long resets the backoff");
        assert_eq!(c.exited(999, crash, t0), None, "unknown pids are not ours");
    }

    #[test]
    fn clean_exits_respawn_at_once() {
        let t0 = Instant::now();
        let mut c = Children::new(1, t0);
        c.started(0, 7, t0);
        assert_eq!(c.exited(7, ExitStatus::Code(0), t0).unwrap().respawn_delay, Duration::ZERO);
        assert!(c.is_empty());
    }
}
