use serde::Deserialize;

use super::ConfigIssues;

/// Which provider places the automated calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoiceProviderKind {
    /// Zvonobot: `LEADBOT_VOICE_API_KEY`; its keypress webhooks carry `LEADBOT_VOICE_WEBHOOK_SECRET`
    /// in the URL (it signs nothing).
    Zvonobot,
    /// Twilio Voice with `<Gather>`: `LEADBOT_VOICE_ACCOUNT_SID`, `LEADBOT_VOICE_AUTH_TOKEN`
    /// (the webhooks' `X-Twilio-Signature` key).
    Twilio,
}

/// `config/voice.toml` (optional: present = automated calls can be placed, the `voice` step of
/// a fallback chain). The client's keypress comes back to `{public_url}/webhooks/voice/...`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceSettings {
    pub provider: VoiceProviderKind,
    /// How the provider reaches leadbot (`https://leads.example.ru`), exactly as public: Twilio
    /// signs the full URL.
    pub public_url: String,
    /// The provider's base URL (default: https://lk.zvonobot.ru or https://api.twilio.com).
    #[serde(default)]
    pub api_base: Option<String>,
    /// The number calls come from (Twilio `From`; Zvonobot `outgoingPhone`, optional there).
    #[serde(default)]
    pub from: Option<String>,
    /// Zvonobot's synthesized voice: 0 female, 1 male.
    #[serde(default)]
    pub gender: u8,
    /// Twilio `<Say language>`.
    #[serde(default = "default_language")]
    pub language: String,
    /// The key that asks for a manager.
    #[serde(default = "default_digit")]
    pub manager_digit: String,
    /// Said after the key was pressed (Twilio's answer to the keypress).
    #[serde(default = "default_thanks")]
    pub thanks: String,
    #[serde(skip)]
    pub api_key: Option<String>,
    #[serde(skip)]
    pub account_sid: Option<String>,
    #[serde(skip)]
    pub auth_token: Option<String>,
    #[serde(skip)]
    pub webhook_secret: Option<String>,
}

fn default_language() -> String {
    "ru-RU".into()
}

fn default_digit() -> String {
    "1".into()
}

fn default_thanks() -> String {
    "Спасибо! Менеджер скоро с вами свяжется.".into()
}

impl VoiceSettings {
    pub fn api_base(&self) -> &str {
        match (&self.api_base, self.provider) {
            (Some(b), _) => b,
            (None, VoiceProviderKind::Zvonobot) => "https://lk.zvonobot.ru",
            (None, VoiceProviderKind::Twilio) => "https://api.twilio.com",
        }
    }

    pub(super) fn apply_env(&mut self) {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        self.api_key = self.api_key.take().or_else(|| env("LEADBOT_VOICE_API_KEY"));
        self.account_sid = self.account_sid.take().or_else(|| env("LEADBOT_VOICE_ACCOUNT_SID"));
        self.auth_token = self.auth_token.take().or_else(|| env("LEADBOT_VOICE_AUTH_TOKEN"));
        self.webhook_secret = self
            .webhook_secret
            .take()
            .or_else(|| env("LEADBOT_VOICE_WEBHOOK_SECRET"));
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if reqwest::Url::parse(self.api_base()).is_err() {
            issues.push(file, "api_base", "must be a URL");
        }
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://"))
            || reqwest::Url::parse(&self.public_url).is_err()
        {
            issues.push(file, "public_url", "must be an http(s) URL");
        }
        if self.gender > 1 {
            issues.push(file, "gender", "0 (female) or 1 (male)");
        }
        if self.manager_digit.len() != 1 || !self.manager_digit.chars().all(|c| c.is_ascii_digit()) {
            issues.push(file, "manager_digit", "one key, 0-9");
        }
        match self.provider {
            VoiceProviderKind::Zvonobot => {
                if self.api_key.is_none() {
                    issues.push(file, "provider", "Zvonobot needs LEADBOT_VOICE_API_KEY");
                }
                match &self.webhook_secret {
                    Some(s)
                        if s.len() >= 16 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {}
                    _ => issues.push(
                        file,
                        "provider",
                        "LEADBOT_VOICE_WEBHOOK_SECRET must be at least 16 of A-Z a-z 0-9 _ - (Zvonobot signs nothing)",
                    ),
                }
            }
            VoiceProviderKind::Twilio => {
                if self.account_sid.is_none() || self.auth_token.is_none() {
                    issues.push(
                        file,
                        "provider",
                        "Twilio needs LEADBOT_VOICE_ACCOUNT_SID and LEADBOT_VOICE_AUTH_TOKEN",
                    );
                }
                if self.from.is_none() {
                    issues.push(file, "from", "Twilio needs the number calls come from");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_names_what_is_missing() {
        let mut s: VoiceSettings = toml::from_str(include_str!("../../config/examples/voice.toml")).unwrap();
        let mut issues = ConfigIssues::default();
        s.validate("voice.toml", &mut issues);
        assert!(issues.to_string().contains("LEADBOT_VOICE_API_KEY"), "{issues}");
        s.api_key = Some("k".into());
        s.webhook_secret = Some("voice_secret_0123456789".into());
        let mut issues = ConfigIssues::default();
        s.validate("voice.toml", &mut issues);
        assert!(issues.is_empty(), "{issues}");
        s.provider = VoiceProviderKind::Twilio;
        let mut issues = ConfigIssues::default();
        s.validate("voice.toml", &mut issues);
        assert!(issues.to_string().contains("LEADBOT_VOICE_AUTH_TOKEN"), "{issues}");
    }
}
