//! When a salon or clinic client wants to come, read from a Russian chat
//! message ("завтра после 18", "в субботу утром", "15.12 в 11:30"),
//! relative to the client's time zone.
//!
//! Pure: `parse` and `When::windows` take `now` and the zone as arguments,
//! so the booking dialog decides the clock and the tests control it.
//! See README.md for what is understood and the rules for ambiguous cases.

mod calendar;
mod clock;
mod days;
mod merge;
mod times;
mod tokens;
mod windows;
mod words;

pub use windows::MAX_HORIZON_DAYS;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// The time of day a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeWish {
    /// A moment: "в 11:30", "к 10".
    At(NaiveTime),
    /// A window `[from, to)`: "с 10 до 12", "утром". `to <= from` (in
    /// practice `to == 00:00`) means "until the end of the day": "после 18"
    /// is `Between(18:00, 00:00)`, "до 12" is `Between(00:00, 12:00)`.
    Between(NaiveTime, NaiveTime),
}

/// What a message says about when: the days, the time of day, or both
/// (never neither: `parse` returns `None` then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    /// Local dates in the client's zone, ascending; `None`: any day.
    pub days: Option<Vec<NaiveDate>>,
    /// `None`: any time of those days.
    pub time: Option<TimeWish>,
}

/// Reads the days and time of day in `text`, for a client whose clock shows
/// `now` in `tz`. `None` when the message says nothing about when —
/// including "поскорее", "как можно раньше", "в любое время", "в любой
/// день": those mean "the nearest slot", which the dialog offers anyway.
///
/// ```
/// use leadbot_when::{parse, TimeWish};
/// use chrono::{NaiveDate, NaiveTime, Utc, TimeZone};
///
/// let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap(); // Wed 10:00 in Moscow
/// let tz = chrono_tz::Europe::Moscow;
/// let w = parse("в субботу утром", now, tz).expect("a wish");
/// assert_eq!(w.days, Some(vec![NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()]));
/// let w = w.merge(&parse("лучше в 11", now, tz).expect("a time"));
/// assert_eq!(w.time, Some(TimeWish::At(NaiveTime::from_hms_opt(11, 0, 0).unwrap())));
/// let at = Utc.with_ymd_and_hms(2026, 12, 5, 8, 0, 0).unwrap();
/// assert_eq!(w.windows(now, tz, 14), vec![(at, at)]);
/// ```
///
/// A time without a day ("в 10", "утром") leaves `days` as `None`: its
/// first window from `windows` is today if the time is still ahead, else
/// tomorrow, and a later "в субботу" can still add the day (see `merge`).
pub fn parse(text: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<When> {
    let local = local_time(now, tz)?;
    let toks = tokens::tokenize(text);
    let t = tokens::Toks(&toks);
    let mut day_items = Vec::new();
    let mut time_items = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if let Some((item, n)) = days::match_at(&t, i) {
            day_items.push(item);
            i += n.max(1);
        } else if let Some((item, n)) = times::match_at(&t, i) {
            time_items.push(item);
            i += n.max(1);
        } else {
            i += 1;
        }
    }
    let time = match times::resolve(&time_items) {
        Some(times::Resolved::Moment(d)) => {
            // "через 2 часа": computed on the UTC clock so a DST change in
            // between is honoured, then read on the client's wall clock.
            let at = local_time(now.checked_add_signed(d)?, tz)?;
            let at = at.with_second(0)?.with_nanosecond(0)?;
            return Some(When {
                days: Some(vec![at.date()]),
                time: Some(TimeWish::At(at.time())),
            });
        }
        Some(times::Resolved::Wish(w)) => Some(w),
        None => None,
    };
    let days = calendar::resolve(&day_items, local.date(), today_counts(local.time(), time));
    if days.is_none() && time.is_none() {
        return None;
    }
    Some(When { days, time })
}

/// The client's wall clock at `now`; `None` only at the very ends of
/// chrono's range, where `with_timezone` would panic.
pub(crate) fn local_time(now: DateTime<Utc>, tz: chrono_tz::Tz) -> Option<NaiveDateTime> {
    use chrono::{Offset, TimeZone};
    let utc = now.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

/// The latest a day-only wish can still mean today: the end of "вечером".
/// "в субботу" said on a Saturday at 22:00 means next Saturday.
const LAST_BOOKING_HOUR: u32 = 21;

/// Whether today can be "the next Friday" for a wish made at `now`: the
/// wished time (its start for a moment, its end for a window) is ahead.
fn today_counts(now: NaiveTime, time: Option<TimeWish>) -> bool {
    match time {
        Some(TimeWish::At(t)) => t > now,
        Some(TimeWish::Between(a, b)) => b <= a || b > now,
        None => now < NaiveTime::from_hms_opt(LAST_BOOKING_HOUR, 0, 0).unwrap_or(NaiveTime::MIN),
    }
}
