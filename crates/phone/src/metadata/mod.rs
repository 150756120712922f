//! Numbering-plan metadata: which digit strings are valid numbers of which
//! country and type. The tables are generated from libphonenumber's metadata
//! (see tools/gen_metadata.py); regexes are compiled lazily, per region, on
//! first use, so a process only pays for the countries its clients write.

#[rustfmt::skip]
mod data;

use std::sync::{LazyLock, OnceLock};

use regex_automata::meta::{self, Regex};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind, PatternSet};

pub(crate) use crate::kind::NumberKind as RawKind;
use crate::kind::NumberKind;

pub(crate) struct RawRegion {
    pub id: &'static str,
    pub cc: u16,
    pub national_prefix: &'static str,
    pub general: &'static str,
    pub lengths: &'static [u8],
    pub types: &'static [(RawKind, &'static str)],
}

/// A region's patterns as one set: the general pattern first, then each type's, so one
/// pass over a number tells which of them it matches (a pattern per call cost most of the
/// extractor's time).
struct Compiled {
    /// Built as `regex::RegexSet` builds its sets (every match kind, no captures, UTF-8).
    set: Regex,
    kinds: Vec<NumberKind>,
}

thread_local! {
    /// The set search's result buffer, one per thread, grown to the largest set used.
    static MATCHED: std::cell::RefCell<PatternSet> = std::cell::RefCell::new(PatternSet::new(0));
}

static COMPILED: LazyLock<Vec<OnceLock<Option<Compiled>>>> =
    LazyLock::new(|| (0..data::REGIONS.len()).map(|_| OnceLock::new()).collect());

/// Anchored, and with ASCII `\d`: the numbers are ASCII by now, and a Unicode `\d` made
/// the automata (and the process start) many times larger.
fn anchored_pattern(pattern: &str) -> String {
    format!("(?-u)^(?:{pattern})$")
}

#[cfg(test)]
fn anchored(pattern: &str) -> Option<regex::Regex> {
    regex::Regex::new(&anchored_pattern(pattern)).ok()
}

fn compiled(idx: usize) -> Option<&'static Compiled> {
    let cell = COMPILED.get(idx)?;
    let raw = data::REGIONS.get(idx)?;
    cell.get_or_init(|| {
        // The generated patterns are tested to compile (every_generated_pattern_compiles); a
        // set that does not is treated as "matches nothing" rather than a panic.
        let patterns = std::iter::once(raw.general)
            .chain(raw.types.iter().map(|(_, p)| *p))
            .map(anchored_pattern);
        let patterns: Vec<String> = patterns.collect();
        let set = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::All)
                    .which_captures(regex_automata::nfa::thompson::WhichCaptures::None),
            )
            .syntax(syntax::Config::new().utf8(true))
            .build_many(&patterns)
            .ok()?;
        Some(Compiled {
            set,
            kinds: raw.types.iter().map(|(k, _)| *k).collect(),
        })
    })
    .as_ref()
}

/// Index of a region in the tables, by its ISO code (case-insensitive).
pub(crate) fn region_index(id: &str) -> Option<usize> {
    let id = id.to_ascii_uppercase();
    data::REGIONS.binary_search_by(|r| r.id.cmp(id.as_str())).ok()
}

pub(crate) fn region(idx: usize) -> &'static RawRegion {
    &data::REGIONS[idx]
}

/// Regions sharing a country calling code, main region first.
pub(crate) fn regions_for_code(cc: u16) -> &'static [u16] {
    data::BY_CODE
        .binary_search_by_key(&cc, |(c, _)| *c)
        .map(|i| data::BY_CODE[i].1)
        .unwrap_or(&[])
}

pub(crate) fn is_country_code(cc: u16) -> bool {
    !regions_for_code(cc).is_empty()
}

/// Shortest and longest national number over the regions of a calling code.
pub(crate) fn nsn_length_range(cc: u16) -> Option<(usize, usize)> {
    let mut range: Option<(usize, usize)> = None;
    for &i in regions_for_code(cc) {
        for &l in region(i as usize).lengths {
            let l = l as usize;
            range = Some(match range {
                None => (l, l),
                Some((lo, hi)) => (lo.min(l), hi.max(l)),
            });
        }
    }
    range
}

/// The type of `nsn` in one region, or None when it is not a valid number there.
pub(crate) fn classify(idx: usize, nsn: &str) -> Option<NumberKind> {
    let raw = region(idx);
    if !raw.lengths.is_empty() && !raw.lengths.iter().any(|&l| l as usize == nsn.len()) {
        return None;
    }
    let c = compiled(idx)?;
    MATCHED.with(|m| match m.try_borrow_mut() {
        Ok(mut matched) => kind_of(c, nsn, &mut matched),
        Err(_) => kind_of(c, nsn, &mut PatternSet::new(c.set.pattern_len())),
    })
}

/// `classify` with the search's result buffer: which of the region's patterns `nsn` matches
/// (every pattern is anchored at both ends, so an anchored search finds the same).
fn kind_of(c: &Compiled, nsn: &str, matched: &mut PatternSet) -> Option<NumberKind> {
    if matched.capacity() < c.set.pattern_len() {
        *matched = PatternSet::new(c.set.pattern_len());
    }
    matched.clear();
    c.set
        .which_overlapping_matches(&Input::new(nsn).anchored(Anchored::Yes), matched);
    let hit = |i: usize| regex_automata::PatternID::new(i).is_ok_and(|p| matched.contains(p));
    if !hit(0) {
        return None;
    }
    let mut fixed = false;
    let mut mobile = false;
    for (i, kind) in c.kinds.iter().enumerate() {
        let hit = hit(i + 1);
        match kind {
            NumberKind::FixedLine => fixed |= hit,
            NumberKind::Mobile => mobile |= hit,
            other if hit => return Some(*other),
            _ => {}
        }
    }
    match (fixed, mobile) {
        (true, true) => Some(NumberKind::FixedLineOrMobile),
        (true, false) => Some(NumberKind::FixedLine),
        (false, true) => Some(NumberKind::Mobile),
        (false, false) => None,
    }
}

/// Validate a national number under a calling code: the region it belongs
/// to and its type. The first region (main first) where it is valid wins,
/// which is how +7 7xx numbers land in Kazakhstan and not Russia.
pub(crate) fn lookup(cc: u16, nsn: &str) -> Option<(usize, NumberKind)> {
    regions_for_code(cc)
        .iter()
        .find_map(|&i| classify(i as usize, nsn).map(|k| (i as usize, k)))
}

/// Split a leading country calling code off international digits.
pub(crate) fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    (1..=3).filter(|&l| digits.len() > l).find_map(|l| {
        let cc: u16 = digits[..l].parse().ok()?;
        is_country_code(cc).then(|| (cc, &digits[l..]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_pattern_compiles() {
        for r in data::REGIONS {
            assert!(anchored(r.general).is_some(), "{} general", r.id);
            for (k, p) in r.types {
                assert!(anchored(p).is_some(), "{} {k}", r.id);
            }
        }
    }

    /// `classify` as it was with `regex::RegexSet`: the same kind for every number tried.
    fn reference_set(idx: usize) -> regex::RegexSet {
        let raw = region(idx);
        let patterns = std::iter::once(raw.general)
            .chain(raw.types.iter().map(|(_, p)| *p))
            .map(anchored_pattern);
        regex::RegexSet::new(patterns).expect("compiles")
    }

    fn reference_classify(idx: usize, set: &regex::RegexSet, nsn: &str) -> Option<NumberKind> {
        let raw = region(idx);
        if !raw.lengths.is_empty() && !raw.lengths.iter().any(|&l| l as usize == nsn.len()) {
            return None;
        }
        let matched = set.matches(nsn);
        if !matched.matched(0) {
            return None;
        }
        let (mut fixed, mut mobile) = (false, false);
        for (i, (kind, _)) in raw.types.iter().enumerate() {
            let hit = matched.matched(i + 1);
            match kind {
                NumberKind::FixedLine => fixed |= hit,
                NumberKind::Mobile => mobile |= hit,
                other if hit => return Some(*other),
                _ => {}
            }
        }
        match (fixed, mobile) {
            (true, true) => Some(NumberKind::FixedLineOrMobile),
            (true, false) => Some(NumberKind::FixedLine),
            (false, true) => Some(NumberKind::Mobile),
            (false, false) => None,
        }
    }

    #[test]
    fn the_set_search_classifies_as_regex_set_did() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for id in ["RU", "KZ", "BY", "UA", "UZ", "DE", "US", "CN", "GB", "TR", "AM", "GE"] {
            let idx = region_index(id).expect("region");
            let set = reference_set(idx);
            let mut tried = 0;
            for len in 4..=15 {
                for _ in 0..400 {
                    let nsn: String = (0..len).map(|_| char::from(b'0' + (next() % 10) as u8)).collect();
                    assert_eq!(classify(idx, &nsn), reference_classify(idx, &set, &nsn), "{id} {nsn}");
                    tried += 1;
                }
            }
            for nsn in [
                "9181234567",
                "8007750438",
                "7023407898",
                "4953675406",
                "8632012345",
                "291234567",
            ] {
                assert_eq!(classify(idx, nsn), reference_classify(idx, &set, nsn), "{id} {nsn}");
            }
            assert!(tried > 0);
        }
    }

    #[test]
    fn regions_are_sorted_for_binary_search() {
        assert!(data::REGIONS.windows(2).all(|w| w[0].id < w[1].id));
        assert!(data::BY_CODE.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn kazakh_numbers_share_plus_seven() {
        let (idx, kind) = lookup(7, "7023407898").expect("valid KZ mobile");
        assert_eq!(region(idx).id, "KZ");
        assert_eq!(kind, NumberKind::Mobile);
        let (idx, kind) = lookup(7, "8007750438").expect("valid RU toll-free");
        assert_eq!(region(idx).id, "RU");
        assert_eq!(kind, NumberKind::TollFree);
    }
}
