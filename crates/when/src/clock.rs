//! Reading one clock time: "11:30", "10ч", "в 10 30", "пять", "час",
//! "полдень", "полпятого", "без четверти пять", with the part of the day
//! after it ("7 вечера"), and the afternoon rule that turns what was
//! written into a time of day.
//!
//! The reader refuses numbers that are something else by what surrounds
//! them: more digit groups (phones), a counted thing ("2 раза"), an ordinal
//! tail ("31-го").

use chrono::NaiveTime;

use crate::times::{hm, Part};
use crate::tokens::Toks;
use crate::words;

/// An hour as written, before the afternoon rule decides what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Clock {
    pub h: u32,
    pub m: u32,
    /// "утра", "вечера"... right after the number.
    pub part: Option<Part>,
    /// Written so that it cannot be shifted: "07:30", "13", "полдень".
    pub literal: bool,
}

/// How sure the shape is that the number is a time; some positions ("на",
/// no preposition) need more than a bare number.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Evidence {
    pub colon: bool,
    pub hours_word: bool,
    pub time_word: bool,
}

/// A part of the day said right after an hour: "7 вечера", "10 утром".
fn part_after(w: &str) -> Option<Part> {
    match w {
        "утра" | "утром" => Some(Part::Morning),
        "дня" | "днем" => Some(Part::Day),
        "вечера" | "вечером" => Some(Part::Evening),
        "ночи" | "ночью" => Some(Part::Night),
        _ => None,
    }
}

/// Reads an hour (and minutes) at `j`: digits, number words, "час",
/// "полдень", "полпятого", "без четверти пять". Returns the clock, tokens
/// used and how clearly it is a time. Refuses numbers that continue into
/// a longer digit group or are followed by what they count.
/// Where a clock is read: after a preposition, alone, or as the end of a
/// range right after its "-".
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// After "в", "к", "на": "в 9-15" is 9:15.
    Point,
    Prep,
    Bare,
    RangeEnd,
}

pub(crate) fn clock(t: &Toks, j: usize, at: At) -> Option<(Clock, usize, Evidence)> {
    let after_prep = at != At::Bare;
    let mut ev = Evidence::default();
    let (mut c, mut k) = if let Some((h, digits)) = t.num(j) {
        if digits > 2 || h > 23 || (at != At::RangeEnd && t.preceded_by_digits(j)) {
            return None;
        }
        let mut c = Clock {
            h,
            m: 0,
            part: None,
            literal: (digits == 2 && h < 10) || h >= 13 || h == 0,
        };
        let mut k = j + 1;
        let minutes = |i: usize| {
            t.num(i)
                .filter(|&(m, d)| d == 2 && m <= 59 && t.glued(i))
                .map(|(m, _)| m)
        };
        if t.glued_sym(k, &[':']) {
            let m = minutes(k + 1)?;
            c.m = m;
            k += 2;
            ev.colon = true;
        } else if t.glued_sym(k, &['.']) {
            // "11.30" is a time only with round minutes; "15.12" is a date.
            if let Some(m) = minutes(k + 1).filter(|m| m % 5 == 0) {
                c.m = m;
                k += 2;
                ev.colon = true;
            }
        } else if t.glued_sym(k, &['-']) {
            // "18-00" and "11-30" are minutes, "10-12" a range read by the
            // caller; after "в"/"к" round minutes win ("в 9-15" is 9:15).
            if let Some(m) = minutes(k + 1).filter(|&m| m == 0 || m >= 24 || (at == At::Point && m % 5 == 0)) {
                c.m = m;
                k += 2;
                ev.colon = true;
            }
        }
        (c, k)
    } else {
        let w = t.word(j)?;
        match word_clock(t, j, w) {
            Some((c, k, time_word)) => {
                ev.time_word = time_word;
                (c, k)
            }
            None => return None,
        }
    };
    // "10 часов", "10ч", "в 10 часов 30 минут".
    if t.word(k)
        .is_some_and(|w| w == "ч" || (w.starts_with("час") && w != "часы"))
    {
        k += 1;
        ev.hours_word = true;
        // "15 ч. 30 мин."
        if t.glued_sym(k, &['.']) {
            k += 1;
        }
        if let Some((m, _)) = t.num(k).filter(|&(m, d)| d <= 2 && m <= 59) {
            if t.word(k + 1).is_some_and(|w| w.starts_with("мин")) {
                c.m = m;
                k += 2;
                if t.glued_sym(k, &['.']) {
                    k += 1;
                }
            } else if t.glued(k) && t.num(k + 1).is_none() {
                // "15ч30"
                c.m = m;
                k += 1;
            }
        }
    } else if after_prep && !ev.colon && t.num(j).is_some() {
        // "в 10 30": minutes as a separate group, only after a preposition
        // and if nothing numeric follows ("11 22" alone is a phone group).
        if let Some((m, 2)) = t.num(k) {
            if m <= 59 && !t.glued(k) && t.num(k + 1).is_none() && !t.continues_digits(k + 1) {
                c.m = m;
                k += 1;
                ev.colon = true;
            }
        }
    }
    if let Some(p) = t.word(k).and_then(part_after) {
        c.part = Some(p);
        k += 1;
    }
    // What follows must not make the number something else: more digit
    // groups are a phone number, except a second hour ("10-12",
    // "11:00-13:00") or a date after a clear time ("18:30 20.12"). Once a
    // part of the day or "часов" closed the clock, a number after it is
    // something else ("в 11 утра 20-го").
    let closed = c.part.is_some() || ev.hours_word;
    if !closed && t.num(k).is_some() && !(ev.colon && date_follows(t, k)) {
        return None;
    }
    if t.continues_digits(k) && !range_follows(t, k) {
        return None;
    }
    if let Some(w) = t.word(k) {
        // A lone "к" after a number is the next preposition ("в 15.00 к
        // мастеру"); glued ("15к") it is thousands.
        let counted = (w != "к" || t.glued(k)) && words::is_counted_thing(w);
        if !closed && (counted || is_ordinal_tail(w)) {
            return None;
        }
        // "в 3 салоне", "в 1 филиале": a place by its number, not an hour.
        if !closed && at == At::Point && !ev.colon && is_locative_noun(w) {
            return None;
        }
    }
    if let Some(s) = t.sym(k) {
        if words::is_counted_symbol(s) {
            return None;
        }
        // "31-го", "5-е": a day of the month; "в 10-м часу", "в 2-х": not a clock.
        if s == '-'
            && t.word(k + 1)
                .is_some_and(|w| is_ordinal_tail(w) || matches!(w, "м" | "й" | "х" | "ти" | "ми" | "ом" | "ем"))
        {
            return None;
        }
    }
    Some((c, k - j, ev))
}

/// A noun in the prepositional case ("салоне", "филиале", "зале"), guessed
/// by its ending; comparatives ("лучше", "позже"), neuter adjectives
/// ("наверное") and verbs ("сможете") end in "е" too and are left alone.
fn is_locative_noun(w: &str) -> bool {
    const NOT: &[&str] = &["ее", "ше", "же", "че", "ое", "те", "ще"];
    w.chars().count() >= 4 && w.ends_with('е') && !NOT.iter().any(|e| w.ends_with(e))
}

/// Whether a date ("20.12", "20/12") starts at `k`.
fn date_follows(t: &Toks, k: usize) -> bool {
    t.num(k).is_some_and(|(_, d)| d <= 2) && t.glued_sym(k + 1, &['.', '/']) && t.glued(k + 2) && t.num(k + 2).is_some()
}

/// Whether `-HH`, `-HH:MM` or `-HH.MM` at `k` is the end of a range and not
/// the next group of a longer number.
fn range_follows(t: &Toks, k: usize) -> bool {
    if t.sym(k) != Some('-') {
        return false;
    }
    let Some((h, digits)) = t.num(k + 1) else {
        return false;
    };
    if digits > 2 || h > 23 {
        return false;
    }
    let mut e = k + 2;
    if t.glued_sym(e, &[':', '.']) && t.num(e + 1).is_some_and(|(m, d)| d == 2 && m <= 59) {
        e += 2;
    }
    !t.continues_digits(e)
}

/// The written ending of an ordinal numeral: "5-го", "5-е", "5го".
pub(crate) fn is_ordinal_tail(w: &str) -> bool {
    matches!(w, "го" | "е" | "ое" | "ого" | "ее" | "му" | "ему" | "ому")
}

/// Word forms of a clock at `j` (whose word is `w`): returns the clock,
/// the next position and whether the words alone make it clearly a time.
fn word_clock(t: &Toks, j: usize, w: &str) -> Option<(Clock, usize, bool)> {
    let literal = |h, m| Clock {
        h,
        m,
        part: None,
        literal: true,
    };
    let loose = |h, m| Clock {
        h,
        m,
        part: None,
        literal: false,
    };
    match w {
        "полдень" | "полудня" | "полдня" => return Some((literal(12, 0), j + 1, true)),
        "полночь" | "полуночи" => return Some((literal(0, 0), j + 1, true)),
        // "в час", "к часу", "до часа": one o'clock (then the afternoon rule).
        "час" | "часу" | "часа" => return Some((loose(1, 0), j + 1, false)),
        _ => {}
    }
    // "полпятого", "пол-пятого", "пол пятого", "в половине пятого": half
    // past the previous hour.
    let half = |ord: u32| {
        let h = ord - 1;
        if h == 0 {
            literal(12, 30)
        } else {
            loose(h, 30)
        }
    };
    if let Some(ord) = w.strip_prefix("пол").and_then(words::hour_ordinal) {
        return Some((half(ord), j + 1, true));
    }
    if matches!(w, "пол" | "половине" | "половина" | "половину") {
        let k = if t.glued_sym(j + 1, &['-']) { j + 2 } else { j + 1 };
        let ord = t.word(k).and_then(words::hour_ordinal)?;
        return Some((half(ord), k + 1, true));
    }
    // "без четверти пять", "без десяти три", "без 15 пять".
    if w == "без" {
        let (minus, k) = match (t.word(j + 1), t.num(j + 1)) {
            (Some("четверти"), _) => (15, j + 2),
            (Some(m), _) => {
                let mut v = words::cardinal(m)?;
                let mut k = j + 2;
                if v == 20 && t.is_word(k, &["пяти"]) {
                    v = 25;
                    k += 1;
                }
                (v, k)
            }
            (None, Some((m, _))) => (m, j + 2),
            _ => return None,
        };
        if !(1..=30).contains(&minus) {
            return None;
        }
        let k = if t.word(k).is_some_and(|w| w.starts_with("мин")) {
            k + 1
        } else {
            k
        };
        let hour = match (t.word(k), t.num(k)) {
            (Some("час"), _) => 1,
            (Some(h), _) => words::cardinal(h).filter(|h| *h <= 12)?,
            (None, Some((h, d))) if d <= 2 && (1..=12).contains(&h) => h,
            _ => return None,
        };
        let h = if hour == 1 { 12 } else { hour - 1 };
        return Some((
            Clock {
                literal: h == 12,
                ..loose(h, 60 - minus)
            },
            k + 1,
            true,
        ));
    }
    // "в пять", "в двадцать один", "в десять тридцать".
    let mut h = words::cardinal(w)?;
    let mut k = j + 1;
    if h == 20 {
        if let Some(u) = t.word(k).and_then(unit_word).filter(|u| *u <= 3) {
            h += u;
            k += 1;
        }
    }
    // "к двадцать пятому (числу)" is a date.
    if h > 23 || t.word(k).and_then(words::ordinal).is_some() {
        return None;
    }
    let mut c = Clock {
        literal: h >= 13,
        ..loose(h, 0)
    };
    // Minutes in words, only after an hour word without "часов" in between
    // ("в десять тридцать", "в пять сорок пять").
    if let Some(m) = t.word(k).and_then(words::cardinal).filter(|m| *m >= 10) {
        let mut m = m;
        let mut k2 = k + 1;
        if m % 10 == 0 && m >= 20 {
            if let Some(u) = t.word(k2).and_then(unit_word) {
                m += u;
                k2 += 1;
            }
        }
        if m <= 59 {
            c.m = m;
            k = k2;
        }
    }
    Some((c, k, false))
}

/// Units 1..=9 in the nominative, for compounds like "двадцать один".
fn unit_word(w: &str) -> Option<u32> {
    match w {
        "один" | "одна" => Some(1),
        "два" | "две" => Some(2),
        "три" => Some(3),
        "четыре" => Some(4),
        "пять" => Some(5),
        "шесть" => Some(6),
        "семь" => Some(7),
        "восемь" => Some(8),
        "девять" => Some(9),
        _ => None,
    }
}

/// The hour a clock means. Rules, in order:
/// - a part of the day right after the number, else one said elsewhere in
///   the message ("вечером в 7"), shifts it: "7 вечера" is 19:00, "3 дня"
///   15:00, "2 ночи" 02:00, "11 ночи" 23:00;
/// - otherwise, for a salon, a bare hour 1–7 is in the afternoon: "в 3" is
///   15:00, "в 7:30" 19:30 (nobody books at 3 a.m.); "07:30" with a leading
///   zero stays morning; 8–23 are taken as written.
pub(crate) fn time_of(c: Clock, context: Option<Part>) -> NaiveTime {
    let h = c.h;
    let h = match c.part.or(context) {
        Some(Part::Morning) => h,
        Some(Part::Day) if (1..=8).contains(&h) => h + 12,
        Some(Part::Evening) if (1..=11).contains(&h) => h + 12,
        Some(Part::Night) if h == 12 => 0,
        Some(Part::Night) if (6..=11).contains(&h) => h + 12,
        Some(_) => h,
        None if !c.literal && (1..=7).contains(&h) => h + 12,
        None => h,
    };
    hm(h, c.m)
}
