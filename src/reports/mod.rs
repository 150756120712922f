//! Reports for the head of sales (pure): end of day, weekly and monthly pipeline figures, and
//! per-channel figures, computed from one period's rows (`crate::domain::Report*`), laid out as
//! titled tables with Russian headings, and rendered as JSON, CSV, XLSX, an HTML e-mail body and
//! a short text. When a scheduled report is due is in `schedule.rs`. No store, actor, HTTP or
//! adapter code here: the runtime gathers the rows and delivers what comes out.

pub mod figures;
pub mod period;
pub mod render;
pub mod schedule;
mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::{ReportCounter, ReportCsat, ReportDeal, ReportLead, ReportViolation};
pub use period::{Period, PeriodKind};
pub use render::Format;
pub use table::{Cell, Report, Section};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// The 19:00 check: open deals without a task or comment, stuck or stale; the day's
    /// violations per manager.
    EndOfDay,
    /// Conversion, slow deals, visits, returns, repeat sales, channels — over a week.
    Weekly,
    /// The same over a month.
    Monthly,
    /// Per-channel figures alone.
    Channels,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] = [
        ReportKind::EndOfDay,
        ReportKind::Weekly,
        ReportKind::Monthly,
        ReportKind::Channels,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::EndOfDay => "end_of_day",
            ReportKind::Weekly => "weekly",
            ReportKind::Monthly => "monthly",
            ReportKind::Channels => "channels",
        }
    }

    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The period a report of this kind covers when none is given.
    pub fn period_kind(self) -> PeriodKind {
        match self {
            ReportKind::EndOfDay => PeriodKind::Day,
            ReportKind::Weekly | ReportKind::Channels => PeriodKind::Week,
            ReportKind::Monthly => PeriodKind::Month,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ReportKind::EndOfDay => "Отчёт на конец дня",
            ReportKind::Weekly => "Еженедельный отчёт",
            ReportKind::Monthly => "Ежемесячный отчёт",
            ReportKind::Channels => "Отчёт по каналам",
        }
    }

    /// For file names: `end_of_day-2026-12-01.xlsx`.
    pub fn file_name(self, period: &Period, ext: &str) -> String {
        format!("{}-{}.{ext}", self.as_str(), period.start.format("%Y-%m-%d"))
    }
}

impl std::fmt::Display for ReportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(|e| serde::de::Error::custom(format!("`{s}`: {e}")))
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// What the figures are measured against (`[figures]` of `config/reports.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportOptions {
    /// Alert when "Квалификация → Встреча" is below this, in percent.
    pub conversion_alert_below_pct: f64,
    /// A deal in «Неразобранное» this long is "stuck".
    #[serde(deserialize_with = "duration", serialize_with = "ser_duration")]
    pub stuck_after: Duration,
    /// An open deal without a stage move or touch this long is "stale".
    #[serde(deserialize_with = "duration", serialize_with = "ser_duration")]
    pub stale_after: Duration,
    /// Stages of finished deals (not in the end-of-day lists).
    pub closed_stages: Vec<String>,
    /// The robot whose violation is "over 36 h from the first reply".
    pub slow_deal_robot: String,
    /// The robot whose violation is "visit not confirmed".
    pub visit_unconfirmed_robot: String,
    /// Repeat bookings a month (prorated for other periods).
    pub repeat_bookings_plan: f64,
    /// Repeat-sales revenue a month (prorated for other periods).
    pub repeat_revenue_target: f64,
    pub currency: String,
    /// The bot's reply within this counts as within the SLA.
    #[serde(deserialize_with = "duration", serialize_with = "ser_duration")]
    pub reply_sla: Duration,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            conversion_alert_below_pct: 40.0,
            stuck_after: Duration::from_secs(30 * 60),
            stale_after: Duration::from_secs(24 * 3600),
            closed_stages: vec!["Успешно".into(), "Отказ".into()],
            slow_deal_robot: "deal_speed_36h".into(),
            visit_unconfirmed_robot: "visit_not_confirmed".into(),
            repeat_bookings_plan: 40.0,
            repeat_revenue_target: 40_000_000.0,
            currency: "сум".into(),
            reply_sla: Duration::from_secs(3),
        }
    }
}

/// The rows one report is computed from.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// Every tracked deal as it stands.
    pub deals: Vec<ReportDeal>,
    /// Detected in the period.
    pub violations: Vec<ReportViolation>,
    /// Counted in the period.
    pub counters: Vec<ReportCounter>,
    /// Created in the period, with their conversations.
    pub leads: Vec<ReportLead>,
    /// Satisfaction scores given in the period (bookings).
    pub csat: Vec<ReportCsat>,
}

/// What the report needs besides the rows.
#[derive(Debug, Clone)]
pub struct ReportContext<'a> {
    pub options: &'a ReportOptions,
    pub time_zone: Tz,
    /// Manager names by `crm:user id`.
    pub names: &'a BTreeMap<String, String>,
    pub now: DateTime<Utc>,
}

/// Computes a report of `kind` over `period`.
pub fn build(kind: ReportKind, ctx: &ReportContext<'_>, period: &Period, input: &ReportInput) -> Report {
    let o = ctx.options;
    let mut report = Report::new(kind, ctx.time_zone, period, ctx.now);
    match kind {
        ReportKind::EndOfDay => {
            let violations: Vec<ReportViolation> = input
                .violations
                .iter()
                .filter(|v| period.contains(v.detected_at))
                .cloned()
                .collect();
            let f = figures::end_of_day(o, &input.deals, &violations, ctx.names, ctx.now);
            if f.violations_total > 0 {
                report.alerts.push(format!("Нарушений за день: {}", f.violations_total));
            }
            table::end_of_day(&mut report, &f);
        }
        ReportKind::Weekly | ReportKind::Monthly => {
            let f = figures::pipeline(o, period, &input.deals, &input.counters, &input.violations, ctx.names);
            report.alerts.extend(f.alerts.iter().cloned());
            table::pipeline(&mut report, &f, o);
            let c = figures::channels(o, period, &input.leads);
            table::channels(&mut report, &c);
            table::csat(&mut report, &input.csat, ctx.names);
        }
        ReportKind::Channels => {
            let c = figures::channels(o, period, &input.leads);
            table::channels(&mut report, &c);
            table::csat(&mut report, &input.csat, ctx.names);
        }
    }
    report.finish();
    report
}
