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
