//! The dialog's view of phone numbers: what a message means for the phone request.
//! Extraction and validation live in the `leadbot-phone` crate.

use leadbot_phone::{ClientContext, Extractor, Policy, Rejection};

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
    extractor: Extractor,
    /// Extractors of the CIS regions a client may name ("я из Минска"), built once.
    named: Vec<Extractor>,
    policy: Policy,
    /// Numbers that are not the client's: the business's own and the bot's examples.
    context: ClientContext,
}

impl PhoneReader {
    pub fn new(extractor: Extractor, policy: Policy) -> PhoneReader {
        // Regions the extractor does not know are left out: nothing to read there.
        let named = ["BY", "UA", "UZ", "KG", "TJ", "AM", "AZ", "GE", "MD"]
            .iter()
            .filter(|r| **r != extractor.region())
            .filter_map(|r| Extractor::new(r).ok())
            .collect();
        PhoneReader {
            extractor,
            named,
            policy,
            context: ClientContext::new(),
        }
    }

    /// Every number in `text` (a bot text, a business line from the script) is never the
    /// client's. Returns how many numbers it held.
    pub fn exclude_found_in(&mut self, text: &str) -> usize {
        let n = self.extractor.find(text).len();
        self.context.exclude_found_in(&self.extractor, text);
        n
    }

    /// Whether toll-free (8-800) numbers count as a client's contact.
    pub fn set_toll_free_is_client(&mut self, yes: bool) {
        self.context.toll_free_is_client = yes;
    }

    /// A phone as it came in a CRM card or intake request: the card's field holds the
    /// client's number whatever it is, so only the policy applies.
    pub fn read_card(&self, raw: &str) -> PhoneInput {
        self.read_with(raw, &[], None)
    }

    /// `recent`: the client's previous messages, oldest first, for numbers split across them.
    /// Numbers that are not the client's (see `ClientContext`) are passed over.
    pub fn read(&self, text: &str, recent: &[&str]) -> PhoneInput {
        self.read_with(text, recent, Some(&self.context))
    }

    fn read_with(&self, text: &str, recent: &[&str], context: Option<&ClientContext>) -> PhoneInput {
        let analysis = match context {
            Some(c) => self.extractor.analyse_client(text, c),
            None => self.extractor.analyse(text),
        };
        let mut found = analysis.found;
        // "8 918 123-45-67, ой, нет, правильно 8 928 …": the number after the correction wins.
        if let (true, Some(c)) = (found.len() >= 2, context) {
            let m = self.extractor.client_matches(text, c);
            if let (Some(first), Some(last)) = (m.first(), m.last()) {
                let between = text.get(first.range.end..last.range.start).unwrap_or("");
                if first.range.end <= last.range.start && is_correction(between) {
                    found = vec![last.number.clone()];
                }
            }
        }
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
        if let Some(r) = rejection {
            return PhoneInput::Rejected(r);
        }
        if !recent.is_empty() {
            let mut all: Vec<&str> = recent.to_vec();
            all.push(text);
            let assembled = self
                .extractor
                .assemble(&all)
                .filter(|n| context.is_none_or(|c| c.may_be_clients_number(n)));
            if let Some(n) = assembled {
                return match self.policy.check(&n) {
                    Ok(()) => e164(&n).map_or(PhoneInput::Nothing, PhoneInput::Valid),
                    Err(r) => PhoneInput::Rejected(r),
                };
            }
        }
        // "22-33-44" with a city named here or in an earlier message: the area code completes
        // it. After assembling, so digits split over messages stay one mobile number.
        if let Some(c) = context {
            let local = self.extractor.local_numbers(text, recent);
            if let Some(n) = local.into_iter().find(|n| c.may_be_clients_number(n)) {
                return match self.policy.check(&n) {
                    Ok(()) => e164(&n).map_or(PhoneInput::Nothing, PhoneInput::Valid),
                    Err(r) => PhoneInput::Rejected(r),
                };
            }
        }
        // "8 029 123-45-67" from a client who said they are in Minsk: that country's format.
        if let Some(c) = context {
            let region = leadbot_phone::named_region(text)
                .or_else(|| recent.iter().rev().find_map(|m| leadbot_phone::named_region(m)));
            if let Some(ex) = region.and_then(|r| self.named.iter().find(|e| e.region() == r)) {
                if let Some(n) = ex.analyse_client(text, c).found.into_iter().next() {
                    return match self.policy.check(&n) {
                        Ok(()) => e164(&n).map_or(PhoneInput::Nothing, PhoneInput::Valid),
                        Err(r) => PhoneInput::Rejected(r),
                    };
                }
            }
        }
        match analysis.attempt {
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
/// "опечатка", "не тот", "вернее". Only read when the message also holds a new valid number.
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
    ];
    // Whole stems: "верн" is "верный"/"вернее", not "вернусь".
    const WHOLE: &[&str] = &["верн", "точн"];
    words
        .iter()
        .any(|w| PREFIXES.iter().any(|s| w.starts_with(s)) || WHOLE.contains(&w.as_str()))
        || words
            .windows(2)
            .any(|p| p[0] == "не" && matches!(p[1].as_str(), "тот" | "этот" | "та"))
}
