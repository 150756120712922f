use serde::Deserialize;

use super::ConfigIssues;

/// Which SMS gateway sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProviderKind {
    /// SMS.ru: `LEADBOT_SMS_API_ID`.
    Smsru,
    /// SMSC.ru: `LEADBOT_SMS_LOGIN` and `LEADBOT_SMS_PASSWORD` (or an API key as the password).
    Smsc,
}

/// `config/sms.toml` (optional: present = SMS can be sent). The delivery callbacks come to
/// `/webhooks/sms/{LEADBOT_SMS_CALLBACK_SECRET}` (the gateways sign nothing).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub provider: SmsProviderKind,
    /// The sender name registered with the gateway (absent: the gateway's default).
    #[serde(default)]
    pub sender: Option<String>,
    /// The gateway's base URL (default: https://sms.ru or https://smsc.ru).
    #[serde(default)]
    pub api_base: Option<String>,
    /// SMS.ru's `test=1`: accepted and answered, never sent (nor billed).
    #[serde(default)]
    pub test: bool,
    /// Longer texts are split into several SMS (each of them billed by its segments).
    #[serde(default = "default_max_text")]
    pub max_text_len: usize,
    #[serde(skip)]
    pub api_id: Option<String>,
    #[serde(skip)]
    pub login: Option<String>,
    #[serde(skip)]
    pub password: Option<String>,
    #[serde(skip)]
    pub callback_secret: Option<String>,
}

fn default_max_text() -> usize {
    335
}

impl SmsSettings {
    pub fn api_base(&self) -> &str {
        match (&self.api_base, self.provider) {
            (Some(b), _) => b,
            (None, SmsProviderKind::Smsru) => "https://sms.ru",
            (None, SmsProviderKind::Smsc) => "https://smsc.ru",
        }
    }

    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.api_id = self.api_id.take().or_else(|| env("LEADBOT_SMS_API_ID"));
        self.login = self.login.take().or_else(|| env("LEADBOT_SMS_LOGIN"));
        self.password = self.password.take().or_else(|| env("LEADBOT_SMS_PASSWORD"));
        self.callback_secret = self
            .callback_secret
            .take()
            .or_else(|| env("LEADBOT_SMS_CALLBACK_SECRET"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if reqwest::Url::parse(self.api_base()).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if !(70..=1530).contains(&self.max_text_len) {
            issues.push(file, "max_text_len", "must be 70..1530 characters");
        }
        match self.provider {
            SmsProviderKind::Smsru if self.api_id.is_none() => {
                issues.push(file, "provider", "SMS.ru needs LEADBOT_SMS_API_ID");
            }
            SmsProviderKind::Smsc if self.login.is_none() || self.password.is_none() => {
                issues.push(
                    file,
                    "provider",
                    "SMSC needs LEADBOT_SMS_LOGIN and LEADBOT_SMS_PASSWORD",
                );
            }
            _ => {}
        }
        match &self.callback_secret {
            None => issues.push(
                file,
                "provider",
                "LEADBOT_SMS_CALLBACK_SECRET is not set (delivery callbacks)",
            ),
            Some(s) if s.len() < 16 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => issues
                .push(
                    file,
                    "provider",
                    "LEADBOT_SMS_CALLBACK_SECRET must be at least 16 of A-Z a-z 0-9 _ -",
                ),
            Some(_) => {}
        }
    }
}
