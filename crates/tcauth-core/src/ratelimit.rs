//! Token-bucket arithmetic, with time passed in.

/// A token bucket: `burst` capacity, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    tokens: f64,
    last: f64,
}

/// The outcome of asking a bucket for one token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Allow,
    /// Whole seconds (≥ 1) until a request would be admitted.
    Deny {
        retry_after: u64,
    },
}

impl Bucket {
    pub fn full(burst: u32, now: f64) -> Self {
        Bucket {
            tokens: burst as f64,
            last: now,
        }
    }

    /// Takes one token if there is one. `now` is in seconds (any monotonic origin).
    pub fn take(&mut self, per_second: u32, burst: u32, now: f64) -> Decision {
        self.take_at(per_second.max(1) as f64, burst, now)
    }

    /// [`Bucket::take`] with a refill rate that may be below one a second (`rate` tokens per
    /// second, > 0).
    pub fn take_at(&mut self, rate: f64, burst: u32, now: f64) -> Decision {
        let elapsed = (now - self.last).max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(burst as f64);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Decision::Allow
        } else {
            let wait = (1.0 - self.tokens) / rate;
            Decision::Deny {
                retry_after: (wait.ceil() as u64).max(1),
            }
        }
    }

    /// Puts back a token taken by [`Bucket::take_at`] (never beyond `burst`): a reservation
    /// that was not needed.
    pub fn give_back(&mut self, burst: u32) {
        self.tokens = (self.tokens + 1.0).min(burst as f64);
    }

    /// True when the bucket would be full at `now` (so forgetting it changes nothing).
    pub fn is_full(&self, per_second: u32, burst: u32, now: f64) -> bool {
        self.is_full_at(per_second.max(1) as f64, burst, now)
    }

    /// [`Bucket::is_full`] at `rate` tokens per second.
    pub fn is_full_at(&self, rate: f64, burst: u32, now: f64) -> bool {
        self.tokens + (now - self.last).max(0.0) * rate >= burst as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut b = Bucket::full(3, 0.0);
        for _ in 0..3 {
            assert_eq!(b.take(1, 3, 0.0), Decision::Allow);
        }
        assert_eq!(b.take(1, 3, 0.0), Decision::Deny { retry_after: 1 });
        assert_eq!(b.take(1, 3, 1.0), Decision::Allow);
        assert!(!b.is_full(1, 3, 1.0));
        assert!(b.is_full(1, 3, 10.0));
    }

    #[test]
    fn retry_after_rounds_up() {
        let mut b = Bucket::full(1, 0.0);
        assert_eq!(b.take(1, 1, 0.0), Decision::Allow);
        // rate 1 per 1 s: empty bucket needs 1 s.
        assert_eq!(b.take(1, 1, 0.1), Decision::Deny { retry_after: 1 });
    }

    #[test]
    fn slow_refill_and_give_back() {
        // 2 at once, then one per 10 s.
        let mut b = Bucket::full(2, 0.0);
        assert_eq!(b.take_at(0.1, 2, 0.0), Decision::Allow);
        assert_eq!(b.take_at(0.1, 2, 0.0), Decision::Allow);
        assert_eq!(b.take_at(0.1, 2, 0.0), Decision::Deny { retry_after: 10 });
        assert_eq!(b.take_at(0.1, 2, 5.0), Decision::Deny { retry_after: 5 });
        assert_eq!(b.take_at(0.1, 2, 10.0), Decision::Allow);
        b.give_back(2);
        assert_eq!(b.take_at(0.1, 2, 10.0), Decision::Allow);
        assert_eq!(b.take_at(0.1, 2, 10.0), Decision::Deny { retry_after: 10 });
        assert!(!b.is_full_at(0.1, 2, 20.0));
        assert!(b.is_full_at(0.1, 2, 30.0));
        let mut full = Bucket::full(2, 0.0);
        full.give_back(2);
        assert!(full.is_full_at(0.1, 2, 0.0));
        assert_eq!(full.take_at(0.1, 2, 0.0), Decision::Allow);
        assert_eq!(full.take_at(0.1, 2, 0.0), Decision::Allow);
        assert!(
            matches!(full.take_at(0.1, 2, 0.0), Decision::Deny { .. }),
            "never beyond burst"
        );
    }
}
