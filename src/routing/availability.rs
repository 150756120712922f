//! When a manager can take leads: weekly working hours in their own time zone, and days off.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::config::ManagerConfig;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    tz: Tz,
    /// Per weekday (Monday first); `None`: no hours configured, always available.
    hours: Option<[Vec<(NaiveTime, NaiveTime)>; 7]>,
    absences: Vec<(NaiveDate, NaiveDate)>,
}

/// A config value that does not parse, with its key below the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityError {
    pub key: String,
    pub message: String,
}

fn err(key: impl Into<String>, message: impl Into<String>) -> AvailabilityError {
    AvailabilityError {
        key: key.into(),
        message: message.into(),
    }
}

impl Availability {
    pub fn always() -> Availability {
        Availability {
            tz: chrono_tz::UTC,
            hours: None,
            absences: vec![],
        }
    }

    pub fn from_config(m: &ManagerConfig, default_tz: &str) -> Result<Availability, AvailabilityError> {
        let tz_name = m.timezone.as_deref().unwrap_or(default_tz);
        let tz: Tz = tz_name
            .parse()
            .map_err(|_| err("timezone", format!("`{tz_name}` is not an IANA time zone")))?;
        let hours = if m.hours.is_empty() {
            None
        } else {
            let mut week: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
            for (day, periods) in &m.hours {
                let idx = DAYS.iter().position(|d| d == day).ok_or_else(|| {
                    err(
                        format!("hours.{day}"),
                        "weekday must be one of mon tue wed thu fri sat sun",
                    )
                })?;
                for (i, p) in periods.iter().enumerate() {
                    let bad = || {
                        err(
                            format!("hours.{day}[{i}]"),
                            format!("`{p}` is not a period like \"09:00-18:00\""),
                        )
                    };
                    let (a, b) = p.split_once('-').ok_or_else(bad)?;
                    let from = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
                    let to = match b.trim() {
                        "24:00" => NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(bad)?,
                        t => NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| bad())?,
                    };
                    if to <= from {
                        return Err(err(format!("hours.{day}[{i}]"), format!("`{p}` ends before it starts")));
                    }
                    week[idx].push((from, to));
                }
            }
            Some(week)
        };
        let mut absences = vec![];
        for (i, a) in m.absences.iter().enumerate() {
            let bad = || {
                err(
                    format!("absences[{i}]"),
                    format!("`{a}` is not a date or a range like 2027-01-01..2027-01-08"),
                )
            };
            let (from, to) = match a.split_once("..") {
                Some((x, y)) => (x.trim(), y.trim()),
                None => (a.trim(), a.trim()),
            };
            let from = NaiveDate::parse_from_str(from, "%Y-%m-%d").map_err(|_| bad())?;
            let to = NaiveDate::parse_from_str(to, "%Y-%m-%d").map_err(|_| bad())?;
            if to < from {
                return Err(bad());
            }
            absences.push((from, to));
        }
        Ok(Availability { tz, hours, absences })
    }

    /// The manager's local date (for absences set through the operator API).
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }

    pub fn is_absent(&self, now: DateTime<Utc>) -> bool {
        let d = self.local_date(now);
        self.absences.iter().any(|(a, b)| *a <= d && d <= *b)
    }

    pub fn in_hours(&self, now: DateTime<Utc>) -> bool {
        let Some(week) = &self.hours else { return true };
        let local = now.with_timezone(&self.tz);
        let t = local.time();
        week[local.weekday().num_days_from_monday() as usize]
            .iter()
            .any(|(a, b)| *a <= t && t < *b)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn manager(hours: &[(&str, &[&str])], absences: &[&str]) -> ManagerConfig {
        ManagerConfig {
            id: "1".into(),
            name: "A".into(),
            groups: vec!["sales".into()],
            tags: vec![],
            capacity: 0,
            weight: 1,
            timezone: Some("Asia/Yekaterinburg".into()),
            hours: hours
                .iter()
                .map(|(d, p)| (d.to_string(), p.iter().map(|s| s.to_string()).collect()))
                .collect(),
            absences: absences.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn hours_are_local_with_several_periods_a_day() {
        let a = Availability::from_config(&manager(&[("mon", &["09:00-13:00", "14:00-18:00"])], &[]), "UTC").unwrap();
        // 2026-11-23 is a Monday; Yekaterinburg is UTC+5.
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
        assert!(!a.in_hours(at(3, 59)), "08:59 local");
        assert!(a.in_hours(at(4, 0)), "09:00 local");
        assert!(!a.in_hours(at(8, 30)), "13:30 local: lunch");
        assert!(a.in_hours(at(12, 59)), "17:59 local");
        assert!(
            !a.in_hours(Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap()),
            "Tuesday: no hours"
        );
    }

    #[test]
    fn absences_by_local_date_and_ranges() {
        let a = Availability::from_config(&manager(&[], &["2026-12-31", "2027-01-02..2027-01-08"]), "UTC").unwrap();
        assert!(
            a.is_absent(Utc.with_ymd_and_hms(2026, 12, 30, 20, 0, 0).unwrap()),
            "already the 31st locally"
        );
        assert!(!a.is_absent(Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap()));
        assert!(a.is_absent(Utc.with_ymd_and_hms(2027, 1, 5, 12, 0, 0).unwrap()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Availability::from_config(&manager(&[("mon", &["9-18"])], &[]), "UTC").unwrap_err();
        assert_eq!(e.key, "hours.mon[0]");
        let e = Availability::from_config(&manager(&[("fri", &["18:00-09:00"])], &[]), "UTC").unwrap_err();
        assert!(e.message.contains("ends before"));
        let e = Availability::from_config(&manager(&[("xyz", &["09:00-10:00"])], &[]), "UTC").unwrap_err();
        assert_eq!(e.key, "hours.xyz");
    }
}
