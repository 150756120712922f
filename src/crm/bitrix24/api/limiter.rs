//! A client-side copy of the portal's leaky bucket, so we slow down before Bitrix24 says
//! QUERY_LIMIT_EXCEEDED: the portal lets `burst` requests through at once and drains `rate`
//! per second. That is exactly a GCRA with that burst, so `governor` keeps it (the hand-written
//! bucket it replaces did the same arithmetic); waiters are served in order of arrival.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

#[derive(Debug)]
pub struct LeakyBucket {
    limiter: DefaultDirectRateLimiter,
}

impl LeakyBucket {
    pub fn new(rate_per_sec: f64, burst: u32) -> LeakyBucket {
        let period = Duration::from_secs_f64(1.0 / rate_per_sec.max(0.001));
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        LeakyBucket {
            limiter: RateLimiter::direct(quota),
        }
    }

    /// Waits until one more request fits; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        let start = Instant::now();
        self.limiter.until_ready().await;
        start.elapsed()
    }

    /// The portal said the bucket is full: believe it (another app may share our IP) and take
    /// every request it has left, so the next one waits for the drain.
    pub async fn saturate(&self) {
        while self.limiter.check().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_a_burst_then_the_rate() {
        let b = LeakyBucket::new(20.0, 5);
        let start = std::time::Instant::now();
        for _ in 0..5 {
            assert!(b.acquire().await < Duration::from_millis(20));
        }
        for _ in 0..4 {
            b.acquire().await;
        }
        // 4 requests past the burst at 20/s take at least 200 ms (less a tolerance).
        let took = start.elapsed().as_secs_f64();
        assert!(took >= 0.17, "{took}: the rate was not kept");
    }

    #[tokio::test]
    async fn saturate_makes_the_next_request_wait() {
        let b = LeakyBucket::new(10.0, 50);
        b.saturate().await;
        assert!(b.acquire().await >= Duration::from_millis(60));
    }
}
