//! `reports.toml`: the scheduled reports for the head of sales (when, to whom) and what the
//! figures are measured against. Optional: present = the reports are sent; the on-demand ones
//! (`GET /api/v1/reports/…`, `leadbot report`) work without it, with the defaults. The time zone
//! and the people (`head`, managers by "crm:user id") are those of `robots.toml`.

use chrono::{Duration, NaiveTime, Weekday};
use serde::Deserialize;

use super::ConfigIssues;
use crate::reports::schedule::Slot;
use crate::reports::{ReportKind, ReportOptions};

/// One scheduled report as the file writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Local time, "19:00".
    pub at: String,
    /// End of day: the days it runs on ("mon" … "sun"); every day when empty.
    #[serde(default)]
    pub days: Vec<String>,
    /// Weekly: the day it runs on.
    #[serde(default)]
    pub weekday: Option<String>,
    /// Monthly: the day of the month (1–28).
    #[serde(default)]
    pub day: Option<u32>,
    /// Who gets it: "head" and/or managers as "crm:user id".
    #[serde(default = "head")]
    pub to: Vec<String>,
}

fn yes() -> bool {
    true
}

fn head() -> Vec<String> {
    vec!["head".into()]
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsSettings {
    #[serde(default)]
    pub figures: ReportOptions,
    /// A report missed for longer than this (the service was down) is not sent late.
    #[serde(default, with = "super::duration::option")]
    pub catch_up: Option<std::time::Duration>,
    /// One table, or several (`[[end_of_day]]`) with their own times for different people:
    /// the head of sales at 19:00, a team lead at 18:00.
    #[serde(default, deserialize_with = "one_or_many")]
    pub end_of_day: Vec<ScheduleSpec>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub weekly: Vec<ScheduleSpec>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub monthly: Vec<ScheduleSpec>,
}

/// `[end_of_day]` (one schedule) or `[[end_of_day]]` (several). Read by shape rather than
/// as an untagged enum, so that a typo keeps its own message ("unknown field `tо`").
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ScheduleSpec>, D::Error> {
    use serde::de::Error;
    match toml::Value::deserialize(d)? {
        toml::Value::Array(items) => items
            .into_iter()
            .map(|v| v.try_into::<ScheduleSpec>().map_err(D::Error::custom))
            .collect(),
        v => v.try_into::<ScheduleSpec>().map(|s| vec![s]).map_err(D::Error::custom),
    }
}

fn weekday(s: &str) -> Option<Weekday> {
    s.parse::<Weekday>().ok()
}

impl ReportsSettings {
    pub fn apply_env(&mut self) {}

    fn specs(&self) -> Vec<(ReportKind, &'static str, Option<&ScheduleSpec>)> {
        let kinds = [
            (ReportKind::EndOfDay, "end_of_day", &self.end_of_day),
            (ReportKind::Weekly, "weekly", &self.weekly),
            (ReportKind::Monthly, "monthly", &self.monthly),
        ];
        kinds
            .into_iter()
            .flat_map(|(kind, name, specs)| specs.iter().map(move |s| (kind, name, Some(s))))
            .collect()
    }

    pub fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        let f = &self.figures;
        if !(0.0..=100.0).contains(&f.conversion_alert_below_pct) {
            issues.push(file, "figures.conversion_alert_below_pct", "a percentage, 0 to 100");
        }
        if f.repeat_bookings_plan < 0.0 || f.repeat_revenue_target < 0.0 {
            issues.push(file, "figures", "plans and targets cannot be negative");
        }
        for (_, name, spec) in self.specs() {
            let Some(s) = spec else { continue };
            if NaiveTime::parse_from_str(&s.at, "%H:%M").is_err() {
                issues.push(
                    file,
                    format!("{name}.at"),
                    format!("`{}` is not a time of day, e.g. \"19:00\"", s.at),
                );
            }
            for d in &s.days {
                if weekday(d).is_none() {
                    issues.push(file, format!("{name}.days"), format!("`{d}` is not a day (mon … sun)"));
                }
            }
            if let Some(d) = &s.weekday {
                if weekday(d).is_none() {
                    issues.push(
                        file,
                        format!("{name}.weekday"),
                        format!("`{d}` is not a day (mon … sun)"),
                    );
                }
            }
            if let Some(d) = s.day {
                if !(1..=28).contains(&d) {
                    issues.push(file, format!("{name}.day"), "a day of the month, 1 to 28");
                }
            }
            if s.enabled && s.to.is_empty() {
                issues.push(file, format!("{name}.to"), "nobody to send it to");
            }
            for who in &s.to {
                if who != "head" && !who.contains(':') {
                    issues.push(
                        file,
                        format!("{name}.to"),
                        format!("`{who}`: write \"head\" or a manager as \"crm:user id\""),
                    );
                }
            }
        }
    }

    /// The enabled schedules with their recipients (a valid file: see `validate`).
    pub fn slots(&self) -> Vec<(Slot, Vec<String>)> {
        let catch_up = self
            .catch_up
            .and_then(|d| Duration::from_std(d).ok())
            .unwrap_or_else(|| Duration::hours(12));
        self.specs()
            .into_iter()
            .filter_map(|(kind, _, spec)| {
                let s = spec.filter(|s| s.enabled)?;
                let slot = Slot {
                    kind,
                    at: NaiveTime::parse_from_str(&s.at, "%H:%M").ok()?,
                    days: s.days.iter().filter_map(|d| weekday(d)).collect(),
                    weekday: s.weekday.as_deref().and_then(weekday).unwrap_or(Weekday::Mon),
                    day: s.day.unwrap_or(1),
                    catch_up,
                };
                Some((slot, s.to.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (ReportsSettings, ConfigIssues) {
        let s: ReportsSettings = toml::from_str(text).unwrap();
        let mut issues = ConfigIssues::default();
        s.validate("reports.toml", &mut issues);
        (s, issues)
    }

    #[test]
    fn the_example_is_clean() {
        let (s, issues) = parse(include_str!("../../config/examples/reports.toml"));
        assert!(issues.is_empty(), "{issues}");
        let slots = s.slots();
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0].0.at, NaiveTime::from_hms_opt(19, 0, 0).unwrap());
        assert_eq!(s.figures.conversion_alert_below_pct, 40.0);
    }

    #[test]
    fn mistakes_are_named() {
        let (_, issues) = parse(
            "[figures]\nconversion_alert_below_pct = 140\n[end_of_day]\nat = \"7pm\"\ndays = [\"mo\"]\nto = [\"anna\"]\n[monthly]\nat = \"09:00\"\nday = 31\n",
        );
        let all = issues.to_string();
        assert!(all.contains("end_of_day.at"), "{all}");
        assert!(all.contains("`mo`"), "{all}");
        assert!(all.contains("`anna`"), "{all}");
        assert!(all.contains("monthly.day"), "{all}");
        assert!(all.contains("conversion_alert_below_pct"), "{all}");
    }

    #[test]
    fn a_report_can_go_to_different_people_at_different_times() {
        let (s, issues) = parse(
            "[[end_of_day]]\nat = \"19:00\"\nto = [\"head\"]\n[[end_of_day]]\nat = \"18:00\"\nto = [\"bitrix24:7\"]\n[weekly]\nat = \"09:00\"\nweekday = \"mon\"\n",
        );
        assert!(issues.is_empty(), "{issues}");
        let slots = s.slots();
        assert_eq!(slots.len(), 3);
        let eod: Vec<_> = slots.iter().filter(|(s, _)| s.kind == ReportKind::EndOfDay).collect();
        assert_eq!(eod[0].0.at, NaiveTime::from_hms_opt(19, 0, 0).unwrap());
        assert_eq!(eod[1].0.at, NaiveTime::from_hms_opt(18, 0, 0).unwrap());
        assert_eq!(eod[1].1, vec!["bitrix24:7".to_string()]);
        let typo = toml::from_str::<ReportsSettings>("[[end_of_day]]\nat = \"19:00\"\ntoo = [\"head\"]\n");
        assert!(typo.unwrap_err().to_string().contains("unknown field `too`"));
    }
}
