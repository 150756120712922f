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

/// Function words compared as written: stripping an ending would make "почему" the price
/// word "почем" and "где" nothing at all.
const UNSTEMMED: &[&str] = &[
    "почему",
    "почем",
    "зачем",
    "чем",
    "где",
    "когда",
    "куда",
    "откуда",
    "сколько",
    "скольки",
    "как",
    "какой",
    "какая",
    "какие",
    "что",
    "кто",
    "ли",
    "не",
    "нет",
    "ни",
    "вы",
    "вас",
    "вам",
    "мы",
    "нас",
    "до",
    "со",
    "во",
    "по",
    "на",
    "за",
    "для",
    "без",
    "или",
    "это",
    "все",
    "уже",
    "еще",
    "там",
    "тут",
];

/// The stem a word form is compared by: the Snowball Russian stemmer (`rust-stemmers`), so
/// "находитесь" and "находится" share a stem, and "цены", "цену", "ценой" share one that
/// "Центральный" and "оценка" do not; comparing whole stems, not prefixes, is what keeps them
/// apart. Short function words above are left as they are.
pub fn stem(word: &str) -> String {
    if UNSTEMMED.contains(&word) {
        return word.to_string();
    }
    static RUSSIAN: std::sync::OnceLock<rust_stemmers::Stemmer> = std::sync::OnceLock::new();
    RUSSIAN
        .get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::Russian))
        .stem(word)
        .into_owned()
}

/// Phrases matched on word forms, for questions (the FAQ): a phrase's words in order, with
/// up to `MAX_GAP` other words between two of them ("где вы сейчас находитесь" for "где
/// находитесь"). Each match has a score, the share of the covered words that belong to the
/// phrase, so a phrase scattered over a long message counts less than one said together.
#[derive(Debug, Clone)]
pub struct Phrases(Vec<Vec<String>>);

/// Words allowed between two words of a phrase.
const MAX_GAP: usize = 2;

impl Phrases {
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> Phrases {
        Phrases(
            phrases
                .iter()
                .map(|p| split_words(p.as_ref()).iter().map(|w| stem(w)).collect::<Vec<_>>())
                .filter(|p| !p.is_empty())
                .collect(),
        )
    }

    /// The best score of any phrase in the text (0 when none matches): 1.0 for a phrase said
    /// word by word, lower for one with words between.
    pub fn score(&self, words: &Stems) -> f32 {
        self.0
            .iter()
            .filter_map(|p| best_span(p, &words.0))
            .map(|(len, span)| len as f32 / span as f32)
            .fold(0.0, f32::max)
    }
}

/// The shortest span holding the phrase in order (phrase length, span length).
fn best_span(phrase: &[String], words: &[String]) -> Option<(usize, usize)> {
    let mut best: Option<usize> = None;
    for start in 0..words.len() {
        if words[start] != phrase[0] {
            continue;
        }
        let mut at = start;
        let mut ok = true;
        for p in &phrase[1..] {
            let next = (at + 1..words.len().min(at + 2 + MAX_GAP)).find(|&k| &words[k] == p);
            match next {
                Some(k) => at = k,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            let span = at - start + 1;
            best = Some(best.map_or(span, |b| b.min(span)));
        }
    }
    best.map(|span| (phrase.len(), span))
}

/// A message's words as stems, computed once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stems(Vec<String>);

impl Stems {
    pub fn of(text: &str) -> Stems {
        Stems(split_words(text).iter().map(|w| stem(w)).collect())
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
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

    fn score(keys: &[&str], text: &str) -> f32 {
        Phrases::new(keys).score(&Stems::of(text))
    }

    #[test]
    fn phrases_match_word_forms_not_prefixes() {
        assert_eq!(score(&["цена"], "а какие цены?"), 1.0);
        assert_eq!(score(&["цена"], "назовите цену"), 1.0);
        assert_eq!(score(&["цена"], "мы в Центральном районе"), 0.0);
        assert_eq!(score(&["цена"], "оценка"), 0.0);
        assert_eq!(score(&["почем"], "почему так долго?"), 0.0);
        assert_eq!(score(&["почем"], "почем ремонт?"), 1.0);
        assert_eq!(score(&["адрес"], "письмо вернулось, адресат выбыл"), 0.0);
        assert_eq!(score(&["адрес"], "по какому адресу?"), 1.0);
    }

    #[test]
    fn phrase_words_may_have_words_between() {
        assert_eq!(score(&["где находитесь"], "где находитесь?"), 1.0);
        assert_eq!(score(&["где находитесь"], "а где вы находитесь"), 2.0 / 3.0);
        assert_eq!(score(&["где находитесь"], "где у вас находится офис"), 0.5);
        assert_eq!(score(&["где находитесь"], "где это у вас там находится"), 0.0);
        assert_eq!(score(&["где находитесь"], "находитесь где"), 0.0);
    }

    #[test]
    fn short_words_are_exact_and_phrases_consecutive() {
        assert!(m(&["не дам"], "Номер не дам!"));
        assert!(!m(&["не дам"], "нет, дам конечно"));
        assert!(!m(&["во сколько"], "сколько во"));
        assert!(m(&["во сколько"], "А во сколько вы открываетесь?"));
    }
}
