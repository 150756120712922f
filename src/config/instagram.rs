use serde::Deserialize;

use super::ConfigIssues;

/// `config/instagram.toml` (optional: present = Instagram Direct is on). Secrets from the
/// environment: `LEADBOT_INSTAGRAM_TOKEN` (the account's access token with
/// `instagram_manage_messages`), `LEADBOT_INSTAGRAM_APP_SECRET` (the Meta app's secret: webhook
/// signatures), `LEADBOT_INSTAGRAM_VERIFY_TOKEN` (the webhook's verify token).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstagramSettings {
    /// The professional account's id (the webhook's `entry[].id` / `recipient.id`).
    pub account_id: String,
    #[serde(default = "default_api")]
    pub api_base: String,
    #[serde(default = "default_version")]
    pub api_version: String,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub app_secret: Option<String>,
    #[serde(skip)]
    pub verify_token: Option<String>,
}

fn default_api() -> String {
    "https://graph.facebook.com".into()
}

fn default_version() -> String {
    "v21.0".into()
}

impl InstagramSettings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.token = self.token.take().or_else(|| env("LEADBOT_INSTAGRAM_TOKEN"));
        self.app_secret = self.app_secret.take().or_else(|| env("LEADBOT_INSTAGRAM_APP_SECRET"));
        self.verify_token = self
            .verify_token
            .take()
            .or_else(|| env("LEADBOT_INSTAGRAM_VERIFY_TOKEN"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.account_id.is_empty() || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            issues.push(file, "account_id", "must be the account's id (digits)");
        }
        if reqwest::Url::parse(&self.api_base).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if !self.api_version.starts_with('v') {
            issues.push(file, "api_version", "must look like v21.0");
        }
        for (var, v) in [
            ("LEADBOT_INSTAGRAM_TOKEN", &self.token),
            ("LEADBOT_INSTAGRAM_APP_SECRET", &self.app_secret),
            ("LEADBOT_INSTAGRAM_VERIFY_TOKEN", &self.verify_token),
        ] {
            if v.is_none() {
                issues.push(file, "account_id", format!("{var} is not set"));
            }
        }
    }
}
