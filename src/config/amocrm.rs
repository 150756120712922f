use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/amocrm.toml` (optional: present = the amoCRM / Kommo account is connected).
///
/// Secrets come from the environment: `LEADBOT_AMOCRM_WEBHOOK_SECRET` (the path segment of the
/// webhook URL, `/webhooks/amocrm/{secret}`: amoCRM does not sign webhooks),
/// `LEADBOT_AMOCRM_TOKEN` (a private integration's long-lived token), or for OAuth
/// `LEADBOT_AMOCRM_CLIENT_ID`, `LEADBOT_AMOCRM_CLIENT_SECRET` and, once, the authorization code
/// `LEADBOT_AMOCRM_AUTH_CODE` (exchanged at start when no tokens are stored yet).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoCrmSettings {
    /// The account's subdomain: `example` of `example.amocrm.ru`.
    pub subdomain: String,
    /// `amocrm.ru` (amoCRM) or `kommo.com` (Kommo).
    #[serde(default = "default_domain")]
    pub domain: String,
    /// The account's id (`account[id]` in every webhook).
    pub account_id: u64,
    #[serde(default)]
    pub auth: AmoCrmAuth,
    /// The integration's redirect URI (OAuth only: the token endpoint wants it on every exchange).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// The pipeline the bot works in, and its statuses.
    pub pipeline: AmoPipeline,
    /// The responsible user while the bot works (amoCRM always has one); unset keeps the account's.
    #[serde(default)]
    pub bot_user_id: Option<u64>,
    /// Tags added (never replacing the card's own tags).
    #[serde(default)]
    pub tags: AmoTags,
    /// How a lead's channel is found: a tag, or the value of a lead field, mapped to a leadbot
    /// channel (`webchat`, `telegram`, ...). Leads with none get the fallback ("no channel").
    #[serde(default)]
    pub channels: AmoChannels,
    /// How often leads whose webhook was lost are looked for (Digital Pipeline webhooks are sent
    /// once, with no retry).
    #[serde(with = "duration", default = "default_reconcile")]
    pub reconcile_every: Duration,
    #[serde(default)]
    pub limits: AmoLimits,
    /// Leads entering this status go to the executor job board (Telegram `[jobs]`).
    #[serde(default)]
    pub dispatch: Option<AmoDispatch>,
    /// A lead date-time field that gets a booked visit's start (bookings) — the one the SLA
    /// robots' visit confirmations read (robots.toml `visit_at`).
    #[serde(default)]
    pub visit_field_id: Option<u64>,
    /// The account's time zone (date fields are midnights there).
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Where the API is (tests point it elsewhere); default `https://{subdomain}.{domain}`.
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(skip)]
    pub webhook_secret: Option<String>,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub client_id: Option<String>,
    #[serde(skip)]
    pub client_secret: Option<String>,
    #[serde(skip)]
    pub auth_code: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmoCrmAuth {
    /// A private integration's long-lived token (one account; no refresh).
    #[default]
    LongLived,
    /// OAuth 2.0: access tokens for 24 h, single-use refresh tokens, refreshed ahead of time.
    Oauth,
}

/// Status ids (`GET /api/v4/leads/pipelines`) of the pipeline the bot works in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoPipeline {
    pub id: u64,
    /// New leads in these statuses are taken by the bot (e.g. "Неразобранное", the first stage).
    pub take_statuses: Vec<u64>,
    pub bot_processing: u64,
    /// The target status once a phone was obtained and a manager assigned.
    pub assigned: u64,
    pub low_quality: u64,
    pub needs_review: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoTags {
    /// Added when the bot takes a lead (empty: none).
    #[serde(default = "default_bot_tag")]
    pub bot: String,
    /// Added when the bot gives up on a lead (low quality / review).
    #[serde(default = "default_failed_tag")]
    pub failed: String,
}

impl Default for AmoTags {
    fn default() -> Self {
        AmoTags {
            bot: default_bot_tag(),
            failed: default_failed_tag(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoChannels {
    /// Tag name → channel.
    #[serde(default)]
    pub by_tag: BTreeMap<String, String>,
    /// A lead field (e.g. a UTM source field) whose value names the channel through `by_value`.
    #[serde(default)]
    pub field_id: Option<u64>,
    #[serde(default)]
    pub by_value: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoLimits {
    /// Requests per second to the account (amoCRM allows 7; the default keeps a margin).
    #[serde(default = "default_rate")]
    pub rate_per_sec: f64,
    /// After amoCRM blocked the account (its 403 page), calls pause this long, then one
    /// request probes whether it is unblocked.
    #[serde(with = "duration", default = "default_block_pause")]
    pub block_pause: Duration,
}

impl Default for AmoLimits {
    fn default() -> Self {
        AmoLimits {
            rate_per_sec: default_rate(),
            block_pause: default_block_pause(),
        }
    }
}

fn default_rate() -> f64 {
    6.0
}
fn default_block_pause() -> Duration {
    Duration::from_secs(600)
}

/// The "Поиск исполнителя" status and the fields a job is read from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoDispatch {
    pub pipeline_id: u64,
    pub status_id: u64,
    /// Lead fields shown in the job post.
    #[serde(default)]
    pub conditions_field_id: Option<u64>,
    #[serde(default)]
    pub dates_field_ids: Vec<u64>,
    #[serde(default)]
    pub skills_field_id: Option<u64>,
    /// A text field that gets "Name (@login)" of the winner when they are not an amoCRM user.
    #[serde(default)]
    pub executor_field_id: Option<u64>,
}

fn default_domain() -> String {
    "amocrm.ru".into()
}
fn default_tz() -> String {
    "Europe/Moscow".into()
}
fn default_reconcile() -> Duration {
    Duration::from_secs(120)
}
fn default_bot_tag() -> String {
    "leadbot".into()
}
fn default_failed_tag() -> String {
    "leadbot: без телефона".into()
}

impl AmoCrmSettings {
    /// `https://{subdomain}.{domain}` unless configured otherwise.
    pub fn base(&self) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| format!("https://{}.{}", self.subdomain, self.domain))
            .trim_end_matches('/')
            .to_string()
    }

    /// The account's time zone (validated by `check-config`; Moscow if it does not parse).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Moscow)
    }

    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.webhook_secret = self
            .webhook_secret
            .take()
            .or_else(|| env("LEADBOT_AMOCRM_WEBHOOK_SECRET"));
        self.token = self.token.take().or_else(|| env("LEADBOT_AMOCRM_TOKEN"));
        self.client_id = self.client_id.take().or_else(|| env("LEADBOT_AMOCRM_CLIENT_ID"));
        self.client_secret = self
            .client_secret
            .take()
            .or_else(|| env("LEADBOT_AMOCRM_CLIENT_SECRET"));
        self.auth_code = self.auth_code.take().or_else(|| env("LEADBOT_AMOCRM_AUTH_CODE"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        let sub_ok =
            !self.subdomain.is_empty() && self.subdomain.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !sub_ok {
            issues.push(
                file,
                "subdomain",
                "must be the account's subdomain, e.g. `example` of example.amocrm.ru",
            );
        }
        if !matches!(self.domain.as_str(), "amocrm.ru" | "kommo.com" | "amocrm.com") {
            issues.push(file, "domain", "must be amocrm.ru or kommo.com");
        }
        if self.account_id == 0 {
            issues.push(
                file,
                "account_id",
                "must be the account's id (account[id] of its webhooks)",
            );
        }
        let p = &self.pipeline;
        if p.take_statuses.is_empty() {
            issues.push(file, "pipeline.take_statuses", "name at least one status id");
        }
        for (key, id) in [
            ("pipeline.id", p.id),
            ("pipeline.bot_processing", p.bot_processing),
            ("pipeline.assigned", p.assigned),
            ("pipeline.low_quality", p.low_quality),
            ("pipeline.needs_review", p.needs_review),
        ] {
            if id == 0 {
                issues.push(file, key, "must be an id from GET /api/v4/leads/pipelines");
            }
        }
        if !(self.limits.rate_per_sec > 0.0 && self.limits.rate_per_sec <= 7.0) {
            issues.push(
                file,
                "limits.rate_per_sec",
                "must be above 0 and at most 7 (amoCRM blocks accounts that exceed 7 requests/s)",
            );
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            issues.push(file, "timezone", "must be an IANA time zone, e.g. Europe/Moscow");
        }
        if self.limits.block_pause.is_zero() {
            issues.push(file, "limits.block_pause", "must be longer than zero");
        }
        if self.reconcile_every.is_zero() {
            issues.push(file, "reconcile_every", "must be longer than zero");
        }
        for (what, map) in [
            ("channels.by_tag", &self.channels.by_tag),
            ("channels.by_value", &self.channels.by_value),
        ] {
            for (k, channel) in map {
                if !crate::domain::LEAD_ORIGINS.contains(&channel.as_str()) {
                    issues.push(file, format!("{what}.{k}"), format!("unknown channel `{channel}`"));
                }
            }
        }
        if let Some(base) = &self.base_url {
            if reqwest::Url::parse(base).is_err() {
                issues.push(file, "base_url", "must be a URL");
            }
        }
        match &self.webhook_secret {
            None => issues.push(
                file,
                "auth",
                "webhooks cannot be verified: set LEADBOT_AMOCRM_WEBHOOK_SECRET (the secret path segment of /webhooks/amocrm/{secret})",
            ),
            Some(s) if s.len() < 16 => issues.push(
                file,
                "auth",
                "LEADBOT_AMOCRM_WEBHOOK_SECRET must be at least 16 characters (it is the webhook's only credential)",
            ),
            Some(_) => {}
        }
        match self.auth {
            AmoCrmAuth::LongLived => {
                if self.token.is_none() {
                    issues.push(file, "auth", "long_lived auth needs LEADBOT_AMOCRM_TOKEN");
                }
            }
            AmoCrmAuth::Oauth => {
                if self.client_id.is_none() || self.client_secret.is_none() {
                    issues.push(
                        file,
                        "auth",
                        "oauth needs LEADBOT_AMOCRM_CLIENT_ID and LEADBOT_AMOCRM_CLIENT_SECRET",
                    );
                }
                if self.redirect_uri.is_none() {
                    issues.push(file, "redirect_uri", "oauth needs the integration's redirect URI");
                }
            }
        }
    }
}
