//! Whose number it is: of the numbers in a client's message, which can be
//! the client's own contact. The business's own lines (from config), the
//! numbers the bot itself wrote (its format example "+7 (900) 000-00-00",
//! a quoted bot message), toll-free lines and numbers the client introduces
//! as the business's ("ваш", "у вас на сайте") are not.

use std::collections::HashSet;

use crate::context::Owner;
use crate::extract::{Analysis, Extractor, Match};
use crate::kind::NumberKind;
use crate::number::PhoneNumber;

/// What is known beyond the message itself. Build once per business.
#[derive(Debug, Clone, Default)]
pub struct ClientContext {
    excluded: HashSet<String>,
    /// Whether an 8-800 (toll-free) number may be a client's contact. Off by
    /// default: clients copy the business's hotline, no person has one.
    pub toll_free_is_client: bool,
}

impl ClientContext {
    pub fn new() -> ClientContext {
        ClientContext::default()
    }

    /// A number that is never the client's (one of the business's lines).
    pub fn exclude(&mut self, number: &PhoneNumber) {
        self.excluded.insert(number.e164().to_string());
    }

    /// Every number in a text the business or the bot wrote (the FAQ's
    /// contacts, the re-prompts' format examples): none is the client's.
    pub fn exclude_found_in(&mut self, extractor: &Extractor, text: &str) {
        for n in extractor.find(text) {
            self.exclude(&n);
        }
    }

    pub fn is_excluded(&self, number: &PhoneNumber) -> bool {
        self.excluded.contains(number.e164())
    }

    /// Whether a match can be the client's contact.
    pub fn may_be_clients(&self, m: &Match) -> bool {
        m.owner != Owner::Business && self.may_be_clients_number(&m.number)
    }

    /// The same for a number without the words around it (one assembled
    /// from several messages).
    pub fn may_be_clients_number(&self, n: &PhoneNumber) -> bool {
        !(self.is_excluded(n) || is_placeholder(n) || (n.kind() == NumberKind::TollFree && !self.toll_free_is_client))
    }
}

/// A format example rather than a number: the subscriber part is one digit
/// repeated ("+7 (900) 000-00-00", "8 999 999 99 99").
fn is_placeholder(n: &PhoneNumber) -> bool {
    let nsn = n.national_number().as_bytes();
    let tail = &nsn[nsn.len().saturating_sub(7)..];
    tail.len() == 7 && tail.iter().all(|&d| d == tail[0])
}

impl Extractor {
    /// The numbers of a message that can be the client's contact, the ones
    /// the client calls their own ("мой …") first, then in order.
    pub fn client_matches(&self, text: &str, ctx: &ClientContext) -> Vec<Match> {
        order(
            self.find_matches(text)
                .into_iter()
                .filter(|m| ctx.may_be_clients(m))
                .collect(),
        )
    }

    /// Like `analyse`, for the client's contact: numbers that are not the
    /// client's are left out, and a message that held only such numbers has
    /// no near miss either (the client quoted a number, they did not fail
    /// to type theirs).
    pub fn analyse_client(&self, text: &str, ctx: &ClientContext) -> Analysis {
        let (all, attempt) = self.analyse_matches(text);
        let had_any = !all.is_empty();
        let found: Vec<PhoneNumber> = order(all.into_iter().filter(|m| ctx.may_be_clients(m)).collect())
            .into_iter()
            .map(|m| m.number)
            .collect();
        Analysis {
            found,
            attempt: if had_any { None } else { attempt },
        }
    }
}

fn order(mut v: Vec<Match>) -> Vec<Match> {
    // A stable sort: "мой" numbers first, the rest keep their order.
    v.sort_by_key(|m| m.owner != Owner::Client);
    v
}
