use serde::Deserialize;

use super::ConfigIssues;

/// `config/vk.toml` (optional: present = the VK community's messages are on). Secrets from
/// the environment: `LEADBOT_VK_TOKEN` (a community access token with the `messages` right)
/// and `LEADBOT_VK_SECRET` (the Callback API server's "Секретный ключ").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VkSettings {
    /// The community's id (positive); the webhook path is `/webhooks/vk/{group_id}`.
    pub group_id: i64,
    /// The string the Callback API server settings show ("Строка, которую должен вернуть
    /// сервер"); it changes when the server settings change. Also `LEADBOT_VK_CONFIRMATION`.
    #[serde(default)]
    pub confirmation: Option<String>,
    #[serde(default = "default_api")]
    pub api_base: String,
    /// The API version of `messages.send` calls (the Callback server's own version is set in
    /// the community's settings; both shapes of `message_new` are read).
    #[serde(default = "default_version")]
    pub api_version: String,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub secret: Option<String>,
}

fn default_api() -> String {
    "https://api.vk.com".into()
}

fn default_version() -> String {
    "5.199".into()
}

impl VkSettings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.token = self.token.take().or_else(|| env("LEADBOT_VK_TOKEN"));
        self.secret = self.secret.take().or_else(|| env("LEADBOT_VK_SECRET"));
        self.confirmation = self.confirmation.take().or_else(|| env("LEADBOT_VK_CONFIRMATION"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.group_id <= 0 {
            issues.push(file, "group_id", "must be the community's id (a positive number)");
        }
        if reqwest::Url::parse(&self.api_base).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        let v = self.api_version.split('.').collect::<Vec<_>>();
        if v.len() != 2 || v.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
            issues.push(file, "api_version", "must look like 5.199");
        }
        if self.confirmation.as_deref().is_none_or(|c| c.trim().is_empty()) {
            issues.push(
                file,
                "confirmation",
                "the Callback API confirmation string is missing (or set LEADBOT_VK_CONFIRMATION)",
            );
        }
        if self.token.is_none() {
            issues.push(file, "group_id", "the community token is missing: set LEADBOT_VK_TOKEN");
        }
        match &self.secret {
            None => issues.push(
                file,
                "group_id",
                "the Callback API secret key is missing: set LEADBOT_VK_SECRET (and the same key in the community's server settings)",
            ),
            Some(s) if s.len() < 8 => issues.push(file, "group_id", "LEADBOT_VK_SECRET must be at least 8 characters"),
            Some(_) => {}
        }
    }
}
