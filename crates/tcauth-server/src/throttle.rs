//! [`Throttle`]: at most one log line per interval for a failure that recurs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// At most one log line a second for a failure that recurs: in an outage, or when the
/// PostgreSQL pool has no connection to spare, every request fails the same way, and a line
/// for each (tens of thousands a second) would add to the load and bury every other line.
/// The next line says how many were left out. [`Throttle::every`] sets another interval (the
/// connection summaries of [`crate::listener`] are written at most once a minute).
pub struct Throttle {
    /// When the next line may be written, in ms since the epoch.
    next_ms: AtomicU64,
    left_out: AtomicU64,
    every_ms: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::every(std::time::Duration::from_secs(1))
    }
}

impl Throttle {
    /// At most one line per `interval`.
    pub fn every(interval: std::time::Duration) -> Self {
        Throttle {
            next_ms: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
            every_ms: interval.as_millis() as u64,
        }
    }

    /// `Some(lines left out since the last)` when this occurrence is to be logged at `now_ms`.
    pub fn allow(&self, now_ms: u64) -> Option<u64> {
        let next = self.next_ms.load(Relaxed);
        if now_ms >= next
            && self
                .next_ms
                .compare_exchange(next, now_ms + self.every_ms, Relaxed, Relaxed)
                .is_ok()
        {
            return Some(self.left_out.swap(0, Relaxed));
        }
        self.left_out.fetch_add(1, Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Throttle;

    #[test]
    fn throttle_lets_one_line_a_second_through_and_counts_the_rest() {
        let t = Throttle::default();
        assert_eq!(t.allow(10_000), Some(0), "the first is logged");
        assert_eq!(t.allow(10_001), None);
        assert_eq!(t.allow(10_999), None);
        assert_eq!(
            t.allow(11_000),
            Some(2),
            "a second later, with the two left out"
        );
        assert_eq!(t.allow(11_500), None);
        assert_eq!(t.allow(20_000), Some(1));
        assert_eq!(t.allow(20_000), None, "the same instant again");
    }

    #[test]
    fn a_throttle_of_a_minute_lets_one_line_a_minute_through() {
        let t = Throttle::every(std::time::Duration::from_secs(60));
        let start = 1_700_000_000_000;
        let logged: Vec<_> = (0..3 * 60_000)
            .step_by(10)
            .filter_map(|ms| t.allow(start + ms).map(|left_out| (ms, left_out)))
            .collect();
        assert_eq!(logged, [(0, 0), (60_000, 5999), (120_000, 5999)]);
    }
}
