//! Brute-force protection for one account: after a few failures, each further failure doubles
//! the time before the next attempt is even considered.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The throttle policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// Delay after the first failure beyond the free ones; doubled by each further failure.
    pub base_delay: Duration,
    /// The delay never exceeds this.
    pub max_delay: Duration,
}

impl LoginThrottle {
    /// How long the account must wait after its `failures`-th consecutive failure.
    pub fn delay_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free_failures)?;
        if over == 0 {
            return None;
        }
        let factor = 2u32.saturating_pow(over.saturating_sub(1).min(20));
        Some(self.base_delay.saturating_mul(factor).min(self.max_delay))
    }

    /// When the account may try again after `failures` failures at `now`, if it must wait.
    pub fn locked_until(&self, failures: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let delay = self.delay_after(failures)?;
        chrono::Duration::from_std(delay).ok().map(|d| now + d)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn policy() -> LoginThrottle {
        LoginThrottle {
            free_failures: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(900),
        }
    }

    #[test]
    fn the_first_failures_are_free_then_the_delay_doubles() {
        let p = policy();
        assert_eq!(p.delay_after(5), None);
        assert_eq!(p.delay_after(6), Some(Duration::from_secs(1)));
        assert_eq!(p.delay_after(7), Some(Duration::from_secs(2)));
        assert_eq!(p.delay_after(9), Some(Duration::from_secs(8)));
        assert_eq!(p.delay_after(40), Some(Duration::from_secs(900)));
    }

    proptest! {
        #[test]
        fn the_delay_never_shrinks_and_never_exceeds_the_cap(failures in 0u32..10_000) {
            let p = policy();
            let now = p.delay_after(failures).unwrap_or_default();
            let next = p.delay_after(failures.saturating_add(1)).unwrap_or_default();
            prop_assert!(next >= now);
            prop_assert!(next <= p.max_delay);
        }
    }
}
