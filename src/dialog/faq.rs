use crate::config::FaqEntry;
use crate::keywords::{KeywordSet, Words};

/// FAQ entries compiled for matching.
#[derive(Debug, Clone)]
pub(super) struct Faq(Vec<(KeywordSet, String)>);

impl Faq {
    pub fn new(entries: &[FaqEntry]) -> Faq {
        Faq(entries
            .iter()
            .map(|e| (KeywordSet::new(&e.keywords), e.answer.clone()))
            .collect())
    }

    /// Answers to every question the message asks, in the script's order.
    pub fn answers(&self, words: &Words) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.matches(words))
            .map(|(_, a)| a.as_str())
            .collect()
    }
}
