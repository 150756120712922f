use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/bitrix24.toml` (optional: present = Bitrix24 enabled). Secrets come from the
/// environment: `LEADBOT_BITRIX24_WEBHOOK_URL` (incoming webhook `https://{portal}/rest/{user}/{code}/`),
/// `LEADBOT_BITRIX24_APP_TOKEN` (the outgoing webhook's / app's `application_token`),
/// `LEADBOT_BITRIX24_CLIENT_ID` and `LEADBOT_BITRIX24_CLIENT_SECRET` (OAuth application).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Settings {
    /// The portal's address, e.g. `example.bitrix24.ru` (checked against `auth[domain]`).
    pub portal: String,
    /// The portal's stable id (`auth[member_id]` in every event).
    pub member_id: String,
    #[serde(default)]
    pub auth: Bitrix24Auth,
    /// Only leads created in these statuses are taken by the bot.
    #[serde(default = "default_take_statuses")]
    pub take_statuses: Vec<String>,
    /// Responsible user while the bot works (Bitrix24 always has one); unset keeps the portal's.
    #[serde(default)]
    pub bot_user_id: Option<u64>,
    /// How often `crm.lead.list` looks for leads whose event was lost (Bitrix24 never retries).
    #[serde(with = "duration", default = "default_reconcile")]
    pub reconcile_every: Duration,
    #[serde(default)]
    pub limits: Bitrix24Limits,
    pub statuses: Bitrix24Statuses,
    #[serde(default)]
    pub openlines: OpenLinesSettings,
    /// `SOURCE_ID` → leadbot channel for leads that did not come from an open line.
    #[serde(default)]
    pub channels: BTreeMap<String, String>,
    /// Deals entering this stage go to the executor job board (Telegram `[jobs]`).
    #[serde(default)]
    pub dispatch: Option<DispatchSettings>,
    /// A lead field (e.g. `UF_CRM_VISIT_AT`, type date/time) that gets a booked visit's start
    /// (bookings); without it the visit is only in the timeline comment.
    #[serde(default)]
    pub visit_field: Option<String>,
    /// Base URL of the OAuth server (tests point it elsewhere).
    #[serde(default = "default_oauth_server")]
    pub oauth_server: String,
    #[serde(skip)]
    pub webhook_url: Option<String>,
    #[serde(skip)]
    pub application_token: Option<String>,
    #[serde(skip)]
    pub client_id: Option<String>,
    #[serde(skip)]
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchSettings {
    /// The deal `STAGE_ID` meaning "looking for an executor", e.g. "C1:PREPARATION".
    pub stage_id: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bitrix24Auth {
    /// An incoming webhook (one portal, the simplest setup).
    #[default]
    Webhook,
    /// A local OAuth application: tokens from the install event, refreshed on `expired_token`.
    Oauth,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Limits {
    /// The portal's leaky bucket: requests per second drained (2; Enterprise 5).
    pub rate_per_sec: f64,
    /// Requests allowed in a burst (50; Enterprise 250).
    pub burst: u32,
}

impl Default for Bitrix24Limits {
    fn default() -> Self {
        Bitrix24Limits {
            rate_per_sec: 2.0,
            burst: 50,
        }
    }
}

/// Lead `STATUS_ID`s of the portal (see `crm.status.list`, ENTITY_ID=STATUS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bitrix24Statuses {
    pub bot_processing: String,
    pub assigned: String,
    pub low_quality: String,
    pub needs_review: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenLinesSettings {
    /// The chat bot registered in the open lines (`imbot.v2`); unset: leads from open lines
    /// get the fallback instead of a dialog.
    #[serde(default)]
    pub bot_id: Option<u64>,
    /// The bot's `CLIENT_ID` (required by bot methods called through a webhook).
    #[serde(default)]
    pub client_id: Option<String>,
}

fn default_take_statuses() -> Vec<String> {
    vec!["NEW".into()]
}
fn default_reconcile() -> Duration {
    Duration::from_secs(120)
}
fn default_oauth_server() -> String {
    "https://oauth.bitrix.info".into()
}

impl Bitrix24Settings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.webhook_url = self.webhook_url.take().or_else(|| env("LEADBOT_BITRIX24_WEBHOOK_URL"));
        self.application_token = self
            .application_token
            .take()
            .or_else(|| env("LEADBOT_BITRIX24_APP_TOKEN"));
        self.client_id = self.client_id.take().or_else(|| env("LEADBOT_BITRIX24_CLIENT_ID"));
        self.client_secret = self
            .client_secret
            .take()
            .or_else(|| env("LEADBOT_BITRIX24_CLIENT_SECRET"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.portal.trim().is_empty() || self.portal.contains('/') {
            issues.push(
                file,
                "portal",
                "must be the portal's host name, e.g. example.bitrix24.ru",
            );
        }
        if self.member_id.trim().is_empty() {
            issues.push(
                file,
                "member_id",
                "must not be empty (auth[member_id] of the portal's events)",
            );
        }
        if self.take_statuses.is_empty() {
            issues.push(file, "take_statuses", "name at least one status, e.g. [\"NEW\"]");
        }
        if self.limits.rate_per_sec <= 0.0 {
            issues.push(file, "limits.rate_per_sec", "must be above zero");
        }
        if self.limits.burst == 0 {
            issues.push(file, "limits.burst", "must be at least 1");
        }
        if self.reconcile_every.is_zero() {
            issues.push(file, "reconcile_every", "must be longer than zero");
        }
        let s = &self.statuses;
        for (key, v) in [
            ("statuses.bot_processing", &s.bot_processing),
            ("statuses.assigned", &s.assigned),
            ("statuses.low_quality", &s.low_quality),
            ("statuses.needs_review", &s.needs_review),
        ] {
            if v.trim().is_empty() {
                issues.push(file, key, "must be a STATUS_ID of the portal");
            }
        }
        for (source, channel) in &self.channels {
            if !crate::domain::LEAD_ORIGINS.contains(&channel.as_str()) {
                issues.push(
                    file,
                    format!("channels.{source}"),
                    format!("unknown channel `{channel}`"),
                );
            }
        }
        match self.auth {
            Bitrix24Auth::Webhook => match &self.webhook_url {
                None => issues.push(
                    file,
                    "auth",
                    "webhook auth needs LEADBOT_BITRIX24_WEBHOOK_URL (https://{portal}/rest/{user}/{code}/)",
                ),
                Some(url) if reqwest::Url::parse(url).is_err() || !url.ends_with('/') => issues.push(
                    file,
                    "auth",
                    "LEADBOT_BITRIX24_WEBHOOK_URL must be a URL ending in /, like https://{portal}/rest/{user}/{code}/",
                ),
                Some(_) => {}
            },
            Bitrix24Auth::Oauth => {
                if self.client_id.is_none() || self.client_secret.is_none() {
                    issues.push(
                        file,
                        "auth",
                        "oauth needs LEADBOT_BITRIX24_CLIENT_ID and LEADBOT_BITRIX24_CLIENT_SECRET",
                    );
                }
            }
        }
        if self.application_token.is_none() {
            issues.push(
                file,
                "auth",
                "events cannot be verified: set LEADBOT_BITRIX24_APP_TOKEN (the application token)",
            );
        }
    }
}
