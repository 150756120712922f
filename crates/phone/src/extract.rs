//! Finding phone numbers in a message: which runs of digit groups form a
//! valid number under the default region, which are something else, and
//! which are a client's failed attempt at typing one.

use std::ops::Range;

use crate::context::{self, Hint, Owner};
use crate::error::PhoneError;
use crate::kind::NumberKind;
use crate::metadata;
use crate::number::PhoneNumber;
use crate::policy::Rejection;
use crate::scan::{self, Group, Scan, Sep};

/// What the dialog needs from one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Analysis {
    /// Every number found, in order of appearance.
    pub found: Vec<PhoneNumber>,
    /// When nothing was found: the most convincing failed attempt, with why.
    pub attempt: Option<Rejection>,
}

/// A number found in a message, with where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub number: PhoneNumber,
    /// Byte range in the message.
    pub range: Range<usize>,
    /// Whose the words before it say it is.
    pub owner: Owner,
}

/// Finds phone numbers in messages. Built once per default region; holds no
/// mutable state, so one instance can be shared between threads.
#[derive(Debug, Clone)]
pub struct Extractor {
    region: &'static str,
    cc: u16,
    cc_str: String,
    /// National (trunk) prefixes tried when a number is written without "+".
    trunk: &'static [&'static str],
}

/// Calling codes people in the CIS write without "+" ("375 29 ...").
const NEIGHBOUR_CODES: &[(u16, &str)] = &[
    (7, "7"),
    (375, "375"),
    (380, "380"),
    (998, "998"),
    (996, "996"),
    (992, "992"),
    (993, "993"),
    (994, "994"),
    (995, "995"),
    (374, "374"),
    (373, "373"),
];

thread_local! {
    /// `walk_scan`'s digit and index buffers, kept for the next message.
    static SPARE_DIGITS: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
    static SPARE_SKIPPED: std::cell::Cell<Vec<usize>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Fewest digits of a number `find` reports (7 with "+"); fewer in a message means none.
pub(crate) const MIN_DIGITS: usize = 7;

/// Longest digit run tried as one number (E.164 max is 15; "8 10" prefix adds 3).
const MAX_DIGITS: usize = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// "+..." or an international prefix: unambiguous.
    International,
    /// "8 ...", "0 ...", "7 ...": written with a national or country prefix.
    Prefixed,
    /// The national number alone ("9181234567").
    Bare,
}

struct Span<'s> {
    groups: &'s [Group],
    digits: &'s str,
    hint: Hint,
}

impl Extractor {
    pub fn new(default_region: &str) -> Result<Self, PhoneError> {
        let idx = metadata::region_index(default_region)
            .ok_or_else(|| PhoneError::UnknownRegion(default_region.to_string()))?;
        let raw = metadata::region(idx);
        // Trunk prefixes as people actually type them, beyond libphonenumber's:
        // Belarus and Ukraine still see the Soviet "8 0xx" form.
        let trunk: &'static [&'static str] = match raw.id {
            "BY" => &["80", "8", "0"],
            "UA" => &["0", "80"],
            "UZ" => &["8"],
            _ if raw.national_prefix == "8" => &["8"],
            _ if raw.national_prefix == "0" => &["0"],
            _ if raw.national_prefix == "1" => &["1"],
            _ => &[],
        };
        // Warm the metadata of the region and of +7 so the first message is not slow.
        let _ = metadata::classify(idx, "0");
        Ok(Extractor {
            region: raw.id,
            cc: raw.cc,
            cc_str: raw.cc.to_string(),
            trunk,
        })
    }

    pub fn region(&self) -> &str {
        self.region
    }

    /// The default region's calling code (7 for RU and KZ).
    pub fn country_code(&self) -> u16 {
        self.cc
    }

    /// Every phone number found in one message, in order of appearance.
    pub fn find(&self, text: &str) -> Vec<PhoneNumber> {
        self.find_matches(text).into_iter().map(|m| m.number).collect()
    }

    /// Like `find`, with the byte range of each number.
    pub fn find_matches(&self, text: &str) -> Vec<Match> {
        let mut out = Vec::new();
        self.walk(text, &mut out, None);
        out
    }

    /// `find_matches` into a vector the caller keeps between messages (cleared first), for
    /// a caller that has already found `scan::may_reach_digits(text, MIN_DIGITS)` true.
    pub(crate) fn find_matches_checked_into(&self, text: &str, out: &mut Vec<Match>) {
        out.clear();
        self.walk_checked(text, out, None);
    }

    /// Numbers found and, when none was, the best near miss with its reason.
    pub fn analyse(&self, text: &str) -> Analysis {
        let (found, attempt) = self.analyse_matches(text);
        Analysis {
            found: found.into_iter().map(|m| m.number).collect(),
            attempt,
        }
    }

    pub(crate) fn analyse_matches(&self, text: &str) -> (Vec<Match>, Option<Rejection>) {
        let mut found = Vec::new();
        let mut attempts = Vec::new();
        self.walk(text, &mut found, Some(&mut attempts));
        let attempt = if found.is_empty() {
            // The longest attempt is the one the client put most effort in.
            attempts.into_iter().max_by_key(|(digits, _)| *digits).map(|(_, r)| r)
        } else {
            None
        };
        (found, attempt)
    }

    /// A number split over the client's last few messages (oldest first),
    /// e.g. ["8918", "123 45 67"]. Only numbers that end in the newest
    /// message count, so a number already given earlier is not re-reported.
    pub fn assemble(&self, recent_messages: &[&str]) -> Option<PhoneNumber> {
        const MAX_MESSAGES: usize = 4;
        let last = *recent_messages.last()?;
        if let Some(m) = self.find_matches(last).pop() {
            return Some(m.number);
        }
        // Remarks between the parts ("ой, сорвалось", "щас") hold no digits:
        // leave them out, so "8918" + "сорвалось" + "123 45 67" still joins.
        let with_digits: Vec<&str> = recent_messages
            .iter()
            .copied()
            .filter(|m| !scan::scan(m).groups.is_empty())
            .collect();
        if with_digits.last() != Some(&last) {
            return None;
        }
        let n = with_digits.len();
        for k in 2..=n.min(MAX_MESSAGES) {
            let parts = &with_digits[n - k..];
            let joined = parts.join(" ");
            let last_start = joined.len() - last.len();
            let first_end = parts[0].len();
            let hit = self
                .find_matches(&joined)
                .into_iter()
                .rev()
                .find(|m| m.range.end > last_start && m.range.start < first_end);
            if let Some(m) = hit {
                return Some(m.number);
            }
        }
        None
    }

    fn walk(&self, text: &str, found: &mut Vec<Match>, attempts: Option<&mut Vec<(usize, Rejection)>>) {
        // Fast path: most chat lines hold too few digits for any number (7 with "+", 9
        // without) and no number words; a near miss needs 3 after a "+".
        let min = if attempts.is_some() { 3 } else { MIN_DIGITS };
        if !scan::may_reach_digits(text, min) {
            return;
        }
        self.walk_checked(text, found, attempts);
    }

    /// `walk` past its fast path.
    fn walk_checked(&self, text: &str, found: &mut Vec<Match>, mut attempts: Option<&mut Vec<(usize, Rejection)>>) {
        let scan = scan::scan(text);
        if scan.ambiguous_numerals {
            let mut alt = Vec::new();
            self.walk_scan(text, &scan::scan_split_hundreds(text), &mut alt, None);
            let mut greedy = Vec::new();
            self.walk_scan(text, &scan, &mut greedy, attempts.as_deref_mut());
            found.extend(if greedy.len() >= alt.len() { greedy } else { alt });
            scan::recycle(scan);
            return;
        }
        self.walk_scan(text, &scan, found, attempts);
        scan::recycle(scan);
    }

    fn walk_scan(
        &self,
        text: &str,
        scan: &Scan,
        found: &mut Vec<Match>,
        mut attempts: Option<&mut Vec<(usize, Rejection)>>,
    ) {
        let mut prev_end = 0;
        // Buffers kept per thread between messages.
        let mut digits = SPARE_DIGITS.take();
        digits.clear();
        let mut skipped = SPARE_SKIPPED.take();
        for chunk in &scan.chunks {
            let groups = &scan.groups[chunk.groups.clone()];
            let (Some(first), Some(last)) = (groups.first(), groups.last()) else {
                continue;
            };
            let before = &text[prev_end..first.bytes.start];
            prev_end = last.bytes.end;
            let hint = context::hint_before(before);
            if chunk.glued_left && chunk.glued_right {
                continue;
            }
            // "ИНН 2366536810", "заказ номер 9181234567": the number the word
            // introduces, the one the chunk starts with, is not a phone unless
            // written the way only phones are ("+7 918 …", "8 (918) …"). A
            // number after it in the chunk counts when it has its own trunk or
            // country prefix ("по заказу 45123 8 918 123-45-67").
            let vetoed = hint == Hint::Other;
            let hint = if vetoed { Hint::None } else { hint };
            let mut attempts = if vetoed { None } else { attempts.as_deref_mut() };
            skipped.clear();
            let mut i = 0;
            while i < groups.len() {
                if groups[i].not_phone {
                    self.flush_attempt(scan, groups, &mut skipped, hint, &mut attempts);
                    i += 1;
                    continue;
                }
                let mut best: Option<(usize, PhoneNumber, How)> = None;
                let mut vetoed_end: Option<usize> = None;
                // "40817 810 9 2513 4888497" (a bank account): an "810"/"00"
                // prefix right after digits that formed nothing is not one.
                let after_leftover = i > 0 && skipped.last() == Some(&(i - 1));
                digits.clear();
                for j in i..groups.len() {
                    let g = &groups[j];
                    if j > i && (g.plus || g.not_phone) {
                        break;
                    }
                    // The scan's digits are ASCII '0'-'9' by construction.
                    digits.extend(scan.digits_of(g).iter().map(|&b| char::from(b)));
                    if digits.len() > MAX_DIGITS {
                        break;
                    }
                    let span = Span {
                        groups: &groups[i..=j],
                        digits: &digits,
                        hint,
                    };
                    let Some((n, how)) = self.interpret(&span) else {
                        continue;
                    };
                    if how == How::International && !groups[i].plus && after_leftover {
                        continue;
                    }
                    // Across a comma or slash only a number that is clearly a
                    // phone: "артикулы 495, 3675406" stay two things.
                    let weak = span.groups.iter().skip(1).any(|g| g.sep == Sep::Weak);
                    if weak && !(groups[i].plus || hint == Hint::Phone || clear_kind(&n)) {
                        continue;
                    }
                    let ok = match (vetoed, i) {
                        (false, _) => true,
                        (true, 0) => written_as_phone(span.groups),
                        // "заказ 712121061, 9181234567": the comma ended what the word introduced.
                        (true, _) => how != How::Bare || groups[i].sep == Sep::Weak,
                    };
                    if ok {
                        best = Some((j, n, how));
                    } else if i == 0 {
                        vetoed_end = Some(j);
                    }
                }
                match (best, vetoed_end) {
                    (Some((j, number, how)), _) => {
                        let end = groups[j].bytes.end;
                        let last = j + 1 == groups.len();
                        let amount = last && context::is_amount_after(&text[end..]);
                        // "9181234567 от 12.11" is a dated document; a number
                        // written as only phones are is kept.
                        let id = last
                            && how != How::International
                            && hint != Hint::Phone
                            && !written_as_phone(&groups[i..=j])
                            && context::is_id_after(&text[end..]);
                        self.flush_attempt(scan, groups, &mut skipped, hint, &mut attempts);
                        if !amount && !id {
                            let start = groups[i].bytes.start;
                            let owner_text = if i == 0 {
                                before
                            } else {
                                &text[groups[i - 1].bytes.end..start]
                            };
                            found.push(Match {
                                number,
                                range: start..end,
                                owner: context::owner_before(owner_text),
                            });
                        }
                        i = j + 1;
                    }
                    // The number the other-number word introduced: pass over it whole.
                    (None, Some(j)) => i = j + 1,
                    (None, None) => {
                        skipped.push(i);
                        i += 1;
                    }
                }
            }
            self.flush_attempt(scan, groups, &mut skipped, hint, &mut attempts);
        }
        SPARE_DIGITS.set(digits);
        SPARE_SKIPPED.set(skipped);
    }

    /// A run of groups that formed no number: is it a failed phone attempt?
    fn flush_attempt(
        &self,
        scan: &Scan,
        groups: &[Group],
        skipped: &mut Vec<usize>,
        hint: Hint,
        attempts: &mut Option<&mut Vec<(usize, Rejection)>>,
    ) {
        let Some(attempts) = attempts.as_deref_mut() else {
            skipped.clear();
            return;
        };
        // Split into runs of consecutive indexes.
        let mut start = 0;
        while start < skipped.len() {
            let mut end = start + 1;
            while end < skipped.len() && skipped[end] == skipped[end - 1] + 1 {
                end += 1;
            }
            let run = &groups[skipped[start]..=skipped[end - 1]];
            let digits: String = run
                .iter()
                .filter_map(|g| std::str::from_utf8(scan.digits_of(g)).ok())
                .collect();
            if let Some(r) = self.attempt(run, &digits, hint) {
                attempts.push((digits.len(), r));
            }
            start = end;
        }
        skipped.clear();
    }

    fn attempt(&self, run: &[Group], digits: &str, hint: Hint) -> Option<Rejection> {
        let plus = run.first().is_some_and(|g| g.plus);
        let paren = run.iter().any(|g| g.sep == Sep::Paren);
        let trunk_mobile =
            self.cc == 7 && (digits.starts_with("89") || digits.starts_with("79") || digits.starts_with("8800"));
        let strong = plus || trunk_mobile || (paren && run.len() > 2) || hint == Hint::Phone;
        let enough = if plus { 3 } else { 6 };
        if !strong || digits.len() < enough {
            return None;
        }
        Some(self.classify_failure(digits, plus))
    }

    /// Why `digits` is not a number: too short, too long, or just invalid.
    fn classify_failure(&self, digits: &str, plus: bool) -> Rejection {
        let found = digits.len();
        let (prefix_len, cc) = if plus {
            match metadata::split_country_code(digits) {
                Some((cc, nsn)) => (digits.len() - nsn.len(), cc),
                None if found < 4 => return Rejection::TooFewDigits { found, expected: 11 },
                None => return Rejection::UnknownCountryCode,
            }
        } else if let Some(p) = self.trunk.iter().find(|p| digits.starts_with(**p)) {
            (p.len(), self.cc)
        } else if digits.starts_with(&self.cc_str) && self.cc == 7 {
            (1, 7)
        } else {
            (0, self.cc)
        };
        // +7 lists 14-digit "8 10 8" toll-free numbers; clients mean 10.
        let range = if cc == 7 {
            Some((10, 10))
        } else {
            metadata::nsn_length_range(cc)
        };
        let Some((lo, hi)) = range else {
            return Rejection::InvalidNumber;
        };
        if found < prefix_len + lo {
            Rejection::TooFewDigits {
                found,
                expected: prefix_len + lo,
            }
        } else if found > prefix_len + hi {
            Rejection::TooManyDigits {
                found,
                expected: prefix_len + hi,
            }
        } else {
            Rejection::InvalidNumber
        }
    }

    /// The number a span of groups forms, if any.
    fn interpret(&self, span: &Span<'_>) -> Option<(PhoneNumber, How)> {
        let d = span.digits;
        let plus = span.groups.first().is_some_and(|g| g.plus);
        if plus {
            if !(7..=15).contains(&d.len()) {
                return None;
            }
            // "+8 918 ..." is a common slip for "+7 918 ...".
            if self.cc == 7 && d.len() == 11 && d.starts_with('8') {
                if let Some(n) = PhoneNumber::from_parts(7, &d[1..]) {
                    return Some((n, How::International));
                }
            }
            let (cc, nsn) = metadata::split_country_code(d)?;
            return PhoneNumber::from_parts(cc, nsn).map(|n| (n, How::International));
        }
        if !(9..=MAX_DIGITS).contains(&d.len()) {
            return None;
        }
        for p in self.trunk {
            if let Some(nsn) = d.strip_prefix(p) {
                if let Some(n) = PhoneNumber::from_parts(self.cc, nsn) {
                    return self.accept(span, n, How::Prefixed);
                }
            }
        }
        if let Some(nsn) = d.strip_prefix(self.cc_str.as_str()) {
            if let Some(n) = PhoneNumber::from_parts(self.cc, nsn) {
                return self.accept(span, n, How::Prefixed);
            }
        }
        if let Some(n) = PhoneNumber::from_parts(self.cc, d) {
            return self.accept(span, n, How::Bare);
        }
        // International prefixes: "8 10 ..." (ex-USSR) and "00 ...".
        for ip in ["810", "00"] {
            if let Some(rest) = d.strip_prefix(ip) {
                if let Some((cc, nsn)) = metadata::split_country_code(rest) {
                    if let Some(n) = PhoneNumber::from_parts(cc, nsn) {
                        return self.accept(span, n, How::International);
                    }
                }
            }
        }
        if d.len() >= 11 {
            for &(cc, code) in NEIGHBOUR_CODES {
                if cc == self.cc {
                    continue;
                }
                if let Some(nsn) = d.strip_prefix(code) {
                    if let Some(n) = PhoneNumber::from_parts(cc, nsn) {
                        return self.accept(span, n, How::Prefixed);
                    }
                }
            }
        }
        None
    }

    /// Plausibility beyond validity: a bare 10-digit landline is as likely an
    /// INN or a passport as a phone, so it needs phone-like writing or context.
    fn accept(&self, span: &Span<'_>, n: PhoneNumber, how: How) -> Option<(PhoneNumber, How)> {
        if how != How::Bare {
            return Some((n, how));
        }
        if clear_kind(&n) || span.hint == Hint::Phone {
            return Some((n, how));
        }
        let lens: Vec<usize> = span.groups.iter().map(|g| g.digits.len()).collect();
        let passport_like = lens == [4, 6] || lens == [2, 2, 6];
        let formatted = span.groups.len() >= 3 || span.groups.iter().any(|g| g.sep == Sep::Paren);
        (formatted && !passport_like).then_some((n, how))
    }
}

/// A type only phones have: a bare 10-digit landline could be an INN.
fn clear_kind(n: &PhoneNumber) -> bool {
    matches!(
        n.kind(),
        NumberKind::Mobile | NumberKind::TollFree | NumberKind::FixedLineOrMobile
    )
}

/// Written the way only phone numbers are: with "+" or with the area code
/// in brackets ("8 (918) 123-45-67", "(918) 1234567").
fn written_as_phone(groups: &[Group]) -> bool {
    groups.first().is_some_and(|g| g.plus) || groups.iter().skip(1).any(|g| g.sep == Sep::Paren)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line the fast path skips is one the full reading finds nothing in (and no near
    /// miss either), over all labelled lines and a batch of generated ones.
    #[test]
    fn the_fast_path_skips_only_lines_without_numbers() {
        let e = Extractor::new("RU").expect("RU");
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
        // Short pieces of them too: the bound matters most near its edge.
        let pieces: Vec<String> = lines
            .iter()
            .flat_map(|l| {
                let chars: Vec<char> = l.chars().collect();
                (0..chars.len())
                    .step_by(3)
                    .map(move |s| chars[s..chars.len().min(s + 14)].iter().collect::<String>())
            })
            .collect();
        lines.extend(pieces);
        let mut skipped = 0;
        for line in &lines {
            for (min, with_attempts) in [(7, false), (3, true)] {
                if scan::may_reach_digits(line, min) {
                    continue;
                }
                skipped += 1;
                let mut found = Vec::new();
                let mut attempts = Vec::new();
                let s = scan::scan(line);
                e.walk_scan(line, &s, &mut found, with_attempts.then_some(&mut attempts));
                let alt = scan::scan_split_hundreds(line);
                e.walk_scan(line, &alt, &mut found, None);
                assert!(found.is_empty(), "{line:?}: {found:?}");
                assert!(attempts.is_empty(), "{line:?}: {attempts:?}");
            }
        }
        assert!(skipped > 1000, "the fast path is taken ({skipped})");
    }
}
