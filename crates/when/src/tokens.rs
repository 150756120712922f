//! Splits a chat message into words, digit runs and single symbols.
//!
//! The matchers work on tokens rather than on the raw text so that "в11:30",
//! "в 11 : 30" and "В 11:30" look alike, while `glued` keeps the one thing
//! spacing tells us: whether "15.12" is one date or "8 918 123-45-67" is a
//! phone number made of many short runs.

/// What a token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Letters, lower-cased, "ё" written as "е" (clients use both).
    Word(String),
    /// A run of ASCII digits: its value (saturated for absurdly long runs,
    /// which then fail every range check) and how many digits it had, since
    /// "07:30" (explicit morning) and "7:30" read differently.
    Num { value: u32, digits: usize },
    /// Any other single non-space character.
    Sym(char),
}

/// One token and whether it touches the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: Kind,
    /// No whitespace between this token and the one before it.
    pub glued: bool,
}

/// Messages are short; a cap keeps a pasted novel from costing much.
const MAX_CHARS: usize = 4000;

pub(crate) fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks: Vec<Tok> = Vec::new();
    let mut glued = false;
    let mut chars = text.chars().take(MAX_CHARS).peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            glued = false;
            continue;
        }
        if c.is_ascii_digit() {
            let mut value: u32 = c.to_digit(10).unwrap_or(0);
            let mut digits = 1;
            while let Some(&d) = chars.peek() {
                let Some(v) = d.to_digit(10).filter(|_| d.is_ascii_digit()) else {
                    break;
                };
                value = value.saturating_mul(10).saturating_add(v);
                digits += 1;
                chars.next();
            }
            toks.push(Tok {
                kind: Kind::Num { value, digits },
                glued,
            });
        } else if c.is_alphabetic() {
            let mut word = String::new();
            push_lower(&mut word, c);
            while let Some(&d) = chars.peek() {
                if !d.is_alphabetic() {
                    break;
                }
                push_lower(&mut word, d);
                chars.next();
            }
            // A Latin "c" typed for the Cyrillic preposition "с" ("c 10 до 12").
            if word == "c" {
                word = "с".to_string();
            }
            toks.push(Tok {
                kind: Kind::Word(word),
                glued,
            });
        } else {
            // Dashes of every width mean the same in "10–12".
            let c = match c {
                '–' | '—' | '‒' | '−' => '-',
                other => other,
            };
            toks.push(Tok {
                kind: Kind::Sym(c),
                glued,
            });
        }
        glued = true;
    }
    toks
}

fn push_lower(word: &mut String, c: char) {
    for l in c.to_lowercase() {
        word.push(if l == 'ё' { 'е' } else { l });
    }
}

/// Read-only helpers over a token slice; out-of-range positions are simply
/// "nothing there", so matchers can look ahead without bounds checks.
pub(crate) struct Toks<'a>(pub &'a [Tok]);

impl<'a> Toks<'a> {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn word(&self, i: usize) -> Option<&'a str> {
        match self.0.get(i).map(|t| &t.kind) {
            Some(Kind::Word(w)) => Some(w.as_str()),
            _ => None,
        }
    }

    /// The value and digit count of a number token.
    pub fn num(&self, i: usize) -> Option<(u32, usize)> {
        match self.0.get(i).map(|t| &t.kind) {
            Some(Kind::Num { value, digits }) => Some((*value, *digits)),
            _ => None,
        }
    }

    pub fn sym(&self, i: usize) -> Option<char> {
        match self.0.get(i).map(|t| &t.kind) {
            Some(Kind::Sym(c)) => Some(*c),
            _ => None,
        }
    }

    pub fn glued(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(|t| t.glued)
    }

    pub fn is_word(&self, i: usize, options: &[&str]) -> bool {
        self.word(i).is_some_and(|w| options.contains(&w))
    }

    /// A symbol glued to the token before it, e.g. the ":" of "11:30".
    pub fn glued_sym(&self, i: usize, options: &[char]) -> bool {
        self.glued(i) && self.sym(i).is_some_and(|c| options.contains(&c))
    }

    /// True when the token at `i` continues a longer digit group: a glued
    /// separator followed by a glued number ("123-45-67", "10.000").
    pub fn continues_digits(&self, i: usize) -> bool {
        self.glued_sym(i, &['-', '.', '/', ':', ',']) && self.glued(i + 1) && self.num(i + 1).is_some()
    }

    /// True when the token before `i` is glued digits or a glued separator,
    /// i.e. the number at `i` is the tail of something longer.
    pub fn preceded_by_digits(&self, i: usize) -> bool {
        if i == 0 || !self.glued(i) {
            return false;
        }
        self.num(i - 1).is_some() || self.sym(i - 1).is_some_and(|c| "-./:,+".contains(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_numbers_and_symbols() {
        let t = tokenize("В 11:30, ёлка");
        assert_eq!(t.len(), 6);
        assert_eq!(t[0].kind, Kind::Word("в".into()));
        assert_eq!(t[1].kind, Kind::Num { value: 11, digits: 2 });
        assert!(!t[1].glued);
        assert_eq!(t[2].kind, Kind::Sym(':'));
        assert!(t[2].glued);
        assert_eq!(t[5].kind, Kind::Word("елка".into()));
    }

    #[test]
    fn long_digit_runs_saturate() {
        let t = tokenize("99999999999999999999");
        assert_eq!(
            t[0].kind,
            Kind::Num {
                value: u32::MAX,
                digits: 20
            }
        );
    }
}
