use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/dialog.toml`: everything the bot says and when.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub texts: Texts,
    pub reprompts: Reprompts,
    pub timing: Timing,
    pub refusal: Refusal,
    #[serde(default)]
    pub faq: Vec<FaqEntry>,
    #[serde(default)]
    pub phones: PhoneContext,
    #[serde(default)]
    pub opt_out: OptOut,
}

/// `[opt_out]`: a client who writes one of these words (alone, any case) is never written to
/// again on any channel for this lead: one confirmation, then silence (the manager is still
/// told if a phone was given).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub words: Vec<String>,
    /// The one confirmation (may be empty: say nothing).
    pub confirmation: String,
}

impl Default for OptOut {
    fn default() -> Self {
        OptOut {
            words: vec!["стоп".into(), "stop".into(), "отписаться".into(), "отписка".into()],
            confirmation: "Хорошо, больше не будем вам писать.".into(),
        }
    }
}

impl Script {
    /// The default `[opt_out]` (tests, docs).
    pub fn default_opt_out() -> OptOut {
        OptOut::default()
    }
}

impl OptOut {
    /// The message is an opt-out word ("СТОП", "Stop!", " стоп. ").
    pub fn matches(&self, text: &str) -> bool {
        let t = text
            .trim()
            .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
            .to_lowercase();
        !t.is_empty() && self.words.iter().any(|w| w.trim().to_lowercase() == t)
    }
}

/// `[phones]`: which numbers are never the client's contact.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneContext {
    /// The business's own lines (office, hotline, the FAQ's contacts), in any format. Numbers
    /// in the bot's own texts (the re-prompts' examples, FAQ answers) are excluded without
    /// being listed here.
    #[serde(default)]
    pub business_numbers: Vec<String>,
    /// Whether a toll-free 8-800 number may be taken as the client's (no person has one:
    /// clients who send one copied a company's hotline).
    #[serde(default)]
    pub toll_free_is_client: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    /// Greeting when the lead's name is known; `{name}` is replaced.
    pub greeting_named: String,
    /// Greeting when the name is unknown.
    pub greeting: String,
    /// The polite phone request that follows the greeting.
    pub phone_request: String,
    /// Answers offered with the phone request: buttons where the channel has them, a numbered
    /// list where it has not. A press (or the answer's number) is the client's message.
    #[serde(default)]
    pub phone_request_options: Vec<String>,
    /// Re-asks sent after `timing.reask_after[i]` of silence (one text per interval).
    pub reask: Vec<String>,
    /// After an FAQ answer: steer back to the phone.
    pub steer_back: String,
    /// Anything the bot did not understand.
    pub fallback: String,
    /// Second polite attempt after the first refusal.
    pub refusal_second_attempt: String,
    /// Said when the client refused for the last time (may be empty: say nothing).
    pub farewell_refused: String,
    /// Said when the no-answer window ends (may be empty).
    pub farewell_no_answer: String,
    /// A contact card that is not the client's own (e.g. a relative's from the address book).
    pub foreign_contact: String,
    /// Thanks once a valid phone is obtained.
    pub phone_accepted: String,
    /// Reply to messages after the lead was handed over (may be empty).
    pub after_handover: String,
    /// Said when the client corrects the number they gave ("нет, правильный номер …").
    #[serde(default = "default_phone_corrected")]
    pub phone_corrected: String,
    /// To the assigned manager when the client corrects the number after the hand-over;
    /// `{lead_id}`, `{old}` and `{phone}` are replaced.
    #[serde(default = "default_phone_corrected_notification")]
    pub phone_corrected_notification: String,
    /// The manager's notification; `{lead_id}`, `{name}`, `{phone}`, `{channel}` are replaced.
    pub manager_notification: String,
    /// To the head of sales when a manager does not accept a lead in time; `{manager}`,
    /// `{lead_id}`, `{minutes}` and `{what}` (what happened next) are replaced.
    pub head_notification: String,
}

fn default_phone_corrected() -> String {
    "Спасибо, исправил номер — менеджер позвонит на новый.".into()
}

fn default_phone_corrected_notification() -> String {
    "Клиент по лиду №{lead_id} исправил номер: {phone} (был {old}).".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reprompts {
    pub too_few_digits: String,
    pub too_many_digits: String,
    pub invalid_number: String,
    pub country_not_allowed: String,
    pub not_mobile: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timing {
    /// Silence after which each re-ask is sent, counted from the bot's last question.
    #[serde(deserialize_with = "duration::deserialize_vec")]
    pub reask_after: Vec<Duration>,
    /// No phone within this long after the client's last message → failure outcome.
    #[serde(with = "duration")]
    pub no_answer_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// Phrases that mean "I won't give my number".
    pub phrases: Vec<String>,
    /// Refusals accepted before giving up (2: one more polite attempt, then give up).
    pub max_refusals: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    pub id: String,
    /// Words or phrases, matched on word forms ("адрес" matches "адресу", not "адресат"); a
    /// phrase's words in order with up to two other words between them ("где вы сейчас
    /// находитесь" matches "где находитесь").
    pub keywords: Vec<String>,
    /// Phrases that mean something else although a keyword matches ("стоит ли" is "is it
    /// worth it", not a price question): when one matches, the entry does not answer.
    #[serde(default)]
    pub unless: Vec<String>,
    pub answer: String,
    /// The shipped example answer, not the business's own (an address, opening hours): the bot
    /// does not use it, and `check-config` reports it until the answer is written and this
    /// line removed, so no client is told a made-up address.
    #[serde(default)]
    pub placeholder: bool,
}

impl Script {
    /// What the business still has to fill in: `(key, what)` per placeholder answer.
    pub fn placeholders(&self) -> Vec<(String, String)> {
        self.faq
            .iter()
            .enumerate()
            .filter(|(_, f)| f.placeholder)
            .map(|(i, f)| {
                (
                    format!("faq[{i}] ({})", f.id),
                    format!("still the shipped example answer: write your own `answer` and remove `placeholder = true` (until then the bot does not answer \"{}\" questions)", f.id),
                )
            })
            .collect()
    }
}

impl Script {
    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.opt_out.words.is_empty() || self.opt_out.words.iter().any(|w| w.trim().is_empty()) {
            issues.push(file, "opt_out.words", "needs at least one word, none of them empty");
        }
        if self.texts.phone_request_options.iter().any(|o| o.trim().is_empty()) {
            issues.push(
                file,
                "texts.phone_request_options",
                "an offered answer must not be empty",
            );
        }
        let t = &self.texts;
        for (key, text) in [
            ("texts.greeting_named", &t.greeting_named),
            ("texts.greeting", &t.greeting),
            ("texts.phone_request", &t.phone_request),
            ("texts.steer_back", &t.steer_back),
            ("texts.fallback", &t.fallback),
            ("texts.refusal_second_attempt", &t.refusal_second_attempt),
            ("texts.phone_accepted", &t.phone_accepted),
            ("texts.foreign_contact", &t.foreign_contact),
            ("texts.manager_notification", &t.manager_notification),
            ("texts.head_notification", &t.head_notification),
            ("reprompts.too_few_digits", &self.reprompts.too_few_digits),
            ("reprompts.too_many_digits", &self.reprompts.too_many_digits),
            ("reprompts.invalid_number", &self.reprompts.invalid_number),
            ("reprompts.country_not_allowed", &self.reprompts.country_not_allowed),
            ("reprompts.not_mobile", &self.reprompts.not_mobile),
        ] {
            if text.trim().is_empty() {
                issues.push(file, key, "must not be empty");
            }
        }
        if !t.greeting_named.contains("{name}") {
            issues.push(file, "texts.greeting_named", "must contain {name}");
        }
        if t.reask.len() != self.timing.reask_after.len() {
            issues.push(
                file,
                "texts.reask",
                format!(
                    "has {} texts but timing.reask_after has {} intervals; give one text per interval",
                    t.reask.len(),
                    self.timing.reask_after.len()
                ),
            );
        }
        for (i, text) in t.reask.iter().enumerate() {
            if text.trim().is_empty() {
                issues.push(file, format!("texts.reask[{i}]"), "must not be empty");
            }
        }
        for (i, d) in self.timing.reask_after.iter().enumerate() {
            if d.is_zero() {
                issues.push(file, format!("timing.reask_after[{i}]"), "must be longer than zero");
            }
        }
        if self.timing.no_answer_timeout.is_zero() {
            issues.push(file, "timing.no_answer_timeout", "must be longer than zero");
        }
        if self.refusal.max_refusals == 0 {
            issues.push(file, "refusal.max_refusals", "must be at least 1");
        }
        for (i, p) in self.refusal.phrases.iter().enumerate() {
            if p.trim().is_empty() {
                issues.push(file, format!("refusal.phrases[{i}]"), "must not be empty");
            }
        }
        for (i, raw) in self.phones.business_numbers.iter().enumerate() {
            let digits = raw.chars().filter(char::is_ascii_digit).count();
            if !(7..=15).contains(&digits) {
                issues.push(
                    file,
                    format!("phones.business_numbers[{i}]"),
                    format!("`{raw}` is not a phone number (7 to 15 digits)"),
                );
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, f) in self.faq.iter().enumerate() {
            if !seen.insert(f.id.as_str()) {
                issues.push(file, format!("faq[{i}].id"), format!("`{}` is used twice", f.id));
            }
            if f.keywords.is_empty() || f.keywords.iter().any(|k| k.trim().is_empty()) {
                issues.push(
                    file,
                    format!("faq[{i}].keywords"),
                    "needs at least one non-empty keyword",
                );
            }
            if f.answer.trim().is_empty() {
                issues.push(file, format!("faq[{i}].answer"), "must not be empty");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, DIALOG_FILE};

    #[test]
    fn business_numbers_and_faq_exceptions_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DIALOG_FILE),
            "[phones]\nbusiness_numbers = [\"8 (863) 201-44-50\"]\ntoll_free_is_client = true\n",
        )
        .unwrap();
        let cfg = Config::load(Some(dir.path())).unwrap();
        assert_eq!(cfg.script.phones.business_numbers, ["8 (863) 201-44-50"]);
        assert!(cfg.script.phones.toll_free_is_client);
        // The shipped price entry does not answer "is it worth it".
        let prices = cfg.script.faq.iter().find(|f| f.id == "prices").unwrap();
        assert_eq!(prices.unless, ["стоит ли"]);

        std::fs::write(
            dir.path().join(DIALOG_FILE),
            "[phones]\nbusiness_numbers = [\"офис\"]\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(issues.contains("dialog.toml:phones.business_numbers[0]"), "{issues}");
    }
}
