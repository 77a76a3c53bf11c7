//! Process-manager decisions, pure: given what the master knows, say what to do.
//! Forking and killing happen in `children`; here there is no I/O and no clock, so
//! every rule is unit-tested without a process.

use std::time::{Duration, Instant};

/// Shortest respawn delay after a worker failed young; doubles with each further failure.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest respawn delay: a worker that always crashes is retried at this pace, so a
/// crash loop costs a fork every few seconds instead of thousands per second.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A worker that lived at least this long did not "fail young": its slot's backoff resets.
pub const HEALTHY_LIFETIME: Duration = Duration::from_secs(1);

/// What the master knows about one worker slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// A worker runs in it.
    Running,
    /// Empty; may be filled from this instant on.
    Vacant { not_before: Instant },
}

/// `pm = static`: every vacant slot whose backoff has passed gets a worker now.
pub fn static_spawns(slots: &[SlotState], now: Instant) -> Vec<usize> {
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, SlotState::Vacant { not_before } if *not_before <= now))
        .map(|(i, _)| i)
        .collect()
}

/// The earliest instant a vacant slot may be filled, for the event loop's timeout.
pub fn next_spawn(slots: &[SlotState]) -> Option<Instant> {
    slots
        .iter()
        .filter_map(|s| match s {
            SlotState::Vacant { not_before } => Some(*not_before),
            SlotState::Running => None,
        })
        .min()
}

/// The delay before refilling a slot whose workers failed young `failures` times in a
/// row (0 = the last one was healthy or was stopped on purpose).
pub fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => FIRST_BACKOFF.saturating_mul(1u32 << (n - 1).min(16)).min(MAX_BACKOFF),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_fills_vacant_slots_once_due() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let slots = [
            SlotState::Running,
            SlotState::Vacant { not_before: now },
            SlotState::Vacant { not_before: later },
        ];
        assert_eq!(static_spawns(&slots, now), vec![1]);
        assert_eq!(static_spawns(&slots, later), vec![1, 2]);
        assert_eq!(next_spawn(&slots), Some(now));
        assert_eq!(next_spawn(&[SlotState::Running]), None);
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(7), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}

/// `request_terminate_timeout`: whether a worker's request has run too long. A request
/// counts from its first byte while it is read and run; after `fastcgi_finish_request()`
/// (`Finishing`) only with `request_terminate_timeout_track_finished`, as php-fpm.
pub fn timed_out(
    stage: crate::master::scoreboard::Stage,
    started_us: Option<u64>,
    now_us: u64,
    timeout: Duration,
    track_finished: bool,
) -> bool {
    use crate::master::scoreboard::Stage;
    let counted = match stage {
        Stage::Reading | Stage::Running => true,
        Stage::Finishing => track_finished,
        Stage::Idle | Stage::Empty => false,
    };
    let Some(started) = started_us else { return false };
    counted && !timeout.is_zero() && u128::from(now_us.saturating_sub(started)) > timeout.as_micros()
}

/// How often request timeouts are checked: a third of the timeout, at least 130 ms and at
/// most a second (php-fpm's `FPM_PCTL_MIN_HEARTBEAT` and maintenance heartbeat).
pub fn timeout_tick(timeout: Duration) -> Duration {
    (timeout / 3).clamp(Duration::from_millis(130), Duration::from_secs(1))
}

/// `pm = dynamic` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dynamic {
    /// `pm.max_children`.
    pub max_children: usize,
    /// `pm.min_spare_servers`.
    pub min_spare: usize,
    /// `pm.max_spare_servers`.
    pub max_spare: usize,
    /// `pm.max_spawn_rate`.
    pub max_spawn_rate: usize,
}

/// What `pm = dynamic` carries from one tick to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicState {
    /// Children to fork at the next shortage: 1, doubling while the shortage lasts.
    pub spawn_rate: usize,
    /// `pm.max_children` was reached in the current episode (warned once).
    pub at_max: bool,
}

impl Default for DynamicState {
    fn default() -> Self {
        DynamicState { spawn_rate: 1, at_max: false }
    }
}

/// One maintenance decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do.
    Nothing,
    /// Fork this many children.
    Spawn(usize),
    /// Stop the idle child in this slot (the one idle longest... started earliest).
    StopIdle(usize),
    /// More children are needed but `pm.max_children` run already: warn (once per episode).
    AtMaxChildren,
}

/// php-fpm's dynamic process manager, once per second (process-management.md §3):
/// too many idle children → stop the oldest idle one (one per tick); too few → fork
/// `min(rate, min_spare - idle, max_children - running)`, doubling the rate while the
/// shortage lasts, up to `pm.max_spawn_rate`. `idle` lists the idle children's slots,
/// oldest start first; `running` counts every child.
pub fn dynamic_tick(limits: &Dynamic, state: &mut DynamicState, idle: &[usize], running: usize) -> Decision {
    if idle.len() > limits.max_spare {
        state.spawn_rate = 1;
        return Decision::StopIdle(idle[0]);
    }
    if idle.len() >= limits.min_spare {
        state.spawn_rate = 1;
        state.at_max = false;
        return Decision::Nothing;
    }
    if running >= limits.max_children {
        state.spawn_rate = 1;
        if std::mem::replace(&mut state.at_max, true) {
            return Decision::Nothing;
        }
        return Decision::AtMaxChildren;
    }
    let n = state.spawn_rate.min(limits.min_spare - idle.len()).min(limits.max_children - running);
    if state.spawn_rate < limits.max_spawn_rate {
        state.spawn_rate *= 2;
    }
    Decision::Spawn(n)
}

#[cfg(test)]
mod timeout_tests {
    use super::*;
    use crate::master::scoreboard::Stage;

    #[test]
    fn a_request_times_out_after_the_timeout_unless_finished() {
        let t = Duration::from_secs(2);
        assert!(!timed_out(Stage::Running, Some(1_000_000), 2_900_000, t, false));
        assert!(timed_out(Stage::Running, Some(1_000_000), 3_000_001, t, false));
        assert!(timed_out(Stage::Reading, Some(1), 2_000_002, t, false));
        assert!(
            !timed_out(Stage::Finishing, Some(1), 9_000_000, t, false),
            "finished requests are not tracked"
        );
        assert!(timed_out(Stage::Finishing, Some(1), 9_000_000, t, true), "unless asked to");
        assert!(!timed_out(Stage::Idle, Some(1), 9_000_000, t, true));
        assert!(!timed_out(Stage::Running, None, 9_000_000, t, true));
        assert!(!timed_out(Stage::Running, Some(1), 9_000_000, Duration::ZERO, true), "0 = off");
    }

    #[test]
    fn the_check_interval_is_a_third_clamped() {
        assert_eq!(timeout_tick(Duration::from_secs(30)), Duration::from_secs(1));
        assert_eq!(timeout_tick(Duration::from_millis(900)), Duration::from_millis(300));
        assert_eq!(timeout_tick(Duration::from_millis(100)), Duration::from_millis(130));
    }
}

#[cfg(test)]
mod dynamic_tests {
    use super::*;

    const LIMITS: Dynamic = Dynamic { max_children: 10, min_spare: 3, max_spare: 5, max_spawn_rate: 32 };

    #[test]
    fn too_many_idle_stops_the_oldest_one_per_tick() {
        let mut s = DynamicState { spawn_rate: 8, at_max: false };
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[4, 1, 2, 3, 5, 6], 6), Decision::StopIdle(4));
        assert_eq!(s.spawn_rate, 1);
    }

    #[test]
    fn a_shortage_spawns_with_a_doubling_rate() {
        let mut s = DynamicState::default();
        // 0 idle of 3 wanted: 1, then 2, then the shortage caps it.
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 2), Decision::Spawn(1));
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 3), Decision::Spawn(2));
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 5), Decision::Spawn(3));
        assert_eq!(s.spawn_rate, 8);
        // Enough idle children: the rate resets.
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[1, 2, 3], 8), Decision::Nothing);
        assert_eq!(s.spawn_rate, 1);
    }

    #[test]
    fn max_children_caps_spawning_and_warns_once() {
        let mut s = DynamicState::default();
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 9), Decision::Spawn(1));
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 10), Decision::AtMaxChildren);
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[], 10), Decision::Nothing);
        assert_eq!(dynamic_tick(&LIMITS, &mut s, &[7, 8, 9], 10), Decision::Nothing);
        assert_eq!(
            dynamic_tick(&LIMITS, &mut s, &[], 10),
            Decision::AtMaxChildren,
            "a new episode warns again"
        );
    }

    #[test]
    fn the_spawn_rate_stops_doubling_at_the_cap() {
        let limits = Dynamic { max_children: 100, min_spare: 60, max_spare: 80, max_spawn_rate: 4 };
        let mut s = DynamicState::default();
        let spawned: Vec<_> = (0..5).map(|_| dynamic_tick(&limits, &mut s, &[], 0)).collect();
        assert_eq!(
            spawned,
            [
                Decision::Spawn(1),
                Decision::Spawn(2),
                Decision::Spawn(4),
                Decision::Spawn(4),
                Decision::Spawn(4)
            ]
        );
    }
}
