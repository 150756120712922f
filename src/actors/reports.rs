//! The reports at run time: gathers a period's rows from the store, has `crate::reports`
//! compute and render them, and sends the scheduled ones — each (report, period, recipient,
//! way) recorded with its outbox row in one transaction, so it goes out once, also across
//! restarts; one missed while the service was down is sent at the next start (within the
//! schedule's catch-up window). The API and `leadbot report` use the same `report` call.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;

use crate::config::{Config, Recipient};
use crate::domain::ReportCsat;
use crate::domain::ReportSend;
use crate::outbox::{NoticeVia, ReportDelivery, KIND_REPORT};
use crate::reports::render::{self, RenderError};
use crate::reports::schedule::Slot;
use crate::reports::{build, Format, Period, Report, ReportContext, ReportInput, ReportKind, ReportOptions};
use crate::store::{NewOutbox, ReportStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// A request's period that cannot be a period.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeriodError {
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    BadDate(String),
    #[error("`to` must be after `from` (the period is [from, to), whole days)")]
    Empty,
    #[error("a period of at most 366 days")]
    TooLong,
}

/// The longest period a request may ask for.
const MAX_DAYS: i64 = 366;

pub struct ReportService {
    store: Arc<dyn ReportStore>,
    options: ReportOptions,
    time_zone: Tz,
    /// Manager names by `crm:user id`.
    names: BTreeMap<String, String>,
    /// `head` and the managers, with their ways.
    people: BTreeMap<String, Recipient>,
    slots: Vec<(Slot, Vec<String>)>,
    outbox_wake: Option<Arc<Notify>>,
    /// Where the bookings' satisfaction scores are (bookings on).
    csat: Option<Arc<dyn crate::store::BookingStore>>,
}

impl ReportService {
    /// The time zone and people of robots.toml (UTC and nobody without it), the schedule and
    /// figures of reports.toml (defaults and no schedule without it).
    pub fn new(store: Arc<dyn ReportStore>, config: &Config, outbox_wake: Option<Arc<Notify>>) -> ReportService {
        let robots = config.robots.as_ref();
        let mut people = BTreeMap::new();
        let mut names = BTreeMap::new();
        if let Some(r) = robots {
            people.insert("head".to_string(), r.head.clone());
            for (k, m) in &r.managers {
                people.insert(k.clone(), m.clone());
                if !m.name.is_empty() {
                    names.insert(k.clone(), m.name.clone());
                }
            }
        }
        ReportService {
            store,
            options: config.reports.as_ref().map(|r| r.figures.clone()).unwrap_or_default(),
            time_zone: robots.map_or(Tz::UTC, |r| r.book.time_zone),
            names,
            people,
            slots: config.reports.as_ref().map(|r| r.slots()).unwrap_or_default(),
            outbox_wake,
            csat: None,
        }
    }

    /// The satisfaction scores of bookings go into the weekly, monthly and channel reports.
    pub fn with_csat(mut self, store: Arc<dyn crate::store::BookingStore>) -> ReportService {
        self.csat = Some(store);
        self
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    pub fn has_schedule(&self) -> bool {
        !self.slots.is_empty()
    }

    /// The period of a request: whole local days `[from, to)`; without `to` the period of the
    /// report's kind that holds `from`; without either, the one that holds `now`.
    pub fn period(
        &self,
        kind: ReportKind,
        from: Option<&str>,
        to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Period, PeriodError> {
        let date = |s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                // Years a sales report can be about (and no calendar arithmetic near the end of
                // chrono's range).
                .filter(|d| (1970..=9999).contains(&d.year()))
                .ok_or_else(|| PeriodError::BadDate(s.to_string()))
        };
        let tz = self.time_zone;
        let period = match (from.map(date).transpose()?, to.map(date).transpose()?) {
            (Some(f), Some(t)) => Period::days(tz, f, t).ok_or(PeriodError::Empty)?,
            (Some(f), None) => Period::containing(kind.period_kind(), tz, crate::reports::period::day_start(tz, f)),
            (None, Some(t)) => {
                let last = crate::reports::period::day_start(tz, t) - chrono::Duration::seconds(1);
                Period::containing(kind.period_kind(), tz, last)
            }
            (None, None) => Period::containing(kind.period_kind(), tz, now),
        };
        if period.len_days() > MAX_DAYS {
            return Err(PeriodError::TooLong);
        }
        Ok(period)
    }

    /// A report over `period`, as of `now`.
    pub async fn report(&self, kind: ReportKind, period: &Period, now: DateTime<Utc>) -> Result<Report, ReportError> {
        let (from, to) = (period.from, period.to);
        let input = ReportInput {
            deals: match kind {
                ReportKind::Channels => Vec::new(),
                _ => self.store.report_deals().await?,
            },
            violations: match kind {
                ReportKind::Channels => Vec::new(),
                _ => self.store.report_violations(from, to).await?,
            },
            counters: match kind {
                ReportKind::Weekly | ReportKind::Monthly => self.store.report_counters(from, to).await?,
                _ => Vec::new(),
            },
            leads: match kind {
                ReportKind::EndOfDay => Vec::new(),
                _ => self.store.report_leads(from, to).await?,
            },
            csat: match (&self.csat, kind) {
                (Some(store), ReportKind::Weekly | ReportKind::Monthly | ReportKind::Channels) => store
                    .csat_summary(from, to)
                    .await?
                    .into_iter()
                    .map(|c| ReportCsat {
                        channel: c.channel,
                        manager_id: c.manager_id,
                        service: c.service,
                        count: c.count,
                        sum: c.sum,
                    })
                    .collect(),
                _ => Vec::new(),
            },
        };
        let ctx = ReportContext {
            options: &self.options,
            time_zone: self.time_zone,
            names: &self.names,
            now,
        };
        Ok(build(kind, &ctx, period, &input))
    }

    /// The ways to reach a recipient: (`tg` / `mail`, how).
    fn ways(&self, who: &str) -> Vec<(&'static str, NoticeVia)> {
        let Some(p) = self.people.get(who) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(chat_id) = p.telegram_chat_id {
            out.push(("tg", NoticeVia::Telegram { chat_id }));
        }
        if let Some(to) = &p.email {
            out.push(("mail", NoticeVia::Email { to: to.clone() }));
        }
        out
    }

    /// Sends every scheduled report due at `now` that was not sent yet; returns the keys sent.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<Vec<String>, ReportError> {
        let mut sent = Vec::new();
        for (slot, to) in &self.slots {
            let Some((_, period)) = slot.due(self.time_zone, now) else {
                continue;
            };
            let mut rendered: Option<(Report, Vec<u8>)> = None;
            for who in to {
                let ways = self.ways(who);
                if ways.is_empty() {
                    tracing::debug!(report = %slot.kind, recipient = %who, "no telegram_chat_id or email: report not sent");
                }
                for (via_name, via) in ways {
                    let key = format!("{}|{}|{who}|{via_name}", slot.kind, period.start);
                    if self.store.report_send_exists(&key).await? {
                        continue;
                    }
                    if rendered.is_none() {
                        let report = self.report(slot.kind, &period, now).await?;
                        let xlsx = render::xlsx(&report)?;
                        rendered = Some((report, xlsx));
                    }
                    let Some((report, xlsx)) = rendered.as_ref() else {
                        continue;
                    };
                    let name = self.people.get(who).map(|p| p.name.clone()).unwrap_or_default();
                    let delivery = ReportDelivery {
                        report: slot.kind.as_str().to_string(),
                        period: report.period.clone(),
                        recipient: who.clone(),
                        recipient_name: name,
                        subject: format!("{} · {}", report.title, report.period),
                        text: render::summary(report),
                        html: render::html(report),
                        file_name: slot.kind.file_name(&period, Format::Xlsx.ext()),
                        content_type: Format::Xlsx.content_type().to_string(),
                        file: base64::engine::general_purpose::STANDARD.encode(xlsx),
                        via,
                    };
                    let row = NewOutbox {
                        kind: KIND_REPORT.to_string(),
                        payload: serde_json::to_value(&delivery).map_err(RenderError::from)?,
                        idempotency_key: format!("report:{key}"),
                        delivered: false,
                    };
                    let send = ReportSend {
                        key: key.clone(),
                        kind: slot.kind.as_str().to_string(),
                        period_from: period.from,
                        period_to: period.to,
                        recipient: who.clone(),
                    };
                    if self.store.record_report_send(&send, &[row]).await? {
                        metrics::counter!(crate::telemetry::REPORTS_QUEUED, "report" => slot.kind.as_str(), "via" => via_name)
                            .increment(1);
                        tracing::info!(report = %slot.kind, period = %report.period, recipient = %who, via = via_name, "report queued");
                        sent.push(key);
                    }
                }
            }
        }
        if !sent.is_empty() {
            if let Some(w) = &self.outbox_wake {
                w.notify_one();
            }
        }
        Ok(sent)
    }

    /// Sets the per-channel gauges from today's leads (the account's local day).
    pub async fn update_channel_metrics(&self, now: DateTime<Utc>) -> Result<(), ReportError> {
        use crate::telemetry::*;
        let period = Period::containing(crate::reports::PeriodKind::Day, self.time_zone, now);
        let leads = self.store.report_leads(period.from, period.to).await?;
        let figures = crate::reports::figures::channels(&self.options, &period, &leads);
        for f in figures {
            // Labels from a fixed set: the channels leads come in by.
            let channel: &'static str = crate::domain::LEAD_ORIGINS
                .iter()
                .find(|c| **c == f.channel)
                .copied()
                .unwrap_or("other");
            let ratio = |p: Option<f64>| p.map_or(f64::NAN, |p| p / 100.0);
            metrics::gauge!(CHANNEL_LEADS, "channel" => channel).set(f64::from(f.leads));
            metrics::gauge!(CHANNEL_PHONE_RATIO, "channel" => channel).set(ratio(f.phone_pct));
            metrics::gauge!(CHANNEL_HANDED_RATIO, "channel" => channel).set(ratio(f.to_manager_pct));
            metrics::gauge!(CHANNEL_TIME_TO_PHONE, "channel" => channel)
                .set(f.time_to_phone_median_s.unwrap_or(f64::NAN));
            metrics::gauge!(CHANNEL_REPLY_SLA_RATIO, "channel" => channel).set(ratio(f.reply_sla_pct));
            metrics::gauge!(CHANNEL_REPLY_P95, "channel" => channel).set(f.reply_p95_s.unwrap_or(f64::NAN));
        }
        Ok(())
    }

    /// Keeps the per-channel gauges current (once a minute).
    pub async fn run_metrics(self: Arc<Self>, every: Duration) {
        loop {
            if let Err(e) = self.update_channel_metrics(Utc::now()).await {
                tracing::debug!(error = %e, "per-channel metrics: will try again");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Checks the schedule at start (a missed report goes out now) and then at every
    /// occurrence (and once a minute, so a changed clock is noticed).
    pub async fn run(self: Arc<Self>) {
        loop {
            let now = Utc::now();
            if let Err(e) = self.tick(now).await {
                tracing::warn!(error = %e, "scheduled reports: will try again");
            }
            let next = self
                .slots
                .iter()
                .filter_map(|(s, _)| s.next(self.time_zone, now))
                .min()
                .map(|t| (t - now).to_std().unwrap_or_default())
                .unwrap_or(Duration::from_secs(60));
            tokio::time::sleep(next.clamp(Duration::from_millis(200), Duration::from_secs(60))).await;
        }
    }
}
