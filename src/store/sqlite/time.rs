//! Timestamps in the embedded store: INTEGER microseconds since the Unix epoch, UTC (see the
//! schema's header). Fixed width, so the claims' `due_at <= now` comparisons are numeric.

use chrono::{DateTime, Utc};

use crate::store::{StoreError, StoreResult};

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn now() -> i64 {
    micros(Utc::now())
}

pub fn from_micros(us: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| StoreError::Corrupt(format!("timestamp {us} out of range")))
}

pub fn from_micros_opt(us: Option<i64>) -> StoreResult<Option<DateTime<Utc>>> {
    us.map(from_micros).transpose()
}
