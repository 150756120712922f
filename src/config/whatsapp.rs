use serde::Deserialize;

use super::ConfigIssues;

/// `config/whatsapp.toml` (optional: present = the WhatsApp Business number is on). Secrets
/// from the environment: `LEADBOT_WHATSAPP_TOKEN` (a system user's access token),
/// `LEADBOT_WHATSAPP_APP_SECRET` (the Meta app's secret: webhook signatures) and
/// `LEADBOT_WHATSAPP_VERIFY_TOKEN` (the webhook's verify token).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSettings {
    /// The business number's id (`metadata.phone_number_id`); events for other numbers are ignored.
    pub phone_number_id: String,
    #[serde(default = "default_api")]
    pub api_base: String,
    #[serde(default = "default_version")]
    pub api_version: String,
    /// The approved template sent where free-form text is not allowed (outside the 24 h window,
    /// or to a client who never wrote); absent: such messages are not sent (the lead takes its
    /// fallback).
    #[serde(default)]
    pub template: Option<WhatsAppTemplate>,
    #[serde(skip)]
    pub token: Option<String>,
    #[serde(skip)]
    pub app_secret: Option<String>,
    #[serde(skip)]
    pub verify_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppTemplate {
    pub name: String,
    /// The template's language code (`ru`, `en_US`).
    pub language: String,
    /// The body's parameters in order; `{name}` is the client's name.
    #[serde(default)]
    pub body_params: Vec<String>,
}

fn default_api() -> String {
    "https://graph.facebook.com".into()
}

fn default_version() -> String {
    "v21.0".into()
}

impl WhatsAppSettings {
    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.token = self.token.take().or_else(|| env("LEADBOT_WHATSAPP_TOKEN"));
        self.app_secret = self.app_secret.take().or_else(|| env("LEADBOT_WHATSAPP_APP_SECRET"));
        self.verify_token = self
            .verify_token
            .take()
            .or_else(|| env("LEADBOT_WHATSAPP_VERIFY_TOKEN"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.phone_number_id.is_empty() || !self.phone_number_id.chars().all(|c| c.is_ascii_digit()) {
            issues.push(file, "phone_number_id", "must be the number's id (digits)");
        }
        if reqwest::Url::parse(&self.api_base).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if !self.api_version.starts_with('v') {
            issues.push(file, "api_version", "must look like v21.0");
        }
        if let Some(t) = &self.template {
            if t.name.trim().is_empty() || t.language.trim().is_empty() {
                issues.push(file, "template", "needs the template's name and language");
            }
        }
        for (var, v) in [
            ("LEADBOT_WHATSAPP_TOKEN", &self.token),
            ("LEADBOT_WHATSAPP_APP_SECRET", &self.app_secret),
            ("LEADBOT_WHATSAPP_VERIFY_TOKEN", &self.verify_token),
        ] {
            if v.is_none() {
                issues.push(file, "phone_number_id", format!("{var} is not set"));
            }
        }
    }
}
