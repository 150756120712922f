use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/leadbot.toml`: how the service runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub runtime: RuntimeSettings,
    pub phones: PhoneSettings,
    pub outcome: OutcomeSettings,
    #[serde(default)]
    pub notify: NotifySettings,
    #[serde(default)]
    pub widget: WidgetSettings,
}

/// `[widget]`: the chat bubble a site adds with one `<script>` (README "Put the chat on your
/// site"): its look, its greeting, the consent line, and which sites may embed it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WidgetSettings {
    /// The name in the chat's header.
    pub name: String,
    /// The launcher's and the header's colour, `#rrggbb`.
    pub color: String,
    /// An avatar image URL for the header (https), or none.
    pub avatar: Option<String>,
    /// Shown as the first message when the chat opens (not sent anywhere).
    pub greeting: String,
    /// The privacy policy the consent line links to; the widget asks for consent before the
    /// first message.
    pub privacy_url: Option<String>,
    /// The consent line before the first message (the link follows it).
    pub consent: String,
    /// Sites allowed to call the chat API from their pages (CORS), e.g.
    /// `["https://example.ru", "https://www.example.ru"]`; none: only leadbot's own pages.
    pub allowed_origins: Vec<String>,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            name: "Онлайн-консультант".into(),
            color: "#2563eb".into(),
            avatar: None,
            greeting: "Здравствуйте! Напишите ваш вопрос — ответим здесь же.".into(),
            privacy_url: None,
            consent: "Отправляя сообщение, вы соглашаетесь на обработку персональных данных".into(),
            allowed_origins: vec![],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `host:port` to listen on.
    pub listen: String,
    /// The longest client message accepted, in characters.
    pub max_text_chars: usize,
    /// Bearer token for the operator API (lead inspection, restart, lists). Taken from the
    /// environment variable `LEADBOT_OPERATOR_TOKEN`; when unset the operator API is open
    /// (meant for a service bound to localhost only).
    #[serde(skip)]
    pub operator_token: Option<String>,
    /// The console's session cookie carries `Secure` (set it when leadbot is reached over
    /// HTTPS, e.g. behind a TLS proxy).
    #[serde(default)]
    pub secure_cookies: bool,
    /// How users reach leadbot (`https://leads.example.ru`), for the one-time setup link
    /// printed on the first start; unset: `http://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…` selects PostgreSQL, `sqlite://path` an embedded file named explicitly;
    /// unset (and no `DATABASE_URL`): the embedded file at `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// The embedded SQLite database file (relative paths from the working directory); its
    /// directory is created at start.
    #[serde(default = "default_database_path")]
    pub path: std::path::PathBuf,
    /// PostgreSQL: the pool's size. SQLite: read connections (writes have one of their own).
    pub max_connections: u32,
}

fn default_database_path() -> std::path::PathBuf {
    "data/leadbot.db".into()
}

impl DatabaseSettings {
    /// Where the data lives: `url` when set, else the embedded file at `path`.
    pub fn location(&self) -> Result<crate::store::Location, String> {
        crate::store::Location::from_settings(self.url.as_deref(), &self.path)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSettings {
    /// A lead actor with nothing to do stops after this long; its next event re-activates it.
    #[serde(with = "duration")]
    pub passivate_after: Duration,
    /// Crash restarts of one lead allowed within `restart_window`, then it is parked.
    pub restart_limit: u32,
    #[serde(with = "duration")]
    pub restart_window: Duration,
    /// First restart delay; doubles per restart up to `restart_backoff_max`.
    #[serde(with = "duration")]
    pub restart_backoff: Duration,
    #[serde(with = "duration")]
    pub restart_backoff_max: Duration,
    /// How often the timer service looks for due timers when nothing woke it earlier.
    #[serde(with = "duration")]
    pub timer_poll: Duration,
    /// How often the outbox is scanned for deliveries due for a retry.
    #[serde(with = "duration")]
    pub outbox_poll: Duration,
    /// How often inbox rows not yet applied are looked for (a safety net for lost wake-ups).
    #[serde(with = "duration")]
    pub recovery_scan: Duration,
    /// How long an HTTP request waits for the lead's actor to apply an event before answering.
    #[serde(with = "duration")]
    pub apply_wait: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneSettings {
    /// Default country for numbers written without a country code.
    pub region: String,
    /// ISO regions accepted (empty: any).
    #[serde(default)]
    pub allowed_countries: Vec<String>,
    #[serde(default)]
    pub require_mobile: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureStatus {
    LowQuality,
    NeedsReview,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSettings {
    /// Status for a lead that did not answer or refused: `low_quality` or `needs_review`.
    pub on_failure: FailureStatus,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Manager notifications are POSTed here as JSON (besides the log line). Optional.
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(with = "duration", default = "default_notify_timeout")]
    pub timeout: Duration,
    /// Delivery attempts before an outbox row is marked failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    #[serde(with = "duration", default = "default_retry_base")]
    pub retry_base: Duration,
    /// E-mail for the SLA robots' notices and reports (password: `LEADBOT_SMTP_PASSWORD`).
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
}

/// How a mail server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// STARTTLS on the submission port (587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (465).
    Tls,
    /// Plain text: only for a relay on the same host or a test server.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The sender, "leadbot <robot@example.com>".
    pub from: String,
    #[serde(default)]
    pub username: Option<String>,
    /// From `LEADBOT_SMTP_PASSWORD`; never in the file.
    #[serde(skip)]
    pub password: Option<String>,
}

impl SmtpSettings {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::None => 25,
        })
    }
}

fn default_notify_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_attempts() -> u32 {
    12
}
fn default_retry_base() -> Duration {
    Duration::from_secs(1)
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            webhook_url: None,
            timeout: default_notify_timeout(),
            max_attempts: default_max_attempts(),
            retry_base: default_retry_base(),
            smtp: None,
        }
    }
}

impl ServiceSettings {
    /// Secrets and deployment specifics come from the environment.
    pub(super) fn apply_env(&mut self) {
        // An empty DATABASE_URL is unset (the embedded default), as in many shells' `VAR=`.
        if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty()) {
            self.database.url = Some(url);
        }
        if let Ok(listen) = std::env::var("LEADBOT_LISTEN") {
            self.server.listen = listen;
        }
        if let Ok(url) = std::env::var("LEADBOT_NOTIFY_URL") {
            self.notify.webhook_url = Some(url);
        }
        self.server.operator_token = std::env::var("LEADBOT_OPERATOR_TOKEN").ok().filter(|t| !t.is_empty());
        if let Some(smtp) = self.notify.smtp.as_mut() {
            smtp.password = std::env::var("LEADBOT_SMTP_PASSWORD").ok().filter(|p| !p.is_empty());
        }
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() {
            issues.push(
                file,
                "server.listen",
                format!("`{}` is not host:port", self.server.listen),
            );
        }
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                issues.push(file, "server.public_url", format!("`{url}` is not an http(s) URL"));
            }
        }
        let w = &self.widget;
        let hex = w.color.len() == 7 && w.color.starts_with('#') && w.color[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !hex {
            issues.push(
                file,
                "widget.color",
                format!("`{}` is not a colour like \"#2563eb\"", w.color),
            );
        }
        for (key, url) in [("widget.avatar", &w.avatar), ("widget.privacy_url", &w.privacy_url)] {
            if let Some(u) = url {
                if !(u.starts_with("https://") || u.starts_with("http://") || u.starts_with('/')) {
                    issues.push(file, key, format!("`{u}` is not an http(s) URL or a path"));
                }
            }
        }
        for (i, o) in w.allowed_origins.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.trim_end_matches('/').contains(|c: char| c.is_whitespace())
                && o.split("://").nth(1).is_some_and(|h| !h.is_empty() && !h.contains('/'));
            if !ok {
                issues.push(
                    file,
                    format!("widget.allowed_origins[{i}]"),
                    format!("`{o}` is not an origin like \"https://example.ru\" (scheme and host, no path)"),
                );
            }
        }
        if !w.allowed_origins.is_empty() && w.privacy_url.is_none() {
            issues.push(
                file,
                "widget.privacy_url",
                "a widget on a site needs the privacy policy's address for its consent line",
            );
        }
        if self.server.max_text_chars == 0 {
            issues.push(file, "server.max_text_chars", "must be at least 1");
        }
        if let Err(e) = self.database.location() {
            issues.push(file, "database.url", e);
        }
        if let Some(smtp) = &self.notify.smtp {
            if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                issues.push(
                    file,
                    "notify.smtp.from",
                    format!("`{}` is not an e-mail sender", smtp.from),
                );
            }
            if smtp.host.trim().is_empty() {
                issues.push(file, "notify.smtp.host", "must not be empty");
            }
        }
        if self.database.max_connections < 2 {
            issues.push(file, "database.max_connections", "must be at least 2");
        }
        let rt = &self.runtime;
        for (key, d) in [
            ("runtime.passivate_after", rt.passivate_after),
            ("runtime.restart_window", rt.restart_window),
            ("runtime.timer_poll", rt.timer_poll),
            ("runtime.outbox_poll", rt.outbox_poll),
            ("runtime.recovery_scan", rt.recovery_scan),
        ] {
            if d.is_zero() {
                issues.push(file, key, "must be longer than zero");
            }
        }
        if rt.restart_backoff > rt.restart_backoff_max {
            issues.push(
                file,
                "runtime.restart_backoff",
                "is longer than runtime.restart_backoff_max",
            );
        }
        if leadbot_phone::Extractor::new(&self.phones.region).is_err() {
            issues.push(
                file,
                "phones.region",
                format!("unsupported region `{}`", self.phones.region),
            );
        }
        for (i, c) in self.phones.allowed_countries.iter().enumerate() {
            if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
                issues.push(
                    file,
                    format!("phones.allowed_countries[{i}]"),
                    format!("`{c}` is not a two-letter ISO region like \"RU\""),
                );
            }
        }
        if let Some(url) = &self.notify.webhook_url {
            if !reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https") {
                issues.push(file, "notify.webhook_url", format!("`{url}` is not an http(s) URL"));
            }
        }
        if self.notify.max_attempts == 0 {
            issues.push(file, "notify.max_attempts", "must be at least 1");
        }
    }
}
