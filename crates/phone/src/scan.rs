//! Lexing a message into runs ("chunks") of digit groups that could form
//! phone numbers. A chunk is a sequence of digit groups separated only by
//! what people put inside phone numbers (spaces, dashes, dots, brackets);
//! any other word or sign ends it. Number words become digit groups here,
//! and a letter O typed for zero inside digits becomes a 0.

use std::ops::Range;

use crate::words::{self, Class};

/// What separates a group from the previous one, strongest kept when several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Sep {
    Start,
    Space,
    Dash,
    Dot,
    Paren,
}

#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// Range in `Scan::digits`.
    pub digits: Range<usize>,
    /// Byte range in the message.
    pub bytes: Range<usize>,
    /// A '+' (or the word "плюс") stands right before it.
    pub plus: bool,
    /// Spelled in words.
    pub words: bool,
    pub sep: Sep,
    /// Part of a date (dd.mm.yyyy), an IP address, a pair of coordinates or
    /// an amount ("900 000-1 200 000"): never part of a phone number.
    pub not_phone: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    pub groups: Range<usize>,
    /// Letters touch the first / last digit ("RA233157724RU").
    pub glued_left: bool,
    pub glued_right: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub digits: Vec<u8>,
    pub groups: Vec<Group>,
    pub chunks: Vec<Chunk>,
    /// A round hundred followed by a ten was composed greedily; a re-scan
    /// with the other reading may find what this one did not.
    pub ambiguous_numerals: bool,
}

impl Scan {
    pub fn digits_of(&self, g: &Group) -> &[u8] {
        &self.digits[g.digits.clone()]
    }
}

fn is_o(c: char) -> bool {
    matches!(c, 'O' | 'o' | 'О' | 'о')
}

fn soft_sep(c: char) -> Option<Sep> {
    Some(match c {
        '\n' | '\r' => return None,
        '-' | '‐' | '‑' | '‒' | '–' | '—' | '−' | '_' => Sep::Dash,
        '.' => Sep::Dot,
        '(' | ')' => Sep::Paren,
        // Zero-width and soft-hyphen characters come from copy-paste; treat as nothing.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => Sep::Start,
        // Keycap emoji digits ("8️⃣") are a digit followed by these two marks.
        '\u{FE0F}' | '\u{20E3}' => Sep::Start,
        c if c.is_whitespace() => Sep::Space,
        _ => return None,
    })
}

struct Lexer<'a> {
    text: &'a str,
    out: Scan,
    /// Groups of the chunk being built start here.
    chunk_start: usize,
    glued_left: bool,
    /// Strongest separator since the last group.
    sep: Sep,
    plus: bool,
    /// Numeral words waiting to be composed: (value, class, byte range).
    numerals: Vec<(u16, Class, Range<usize>)>,
    numeral_plus: bool,
    numeral_sep: Sep,
    /// End of the last word that was not a numeral (for glued_left).
    last_word_end: Option<usize>,
    word: String,
    split_round_hundreds: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str, split_round_hundreds: bool) -> Self {
        Lexer {
            text,
            out: Scan {
                digits: Vec::with_capacity(32),
                groups: Vec::with_capacity(8),
                chunks: Vec::with_capacity(4),
                ambiguous_numerals: false,
            },
            chunk_start: 0,
            glued_left: false,
            sep: Sep::Start,
            plus: false,
            numerals: Vec::new(),
            numeral_plus: false,
            numeral_sep: Sep::Start,
            last_word_end: None,
            word: String::new(),
            split_round_hundreds,
        }
    }

    fn in_chunk(&self) -> bool {
        self.out.groups.len() > self.chunk_start || !self.numerals.is_empty()
    }

    fn start_group(&mut self, bytes: Range<usize>, words: bool) {
        let first = self.out.groups.len() == self.chunk_start;
        if first {
            self.glued_left = self.last_word_end == Some(bytes.start);
        }
        let sep = if first && self.sep != Sep::Paren {
            Sep::Start
        } else {
            self.sep
        };
        let d = self.out.digits.len();
        self.out.groups.push(Group {
            digits: d..d,
            bytes,
            plus: std::mem::take(&mut self.plus),
            words,
            sep,
            not_phone: false,
        });
        self.sep = Sep::Space;
    }

    /// Append ASCII digits at `bytes`, extending the previous group when adjacent.
    fn push_digits(&mut self, bytes: Range<usize>, digits: impl Iterator<Item = u8>) {
        self.flush_numerals();
        let adjacent = self.out.groups.len() > self.chunk_start
            && self
                .out
                .groups
                .last()
                .is_some_and(|g| !g.words && g.bytes.end == bytes.start);
        if !adjacent {
            self.start_group(bytes.clone(), false);
        }
        self.out.digits.extend(digits);
        let end = self.out.digits.len();
        if let Some(g) = self.out.groups.last_mut() {
            g.digits.end = end;
            g.bytes.end = bytes.end;
        }
    }

    fn flush_numerals(&mut self) {
        if self.numerals.is_empty() {
            return;
        }
        let run: Vec<(u16, Class)> = self.numerals.iter().map(|(v, c, _)| (*v, *c)).collect();
        let spans: Vec<Range<usize>> = self.numerals.iter().map(|(_, _, r)| r.clone()).collect();
        let mut i = 0;
        let saved_plus = std::mem::take(&mut self.plus);
        self.plus = self.numeral_plus;
        self.sep = self.numeral_sep;
        while i < run.len() {
            if run[i].1 == Class::Hundred && matches!(run.get(i + 1), Some((_, Class::Ten))) {
                self.out.ambiguous_numerals = true;
            }
            let (digits, n) = words::compose(&run[i..], self.split_round_hundreds);
            let n = n.max(1);
            let bytes = spans[i].start..spans[i + n - 1].end;
            self.start_group(bytes, true);
            self.out.digits.extend(digits.bytes());
            let end = self.out.digits.len();
            if let Some(g) = self.out.groups.last_mut() {
                g.digits.end = end;
            }
            i += n;
        }
        self.numerals.clear();
        self.plus = saved_plus;
        self.numeral_plus = false;
    }

    /// Anything that is not part of a phone number: close the chunk.
    fn hard_break(&mut self, at: usize, letter: bool) {
        self.flush_numerals();
        let n = self.out.groups.len();
        if n > self.chunk_start {
            let glued_right = letter && self.out.groups[n - 1].bytes.end == at;
            self.out.chunks.push(Chunk {
                groups: self.chunk_start..n,
                glued_left: self.glued_left,
                glued_right,
            });
        }
        self.chunk_start = n;
        self.sep = Sep::Start;
        self.plus = false;
        self.numeral_plus = false;
    }

    fn word(&mut self, start: usize, end: usize) {
        let w = &self.text[start..end];
        let prev_digit = self.text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit());
        let next_digit = self.text[end..].chars().next().is_some_and(|c| c.is_ascii_digit());
        // A lone "О" group between digit groups ("956 Оо 28") is zeros too.
        let between_digits = self.out.groups.len() > self.chunk_start
            && self.text[end..]
                .chars()
                .find(|&c| soft_sep(c).is_none())
                .is_some_and(|c| c.is_ascii_digit());
        if (prev_digit || next_digit || between_digits) && w.chars().count() <= 4 && w.chars().all(is_o) {
            let zeros = w.chars().count();
            self.push_digits(start..end, std::iter::repeat_n(b'0', zeros));
            return;
        }
        self.word.clear();
        self.word.extend(
            w.chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == 'ё' { 'е' } else { c }),
        );
        if let Some((v, c)) = words::numeral(&self.word) {
            if self.numerals.is_empty() {
                // Close a digit group the numeral would otherwise glue to.
                self.numeral_plus = std::mem::take(&mut self.plus);
                self.numeral_sep = self.sep;
                if self.out.groups.len() == self.chunk_start {
                    self.glued_left = self.last_word_end == Some(start);
                }
            }
            self.numerals.push((v, c, start..end));
            return;
        }
        if words::is_plus(&self.word) {
            self.hard_break(start, true);
            self.plus = true;
            return;
        }
        self.hard_break(start, true);
        self.last_word_end = Some(end);
    }

    fn run(mut self) -> Scan {
        let text = self.text;
        let mut it = text.char_indices().peekable();
        while let Some((i, c)) = it.next() {
            if c.is_ascii_digit() {
                let mut end = i + 1;
                while let Some(&(j, d)) = it.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    end = j + 1;
                    it.next();
                }
                self.push_digits(i..end, text.as_bytes()[i..end].iter().copied());
            } else if c.is_alphabetic() {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = it.peek() {
                    if !d.is_alphabetic() {
                        break;
                    }
                    end = j + d.len_utf8();
                    it.next();
                }
                self.word(i, end);
            } else if c == '+' {
                self.hard_break(i, false);
                self.plus = true;
            } else if let Some(sep) = soft_sep(c) {
                if self.in_chunk() || sep == Sep::Paren {
                    self.sep = self.sep.max(sep);
                }
            } else {
                self.hard_break(i, false);
            }
        }
        self.hard_break(text.len(), false);
        mark_dates(&mut self.out);
        mark_addresses_and_coordinates(&mut self.out);
        mark_amounts(&mut self.out);
        self.out
    }
}

/// dd.mm.yyyy / dd.mm.yy inside a chunk: mark so no phone spans them.
fn mark_dates(scan: &mut Scan) {
    for chunk in &scan.chunks {
        let r = chunk.groups.clone();
        if r.len() < 3 {
            continue;
        }
        for i in r.start..r.end - 2 {
            let num =
                |g: &Group| -> Option<u32> { std::str::from_utf8(&scan.digits[g.digits.clone()]).ok()?.parse().ok() };
            let (a, b, c) = (&scan.groups[i], &scan.groups[i + 1], &scan.groups[i + 2]);
            let lens = (a.digits.len(), b.digits.len(), c.digits.len());
            let shape = (1..=2).contains(&lens.0)
                && (1..=2).contains(&lens.1)
                && (lens.2 == 2 || lens.2 == 4)
                && b.sep == Sep::Dot
                && c.sep == Sep::Dot;
            if !shape {
                continue;
            }
            let (Some(d), Some(m)) = (num(a), num(b)) else {
                continue;
            };
            if (1..=31).contains(&d) && (1..=12).contains(&m) {
                for g in &mut scan.groups[i..i + 3] {
                    g.not_phone = true;
                }
            }
        }
    }
}

/// The value of a group written in digits, if it has at most `max_len` of them
/// and no superfluous leading zero ("050" is not an octet).
fn small_value(scan: &Scan, g: &Group, max_len: usize) -> Option<u32> {
    let d = scan.digits_of(g);
    if g.words || d.is_empty() || d.len() > max_len || (d.len() > 1 && d[0] == b'0') {
        return None;
    }
    std::str::from_utf8(d).ok()?.parse().ok()
}

/// IPv4 addresses ("89.179.245.133", 2+3+3+3 digits like 8 9xx xxx xx xx)
/// and pairs of decimal coordinates ("47.222078 39.720349"): mark so no
/// phone is read out of them.
fn mark_addresses_and_coordinates(scan: &mut Scan) {
    let mut marks: Vec<std::ops::Range<usize>> = Vec::new();
    for chunk in &scan.chunks {
        let r = chunk.groups.clone();
        let gs = &scan.groups[r.clone()];
        let dot = |k: usize| gs.get(k).is_some_and(|g| g.sep == Sep::Dot);
        for k in 0..gs.len() {
            // Exactly four dotted octets, not part of a longer dotted run. Four
            // dotted groups of 2-3-2-2 digits are a 9-digit national number
            // ("90.123.45.67" in Uzbekistan), not an address.
            if k + 4 <= gs.len() && !dot(k) && (k + 1..k + 4).all(dot) && !dot(k + 4) {
                let quad = &gs[k..k + 4];
                let octets = quad.iter().all(|g| small_value(scan, g, 3).is_some_and(|v| v <= 255));
                let lens: Vec<usize> = quad.iter().map(|g| g.digits.len()).collect();
                if octets && lens != [2, 3, 2, 2] {
                    marks.push(r.start + k..r.start + k + 4);
                }
            }
            // Two decimals "dd.dddd dd.dddd": degrees up to 180, 4 to 8 decimals.
            if k + 4 <= gs.len() && !dot(k) && dot(k + 1) && !dot(k + 2) && dot(k + 3) && !dot(k + 4) {
                let degrees = |g: &Group| small_value(scan, g, 3).is_some_and(|v| v <= 180);
                let decimals = |g: &Group| !g.words && (4..=8).contains(&g.digits.len());
                let q = &gs[k..k + 4];
                if gs[k + 2].sep == Sep::Space && degrees(&q[0]) && decimals(&q[1]) && degrees(&q[2]) && decimals(&q[3])
                {
                    marks.push(r.start + k..r.start + k + 4);
                }
            }
        }
    }
    for m in marks {
        for g in &mut scan.groups[m] {
            g.not_phone = true;
        }
    }
}

/// Chunks that are amounts in thousands, or ranges of them: "900 000-1 200
/// 000", "8.800.000 – 9.800.000". Each amount is 1-3 digits and groups of
/// three ending in "000"; amounts are joined by dashes only. Phone numbers
/// end in pairs ("8 900 000-10-00"), so they never read this way.
fn mark_amounts(scan: &mut Scan) {
    let mut marks: Vec<std::ops::Range<usize>> = Vec::new();
    for chunk in &scan.chunks {
        let gs = &scan.groups[chunk.groups.clone()];
        if gs.first().is_none_or(|g| g.plus) {
            continue;
        }
        let mut k = 0;
        let mut all = true;
        while k < gs.len() {
            // The lead: 1-3 digits, no leading zero, starting the chunk or after a dash.
            let lead_ok =
                small_value(scan, &gs[k], 3).is_some() && (k == 0 || gs[k].sep == Sep::Dash) && gs[k].sep != Sep::Paren;
            let mut e = k + 1;
            while e < gs.len() && matches!(gs[e].sep, Sep::Space | Sep::Dot) && !gs[e].words && gs[e].digits.len() == 3
            {
                e += 1;
            }
            if !lead_ok || e == k + 1 || scan.digits_of(&gs[e - 1]) != b"000" {
                all = false;
                break;
            }
            k = e;
        }
        if all {
            marks.push(chunk.groups.clone());
        }
    }
    for m in marks {
        for g in &mut scan.groups[m] {
            g.not_phone = true;
        }
    }
}

pub(crate) fn scan(text: &str) -> Scan {
    Lexer::new(text, false).run()
}

/// The other reading of "девятьсот сорок пять": "900" then "45".
pub(crate) fn scan_split_hundreds(text: &str) -> Scan {
    Lexer::new(text, true).run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str) -> Vec<Vec<String>> {
        let s = scan(text);
        s.chunks
            .iter()
            .map(|c| {
                s.groups[c.groups.clone()]
                    .iter()
                    .map(|g| {
                        let d = String::from_utf8_lossy(s.digits_of(g)).into_owned();
                        if g.plus {
                            format!("+{d}")
                        } else {
                            d
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn groups_and_chunks() {
        assert_eq!(
            chunks("мой +7 999 941-70-98, муж 8 (951) 257-75-53"),
            [
                vec!["+7", "999", "941", "70", "98"],
                vec!["8", "951", "257", "75", "53"]
            ]
        );
        assert_eq!(chunks("тел. 8 (9O3) 284-93-28"), [vec!["8", "903", "284", "93", "28"]]);
        assert_eq!(
            chunks("т. 8 915 ноль один ноль два"),
            [vec!["8", "915", "0", "1", "0", "2"]]
        );
        assert_eq!(chunks("плюс семь 918"), [vec!["+7", "918"]]);
        assert_eq!(chunks("📞89993047021"), [vec!["89993047021"]]);
        assert_eq!(chunks("время 12:30"), [vec!["12"], vec!["30"]]);
    }

    fn marked(text: &str) -> Vec<bool> {
        scan(text).groups.iter().map(|g| g.not_phone).collect()
    }

    #[test]
    fn addresses_coordinates_and_amounts_are_marked() {
        assert_eq!(marked("89.179.245.133"), [true; 4]);
        assert_eq!(marked("8.800.555.35.35"), [false; 5]);
        assert_eq!(marked("90.123.45.67"), [false; 4]);
        assert_eq!(marked("050.123.45.67"), [false; 4]);
        assert_eq!(marked("47.222078 39.720349"), [true; 4]);
        assert_eq!(marked("900 000-1 200 000"), [true; 5]);
        assert_eq!(marked("8.800.000 – 9.800.000"), [true; 6]);
        assert_eq!(marked("8 900 000-10-00"), [false; 5]);
        assert_eq!(marked("8 900 000 00 00"), [false; 5]);
        assert_eq!(marked("+7 900 000"), [false; 3]);
    }

    #[test]
    fn dates_are_marked() {
        let s = scan("от 15.12.2026");
        assert!(s.groups.iter().all(|g| g.not_phone));
    }
}
