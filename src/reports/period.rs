//! Report periods: `[from, to)` between local midnights of the account's time zone — a day, a
//! week starting on Monday, a month, or any run of whole days.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Day,
    Week,
    Month,
}

/// Whole local days `[start, end)` and the instants they begin and end at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub start: NaiveDate,
    /// The first day after the period.
    pub end: NaiveDate,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The instant a local day begins (the first valid local time on a day whose midnight falls in
/// a clock change).
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut t = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..48 {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

impl Period {
    /// The days `[start, end)` in `tz`; `None` when `end` is not after `start`.
    pub fn days(tz: Tz, start: NaiveDate, end: NaiveDate) -> Option<Period> {
        (end > start).then(|| Period {
            start,
            end,
            from: day_start(tz, start),
            to: day_start(tz, end),
        })
    }

    /// The period of `kind` that holds the instant `at` (in `tz`).
    pub fn containing(kind: PeriodKind, tz: Tz, at: DateTime<Utc>) -> Period {
        let date = at.with_timezone(&tz).date_naive();
        let (start, end) = match kind {
            PeriodKind::Day => (date, date + Duration::days(1)),
            PeriodKind::Week => {
                let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
                (monday, monday + Duration::days(7))
            }
            PeriodKind::Month => (first_of_month(date), next_month(date)),
        };
        Period {
            start,
            end,
            from: day_start(tz, start),
            to: day_start(tz, end),
        }
    }

    /// The period of `kind` just before this one (this one must be of that kind).
    pub fn previous(&self, kind: PeriodKind, tz: Tz) -> Period {
        Period::containing(kind, tz, self.from - Duration::seconds(1))
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// Days in the period.
    pub fn len_days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// "01.12.2026" or "01.12.2026 – 07.12.2026" (the last day included).
    pub fn label(&self) -> String {
        let last = self.end - Duration::days(1);
        if last == self.start {
            self.start.format("%d.%m.%Y").to_string()
        } else {
            format!("{} – {}", self.start.format("%d.%m.%Y"), last.format("%d.%m.%Y"))
        }
    }
}

/// Days in the month of `d`.
pub fn days_in_month(d: NaiveDate) -> i64 {
    (next_month(d) - first_of_month(d)).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_week_starts_on_monday_at_local_midnight() {
        // Monday 30.11.2026 00:00 in Moscow (UTC+3) is Sunday 21:00 UTC.
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        let p = Period::containing(PeriodKind::Week, msk, utc("2026-11-29T21:00:00Z"));
        assert_eq!(p.start, NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(p.from, utc("2026-11-29T21:00:00Z"));
        assert_eq!(p.to, utc("2026-12-06T21:00:00Z"));
        // One second earlier is still the week before.
        let before = Period::containing(PeriodKind::Week, msk, utc("2026-11-29T20:59:59Z"));
        assert_eq!(before.start, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(p.previous(PeriodKind::Week, msk), before);
        // Tashkent (UTC+5): the same UTC instant is already Monday 02:00.
        let tas: Tz = "Asia/Tashkent".parse().unwrap();
        let p = Period::containing(PeriodKind::Week, tas, utc("2026-11-29T20:59:59Z"));
        assert_eq!(p.from, utc("2026-11-29T19:00:00Z"));
        assert_eq!(p.label(), "30.11.2026 – 06.12.2026");
    }

    #[test]
    fn months_and_days() {
        let tas: Tz = "Asia/Tashkent".parse().unwrap();
        let p = Period::containing(PeriodKind::Month, tas, utc("2026-12-31T19:30:00Z"));
        // 31.12 19:30 UTC is 01.01.2027 00:30 in Tashkent.
        assert_eq!(p.start, NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(p.len_days(), 31);
        let d = Period::containing(PeriodKind::Day, tas, utc("2026-12-01T18:59:59Z"));
        assert_eq!(d.label(), "01.12.2026");
        assert_eq!(days_in_month(NaiveDate::from_ymd_opt(2028, 2, 3).unwrap()), 29);
        assert!(Period::days(tas, d.end, d.start).is_none());
    }

    #[test]
    fn a_day_that_begins_in_a_clock_change() {
        // Chile moves from 00:00 to 01:00 on its spring-forward day.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = day_start(tz, day);
        assert_eq!(start.with_timezone(&tz).date_naive(), day);
    }
}
