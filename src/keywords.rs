//! Keyword and phrase matching over what people type, tolerant of Russian word endings
//! ("адрес" matches "адресу", "цена" matches "цены") and of case, punctuation and ё/е.

/// Text split into normalised words, computed once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(Vec<String>);

impl Words {
    pub fn of(text: &str) -> Words {
        Words(split_words(text))
    }
}

fn split_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// One phrase: a sequence of word patterns that must appear consecutively.
#[derive(Debug, Clone)]
struct Phrase(Vec<WordPattern>);

#[derive(Debug, Clone)]
enum WordPattern {
    /// Short words ("не", "дам") match only themselves: a prefix rule would read "нет" as "не".
    Exact(String),
    /// Longer words match any ending: the keyword's stem followed by anything.
    Stem(String),
}

impl WordPattern {
    fn new(word: &str) -> WordPattern {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() <= 3 {
            return WordPattern::Exact(word.to_string());
        }
        let last = chars[chars.len() - 1];
        let stem_len = if "аеиоуыэюяйь".contains(last) {
            chars.len() - 1
        } else {
            chars.len()
        };
        WordPattern::Stem(chars[..stem_len].iter().collect())
    }

    fn matches(&self, word: &str) -> bool {
        match self {
            WordPattern::Exact(w) => word == w,
            WordPattern::Stem(s) => word.starts_with(s.as_str()),
        }
    }
}

/// A set of keywords/phrases; matches when any of them occurs in the text.
#[derive(Debug, Clone)]
pub struct KeywordSet(Vec<Phrase>);

impl KeywordSet {
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> KeywordSet {
        KeywordSet(
            phrases
                .iter()
                .map(|p| Phrase(split_words(p.as_ref()).iter().map(|w| WordPattern::new(w)).collect()))
                .filter(|p| !p.0.is_empty())
                .collect(),
        )
    }

    pub fn matches(&self, words: &Words) -> bool {
        self.0.iter().any(|phrase| {
            let n = phrase.0.len();
            n <= words.0.len()
                && words
                    .0
                    .windows(n)
                    .any(|win| win.iter().zip(&phrase.0).all(|(w, p)| p.matches(w)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(keys: &[&str], text: &str) -> bool {
        KeywordSet::new(keys).matches(&Words::of(text))
    }

    #[test]
    fn word_endings_case_and_yo() {
        assert!(m(&["адрес"], "Подскажите АДРЕСА ваших салонов"));
        assert!(m(&["цена"], "какие у вас цены?"));
        assert!(m(&["счёт на оплату"], "нужен счет на оплату"));
        assert!(!m(&["цена"], "оценка"));
    }

    #[test]
    fn short_words_are_exact_and_phrases_consecutive() {
        assert!(m(&["не дам"], "Номер не дам!"));
        assert!(!m(&["не дам"], "нет, дам конечно"));
        assert!(!m(&["во сколько"], "сколько во"));
        assert!(m(&["во сколько"], "А во сколько вы открываетесь?"));
    }
}
