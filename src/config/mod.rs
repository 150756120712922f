//! Typed configuration: the service settings, the dialog script and the routing rules, each a TOML
//! file under `config/`, validated together with errors that name the file and the key.

mod amocrm;
mod avito;
mod bitrix24;
mod booking;
mod duration;
mod fallback;
mod instagram;
mod issues;
mod reports;
mod robots;
mod routing;
mod script;
mod service;
mod sms;
mod telegram;
mod vk;
mod voice;
mod whatsapp;

use std::path::{Path, PathBuf};

pub use amocrm::{AmoChannels, AmoCrmAuth, AmoCrmSettings, AmoDispatch, AmoLimits, AmoPipeline, AmoTags};
pub use avito::AvitoSettings;
pub use bitrix24::{
    Bitrix24Auth, Bitrix24Limits, Bitrix24Settings, Bitrix24Statuses, DispatchSettings, OpenLinesSettings,
};
pub use booking::{
    BookingResource, BookingService, BookingSettings, BookingTexts, GoogleCalendarSettings, IntentSettings,
};
pub use fallback::{CapsSettings, FallbackSettings, QuietHoursSettings, StepSettings};
pub use instagram::InstagramSettings;
pub use issues::{ConfigIssue, ConfigIssues};
pub use reports::{ReportsSettings, ScheduleSpec};
pub use robots::{CrmMapping, Recipient, RobotsSettings};
pub use routing::{
    ClassifierConfig, GroupConfig, LlmConfig, ManagerConfig, RoutingConfig, RoutingRule, SpecializationRule, Strategy,
};
pub use script::{FaqEntry, OptOut, Reprompts, Script, Texts, Timing};
pub use service::{
    DatabaseSettings, FailureStatus, NotifySettings, RuntimeSettings, ServiceSettings, SmtpSecurity, SmtpSettings,
    WidgetSettings,
};
pub use sms::{SmsProviderKind, SmsSettings};
pub use telegram::{Executor, JobBoardSettings, TelegramLimits, TelegramSettings, TelegramTexts};
pub use vk::VkSettings;
pub use voice::{VoiceProviderKind, VoiceSettings};
pub use whatsapp::{WhatsAppSettings, WhatsAppTemplate};

/// File names inside the config directory.
pub const SERVICE_FILE: &str = "leadbot.toml";
pub const DIALOG_FILE: &str = "dialog.toml";
pub const ROUTING_FILE: &str = "routing.toml";
/// Optional: present = the Bitrix24 portal is connected (example in `config/examples/`).
pub const BITRIX24_FILE: &str = "bitrix24.toml";
/// Optional: present = the amoCRM / Kommo account is connected (example in `config/examples/`).
pub const AMOCRM_FILE: &str = "amocrm.toml";
/// Optional: present = the Telegram bot is on (example in `config/examples/`).
pub const TELEGRAM_FILE: &str = "telegram.toml";
/// Optional: present = the SLA robots run for the connected CRMs mapped in it.
pub const ROBOTS_FILE: &str = "robots.toml";
/// Optional: present = the scheduled reports for the head of sales are sent (needs robots.toml).
pub const REPORTS_FILE: &str = "reports.toml";
/// Optional: present = the VK community's messages are on (example in `config/examples/`).
pub const VK_FILE: &str = "vk.toml";
/// Optional: present = the WhatsApp Business number is on (example in `config/examples/`).
pub const WHATSAPP_FILE: &str = "whatsapp.toml";
/// Optional: present = Instagram Direct is on (example in `config/examples/`).
pub const INSTAGRAM_FILE: &str = "instagram.toml";
/// Optional: present = SMS can be sent (example in `config/examples/`).
pub const SMS_FILE: &str = "sms.toml";
/// Optional: present = Avito Messenger is on (example in `config/examples/`).
pub const AVITO_FILE: &str = "avito.toml";
/// Optional: present = leads without a usable chat are reached along a fallback chain.
pub const FALLBACK_FILE: &str = "fallback.toml";
/// Optional: present = automated calls can be placed (example in `config/examples/`).
pub const VOICE_FILE: &str = "voice.toml";
/// Optional: present = the bot books visits (services, staff, slots; example in `config/examples/`).
pub const BOOKING_FILE: &str = "booking.toml";

/// The defaults shipped in the repository, compiled in so the binary runs from anywhere.
const EMBEDDED: [(&str, &str); 3] = [
    (SERVICE_FILE, include_str!("../../config/leadbot.toml")),
    (DIALOG_FILE, include_str!("../../config/dialog.toml")),
    (ROUTING_FILE, include_str!("../../config/routing.toml")),
];

/// Everything leadbot is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceSettings,
    pub script: Script,
    pub routing: RoutingConfig,
    pub bitrix24: Option<Bitrix24Settings>,
    pub amocrm: Option<AmoCrmSettings>,
    pub telegram: Option<TelegramSettings>,
    pub robots: Option<RobotsSettings>,
    pub reports: Option<ReportsSettings>,
    pub vk: Option<VkSettings>,
    pub whatsapp: Option<WhatsAppSettings>,
    pub instagram: Option<InstagramSettings>,
    pub sms: Option<SmsSettings>,
    pub avito: Option<AvitoSettings>,
    pub fallback: Option<FallbackSettings>,
    pub voice: Option<VoiceSettings>,
    pub booking: Option<BookingSettings>,
    /// Where the files came from (a directory, or `None` for the compiled-in defaults).
    pub source: Option<PathBuf>,
}

impl Config {
    /// Loads from `dir`. Each file there is laid over the compiled-in default of the same name,
    /// so it only needs the keys it changes; a missing file means the default.
    /// Environment overrides (`DATABASE_URL`, `LEADBOT_LISTEN`, `LEADBOT_NOTIFY_URL`,
    /// `LEADBOT_OPERATOR_TOKEN`) are applied after.
    pub fn load(dir: Option<&Path>) -> Result<Config, ConfigIssues> {
        let mut issues = ConfigIssues::default();
        if let Some(d) = dir.filter(|d| !d.is_dir()) {
            issues.push(&d.display().to_string(), "-", "config directory not found");
            return Err(issues);
        }
        let read = |name: &'static str| -> (String, &'static str, Option<String>) {
            let default = EMBEDDED.iter().find(|(n, _)| *n == name).map_or("", |(_, t)| *t);
            match dir {
                Some(d) => {
                    let path = d.join(name);
                    let user = std::fs::read_to_string(&path).ok();
                    (path.display().to_string(), default, user)
                }
                None => (format!("{name} (built-in default)"), default, None),
            }
        };
        let (service_file, service_default, service_text) = read(SERVICE_FILE);
        let (dialog_file, dialog_default, dialog_text) = read(DIALOG_FILE);
        let (routing_file, routing_default, routing_text) = read(ROUTING_FILE);

        let service = issues.parse_layered_env::<ServiceSettings>(
            &service_file,
            service_default,
            service_text.as_deref(),
            Some("LEADBOT__"),
        );
        let script = issues.parse_layered_env::<Script>(
            &dialog_file,
            dialog_default,
            dialog_text.as_deref(),
            Some("LEADBOT_DIALOG__"),
        );
        let routing = issues.parse_layered_env::<RoutingConfig>(
            &routing_file,
            routing_default,
            routing_text.as_deref(),
            Some("LEADBOT_ROUTING__"),
        );
        let bitrix24 = optional::<Bitrix24Settings>(dir, BITRIX24_FILE, "LEADBOT_BITRIX24__", &mut issues);
        let amocrm = optional::<AmoCrmSettings>(dir, AMOCRM_FILE, "LEADBOT_AMOCRM__", &mut issues);
        let telegram = optional::<TelegramSettings>(dir, TELEGRAM_FILE, "LEADBOT_TELEGRAM__", &mut issues);
        let robots = read_optional(dir, ROBOTS_FILE, &mut issues)
            .and_then(|(file, text)| RobotsSettings::parse(&file, &text, &mut issues));
        let reports = optional::<ReportsSettings>(dir, REPORTS_FILE, "LEADBOT_REPORTS__", &mut issues);
        if let Some(r) = &reports {
            check_report_recipients(r, robots.as_ref(), &mut issues);
        }
        let vk = optional::<VkSettings>(dir, VK_FILE, "LEADBOT_VK__", &mut issues);
        let whatsapp = optional::<WhatsAppSettings>(dir, WHATSAPP_FILE, "LEADBOT_WHATSAPP__", &mut issues);
        let instagram = optional::<InstagramSettings>(dir, INSTAGRAM_FILE, "LEADBOT_INSTAGRAM__", &mut issues);
        let sms = optional::<SmsSettings>(dir, SMS_FILE, "LEADBOT_SMS__", &mut issues);
        let avito = optional::<AvitoSettings>(dir, AVITO_FILE, "LEADBOT_AVITO__", &mut issues);
        let fallback = optional::<FallbackSettings>(dir, FALLBACK_FILE, "LEADBOT_FALLBACK__", &mut issues);
        let voice = optional::<VoiceSettings>(dir, VOICE_FILE, "LEADBOT_VOICE__", &mut issues);
        let booking = optional::<BookingSettings>(dir, BOOKING_FILE, "LEADBOT_BOOKING__", &mut issues);
        // Each file that parsed is validated even when another did not: report everything at once.
        let mut service = service;
        if let Some(service) = service.as_mut() {
            service.apply_env();
            service.validate(&service_file, &mut issues);
        }
        if let Some(script) = &script {
            script.validate(&dialog_file, &mut issues);
        }
        let mut routing = routing;
        if let Some(routing) = routing.as_mut() {
            routing.apply_env();
            routing.validate(&routing_file, &mut issues);
        }
        let (Some(service), Some(script), Some(routing)) = (service, script, routing) else {
            return Err(issues);
        };
        if issues.is_empty() {
            Ok(Config {
                service,
                script,
                routing,
                bitrix24,
                amocrm,
                telegram,
                robots,
                reports,
                vk,
                whatsapp,
                instagram,
                sms,
                avito,
                fallback,
                voice,
                booking,
                source: dir.map(Path::to_path_buf),
            })
        } else {
            Err(issues)
        }
    }

    /// The config directory to use when none is given: `LEADBOT_CONFIG_DIR`, else `./config`
    /// if it exists, else the compiled-in defaults.
    pub fn default_dir() -> Option<PathBuf> {
        if let Ok(d) = std::env::var("LEADBOT_CONFIG_DIR") {
            return Some(PathBuf::from(d));
        }
        let local = PathBuf::from("config");
        local.join(SERVICE_FILE).exists().then_some(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_are_valid() {
        let cfg = Config::load(None).expect("defaults must validate");
        assert!(!cfg.script.faq.is_empty());
        assert!(!cfg.routing.managers.is_empty());
    }

    #[test]
    fn errors_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DIALOG_FILE),
            EMBEDDED[1]
                .1
                .replace("no_answer_timeout = \"1h\"", "no_answer_timeout = \"0s\""),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(ROUTING_FILE),
            "default_group = \"nobody\"\n[[managers]]\nid = \"1\"\nname = \"A\"\ngroups = [\"sales\"]\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("dialog.toml:timing.no_answer_timeout: must be longer than zero"),
            "{issues}"
        );
        assert!(
            issues.contains("routing.toml:default_group: no manager is in group `nobody`"),
            "{issues}"
        );
    }

    #[test]
    fn routing_typos_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(ROUTING_FILE),
            "default_group = \"sales\"\n[[managers]]\nid = \"1\"\nname = \"A\"\ngroups = [\"sales\"]\ntags = [\"нефтегаз\"]\n\
             [classifier]\nclient_segments = { \"89181234567\" = \"A\" }\n\
             [[classifier.specializations]]\ntag = \"нефтeгаз\"\nkeywords = [\"нефть\"]\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("routing.toml:classifier.specializations[0].tag: no manager has tag"),
            "a tag spelled with a Latin e: {issues}"
        );
        assert!(
            issues.contains("routing.toml:classifier.client_segments.89181234567: the key must be a phone in E.164"),
            "{issues}"
        );
    }

    #[test]
    fn parse_errors_give_line_and_unknown_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SERVICE_FILE),
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("leadbot.toml:server.lisen: unknown field `lisen`"),
            "{issues}"
        );
        std::fs::write(
            dir.path().join(SERVICE_FILE),
            "[server]\nlisten = \"127.0.0.1:1\"\n[[oops\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("leadbot.toml:3:"),
            "syntax errors give line and column: {issues}"
        );
        let missing = Config::load(Some(&dir.path().join("nope"))).unwrap_err().to_string();
        assert!(missing.contains("config directory not found"), "{missing}");
    }

    #[test]
    fn a_file_only_needs_the_keys_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SERVICE_FILE),
            "[outcome]\non_failure = \"needs_review\"\n",
        )
        .unwrap();
        let cfg = Config::load(Some(dir.path())).unwrap();
        assert_eq!(cfg.service.outcome.on_failure, FailureStatus::NeedsReview);
        assert_eq!(
            cfg.service.server.max_text_chars, 4000,
            "the rest comes from the default"
        );
    }
}

/// An optional file of the config directory: the text of `name` when it exists, with the path
/// it was read from; an unreadable one is an issue.
fn read_optional(dir: Option<&Path>, name: &str, issues: &mut ConfigIssues) -> Option<(String, String)> {
    let path = dir.map(|d| d.join(name)).filter(|p| p.exists())?;
    let file = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Ok(text) => Some((file, text)),
        Err(e) => {
            issues.push(&file, "-", format!("cannot read: {e}"));
            None
        }
    }
}

/// An integration's settings file: parsed with its environment overrides, secrets taken from
/// the environment, then checked.
trait IntegrationFile: serde::de::DeserializeOwned {
    fn apply_env(&mut self);
    fn validate(&self, file: &str, issues: &mut ConfigIssues);
}

macro_rules! integration_file {
    ($($t:ty),* $(,)?) => {$(
        impl IntegrationFile for $t {
            fn apply_env(&mut self) {
                <$t>::apply_env(self)
            }
            fn validate(&self, file: &str, issues: &mut ConfigIssues) {
                <$t>::validate(self, file, issues)
            }
        }
    )*};
}

integration_file!(
    Bitrix24Settings,
    AmoCrmSettings,
    TelegramSettings,
    VkSettings,
    WhatsAppSettings,
    InstagramSettings,
    SmsSettings,
    AvitoSettings,
    FallbackSettings,
    VoiceSettings,
    ReportsSettings,
    BookingSettings,
);

/// The scheduled reports' people are those of robots.toml.
fn check_report_recipients(r: &ReportsSettings, robots: Option<&RobotsSettings>, issues: &mut ConfigIssues) {
    let Some(robots) = robots else {
        issues.push(
            REPORTS_FILE,
            "-",
            "the scheduled reports need robots.toml (its time zone, [head] and [managers])",
        );
        return;
    };
    for (slot, to) in r.slots() {
        for who in &to {
            let known = who == "head" || robots.managers.contains_key(who);
            if !known {
                issues.push(
                    REPORTS_FILE,
                    format!("{}.to", slot.kind),
                    format!("`{who}` is not under [managers] in robots.toml"),
                );
            }
        }
    }
}

/// Present = the integration is on (example files in `config/examples/`).
fn optional<T: IntegrationFile>(
    dir: Option<&Path>,
    name: &str,
    env_prefix: &str,
    issues: &mut ConfigIssues,
) -> Option<T> {
    let (file, text) = read_optional(dir, name, issues)?;
    let mut settings = issues.parse_layered_env::<T>(&file, "", Some(&text), Some(env_prefix))?;
    settings.apply_env();
    settings.validate(&file, issues);
    Some(settings)
}
