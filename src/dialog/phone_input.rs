//! The dialog's view of phone numbers: what a message means for the phone request.
//! Extraction and validation live in the `leadbot-phone` crate.

use leadbot_phone::{ClientReader, Extractor, PhoneNumber, Policy, Rejection};

use crate::domain::Phone;
use crate::keywords::Stems;

/// What a client message says about the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneInput {
    /// A valid number the policy accepts (E.164).
    Valid(Phone),
    /// The client tried to give a number but it cannot be accepted, for this reason.
    Rejected(Rejection),
    /// Nothing phone-like.
    Nothing,
}

/// Reads phones in messages according to the configured region and policy.
#[derive(Debug, Clone)]
pub struct PhoneReader {
    /// The crate's reading order (whole, split, city, named country), shared with
    /// `leadbot phones --jsonl`; its context holds the business's and the bot's numbers.
    reader: ClientReader,
    policy: Policy,
}

impl PhoneReader {
    pub fn new(extractor: Extractor, policy: Policy) -> PhoneReader {
        PhoneReader {
            reader: ClientReader::new(extractor),
            policy,
        }
    }

    /// Every number in `text` (a bot text, a business line from the script) is never the
    /// client's. Returns how many numbers it held.
    pub fn exclude_found_in(&mut self, text: &str) -> usize {
        let n = self.reader.extractor().find(text).len();
        let extractor = self.reader.extractor().clone();
        self.reader.context.exclude_found_in(&extractor, text);
        n
    }

    /// Whether toll-free (8-800) numbers count as a client's contact.
    pub fn set_toll_free_is_client(&mut self, yes: bool) {
        self.reader.context.toll_free_is_client = yes;
    }

    /// A phone as it came in a CRM card or intake request: the card's field holds the
    /// client's number whatever it is, so only the policy applies.
    pub fn read_card(&self, raw: &str) -> PhoneInput {
        let a = self.reader.extractor().analyse(raw);
        self.decide(a.found, a.attempt)
    }

    /// `recent`: the client's previous messages, oldest first, for numbers split across them
    /// and for the city or country they named. Numbers that are not the client's (see
    /// `ClientContext`) are passed over.
    pub fn read(&self, text: &str, recent: &[&str]) -> PhoneInput {
        let a = self.reader.read(text, recent);
        let mut found = a.found;
        // "8 918 123-45-67, ой, нет, правильно 8 928 …": the number after the correction wins.
        if found.len() >= 2 {
            let m = self.reader.extractor().client_matches(text, &self.reader.context);
            if let (Some(first), Some(last)) = (m.first(), m.last()) {
                let between = text.get(first.range.end..last.range.start).unwrap_or("");
                if first.range.end <= last.range.start && is_correction(between) {
                    found = vec![last.number.clone()];
                }
            }
        }
        self.decide(found, a.attempt)
    }

    /// Every number of the client's in one message the policy accepts, in the order the
    /// reader ranks them ("мой …" first, then as written).
    pub fn valid_numbers(&self, text: &str) -> Vec<Phone> {
        self.reader
            .extractor()
            .client_matches(text, &self.reader.context)
            .iter()
            .filter(|m| self.policy.check(&m.number).is_ok())
            .filter_map(|m| e164(&m.number))
            .collect()
    }

    /// The first number the policy accepts; else why the first was refused; else the near miss.
    fn decide(&self, found: Vec<PhoneNumber>, attempt: Option<Rejection>) -> PhoneInput {
        let mut rejection = None;
        for n in &found {
            match self.policy.check(n) {
                Ok(()) => {
                    if let Some(p) = e164(n) {
                        return PhoneInput::Valid(p);
                    }
                }
                Err(r) => rejection = rejection.or(Some(r)),
            }
        }
        match rejection.or(attempt) {
            Some(r) => PhoneInput::Rejected(r),
            None => PhoneInput::Nothing,
        }
    }
}

/// The extractor's E.164 as the domain's `Phone` (they agree on the format; a disagreement
/// would be a bug in one of them, and the number is then not taken).
fn e164(n: &leadbot_phone::PhoneNumber) -> Option<Phone> {
    Phone::parse(n.e164()).ok()
}

/// Words that say the number given before was wrong: "правильный номер", "ошибся",
/// "опечатка", "не тот", "вернее", or a reply that starts with "нет". Only read when the
/// message also holds a new valid number.
pub(super) fn is_correction(text: &str) -> bool {
    let stems = Stems::of(text);
    let words = stems.as_slice();
    const PREFIXES: &[&str] = &[
        "правильн",
        "неправильн",
        "ошиб",
        "опечат",
        "исправ",
        "перепут",
        "актуальн",
        "поправ",
    ];
    // Whole stems: "верн" is "верный"/"вернее", not "вернусь".
    const WHOLE: &[&str] = &["верн", "точн"];
    words
        .iter()
        .any(|w| PREFIXES.iter().any(|s| w.starts_with(s)) || WHOLE.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| p[0] == "не" && matches!(p[1].as_str(), "тот" | "этот" | "та"))
        // "нет, 8 928 …" right after the bot repeated the number it took: that one was wrong.
        || words.first().is_some_and(|w| w == "нет")
}
