use serde::Deserialize;

use super::ConfigIssues;

/// `config/avito.toml` (optional: present = Avito Messenger is on). Secrets from the
/// environment: `LEADBOT_AVITO_CLIENT_ID`, `LEADBOT_AVITO_CLIENT_SECRET` (the API application's
/// client credentials) and `LEADBOT_AVITO_WEBHOOK_SECRET` (the path secret of the webhook URL:
/// Avito documents no signature).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvitoSettings {
    /// The account's Avito user id (`payload.value.user_id`; the sender in the API paths).
    pub user_id: i64,
    #[serde(default = "default_api")]
    pub api_base: String,
    #[serde(skip)]
    pub client_id: Option<String>,
    #[serde(skip)]
    pub client_secret: Option<String>,
    #[serde(skip)]
    pub webhook_secret: Option<String>,
}

fn default_api() -> String {
    "https://api.avito.ru".into()
}

impl AvitoSettings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.client_id = self.client_id.take().or_else(|| env("LEADBOT_AVITO_CLIENT_ID"));
        self.client_secret = self.client_secret.take().or_else(|| env("LEADBOT_AVITO_CLIENT_SECRET"));
        self.webhook_secret = self
            .webhook_secret
            .take()
            .or_else(|| env("LEADBOT_AVITO_WEBHOOK_SECRET"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.user_id <= 0 {
            issues.push(file, "user_id", "must be the account's Avito user id");
        }
        if reqwest::Url::parse(&self.api_base).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if self.client_id.is_none() || self.client_secret.is_none() {
            issues.push(
                file,
                "user_id",
                "LEADBOT_AVITO_CLIENT_ID and LEADBOT_AVITO_CLIENT_SECRET are not set",
            );
        }
        match &self.webhook_secret {
            None => issues.push(file, "user_id", "LEADBOT_AVITO_WEBHOOK_SECRET is not set"),
            Some(s) if s.len() < 16 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => issues
                .push(
                    file,
                    "user_id",
                    "LEADBOT_AVITO_WEBHOOK_SECRET must be at least 16 of A-Z a-z 0-9 _ -",
                ),
            Some(_) => {}
        }
    }
}
