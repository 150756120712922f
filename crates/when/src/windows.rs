//! The local wish as UTC instants, which is what a slot calendar compares.
//!
//! Local wall-clock times are turned into instants day by day in the
//! client's zone, so a DST change in the horizon moves the UTC windows by
//! the hour it should, and the day of the change is 23 or 25 hours long.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{TimeWish, When};

/// Which of two instants a repeated wall-clock time (the autumn fold) means.
#[derive(Clone, Copy)]
enum Fold {
    Earliest,
    Latest,
}

/// The instant a local time means. In the fold the start of a window takes
/// the first occurrence and its end the second, so the window covers all
/// of what the client said. In the spring gap the time is moved forward by
/// the gap ("02:30" on the change night is 03:30 summer time).
fn instant(tz: Tz, local: NaiveDateTime, fold: Fold) -> Option<DateTime<Utc>> {
    // chrono panics converting times at the very ends of its range.
    if !(-262_000..=262_000).contains(&local.year()) {
        return None;
    }
    match tz.from_local_datetime(&local) {
        LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            Some(match fold {
                Fold::Earliest => a.min(b),
                Fold::Latest => a.max(b),
            })
        }
        LocalResult::None => {
            // The offset in force before the gap, applied to the wall time.
            let before = local.checked_sub_signed(chrono::Duration::hours(24))?;
            let offset = tz.offset_from_utc_datetime(&before).fix();
            let utc = local.checked_sub_signed(chrono::Duration::seconds(i64::from(offset.local_minus_utc())))?;
            Some(Utc.from_utc_datetime(&utc))
        }
    }
}

fn at(tz: Tz, day: NaiveDate, t: NaiveTime, fold: Fold) -> Option<DateTime<Utc>> {
    instant(tz, day.and_time(t), fold)
}

fn midnight_after(tz: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    at(tz, day.checked_add_days(Days::new(1))?, NaiveTime::MIN, Fold::Earliest)
}

/// The longest horizon `windows` looks at.
pub const MAX_HORIZON_DAYS: u32 = 3660;

impl When {
    /// The local windows as UTC instants [start, end), within `horizon_days` from now, clipped to after `now`. days None → every day from today; time None → the whole day; At(t) → a zero-length window [t, t].
    ///
    /// Sorted by start. `horizon_days` is capped at [`MAX_HORIZON_DAYS`].
    pub fn windows(&self, now: DateTime<Utc>, tz: Tz, horizon_days: u32) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let Some(today) = crate::local_time(now, tz).map(|l| l.date()) else {
            return Vec::new();
        };
        // Nobody books ten years ahead; the cap keeps a huge horizon from
        // walking millions of days.
        let horizon_days = horizon_days.min(MAX_HORIZON_DAYS);
        let Some(horizon) = chrono::Duration::try_days(i64::from(horizon_days)).and_then(|d| now.checked_add_signed(d))
        else {
            return Vec::new();
        };
        let dates: Vec<NaiveDate> = match &self.days {
            Some(days) => days.clone(),
            None => (0..=u64::from(horizon_days))
                .filter_map(|k| today.checked_add_days(Days::new(k)))
                .collect(),
        };
        let mut out = Vec::new();
        for day in dates {
            let window = match self.time {
                None => at(tz, day, NaiveTime::MIN, Fold::Earliest).zip(midnight_after(tz, day)),
                Some(TimeWish::At(t)) => {
                    let x = at(tz, day, t, Fold::Earliest);
                    x.zip(x)
                }
                Some(TimeWish::Between(a, b)) => {
                    let end = if b <= a {
                        midnight_after(tz, day)
                    } else {
                        at(tz, day, b, Fold::Latest)
                    };
                    at(tz, day, a, Fold::Earliest).zip(end)
                }
            };
            let Some((start, end)) = window else { continue };
            if start == end {
                // A moment: kept if it is still ahead and inside the horizon.
                if start >= now && start < horizon {
                    out.push((start, end));
                }
                continue;
            }
            let (start, end) = (start.max(now), end.min(horizon));
            if start < end {
                out.push((start, end));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}
