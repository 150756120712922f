use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;

use super::ConfigIssues;
use crate::dialog::fallback::{Caps, FallbackRules, FallbackTexts, QuietHours, StepRule, LEAD_CHANNEL};

/// `config/fallback.toml` (optional: present = leads of the listed sources that have no chat
/// the bot can talk on are reached step by step). Each `[[fallback.<source>]]` is one step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackSettings {
    /// The clients' time zone for quiet hours (IANA name).
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// Per source, where its clients live elsewhere.
    #[serde(default)]
    pub time_zones: BTreeMap<String, String>,
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursSettings>,
    #[serde(default)]
    pub caps: CapsSettings,
    #[serde(default)]
    pub texts: FallbackTextSettings,
    #[serde(default)]
    pub fallback: BTreeMap<String, Vec<StepSettings>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSettings {
    /// "21:00"
    pub from: String,
    /// "09:00"
    pub to: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapsSettings {
    #[serde(default)]
    pub sms_per_lead: Option<u32>,
    #[serde(default)]
    pub calls_per_lead: Option<u32>,
    #[serde(default)]
    pub sms_per_day: Option<u32>,
    #[serde(default)]
    pub calls_per_day: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackTextSettings {
    #[serde(default = "default_chat")]
    pub chat: String,
    #[serde(default = "default_sms")]
    pub sms: String,
    #[serde(default = "default_call")]
    pub call: String,
}

impl Default for FallbackTextSettings {
    fn default() -> Self {
        FallbackTextSettings {
            chat: default_chat(),
            sms: default_sms(),
            call: default_call(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSettings {
    /// `lead` (the lead's own chat), `sms`, `voice`, or a channel's name.
    pub channel: String,
    /// How long to wait for an answer before the next step.
    #[serde(with = "super::duration")]
    pub wait: Duration,
}

fn default_tz() -> String {
    "Europe/Moscow".into()
}

fn default_chat() -> String {
    "Здравствуйте! Вы оставляли заявку. Оставьте, пожалуйста, номер телефона — менеджер свяжется с вами.".into()
}

fn default_sms() -> String {
    "Здравствуйте! Вы оставляли заявку. Продолжим в чате: {link} Отказаться: СТОП".into()
}

fn default_call() -> String {
    "Здравствуйте! Вы оставляли заявку. Нажмите 1, чтобы с вами связался менеджер.".into()
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

impl FallbackSettings {
    pub(super) fn apply_env(&mut self) {}

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.time_zone.parse::<Tz>().is_err() {
            issues.push(
                file,
                "time_zone",
                format!("`{}` is not an IANA time zone", self.time_zone),
            );
        }
        for (source, tz) in &self.time_zones {
            if tz.parse::<Tz>().is_err() {
                issues.push(
                    file,
                    format!("time_zones.{source}"),
                    format!("`{tz}` is not an IANA time zone"),
                );
            }
        }
        if let Some(q) = &self.quiet_hours {
            for (key, v) in [("quiet_hours.from", &q.from), ("quiet_hours.to", &q.to)] {
                if parse_time(v).is_none() {
                    issues.push(file, key, format!("`{v}` is not a time like 21:00"));
                }
            }
        }
        for (source, steps) in &self.fallback {
            if steps.is_empty() {
                issues.push(file, format!("fallback.{source}"), "has no steps");
            }
            for (i, s) in steps.iter().enumerate() {
                if s.channel.trim().is_empty() {
                    issues.push(file, format!("fallback.{source}[{i}].channel"), "is empty");
                }
                if s.wait.is_zero() {
                    issues.push(file, format!("fallback.{source}[{i}].wait"), "must be longer than zero");
                }
            }
        }
        for (key, t) in [
            ("texts.chat", &self.texts.chat),
            ("texts.sms", &self.texts.sms),
            ("texts.call", &self.texts.call),
        ] {
            if t.trim().is_empty() {
                issues.push(file, key, "is empty");
            }
        }
    }

    /// The pure rules these settings describe (validated settings; a bad value falls back to
    /// the default rather than failing here).
    pub fn rules(&self) -> FallbackRules {
        let tz = |s: &str| s.parse::<Tz>().unwrap_or(chrono_tz::Europe::Moscow);
        FallbackRules {
            chains: self
                .fallback
                .iter()
                .map(|(source, steps)| {
                    let steps = steps
                        .iter()
                        .map(|s| StepRule {
                            channel: if s.channel.is_empty() {
                                LEAD_CHANNEL.into()
                            } else {
                                s.channel.clone()
                            },
                            wait: chrono::Duration::from_std(s.wait).unwrap_or(chrono::Duration::hours(1)),
                        })
                        .collect();
                    (source.clone(), steps)
                })
                .collect(),
            caps: Caps {
                sms_per_lead: self.caps.sms_per_lead,
                calls_per_lead: self.caps.calls_per_lead,
                sms_per_day: self.caps.sms_per_day,
                calls_per_day: self.caps.calls_per_day,
            },
            quiet: self.quiet_hours.as_ref().and_then(|q| {
                Some(QuietHours {
                    from: parse_time(&q.from)?,
                    to: parse_time(&q.to)?,
                })
            }),
            time_zone: tz(&self.time_zone),
            time_zones: self.time_zones.iter().map(|(k, v)| (k.clone(), tz(v))).collect(),
            texts: FallbackTexts {
                chat: self.texts.chat.clone(),
                sms: self.texts.sms.clone(),
                call: self.texts.call.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses_and_bad_values_are_named() {
        let s: FallbackSettings = toml::from_str(include_str!("../../config/examples/fallback.toml")).unwrap();
        let mut issues = ConfigIssues::default();
        s.validate("fallback.toml", &mut issues);
        assert!(issues.is_empty(), "{issues}");
        let rules = s.rules();
        assert!(rules.has_chain("avito"));
        assert!(rules.quiet.is_some());
        let bad: FallbackSettings = toml::from_str(
            "time_zone = \"Mars/Olympus\"\n[quiet_hours]\nfrom = \"25:00\"\nto = \"09:00\"\n\
             [[fallback.ads]]\nchannel = \"sms\"\nwait = \"0s\"\n",
        )
        .unwrap();
        let mut issues = ConfigIssues::default();
        bad.validate("fallback.toml", &mut issues);
        let text = issues.to_string();
        assert!(text.contains("fallback.toml:time_zone"), "{text}");
        assert!(text.contains("fallback.toml:quiet_hours.from"), "{text}");
        assert!(text.contains("fallback.toml:fallback.ads[0].wait"), "{text}");
    }
}
