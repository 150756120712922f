use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/telegram.toml` (optional: present = the Telegram bot is on). Secrets from the
/// environment: `LEADBOT_TELEGRAM_TOKEN`, `LEADBOT_TELEGRAM_WEBHOOK_SECRET`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramSettings {
    /// The bot's username (deep links `t.me/<bot>?start=...`, the webhook path).
    pub bot: String,
    #[serde(default = "default_api")]
    pub api_base: String,
    /// Long polling (`getUpdates`) instead of a webhook, for machines without a public address.
    #[serde(default)]
    pub polling: bool,
    /// Public base URL of leadbot, for `leadbot telegram set-webhook`.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub limits: TelegramLimits,
    #[serde(default)]
    pub texts: TelegramTexts,
    /// The executor job board; absent: off.
    #[serde(default)]
    pub jobs: Option<JobBoardSettings>,
    #[serde(default)]
    pub executors: Vec<Executor>,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub webhook_secret: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramLimits {
    /// Messages per second into one chat (Telegram: about 1).
    pub per_chat_per_sec: f64,
    /// Messages per second overall (Telegram: about 30).
    pub global_per_sec: f64,
    /// Messages per minute into one group (Telegram: 20).
    pub group_per_min: f64,
}

impl Default for TelegramLimits {
    fn default() -> Self {
        TelegramLimits {
            per_chat_per_sec: 1.0,
            global_per_sec: 30.0,
            group_per_min: 20.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramTexts {
    pub contact_button: String,
    pub contact_placeholder: String,
    pub take_button: String,
    pub phone_button: String,
    pub taken_alert: String,
    pub you_won: String,
    /// The group post once taken; `{name}` is replaced.
    pub found: String,
    pub phone_sent: String,
    /// `{name}` and `{phone}` are replaced.
    pub phone_alert: String,
    pub job_gone: String,
}

impl Default for TelegramTexts {
    fn default() -> Self {
        TelegramTexts {
            contact_button: "📱 Отправить номер".into(),
            contact_placeholder: "или введите номер вручную".into(),
            take_button: "Забрать заказ".into(),
            phone_button: "Получить номер клиента".into(),
            taken_alert: "Заказ уже забран другим исполнителем".into(),
            you_won: "Заказ ваш! Менеджер получил уведомление.".into(),
            found: "Исполнитель найден: {name}".into(),
            phone_sent: "Отправил номер клиента вам в личные сообщения".into(),
            phone_alert: "Клиент: {name}, {phone}".into(),
            job_gone: "Этого заказа больше нет".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobBoardSettings {
    /// The executors' group (a negative id, `-100…` for supergroups).
    pub group_chat_id: i64,
    /// `{deal_id}`, `{title}`, `{conditions}`, `{dates}`, `{pay}`, `{skills}` are replaced.
    pub template: String,
    /// An unclaimed job is posted again after this long (absent: never).
    #[serde(default, with = "duration::option")]
    pub repost_after: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Executor {
    pub telegram_id: i64,
    /// Their user in the CRM whose deals the board takes (Bitrix24, or amoCRM when it is the
    /// only one); unset: their name and login are written into the deal instead.
    #[serde(default)]
    pub crm_user_id: Option<String>,
    /// Their amoCRM user when both CRMs send deals.
    #[serde(default)]
    pub amocrm_user_id: Option<String>,
    pub name: String,
}

fn default_api() -> String {
    "https://api.telegram.org".into()
}

impl TelegramSettings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.token = self.token.take().or_else(|| env("LEADBOT_TELEGRAM_TOKEN"));
        self.webhook_secret = self
            .webhook_secret
            .take()
            .or_else(|| env("LEADBOT_TELEGRAM_WEBHOOK_SECRET"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.bot.is_empty() || !self.bot.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            issues.push(file, "bot", "must be the bot's username (letters, digits, _)");
        }
        if reqwest::Url::parse(&self.api_base).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if self.token.is_none() {
            issues.push(file, "bot", "the bot token is missing: set LEADBOT_TELEGRAM_TOKEN");
        }
        if !self.polling {
            match &self.webhook_secret {
                None => issues.push(
                    file,
                    "polling",
                    "webhook mode needs LEADBOT_TELEGRAM_WEBHOOK_SECRET (or polling = true)",
                ),
                Some(s)
                    if s.is_empty()
                        || s.len() > 256
                        || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    issues.push(
                        file,
                        "polling",
                        "LEADBOT_TELEGRAM_WEBHOOK_SECRET must be 1-256 of A-Z a-z 0-9 _ -",
                    )
                }
                Some(_) => {}
            }
        }
        let l = &self.limits;
        if l.per_chat_per_sec <= 0.0 || l.global_per_sec <= 0.0 || l.group_per_min <= 0.0 {
            issues.push(file, "limits", "every limit must be above zero");
        }
        if let Some(j) = &self.jobs {
            if j.group_chat_id >= 0 {
                issues.push(
                    file,
                    "jobs.group_chat_id",
                    "a group chat id is negative (e.g. -1001234567890)",
                );
            }
            if j.template.trim().is_empty() {
                issues.push(file, "jobs.template", "must not be empty");
            }
        }
    }
}
