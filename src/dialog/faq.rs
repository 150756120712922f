use crate::config::FaqEntry;
use crate::keywords::{Phrases, Stems};

/// A score below this is no answer: a phrase whose words are scattered with more words
/// between them than in it says too little, and a wrong answer is worse than none (the
/// fallback hands the question to the manager).
const MIN_SCORE: f32 = 0.5;

#[derive(Debug, Clone)]
struct Entry {
    keywords: Phrases,
    unless: Phrases,
    answer: String,
}

/// FAQ entries compiled for matching.
#[derive(Debug, Clone)]
pub(super) struct Faq(Vec<Entry>);

impl Faq {
    pub fn new(entries: &[FaqEntry]) -> Faq {
        // A placeholder answer is not the business's: the question goes to the manager instead.
        Faq(entries
            .iter()
            .filter(|e| !e.placeholder)
            .map(|e| Entry {
                keywords: Phrases::new(&e.keywords),
                unless: Phrases::new(&e.unless),
                answer: e.answer.clone(),
            })
            .collect())
    }

    /// Answers to every question the message asks, in the script's order.
    pub fn answers(&self, text: &str) -> Vec<&str> {
        let stems = Stems::of(text);
        self.0
            .iter()
            .filter(|e| e.keywords.score(&stems) >= MIN_SCORE && e.unless.score(&stems) < MIN_SCORE)
            .map(|e| e.answer.as_str())
            .collect()
    }
}
