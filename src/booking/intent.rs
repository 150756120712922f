//! What a client's message is for: to book, to ask, to cancel, to move a visit, to confirm it,
//! to talk to a person, or something else. Rules from config (word starts, with a negation
//! check), optionally an LLM's verdict first — the rules decide whenever the model fails, times
//! out or is unsure.

use serde::{Deserialize, Serialize};

use super::text::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Booking,
    Question,
    Cancel,
    Reschedule,
    Confirm,
    Human,
    Other,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Booking => "booking",
            Intent::Question => "question",
            Intent::Cancel => "cancel",
            Intent::Reschedule => "reschedule",
            Intent::Confirm => "confirm",
            Intent::Human => "human",
            Intent::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Intent> {
        Some(match s {
            "booking" => Intent::Booking,
            "question" => Intent::Question,
            "cancel" => Intent::Cancel,
            "reschedule" => Intent::Reschedule,
            "confirm" => Intent::Confirm,
            "human" => Intent::Human,
            "other" => Intent::Other,
            _ => return None,
        })
    }

    pub const ALL: [Intent; 7] = [
        Intent::Booking,
        Intent::Question,
        Intent::Cancel,
        Intent::Reschedule,
        Intent::Confirm,
        Intent::Human,
        Intent::Other,
    ];
}

/// An outside verdict (the LLM's): taken only when it is sure enough.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hint {
    pub intent: Intent,
    pub confidence: f32,
}

/// The port an outside reader of intents (the LLM) is behind. `None`: no verdict (failure,
/// timeout, an answer outside the strict format) — the rules decide.
#[async_trait::async_trait]
pub trait IntentReader: Send + Sync + 'static {
    async fn read(&self, text: &str) -> Option<Hint>;
}

/// Below this an outside verdict is ignored and the rules decide.
pub const HINT_THRESHOLD: f32 = 0.6;

#[derive(Debug, Clone, PartialEq)]
pub struct IntentRules {
    booking: Vec<String>,
    cancel: Vec<String>,
    reschedule: Vec<String>,
    confirm: Vec<String>,
    human: Vec<String>,
}

/// Words that make what follows them not meant ("не хочу отменять" is not a cancel).
const NEGATIONS: [&str; 3] = ["не", "нет", "без"];

/// How a question starts, when it has no question mark.
const QUESTION_WORDS: [&str; 12] = [
    "сколько",
    "где",
    "как",
    "какой",
    "какая",
    "какие",
    "когда",
    "почему",
    "есть ли",
    "можно ли",
    "во сколько",
    "подскажите",
];

impl IntentRules {
    pub fn new(
        booking: &[String],
        cancel: &[String],
        reschedule: &[String],
        confirm: &[String],
        human: &[String],
    ) -> IntentRules {
        let norm = |v: &[String]| v.iter().map(|w| normalize(w)).filter(|w| !w.is_empty()).collect();
        IntentRules {
            booking: norm(booking),
            cancel: norm(cancel),
            reschedule: norm(reschedule),
            confirm: norm(confirm),
            human: norm(human),
        }
    }

    /// The intent of `text`; `hint` (the LLM's) wins when it is confident.
    pub fn classify(&self, text: &str, hint: Option<Hint>) -> Intent {
        if let Some(h) = hint.filter(|h| h.confidence >= HINT_THRESHOLD) {
            return h.intent;
        }
        self.by_rules(text)
    }

    pub fn by_rules(&self, text: &str) -> Intent {
        let t = normalize(text);
        // A person first: "позовите человека, хочу отменить" goes to a person.
        if has(&t, &self.human) {
            return Intent::Human;
        }
        if has(&t, &self.cancel) {
            return Intent::Cancel;
        }
        if has(&t, &self.reschedule) {
            return Intent::Reschedule;
        }
        if has(&t, &self.booking) {
            return Intent::Booking;
        }
        if has(&t, &self.confirm) || is_bare_yes(&t) {
            return Intent::Confirm;
        }
        if is_question(text, &t) {
            return Intent::Question;
        }
        Intent::Other
    }
}

/// A lone "да", "ок", "+" answers the bot's last question yes.
fn is_bare_yes(t: &str) -> bool {
    matches!(
        t.trim(),
        "да" | "ок" | "окей" | "ага" | "+" | "конечно" | "да конечно" | "хорошо"
    )
}

fn is_question(raw: &str, t: &str) -> bool {
    raw.contains('?')
        || QUESTION_WORDS
            .iter()
            .any(|q| t.starts_with(q) || t.contains(&format!(" {q} ")))
}

/// Whether a word of `t` starts with one of `stems` (a stem of several words must match the
/// words in order) and is not negated by the word just before it.
fn has(t: &str, stems: &[String]) -> bool {
    let words: Vec<&str> = t.split_whitespace().collect();
    for stem in stems {
        let parts: Vec<&str> = stem.split_whitespace().collect();
        if parts.is_empty() || parts.len() > words.len() {
            continue;
        }
        for i in 0..=words.len() - parts.len() {
            let matched = parts.iter().enumerate().all(|(k, p)| {
                let w = words[i + k];
                // The last part of a phrase, or a one-word stem, is a word start; inner parts
                // are whole words.
                if k + 1 == parts.len() {
                    w.starts_with(p)
                } else {
                    w == *p
                }
            });
            if !matched {
                continue;
            }
            // A phrase that itself starts with a negation ("не приду") is meant as it is.
            // "не хочу записываться": the negation may stand one word further back.
            let negated = parts[0] != "не" && words[i.saturating_sub(2)..i].iter().any(|w| NEGATIONS.contains(w));
            if !negated {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IntentSettings;

    fn rules() -> IntentRules {
        let d = IntentSettings::default();
        IntentRules::new(&d.booking, &d.cancel, &d.reschedule, &d.confirm, &d.human)
    }

    #[test]
    fn the_usual_phrasings() {
        let r = rules();
        let table = [
            ("Здравствуйте, хочу записаться на стрижку", Intent::Booking),
            ("Можно на маникюр в субботу?", Intent::Booking),
            ("Есть свободные окошки на завтра?", Intent::Booking),
            ("запишите меня пожалуйста", Intent::Booking),
            ("Хочу отменить запись", Intent::Cancel),
            ("ОТМЕНИТЕ", Intent::Cancel),
            ("я не приду завтра", Intent::Cancel),
            ("к сожалению не смогу прийти", Intent::Cancel),
            ("можно перенести на другой день?", Intent::Reschedule),
            ("перенесите, пожалуйста, на пятницу", Intent::Reschedule),
            ("Подтвердить", Intent::Confirm),
            ("да, приду", Intent::Confirm),
            ("да", Intent::Confirm),
            ("позовите человека", Intent::Human),
            ("Можно с живым администратором поговорить", Intent::Human),
            ("соедините с менеджером", Intent::Human),
            ("сколько стоит окрашивание?", Intent::Question),
            ("где вы находитесь", Intent::Question),
            ("во сколько вы закрываетесь", Intent::Question),
            ("спасибо", Intent::Other),
            ("ммм", Intent::Other),
        ];
        for (text, want) in table {
            assert_eq!(r.by_rules(text), want, "{text}");
        }
    }

    #[test]
    fn negated_words_do_not_count() {
        let r = rules();
        assert_eq!(r.by_rules("нет, отменять не надо, не переносите"), Intent::Other);
        assert_eq!(
            r.by_rules("не хочу записываться, просто спросить цену?"),
            Intent::Question
        );
        assert_eq!(r.by_rules("без записи можно прийти?"), Intent::Question);
    }

    #[test]
    fn a_confident_hint_wins_an_unsure_one_does_not() {
        let r = rules();
        let sure = Hint {
            intent: Intent::Cancel,
            confidence: 0.9,
        };
        let unsure = Hint {
            intent: Intent::Cancel,
            confidence: 0.3,
        };
        assert_eq!(r.classify("ну в общем не выйдет у меня", Some(sure)), Intent::Cancel);
        assert_eq!(r.classify("хочу записаться", Some(unsure)), Intent::Booking);
        assert_eq!(r.classify("хочу записаться", None), Intent::Booking);
    }
}
