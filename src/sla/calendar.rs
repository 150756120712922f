//! The account's working calendar: which days and hours count when a robot's delay is in
//! working time ("2 working hours after the deal came in" on a Friday at 18:30 is Monday 10:30).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkCalendar {
    /// Working weekdays, "mon".."sun".
    #[serde(default = "weekdays")]
    pub days: Vec<Weekday>,
    #[serde(default = "nine")]
    pub start: NaiveTime,
    #[serde(default = "seven_pm")]
    pub end: NaiveTime,
    /// Days off on working weekdays (public holidays).
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Working days on weekends (a Saturday made a working day).
    #[serde(default)]
    pub extra_days: BTreeSet<NaiveDate>,
}

fn weekdays() -> Vec<Weekday> {
    vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
}
fn nine() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}
fn seven_pm() -> NaiveTime {
    NaiveTime::from_hms_opt(19, 0, 0).unwrap_or_default()
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar {
            days: weekdays(),
            start: nine(),
            end: seven_pm(),
            holidays: BTreeSet::new(),
            extra_days: BTreeSet::new(),
        }
    }
}

/// A local date-time, resolved in the zone (the earliest of an ambiguous hour, the hour after a
/// skipped one).
fn at(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

impl WorkCalendar {
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.extra_days.contains(&d) {
            return true;
        }
        self.days.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// `from` plus `amount` of working time. Time outside working hours does not count; a
    /// start outside them counts from the next opening.
    pub fn add_working(&self, tz: Tz, from: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if self.end <= self.start {
            return from + amount;
        }
        let mut left = amount;
        let mut now = from;
        // A year of days is far more than any robot's delay; the bound guards a calendar
        // without a single working day.
        for _ in 0..400 {
            let local = now.with_timezone(&tz);
            let date = local.date_naive();
            if self.is_working_day(date) {
                let open = at(tz, date, self.start);
                let close = at(tz, date, self.end);
                let begin = now.max(open);
                if begin < close {
                    let room = close - begin;
                    if left <= room {
                        return begin + left;
                    }
                    left -= room;
                }
            }
            let next = date.succ_opt().unwrap_or(date);
            now = at(tz, next, NaiveTime::MIN);
        }
        from + amount
    }

    /// The next working day's `time` at or after `from` (any day when `working_only` is false).
    pub fn next_time_of_day(&self, tz: Tz, from: DateTime<Utc>, time: NaiveTime, working_only: bool) -> DateTime<Utc> {
        let mut date = from.with_timezone(&tz).date_naive();
        for _ in 0..400 {
            let t = at(tz, date, time);
            if t >= from && (!working_only || self.is_working_day(date)) {
                return t;
            }
            date = date.succ_opt().unwrap_or(date);
        }
        from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msk(s: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Europe::Moscow
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn working_time_skips_the_night_and_the_weekend() {
        let cal = WorkCalendar::default();
        let tz = chrono_tz::Europe::Moscow;
        // Wednesday 10:00 + 2h = 12:00.
        assert_eq!(
            cal.add_working(tz, msk("2026-12-02 10:00"), Duration::hours(2)),
            msk("2026-12-02 12:00")
        );
        // Friday 18:30 + 2h: 30 min on Friday, 1h30 on Monday from 09:00.
        assert_eq!(
            cal.add_working(tz, msk("2026-12-04 18:30"), Duration::hours(2)),
            msk("2026-12-07 10:30")
        );
        // Saturday night counts from Monday's opening.
        assert_eq!(
            cal.add_working(tz, msk("2026-12-05 23:00"), Duration::minutes(15)),
            msk("2026-12-07 09:15")
        );
    }

    #[test]
    fn holidays_are_off_and_extra_days_are_on() {
        let mut cal = WorkCalendar::default();
        cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap());
        cal.extra_days.insert(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap());
        let tz = chrono_tz::Europe::Moscow;
        // Friday 18:30 + 1h → Saturday (extra working day) 09:30.
        assert_eq!(
            cal.add_working(tz, msk("2026-12-04 18:30"), Duration::hours(1)),
            msk("2026-12-05 09:30")
        );
        // Saturday 18:30 + 1h → Monday is a holiday → Tuesday 09:30.
        assert_eq!(
            cal.add_working(tz, msk("2026-12-05 18:30"), Duration::hours(1)),
            msk("2026-12-08 09:30")
        );
    }

    #[test]
    fn time_of_day_is_local() {
        let cal = WorkCalendar::default();
        let tz = chrono_tz::Asia::Tashkent;
        let from = Utc.with_ymd_and_hms(2026, 12, 4, 15, 0, 0).unwrap(); // 20:00 in Tashkent, Friday
        let next = cal.next_time_of_day(tz, from, NaiveTime::from_hms_opt(19, 0, 0).unwrap(), true);
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 7, 14, 0, 0).unwrap()); // Monday 19:00 local
        let any = cal.next_time_of_day(tz, from, NaiveTime::from_hms_opt(19, 0, 0).unwrap(), false);
        assert_eq!(any, Utc.with_ymd_and_hms(2026, 12, 5, 14, 0, 0).unwrap());
    }
}
