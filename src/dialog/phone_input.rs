//! The dialog's view of phone numbers: what a message means for the phone request.
//! Extraction and validation live in the `leadbot-phone` crate.

use leadbot_phone::{Extractor, Policy, Rejection};

use crate::domain::Phone;

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
    policy: Policy,
}

impl PhoneReader {
    pub fn new(extractor: Extractor, policy: Policy) -> PhoneReader {
        PhoneReader { extractor, policy }
    }

    /// A phone as it came in a CRM card or intake request.
    pub fn read_card(&self, raw: &str) -> PhoneInput {
        self.read(raw, &[])
    }

    /// `recent`: the client's previous messages, oldest first, for numbers split across them.
    pub fn read(&self, text: &str, recent: &[&str]) -> PhoneInput {
        let analysis = self.extractor.analyse(text);
        let mut rejection = None;
        for n in &analysis.found {
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
            if let Some(n) = self.extractor.assemble(&all) {
                return match self.policy.check(&n) {
                    Ok(()) => e164(&n).map_or(PhoneInput::Nothing, PhoneInput::Valid),
                    Err(r) => PhoneInput::Rejected(r),
                };
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
