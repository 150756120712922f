//! When a scheduled report is due and which period it covers (pure). End of day: every
//! (working) day at `at`, covering that day. Weekly: on `weekday` at `at`, covering the week
//! (Monday–Sunday) that holds the day before. Monthly: on `day` at `at`, covering the month
//! that holds the day before. All in the account's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::period::{Period, PeriodKind};
use super::ReportKind;

/// One scheduled report.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub kind: ReportKind,
    /// Local time of day.
    pub at: NaiveTime,
    /// End of day: the days it runs on (every day when empty).
    pub days: Vec<Weekday>,
    /// Weekly: the day it runs on.
    pub weekday: Weekday,
    /// Monthly: the day of the month it runs on (1–28).
    pub day: u32,
    /// An occurrence missed for longer than this (the service was down) is not sent late.
    pub catch_up: Duration,
}

/// The local instant of `at` on `date` (the first valid one after a clock change's gap).
fn local(tz: Tz, date: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let mut t = date.and_time(at);
    for _ in 0..8 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&date.and_time(at))
}

impl Slot {
    fn runs_on(&self, date: NaiveDate) -> bool {
        match self.kind {
            ReportKind::EndOfDay => self.days.is_empty() || self.days.contains(&date.weekday()),
            ReportKind::Weekly => date.weekday() == self.weekday,
            ReportKind::Monthly => date.day() == self.day,
            ReportKind::Channels => date.weekday() == self.weekday,
        }
    }

    /// The period an occurrence on `date` covers.
    pub fn period_of(&self, tz: Tz, date: NaiveDate) -> Period {
        let at = crate::reports::period::day_start(tz, date);
        match self.kind {
            ReportKind::EndOfDay => Period::containing(PeriodKind::Day, tz, at),
            ReportKind::Weekly | ReportKind::Channels => {
                Period::containing(PeriodKind::Week, tz, at - Duration::seconds(1))
            }
            ReportKind::Monthly => Period::containing(PeriodKind::Month, tz, at - Duration::seconds(1)),
        }
    }

    /// The latest occurrence at or before `now` (within the last 62 days), with its period.
    pub fn latest(&self, tz: Tz, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Period)> {
        let today = now.with_timezone(&tz).date_naive();
        (0..62)
            .map(|back| today - Duration::days(back))
            .filter(|d| self.runs_on(*d))
            .map(|d| (local(tz, d, self.at), d))
            .find(|(t, _)| *t <= now)
            .map(|(t, d)| (t, self.period_of(tz, d)))
    }

    /// The occurrence due now: the latest one, unless it was missed for longer than `catch_up`.
    pub fn due(&self, tz: Tz, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Period)> {
        self.latest(tz, now).filter(|(t, _)| now - *t <= self.catch_up)
    }

    /// The first occurrence after `now`.
    pub fn next(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&tz).date_naive();
        (0..62)
            .map(|ahead| today + Duration::days(ahead))
            .filter(|d| self.runs_on(*d))
            .map(|d| local(tz, d, self.at))
            .find(|t| *t > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(kind: ReportKind) -> Slot {
        Slot {
            kind,
            at: NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
            days: vec![],
            weekday: Weekday::Mon,
            day: 1,
            catch_up: Duration::hours(12),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn end_of_day_is_due_from_19_00_local() {
        let tas: Tz = "Asia/Tashkent".parse().unwrap();
        let s = slot(ReportKind::EndOfDay);
        // 18:59:59 in Tashkent is 13:59:59 UTC: the latest is yesterday's.
        let (t, p) = s.latest(tas, utc("2026-12-02T13:59:59Z")).unwrap();
        assert_eq!(t, utc("2026-12-01T14:00:00Z"));
        assert_eq!(p.label(), "01.12.2026");
        assert_eq!(
            s.next(tas, utc("2026-12-02T13:59:59Z")),
            Some(utc("2026-12-02T14:00:00Z"))
        );
        let (t, p) = s.due(tas, utc("2026-12-02T14:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-12-02T14:00:00Z"));
        assert_eq!(p.label(), "02.12.2026");
        assert_eq!(p.from, utc("2026-12-01T19:00:00Z"));
        // Missed by more than the catch-up window: not sent late.
        assert!(s.due(tas, utc("2026-12-03T03:00:00Z")).is_none());
    }

    #[test]
    fn working_days_only() {
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        let mut s = slot(ReportKind::EndOfDay);
        s.days = vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        s.catch_up = Duration::days(7);
        // Sunday 06.12.2026 20:00 MSK: the latest is Friday's.
        let (_, p) = s.latest(msk, utc("2026-12-06T17:00:00Z")).unwrap();
        assert_eq!(p.label(), "04.12.2026");
    }

    #[test]
    fn weekly_and_monthly_cover_the_period_before() {
        let msk: Tz = "Europe/Moscow".parse().unwrap();
        let mut w = slot(ReportKind::Weekly);
        w.at = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let (t, p) = w.latest(msk, utc("2026-12-07T06:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-12-07T06:00:00Z"));
        assert_eq!(p.label(), "30.11.2026 – 06.12.2026");
        let mut m = slot(ReportKind::Monthly);
        m.at = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let (_, p) = m.latest(msk, utc("2026-12-01T06:00:00Z")).unwrap();
        assert_eq!(p.label(), "01.11.2026 – 30.11.2026");
    }
}
