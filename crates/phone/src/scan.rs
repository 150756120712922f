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
    /// A comma, slash or ellipsis between digit groups: dictation artefacts
    /// ("восемь девятьсот, сто двадцать три, ..."), weaker evidence of one
    /// number than a space, so the extractor asks more of a number across it.
    Weak,
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
    /// The lexer's own buffers, kept with the scan so that `recycle` keeps them too.
    spare_numerals: Vec<(u16, Class, Range<usize>)>,
    spare_word: String,
}

impl Scan {
    pub fn digits_of(&self, g: &Group) -> &[u8] {
        &self.digits[g.digits.clone()]
    }
}

/// `char::is_alphabetic`, answered for ASCII and Russian letters without the Unicode tables
/// (the same answer; the table lookup was a quarter of the extractor's time).
#[inline]
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    if ('\u{0410}'..='\u{044F}').contains(&c) || c == 'ё' || c == 'Ё' {
        return true;
    }
    c.is_alphabetic()
}

/// `char::is_alphanumeric` the same way.
#[inline]
pub(crate) fn is_letter_or_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    if ('\u{0410}'..='\u{044F}').contains(&c) || c == 'ё' || c == 'Ё' {
        return true;
    }
    c.is_alphanumeric()
}

/// Appends `s` lowercased, with ё folded to е, as every word list here is written; ASCII and
/// Russian letters without the Unicode tables.
pub(crate) fn push_folded(out: &mut String, s: &str) {
    out.reserve(s.len());
    let bytes = s.as_bytes();
    // Letters already folded are copied in runs; ASCII and Russian letters are told by their
    // bytes (U+0410-U+042F is D0 90-AF, U+0430-U+043F D0 B0-BF, U+0440-U+044F D1 80-8F).
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied().unwrap_or(0);
        let folded = match (b, next) {
            (b'A'..=b'Z', _) => Some(char::from(b + 32)),
            (0x00..=0x7F, _) | (0xD0, 0xB0..=0xBF) | (0xD1, 0x80..=0x8F) => None,
            (0xD0, 0x90..=0x9F) => char::from_u32(0x430 + u32::from(next - 0x90)),
            (0xD0, 0xA0..=0xAF) => char::from_u32(0x440 + u32::from(next - 0xA0)),
            (0xD0, 0x81) | (0xD1, 0x91) => Some('е'),
            _ => {
                let Some(c) = s[i..].chars().next() else {
                    break;
                };
                out.push_str(&s[run..i]);
                out.extend(c.to_lowercase().map(|c| if c == 'ё' { 'е' } else { c }));
                i += c.len_utf8();
                run = i;
                continue;
            }
        };
        let width = if b < 0x80 { 1 } else { 2 };
        if let Some(f) = folded {
            out.push_str(&s[run..i]);
            out.push(f);
            run = i + width;
        }
        i += width;
    }
    out.push_str(&s[run..]);
}

/// The first character `push_folded` would append for `c`.
#[inline]
pub(crate) fn fold_char(c: char) -> char {
    match c {
        'A'..='Z' => c.to_ascii_lowercase(),
        'А'..='Я' => char::from_u32(c as u32 + 0x20).unwrap_or(c),
        'Ё' | 'ё' => 'е',
        _ if c.is_ascii() || ('а'..='я').contains(&c) => c,
        _ => c.to_lowercase().next().map_or(c, |c| if c == 'ё' { 'е' } else { c }),
    }
}

fn is_o(c: char) -> bool {
    matches!(c, 'O' | 'o' | 'О' | 'о')
}

/// The value of a character that is a decimal digit in any script clients'
/// keyboards and phones produce: ASCII, full-width (CJK input methods),
/// mathematical alphanumerics (fancy-text generators), superscripts and
/// subscripts, Arabic-Indic and Persian digits.
pub(crate) fn digit_value(c: char) -> Option<u8> {
    let v = match c {
        '0'..='9' => c as u32 - '0' as u32,
        '\u{FF10}'..='\u{FF19}' => c as u32 - 0xFF10,
        '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
        '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
        // Five styles (bold, double-struck, sans, sans bold, monospace) of ten.
        '\u{1D7CE}'..='\u{1D7FF}' => (c as u32 - 0x1D7CE) % 10,
        '\u{2070}' => 0,
        '\u{00B9}' => 1,
        '\u{00B2}' => 2,
        '\u{00B3}' => 3,
        '\u{2074}'..='\u{2079}' => c as u32 - 0x2070,
        '\u{2080}'..='\u{2089}' => c as u32 - 0x2080,
        _ => return None,
    };
    Some(b'0' + v as u8)
}

/// Letters and signs typed for digits other than O: "l", "I" and "|" for 1,
/// "З" for 3, "Б" for 6. Unlike O they are only read as digits glued to a
/// real digit, with digits continuing on the other side ("89l8", "9З8").
fn lookalike(c: char) -> Option<u8> {
    match c {
        'l' | 'I' | '|' | 'ӏ' => Some(b'1'),
        'З' | 'з' => Some(b'3'),
        'Б' | 'б' => Some(b'6'),
        _ => None,
    }
}

/// Words said while dictating that carry nothing ("8 918 ммм 123", "щас,
/// секунду, 45 67"): skipped between two digit groups instead of ending the run.
fn is_dictation_filler(w: &str) -> bool {
    matches!(
        w,
        "м" | "мм"
            | "ммм"
            | "мммм"
            | "э"
            | "ээ"
            | "эээ"
            | "эм"
            | "эмм"
            | "щас"
            | "сейчас"
            | "сек"
            | "секунду"
            | "секундочку"
            | "минуту"
            | "так"
            | "ну"
            | "вот"
            | "короче"
            | "значит"
            | "дальше"
            | "потом"
            | "еще"
            | "типа"
            | "блин"
    )
}

fn soft_sep(c: char) -> Option<Sep> {
    Some(match c {
        '\n' | '\r' => return None,
        '-' | '‐' | '‑' | '‒' | '–' | '—' | '−' | '_' => Sep::Dash,
        '.' | '．' => Sep::Dot,
        '(' | ')' | '（' | '）' => Sep::Paren,
        '－' | '﹣' => Sep::Dash,
        ',' | '/' | '…' | '，' | '／' | '،' => Sep::Weak,
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
        // The buffers of the last scan given back (`recycle`), emptied: no allocation per
        // message once they have grown.
        let mut out = SPARE.take().unwrap_or_else(|| Scan {
            digits: Vec::with_capacity(32),
            groups: Vec::with_capacity(8),
            chunks: Vec::with_capacity(4),
            ..Scan::default()
        });
        out.digits.clear();
        out.groups.clear();
        out.chunks.clear();
        out.ambiguous_numerals = false;
        let mut numerals = std::mem::take(&mut out.spare_numerals);
        numerals.clear();
        let mut word = std::mem::take(&mut out.spare_word);
        word.clear();
        Lexer {
            text,
            out,
            chunk_start: 0,
            glued_left: false,
            sep: Sep::Start,
            plus: false,
            numerals,
            numeral_plus: false,
            numeral_sep: Sep::Start,
            last_word_end: None,
            word,
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

    /// Compose the numeral words waiting, if any (called at every group and break: the
    /// check is inlined, the work is not).
    #[inline]
    fn flush_numerals(&mut self) {
        if !self.numerals.is_empty() {
            self.compose_numerals();
        }
    }

    fn compose_numerals(&mut self) {
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

    /// "956 Оо 28", "89l6", "9З8": a short word of O's and lookalikes (`w`) read as digits
    /// when it stands among digits; whether it was.
    fn digit_word(&mut self, start: usize, end: usize) -> bool {
        let w = &self.text[start..end];
        let prev_digit = self.text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| digit_value(c).is_some());
        let next_digit = self.text[end..]
            .chars()
            .next()
            .is_some_and(|c| digit_value(c).is_some());
        // A lone "О" group between digit groups ("956 Оо 28") is zeros too.
        let between_digits = self.out.groups.len() > self.chunk_start && digit_follows(&self.text[end..]);
        let n_chars = w.chars().count();
        if (prev_digit || next_digit || between_digits) && n_chars <= 4 && w.chars().all(is_o) {
            self.push_digits(start..end, std::iter::repeat_n(b'0', n_chars));
            return true;
        }
        // Other lookalikes need a real digit glued to them and digits on the
        // other side too: "кв 12Б" or "Iphone 15" stay words.
        // At the end of a run it must close a long one ("… 44-8Б"), so "кв 12Б" stays.
        let closes_long_run = prev_digit && self.chunk_digits() >= 8;
        let glued_both = (prev_digit && (next_digit || digit_follows(&self.text[end..])))
            || (next_digit && self.out.groups.len() > self.chunk_start && self.last_group_ends_near(start))
            || closes_long_run
            // A group of its own between digit groups: "89l6 ЗЗЗ 2l 2l".
            || (between_digits && self.chunk_digits() >= 3);
        if glued_both
            && n_chars <= 3
            && w.chars().all(|c| is_o(c) || lookalike(c).is_some())
            && w.chars().any(|c| lookalike(c).is_some())
        {
            let digits: Vec<u8> = w
                .chars()
                .map(|c| if is_o(c) { b'0' } else { lookalike(c).unwrap_or(b'0') })
                .collect();
            self.push_digits(start..end, digits.into_iter());
            return true;
        }
        false
    }

    fn word(&mut self, start: usize, end: usize) {
        let w = &self.text[start..end];
        // Only a short word of O's and lookalikes can be digits: most words stop here,
        // before the look around them.
        if w.len() <= 4 * 3 && w.chars().all(|c| is_o(c) || lookalike(c).is_some()) && self.digit_word(start, end) {
            return;
        }
        // Not a numeral, no filler inside a run, no "плюс": the word only ends the run.
        let mut first = w.chars().map(fold_char);
        let (a, b) = (first.next(), first.next());
        let numeral_possible = matches!((a, b), (Some(a), Some(b)) if words::may_start_numeral(a, b));
        let filler_possible = self.out.groups.len() > self.chunk_start && self.numerals.is_empty();
        let plus_possible = matches!(a, Some('п' | 'p'));
        // A numeral is told without folding the word into a string (see `numeral_in`).
        if let Some((v, c)) = numeral_possible.then(|| numeral_in(w)).flatten() {
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
        if !(filler_possible || plus_possible) {
            self.hard_break(start, true);
            self.last_word_end = Some(end);
            return;
        }
        self.word.clear();
        push_folded(&mut self.word, w);
        // "8 918 ммм 123 45 67": a filler between digit groups keeps the run.
        if self.out.groups.len() > self.chunk_start
            && self.numerals.is_empty()
            && is_dictation_filler(&self.word)
            && digits_resume(&self.text[end..])
        {
            self.sep = self.sep.max(Sep::Space);
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

    /// "девятьсот 16", "сорок 5": digits that finish a round numeral said just before
    /// them (dictation mixing words and digits) join it, as "916" and "45" are meant.
    /// Returns whether the digits at `bytes` were taken so.
    fn merge_into_round_numeral(&mut self, bytes: Range<usize>) -> bool {
        let new = &self.text.as_bytes()[bytes.clone()];
        let Some(g) = self.out.groups.last() else {
            return false;
        };
        let in_chunk = self.out.groups.len() > self.chunk_start;
        let only_space = self
            .text
            .get(g.bytes.end..bytes.start)
            .is_some_and(|gap| !gap.is_empty() && gap.chars().all(|c| c == ' ' || c == '\u{a0}'));
        if !in_chunk || !g.words || !only_space {
            return false;
        }
        let d = &self.out.digits[g.digits.clone()];
        let fits = match (d, new.len()) {
            // A round hundred: "900" + "16" or "5".
            ([_, b'0', b'0'], 1 | 2) => new.len() == 1 || new[0] != b'0',
            // A round ten: "40" + "5".
            ([t, b'0'], 1) => *t >= b'2' && new[0] != b'0',
            _ => false,
        };
        if !fits {
            return false;
        }
        let start = g.digits.end - new.len();
        self.out.digits[start..].copy_from_slice(new);
        if let Some(g) = self.out.groups.last_mut() {
            g.bytes.end = bytes.end;
        }
        true
    }

    /// Digits in the chunk being built.
    fn chunk_digits(&self) -> usize {
        self.out.groups[self.chunk_start..].iter().map(|g| g.digits.len()).sum()
    }

    /// A real digit right before `start` and right after `end`.
    fn glued_digits_around(&self, start: usize, end: usize) -> bool {
        self.text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| digit_value(c).is_some())
            && self.text[end..]
                .chars()
                .next()
                .is_some_and(|c| digit_value(c).is_some())
    }

    /// The chunk's last digit group ends right before `at`, past separators only.
    fn last_group_ends_near(&self, at: usize) -> bool {
        self.out.groups.last().is_some_and(|g| {
            self.text
                .get(g.bytes.end..at)
                .is_some_and(|gap| gap.chars().all(|c| soft_sep(c).is_some()))
        })
    }

    fn run(mut self) -> Scan {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                self.flush_numerals();
                if !self.merge_into_round_numeral(i..end) {
                    self.push_digits(i..end, bytes[i..end].iter().copied());
                }
                i = end;
                continue;
            }
            // ASCII the same way as below, without the checks for other scripts.
            let b = bytes[i];
            if b < 0x80 {
                match b {
                    b'a'..=b'z' | b'A'..=b'Z' => {
                        let end = word_end(text, i + 1);
                        self.word(i, end);
                        i = end;
                        continue;
                    }
                    b'|' if self.glued_digits_around(i, i + 1) => {
                        self.push_digits(i..i + 1, std::iter::once(b'1'));
                    }
                    b'+' => {
                        self.hard_break(i, false);
                        self.plus = true;
                    }
                    _ => match soft_sep(char::from(b)) {
                        Some(sep) => {
                            if self.in_chunk() || sep == Sep::Paren {
                                self.sep = self.sep.max(sep);
                            }
                        }
                        None => self.hard_break(i, false),
                    },
                }
                i += 1;
                continue;
            }
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            let next = i + c.len_utf8();
            if let Some(d) = digit_value(c) {
                // One digit of another script: adjacent ones join through push_digits.
                self.push_digits(i..next, std::iter::once(d));
            } else if c == '|' && self.glued_digits_around(i, i + 1) {
                self.push_digits(i..i + 1, std::iter::once(b'1'));
            } else if is_letter(c) {
                let end = word_end(text, next);
                self.word(i, end);
                i = end;
                continue;
            } else if c == '+' || c == '＋' {
                self.hard_break(i, false);
                self.plus = true;
            } else if let Some(sep) = soft_sep(c) {
                if self.in_chunk() || sep == Sep::Paren {
                    self.sep = self.sep.max(sep);
                }
            } else {
                self.hard_break(i, false);
            }
            i = next;
        }
        self.hard_break(text.len(), false);
        mark_dates(&mut self.out);
        mark_addresses_and_coordinates(&mut self.out);
        mark_amounts(&mut self.out);
        self.out.spare_numerals = std::mem::take(&mut self.numerals);
        self.out.spare_word = std::mem::take(&mut self.word);
        self.out
    }
}

thread_local! {
    /// One scan's buffers kept per thread for the next message.
    static SPARE: std::cell::Cell<Option<Scan>> = const { std::cell::Cell::new(None) };
}

/// Give a scan's buffers back for the next `scan` on this thread.
pub(crate) fn recycle(scan: Scan) {
    SPARE.set(Some(scan));
}

/// Where the word whose letters continue at `from` ends: ASCII and Cyrillic letters (all of
/// U+0400-U+047F are letters) are passed bytewise, any other character is decoded.
fn word_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut end = from;
    while end < bytes.len() {
        let b = bytes[end];
        if b.is_ascii_alphabetic() {
            end += 1;
        } else if b < 0x80 {
            break;
        } else if b == 0xD0 || b == 0xD1 {
            end += 2;
        } else {
            match text[end..].chars().next() {
                Some(c) if is_letter(c) => end += c.len_utf8(),
                _ => break,
            }
        }
    }
    end
}

/// The next thing after separators is a digit.
fn digit_follows(rest: &str) -> bool {
    rest.chars()
        .find(|&c| soft_sep(c).is_none())
        .is_some_and(|c| digit_value(c).is_some())
}

/// After separators and more filler words, digits (or a number word) follow.
fn digits_resume(rest: &str) -> bool {
    let mut word = String::new();
    for c in rest.chars() {
        if is_letter(c) {
            let mut b = [0; 4];
            push_folded(&mut word, c.encode_utf8(&mut b));
            continue;
        }
        if !word.is_empty() {
            if words::numeral(&word).is_some() {
                return true;
            }
            if !is_dictation_filler(&word) {
                return false;
            }
            word.clear();
        }
        if digit_value(c).is_some() {
            return true;
        }
        if soft_sep(c).is_none() {
            return false;
        }
    }
    false
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
                && ((b.sep == Sep::Dot && c.sep == Sep::Dot)
                    // "12/05/2026" (a slash is a Weak separator).
                    || (b.sep == Sep::Weak && c.sep == Sep::Weak && lens.2 == 4));
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
                if matches!(gs[k + 2].sep, Sep::Space | Sep::Weak)
                    && degrees(&q[0])
                    && decimals(&q[1])
                    && degrees(&q[2])
                    && decimals(&q[3])
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

/// A cheap upper bound on the digits one scan of `text` could produce: whether it reaches
/// `min`. Digits of any script and "|" count one each, a short word of O's and lookalikes
/// ("Оо", "lI") as many as it has letters, and any numeral word ("девятьсот") makes it
/// reachable at once. The lexer reads digits from nothing else, so a line below the bound
/// holds no number (a phone has at least 7 digits) and is not lexed at all.
pub(crate) fn may_reach_digits(text: &str, min: usize) -> bool {
    may_reach_digits_bytes(text.as_bytes(), min)
}

/// `may_reach_digits` on raw bytes, so the CLI can pass over most chat lines before even
/// checking their UTF-8. A byte sequence that is not UTF-8 counts as a sign (neither letter
/// nor digit), which is what the U+FFFD of `String::from_utf8_lossy` is to the lexer, so
/// the answer is the one for the lossy text. One pass, decoding only non-ASCII characters
/// (Cyrillic's two bytes inline); the words are folded only when their first two letters
/// can start a numeral.
pub(crate) fn may_reach_digits_bytes(bytes: &[u8], min: usize) -> bool {
    // Most lines with a number have its digits in ASCII: counted bytewise first.
    if ascii_digits(bytes) >= min {
        return true;
    }
    let mut digits = 0usize;
    // The word being read: its start, its letters, whether all are O's or lookalikes (only
    // tracked up to 4 letters: a longer word is no digits), and its first two letters folded.
    let mut start = 0usize;
    let mut letters = 0usize;
    let mut lookalikes = true;
    let mut first = ['\0'; 2];
    let mut numeral_possible = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (c, width) = if b < 0x80 {
            if !b.is_ascii_alphabetic() {
                // ASCII signs, spaces and digits end a word.
                if letters > 0 {
                    if lookalikes {
                        digits += letters;
                    }
                    if is_numeral_word(bytes, start, i, letters, first) {
                        return true;
                    }
                    letters = 0;
                }
                if b.is_ascii_digit() || b == b'|' {
                    digits += 1;
                }
                i += 1;
                continue;
            }
            (b as char, 1)
        } else if (b == 0xD0 || b == 0xD1) && letters >= 2 && !lookalikes {
            // Inside a word already decided (two letters folded, not a lookalike run): a
            // Cyrillic letter (all of U+0400-U+047F are letters) only lengthens it, and when
            // the word cannot be a numeral either its length does not matter.
            if bytes.get(i + 1).is_some_and(|&n| n & 0xC0 == 0x80) {
                i += 2;
                if numeral_possible {
                    letters += 1;
                } else {
                    while i + 1 < bytes.len() && (bytes[i] == 0xD0 || bytes[i] == 0xD1) && bytes[i + 1] & 0xC0 == 0x80 {
                        i += 2;
                    }
                }
                continue;
            }
            ('\u{FFFD}', 1)
        } else if (0xC2..=0xDF).contains(&b) && bytes.get(i + 1).is_some_and(|&n| n & 0xC0 == 0x80) {
            let v = (u32::from(b & 0x1F) << 6) | u32::from(bytes[i + 1] & 0x3F);
            (char::from_u32(v).unwrap_or('\u{FFFD}'), 2)
        } else {
            decode_wide(bytes, i)
        };
        if is_letter(c) {
            if letters < 2 {
                if letters == 0 {
                    start = i;
                    lookalikes = true;
                }
                first[letters] = fold_char(c);
                if letters == 1 {
                    numeral_possible = words::may_start_numeral(first[0], first[1]);
                }
            }
            letters += 1;
            if lookalikes {
                lookalikes = letters <= 4 && (is_o(c) || lookalike(c).is_some());
            }
        } else {
            if letters > 0 {
                if lookalikes {
                    digits += letters;
                }
                if is_numeral_word(bytes, start, i, letters, first) {
                    return true;
                }
                letters = 0;
            }
            if c == '|' || digit_value(c).is_some() {
                digits += 1;
            }
        }
        i += width;
    }
    if letters > 0 {
        if lookalikes {
            digits += letters;
        }
        if is_numeral_word(bytes, start, bytes.len(), letters, first) {
            return true;
        }
    }
    digits >= min
}

/// ASCII digits in `bytes`, counted in byte lanes (so that it vectorises).
fn ascii_digits(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| {
            let n = chunk.iter().fold(0u8, |n, &b| n + u8::from(b.wrapping_sub(b'0') < 10));
            usize::from(n)
        })
        .sum()
}

/// A character of three or four bytes at `i`, or U+FFFD for one byte that starts no
/// well-formed character (the next byte is then read afresh, as the lossy decoding does).
fn decode_wide(bytes: &[u8], i: usize) -> (char, usize) {
    let width = match bytes[i] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return ('\u{FFFD}', 1),
    };
    match bytes.get(i..i + width).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().unwrap_or('\u{FFFD}'), width),
        None => ('\u{FFFD}', 1),
    }
}

/// Whether the word at `bytes[start..end]` (`letters` letters, the first two folded in
/// `first`) is a numeral: 3 to 12 letters ("два", "восемнадцать").
#[inline(always)]
fn is_numeral_word(bytes: &[u8], start: usize, end: usize, letters: usize, first: [char; 2]) -> bool {
    (3..=12).contains(&letters) && words::may_start_numeral(first[0], first[1]) && folds_to_numeral(&bytes[start..end])
}

/// The word's letters folded are a numeral (the quick checks passed).
fn folds_to_numeral(word: &[u8]) -> bool {
    std::str::from_utf8(word).is_ok_and(|w| numeral_in(w).is_some())
}

/// `words::numeral` of the word folded (as `push_folded` folds), folded on the stack and
/// Russian letters only: a numeral has no other letter, and no other letter lowercases into
/// а-я, so a word with one is no numeral either way.
fn numeral_in(w: &str) -> Option<(u16, Class)> {
    let bytes = w.as_bytes();
    // Numerals are 3 to 12 letters of two bytes each.
    if !(6..=24).contains(&bytes.len()) || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let mut buf = [0u8; 24];
    for (k, pair) in bytes.chunks_exact(2).enumerate() {
        // А-П D0 90-9F, Р-Я D0 A0-AF, а-п D0 B0-BF, р-я D1 80-8F, Ё D0 81, ё D1 91.
        let folded = match (pair[0], pair[1]) {
            (0xD0, n @ 0x90..=0x9F) => [0xD0, n + 0x20],
            (0xD0, n @ 0xA0..=0xAF) => [0xD1, n - 0x20],
            (0xD0, n @ 0xB0..=0xBF) => [0xD0, n],
            (0xD1, n @ 0x80..=0x8F) => [0xD1, n],
            (0xD0, 0x81) | (0xD1, 0x91) => [0xD0, 0xB5],
            _ => return None,
        };
        buf[2 * k..2 * k + 2].copy_from_slice(&folded);
    }
    words::numeral_bytes(&buf[..bytes.len()])
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

    /// The bound as it was written over `char`s, before the byte pass: the byte pass must
    /// answer the same.
    fn reference_may_reach_digits(text: &str, min: usize) -> bool {
        // Most lines with a number have its digits in ASCII: counted bytewise, no decoding.
        if text.bytes().filter(u8::is_ascii_digit).count() >= min {
            return true;
        }
        let mut digits = 0usize;
        let mut folded = String::new();
        // The word being read: its start, letters, and whether all are O's or lookalikes.
        let mut word: Option<(usize, usize, bool)> = None;
        let mut close = |word: &mut Option<(usize, usize, bool)>, end: usize, digits: &mut usize| -> bool {
            let Some((start, n, lookalikes)) = word.take() else {
                return false;
            };
            if lookalikes && n <= 4 {
                *digits += n;
            }
            // Numerals are 3 to 12 letters long ("два", "восемнадцать").
            (3..=12).contains(&n)
                && {
                    let mut c = text[start..].chars().map(fold_char);
                    matches!((c.next(), c.next()), (Some(a), Some(b)) if words::may_start_numeral(a, b))
                }
                && {
                    folded.clear();
                    push_folded(&mut folded, &text[start..end]);
                    words::numeral(&folded).is_some()
                }
        };
        for (i, c) in text.char_indices() {
            if is_letter(c) {
                let l = is_o(c) || lookalike(c).is_some();
                word = Some(match word {
                    Some((start, n, all)) => (start, n + 1, all && l),
                    None => (i, 1, l),
                });
                continue;
            }
            if close(&mut word, i, &mut digits) {
                return true;
            }
            if c == '|' || digit_value(c).is_some() {
                digits += 1;
                if digits >= min {
                    return true;
                }
            }
        }
        close(&mut word, text.len(), &mut digits) || digits >= min
    }

    /// `push_folded` as written over `char`s, before the byte version.
    fn reference_push_folded(out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                'A'..='Z' => out.push(c.to_ascii_lowercase()),
                'А'..='Я' => out.push(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
                'Ё' | 'ё' => out.push('е'),
                _ if c.is_ascii() || ('а'..='я').contains(&c) => out.push(c),
                _ => out.extend(c.to_lowercase().map(|c| if c == 'ё' { 'е' } else { c })),
            }
        }
    }

    #[test]
    fn folding_by_bytes_folds_as_by_chars() {
        let mut texts: Vec<String> = [
            include_str!("../tests/data/phones-labelled.jsonl"),
            include_str!("../tests/data/phones-blind.jsonl"),
            include_str!("../tests/data/phones-families.jsonl"),
        ]
        .iter()
        .flat_map(|f| f.lines())
        .map(str::to_string)
        .collect();
        texts.push((0x20u32..0x600).filter_map(char::from_u32).collect());
        texts.push("ЀЁЂЏАБЯабяѐёђџѠѡ ÀÉİẞǅΣ ＡＢ".to_string());
        for t in &texts {
            let (mut a, mut b) = (String::from("x"), String::from("x"));
            push_folded(&mut a, t);
            reference_push_folded(&mut b, t);
            assert_eq!(a, b);
        }
    }

    #[test]
    fn numerals_are_told_by_bytes_as_by_folding() {
        let mut words: Vec<String> = [
            include_str!("../tests/data/phones-labelled.jsonl"),
            include_str!("../tests/data/phones-blind.jsonl"),
            include_str!("../tests/data/phones-families.jsonl"),
        ]
        .iter()
        .flat_map(|f| f.split(|c: char| !is_letter(c)))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
        words.extend(
            [
                "ДЕВЯТЬСОТ",
                "Сорок",
                "нОль",
                "двЁ",
                "семь",
                "ёлка",
                "сто",
                "ст",
                "двенадцатьь",
            ]
            .map(String::from),
        );
        for w in &words {
            let mut folded = String::new();
            reference_push_folded(&mut folded, w);
            assert_eq!(numeral_in(w), words::numeral(&folded), "{w:?}");
        }
    }

    #[test]
    fn ascii_digits_are_counted_exactly() {
        let mut bytes: Vec<u8> = (0..=255u8).collect();
        bytes.extend((0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
        bytes.extend(std::iter::repeat_n(b'7', 3000));
        for start in [0, 1, 3, 7] {
            for end in [start, start + 9, 300, 2100, bytes.len()] {
                let b = &bytes[start..end];
                assert_eq!(
                    ascii_digits(b),
                    b.iter().filter(|c| c.is_ascii_digit()).count(),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn the_byte_bound_answers_as_the_char_bound() {
        let mut lines: Vec<String> = [
            include_str!("../tests/data/phones-sample.jsonl"),
            include_str!("../tests/data/phones-labelled.jsonl"),
            include_str!("../tests/data/phones-families.jsonl"),
            include_str!("../tests/data/phones-blind.jsonl"),
        ]
        .iter()
        .flat_map(|f| f.lines())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
        let pieces: Vec<String> = lines
            .iter()
            .flat_map(|l| {
                let chars: Vec<char> = l.chars().collect();
                (0..chars.len())
                    .step_by(2)
                    .map(move |s| chars[s..chars.len().min(s + 11)].iter().collect::<String>())
            })
            .collect();
        lines.extend(pieces);
        lines.extend(
            [
                "ОоОо lI|l 8",
                "девять",
                "ДЕВЯТЬСОТ",
                "Ёлка 12 34",
                "ӏӏ 1 2 3",
                "𝟖𝟗𝟔 ８９１",
            ]
            .map(String::from),
        );
        for line in &lines {
            for min in [3, 7] {
                assert_eq!(
                    may_reach_digits(line, min),
                    reference_may_reach_digits(line, min),
                    "{line:?} {min}"
                );
            }
        }
        // Bytes that are not UTF-8 answer as their lossy decoding does.
        for line in lines.iter().take(3000) {
            let mut b = line.as_bytes().to_vec();
            for (k, bad) in [(1usize, 0xFFu8), (3, 0x80), (5, 0xE2), (7, 0xF0), (2, 0xD0)] {
                if k < b.len() {
                    b[k] = bad;
                }
            }
            let lossy = String::from_utf8_lossy(&b);
            for min in [3, 7] {
                assert_eq!(
                    may_reach_digits_bytes(&b, min),
                    reference_may_reach_digits(&lossy, min),
                    "{b:?} {min}"
                );
            }
        }
    }

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
