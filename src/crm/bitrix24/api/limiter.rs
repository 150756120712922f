//! A client-side copy of the portal's leaky bucket, so we slow down before Bitrix24 says
//! QUERY_LIMIT_EXCEEDED: every request adds one, the level drains at `rate` per second, and a
//! request waits while the bucket is full.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
pub struct LeakyBucket {
    rate: f64,
    capacity: f64,
    state: Mutex<(f64, Instant)>,
}

impl LeakyBucket {
    pub fn new(rate_per_sec: f64, burst: u32) -> LeakyBucket {
        LeakyBucket {
            rate: rate_per_sec,
            capacity: burst as f64,
            state: Mutex::new((0.0, Instant::now())),
        }
    }

    /// Waits until one more request fits; returns how long it waited.
    pub async fn acquire(&self) -> Duration {
        // Reserve under the lock, sleep outside it: callers queue up in order of arrival.
        let wait = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let drained = now.duration_since(st.1).as_secs_f64() * self.rate;
            st.0 = (st.0 - drained).max(0.0);
            st.1 = now;
            let over = st.0 + 1.0 - self.capacity;
            st.0 += 1.0;
            if over > 0.0 {
                Duration::from_secs_f64(over / self.rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }

    /// The portal said the bucket is full: believe it (another app may share our IP).
    pub async fn saturate(&self) {
        let mut st = self.state.lock().await;
        st.0 = st.0.max(self.capacity);
        st.1 = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allows_a_burst_then_the_rate() {
        let b = LeakyBucket::new(2.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            assert_eq!(b.acquire().await, Duration::ZERO);
        }
        for _ in 0..4 {
            b.acquire().await;
        }
        // 4 requests past the burst at 2/s take 2 s.
        let took = start.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn saturate_makes_the_next_request_wait() {
        let b = LeakyBucket::new(2.0, 50);
        b.saturate().await;
        assert!(b.acquire().await >= Duration::from_millis(450));
    }
}
