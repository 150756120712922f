//! Times of day: "в 11:30", "к 10", "после 18", "с 10 до 12", "утром",
//! "полпятого", "в три часа дня", "через 2 часа".
//!
//! A matcher only fires on a shape that is a time in a client's message:
//! a preposition or part-of-day word around a number, a colon, or a time
//! word. A bare number is never a time on its own (it may be a price, an
//! address or a phone group), and a number followed by what it counts
//! ("в 2 раза", "до 5 лет") is not one either.

use chrono::{Duration, NaiveTime};

use crate::clock::{clock, time_of, At, Clock};
use crate::tokens::Toks;
use crate::words;
use crate::TimeWish;

/// A part of the day, said as a word ("утром") or after an hour ("7 вечера").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Morning,
    Day,
    Evening,
    Night,
}

impl Part {
    /// The window a part of the day means for a salon when said alone.
    /// Night has none: nobody books "ночью", and "2 ночи" only qualifies an hour.
    fn window(self) -> Option<TimeWish> {
        let (a, b) = match self {
            Part::Morning => (9, 12),
            Part::Day => (12, 17),
            Part::Evening => (17, 21),
            Part::Night => return None,
        };
        Some(TimeWish::Between(hm(a, 0), hm(b, 0)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeItem {
    /// "в 10", "к 10", "11:30".
    Point(Clock),
    /// "после 18", "не раньше 15", "с 10".
    From(Clock),
    /// "до 12", "не позже 12".
    To(Clock),
    /// "с 10 до 12", "между 10 и 12", "10:00-12:00".
    Range(Clock, Clock),
    /// "утром": a window, and the reading of a bare hour in the same message.
    Part(Part),
    /// Fixed windows: "после обеда", "в обед", "после работы".
    Window(NaiveTime, NaiveTime),
    /// "через час": a moment relative to now.
    After(Duration),
}

/// What the time items of a message amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Wish(TimeWish),
    /// A moment `now + duration`; its day is then fixed too.
    Moment(Duration),
}

pub(crate) fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h % 24, m % 60, 0).unwrap_or(NaiveTime::MIN)
}

/// Tries every time shape starting at token `i`; returns the item and how
/// many tokens it used.
pub(crate) fn match_at(t: &Toks, i: usize) -> Option<(TimeItem, usize)> {
    relative(t, i)
        .or_else(|| fixed_words(t, i))
        .or_else(|| with_preposition(t, i))
        .or_else(|| bare(t, i))
}

/// "через час", "через 2 часа", "через полчаса", "через полтора часа",
/// "через 30 минут".
fn relative(t: &Toks, i: usize) -> Option<(TimeItem, usize)> {
    if !t.is_word(i, &["через", "спустя"]) {
        return None;
    }
    let j = i + 1;
    let minutes = |n: i64| Some(TimeItem::After(Duration::minutes(n)));
    match t.word(j) {
        Some("полчаса" | "полчасика") => return minutes(30).map(|x| (x, 2)),
        Some("час" | "часик" | "часок" | "часочек") => return minutes(60).map(|x| (x, 2)),
        _ => {}
    }
    // The amount, in tenths so that "1,5" and "полтора" fit.
    let (tenths, used) = if let Some((n, digits)) = t.num(j) {
        if digits > 3 {
            return None;
        }
        if t.glued_sym(j + 1, &[',', '.']) && t.num(j + 2).is_some_and(|(d, len)| len == 1 && d == 5) {
            (n * 10 + 5, 3)
        } else {
            (n * 10, 1)
        }
    } else if let Some(w) = t.word(j) {
        match w {
            "полтора" | "полторы" => (15, 1),
            "пол" => (5, 1),
            w if words::is_one(w) => (10, 1),
            w => {
                let n = words::cardinal(w)?;
                (n * 10, 1)
            }
        }
    } else {
        return None;
    };
    let unit = t.word(j + used)?;
    let total = if unit.starts_with("час") || unit == "ч" {
        tenths * 6
    } else if unit.starts_with("мин") {
        tenths / 10
    } else {
        return None;
    };
    // Two days ahead is already a date, not "через N часов".
    if total == 0 || total > 48 * 60 {
        return None;
    }
    Some((TimeItem::After(Duration::minutes(i64::from(total))), used + 2))
}

/// Words that are a time window by themselves.
fn fixed_words(t: &Toks, i: usize) -> Option<(TimeItem, usize)> {
    let w = t.word(i)?;
    let next = t.word(i + 1);
    let part = |p| Some((TimeItem::Part(p), 1));
    let window = |a: u32, b: u32, n: usize| Some((TimeItem::Window(hm(a, 0), hm(b, 0)), n));
    match w {
        "утром" | "утречком" | "утречка" | "пораньше" | "спозаранку" => {
            return part(Part::Morning)
        }
        "днем" | "днемом" => return part(Part::Day),
        "вечером" | "вечерком" | "вечерочком" => return part(Part::Evening),
        // The nouns only next to a day ("утро субботы", "в пятницу вечер"),
        // since alone they are mostly greetings ("доброе утро"); "день" is
        // left out ("завтрашний день", "день рождения").
        "утро" if next_to_day(t, i) => return part(Part::Morning),
        "вечер" if next_to_day(t, i) => return part(Part::Evening),
        _ => {}
    }
    // "в утреннее время", "вечерние часы", "дневное время".
    if w.starts_with("утренн") {
        return part(Part::Morning);
    }
    if w.starts_with("дневн") {
        return part(Part::Day);
    }
    if w.starts_with("вечерн") {
        return part(Part::Evening);
    }
    if w.starts_with("обеденн") {
        return window(12, 14, 1);
    }
    if w.starts_with("послеобеденн") {
        return window(14, 0, 1);
    }
    match (w, next) {
        // "с утра", "с самого утра", "на утро" (but not "доброе утро").
        ("с" | "со", Some("утра" | "утречка")) => Some((TimeItem::Part(Part::Morning), 2)),
        ("с" | "со", Some("самого")) if t.is_word(i + 2, &["утра"]) => {
            Some((TimeItem::Part(Part::Morning), 3))
        }
        ("на", Some("утро")) => Some((TimeItem::Part(Part::Morning), 2)),
        ("на" | "под", Some("вечер")) => Some((TimeItem::Part(Part::Evening), 2)),
        ("к", Some("вечеру")) => Some((TimeItem::Part(Part::Evening), 2)),
        ("середине" | "середина" | "середину", Some("дня")) => {
            Some((TimeItem::Part(Part::Day), 2))
        }
        // Lunch: 12–14 is when salons take the "обеденное" bookings; after
        // lunch is from 14:00, before lunch until 12:00.
        ("после", Some("обеда")) => window(14, 0, 2),
        ("до" | "перед", Some("обеда" | "обедом")) => window(0, 12, 2),
        ("в" | "на" | "во", Some("обед")) => window(12, 14, 2),
        ("обед", _) => window(12, 14, 1),
        ("после", Some("работы")) => window(18, 0, 2),
        // "в первой половине (дня)", but not "... месяца/недели/года".
        ("первой" | "первую", Some("половине" | "половину")) if half_of_day(t, i + 2) => {
            window(9, 13, 2 + usize::from(t.is_word(i + 2, &["дня"])))
        }
        ("второй" | "вторую", Some("половине" | "половину")) if half_of_day(t, i + 2) => {
            window(13, 0, 2 + usize::from(t.is_word(i + 2, &["дня"])))
        }
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prep {
    At,
    On,
    From,
    FromOrRange,
    To,
    Between,
}

/// A preposition, then a clock: "в 10", "к 10", "после 18", "до 12",
/// "не раньше 15", "с 10 до 12", "между 10 и 12", "на 15:00".
fn with_preposition(t: &Toks, i: usize) -> Option<(TimeItem, usize)> {
    let w = t.word(i)?;
    let (prep, j) = match (w, t.word(i + 1)) {
        ("в", Some("районе")) => (Prep::At, i + 2),
        ("не", Some("раньше" | "ранее")) => (Prep::From, i + 2),
        ("не", Some("позже" | "позднее" | "позжее")) => (Prep::To, i + 2),
        ("в" | "во" | "к" | "ко" | "около" | "ориентировочно" | "примерно" | "часов" | "часиков", _) => {
            (Prep::At, i + 1)
        }
        ("на", _) => (Prep::On, i + 1),
        ("после" | "позже" | "позднее" | "попозже", _) => (Prep::From, i + 1),
        ("с" | "со" | "от", _) => (Prep::FromOrRange, i + 1),
        ("до" | "раньше", _) => (Prep::To, i + 1),
        ("между", _) => (Prep::Between, i + 1),
        _ => return None,
    };
    let at = if matches!(prep, Prep::At | Prep::On) {
        At::Point
    } else {
        At::Prep
    };
    let (from, n, ev) = clock(t, j, at)?;
    let end = j + n;
    // A range: "с 10 до 12", "в 10-12", "между 10 и 12".
    let range_word: &[&str] = if prep == Prep::Between {
        &["и"]
    } else {
        &["до", "по"]
    };
    let dash = t.sym(end) == Some('-');
    if prep != Prep::To && prep != Prep::From && (t.is_word(end, range_word) || dash) {
        if let Some((to, n2, _)) = clock(t, end + 1, At::RangeEnd) {
            return Some((TimeItem::Range(from, to), end + 1 + n2 - i));
        }
    }
    let clear = ev.colon || ev.time_word || from.part.is_some();
    // "в 16 или позже" is from 16, "в 12 или раньше" until 12.
    if matches!(prep, Prep::At | Prep::On) && t.is_word(end, &["или", "и", "а", "можно"]) {
        if t.is_word(end + 1, &["позже", "позднее", "попозже"]) {
            return Some((TimeItem::From(from), end + 2 - i));
        }
        if t.is_word(end + 1, &["раньше", "ранее", "пораньше"]) {
            return Some((TimeItem::To(from), end + 2 - i));
        }
    }
    // "101 к 2" (a building), "2 в 1" (a combo): a bare number right after
    // a number is not an hour, unless that number ends a date ("20.12 в 12").
    if !clear && after_plain_number(t, i) {
        return None;
    }
    let item = match prep {
        Prep::At => TimeItem::Point(from),
        // "на 2 часа" is a duration and "на 3" anything: only clear times,
        // or a bare hour ending the phrase right after a day ("на вторник, на 12").
        Prep::On if clear || (day_just_before(t, i) && ends_phrase(t, end)) => TimeItem::Point(from),
        // "от 2000" is a price, "с 2 детьми" a company: after "с"/"от" a
        // bare number must end the phrase or be clearly an hour; "от" needs
        // an hour mark ("от 10 утра").
        Prep::FromOrRange if w == "от" && (ev.colon || ev.hours_word || from.part.is_some()) => TimeItem::From(from),
        Prep::FromOrRange if w != "от" && (clear || ev.hours_word || ends_phrase(t, end)) => TimeItem::From(from),
        Prep::From => TimeItem::From(from),
        Prep::To => TimeItem::To(from),
        // "между 10" without "и 12" says nothing.
        Prep::On | Prep::FromOrRange | Prep::Between => return None,
    };
    Some((item, end - i))
}

/// Whether the token before `i` is a number that is not the tail of a date.
fn after_plain_number(t: &Toks, i: usize) -> bool {
    if i == 0 || t.num(i - 1).is_none() {
        return false;
    }
    let date_tail = i >= 2 && t.glued(i - 1) && t.sym(i - 2).is_some_and(|c| c == '.' || c == '/');
    !date_tail
}

/// "половине" is of the day unless a longer span follows it.
fn half_of_day(t: &Toks, i: usize) -> bool {
    !t.word(i)
        .is_some_and(|w| w.starts_with("месяц") || w.starts_with("недел") || w.starts_with("год"))
}

/// Whether the word right before or after `i` names a day.
fn next_to_day(t: &Toks, i: usize) -> bool {
    let before = i > 0 && t.word(i - 1).is_some_and(crate::days::is_day_word);
    before || t.word(i + 1).is_some_and(crate::days::is_day_word)
}

/// Whether a day word is among the three tokens before `i` ("на завтра на 12").
fn day_just_before(t: &Toks, i: usize) -> bool {
    (i.saturating_sub(3)..i).any(|k| t.word(k).is_some_and(crate::days::is_day_word))
}

/// Whether the token at `i` ends the phrase a number was in: end of text,
/// punctuation, or a word that cannot be what the number counts.
fn ends_phrase(t: &Toks, i: usize) -> bool {
    const NEUTRAL: &[&str] = &[
        "и",
        "или",
        "можно",
        "пожалуйста",
        "если",
        "желательно",
        "удобно",
        "нормально",
        "норм",
        "будет",
        "буду",
        "смогу",
        "могу",
        "подойду",
        "приду",
        "ок",
        "а",
        "но",
        "там",
        "уже",
        "сегодня",
        "завтра",
        "послезавтра",
        "свободно",
        "есть",
    ];
    match t.word(i) {
        None => t.num(i).is_none(),
        Some(w) => NEUTRAL.contains(&w) || words::weekday(w).is_some(),
    }
}

/// A time with no preposition: "11:30", "10:00-12:00", "10 утра",
/// "полпятого", "полдень", or a bare hour right after a day word ("завтра 10").
fn bare(t: &Toks, i: usize) -> Option<(TimeItem, usize)> {
    let (c, n, ev) = clock(t, i, At::Bare)?;
    // A number after another number is a phone or address group, unless
    // it is a clear time after a date ("20.12 18:30").
    if i > 0 && t.num(i).is_some() && t.num(i - 1).is_some() && !ev.colon {
        return None;
    }
    let after_day_word = i > 0 && t.num(i).is_some() && t.word(i - 1).is_some_and(crate::days::is_day_word);
    let clear = ev.colon || ev.time_word || matches!(c.part, Some(Part::Morning | Part::Evening));
    if !clear && !after_day_word {
        return None;
    }
    let end = i + n;
    if t.sym(end) == Some('-') || t.is_word(end, &["до"]) {
        if let Some((to, n2, _)) = clock(t, end + 1, At::RangeEnd) {
            return Some((TimeItem::Range(c, to), n + 1 + n2));
        }
    }
    Some((TimeItem::Point(c), n))
}

/// Combines the time items of one message. A relative moment wins; then
/// the first explicit clock (its hour read with the message's part of the
/// day); then a part of the day or fixed window. Later alternatives ("в 10
/// или в 11") are dropped: the dialog offers slots around the first.
pub(crate) fn resolve(items: &[TimeItem]) -> Option<Resolved> {
    if let Some(d) = items.iter().find_map(|x| match x {
        TimeItem::After(d) => Some(*d),
        _ => None,
    }) {
        return Some(Resolved::Moment(d));
    }
    let context = items.iter().find_map(|x| match x {
        TimeItem::Part(p) => Some(*p),
        _ => None,
    });
    let midnight = NaiveTime::MIN;
    for item in items {
        let wish = match *item {
            TimeItem::Point(c) => TimeWish::At(time_of(c, context)),
            TimeItem::From(c) => TimeWish::Between(time_of(c, context), midnight),
            TimeItem::To(c) => TimeWish::Between(midnight, time_of(c, context)),
            TimeItem::Range(a, b) => {
                // "с 3 до 5 дня": the part after the second hour covers both.
                let ctx_a = b.part.or(context);
                let from = time_of(a, ctx_a);
                let mut to = time_of(b, context.or(a.part));
                // "с 10 до 2": the end is after the start, so 14:00.
                if to <= from && to < hm(12, 0) && to != midnight {
                    to += Duration::hours(12);
                }
                TimeWish::Between(from, to)
            }
            _ => continue,
        };
        return Some(Resolved::Wish(wish));
    }
    items.iter().find_map(|x| match *x {
        TimeItem::Part(p) => p.window().map(Resolved::Wish),
        TimeItem::Window(a, b) => Some(Resolved::Wish(TimeWish::Between(a, b))),
        _ => None,
    })
}
