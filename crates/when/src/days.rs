//! Days: "сегодня", "завтра", "через 3 дня", "в пятницу", "в следующую
//! среду", "в выходные", "в будни", "на следующей неделе", "15.12",
//! "15 декабря", "31-го", "на 5 число".
//!
//! The matchers here only record what was said (`DayItem`); `calendar`
//! turns it into dates once the whole message is read, because "в пятницу
//! на следующей неделе" and "в субботу утром" need the other parts (the
//! week, the time) to pick the right day.

use chrono::{NaiveDate, Weekday};

use crate::clock::is_ordinal_tail;
use crate::tokens::Toks;
use crate::words;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    /// No word, "эту", "ближайшую": the next such day.
    Plain,
    /// "следующую", "будущую": in the next calendar week (Monday–Sunday).
    Next,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DayItem {
    /// Today plus N days: "сегодня", "завтра", "через 3 дня".
    Offset(u64),
    /// "через месяц".
    OffsetMonths(u32),
    Weekday {
        day: Weekday,
        modifier: Modifier,
        recurring: bool,
    },
    Weekend {
        modifier: Modifier,
        recurring: bool,
    },
    Workdays,
    /// "с понедельника по среду": every day from the one to the other.
    WeekdayRange(Weekday, Weekday),
    /// "кроме понедельника", "не в пятницу", "в субботу не могу": a
    /// weekday to leave out.
    Except(Weekday),
    /// "не сегодня", "завтра не получится": today plus N to leave out.
    ExceptOffset(u64),
    /// "через неделю", "через 2 недели": today + 7·N, or with a weekday
    /// ("через неделю в субботу") that weekday in the week then.
    WeeksAhead(u64),
    /// "в эту субботу не могу, в следующую": "следующую" with its day
    /// left out, taken from the weekday said in the same message.
    NextOfSaid,
    /// A refused span that names no single day ("на этой неделе не могу"):
    /// dropped.
    Refused,
    /// "на этой неделе" (Plain) / "на следующей неделе" (Next).
    Week(Modifier),
    /// A calendar date; without a year, its next occurrence.
    Date {
        d: u32,
        m: u32,
        y: Option<i32>,
    },
    /// "с 10 по 15 декабря", "10-12 января": every day of the span.
    DateRange {
        from: u32,
        to: u32,
        m: u32,
    },
    /// "31-го", "на 5 число": the next month that has that day.
    DayOfMonth(u32),
}

impl DayItem {
    pub(crate) fn is_calendar(&self) -> bool {
        matches!(
            self,
            DayItem::Date { .. } | DayItem::DayOfMonth(_) | DayItem::DateRange { .. }
        )
    }
}

/// Whether a word names a day, so a bare hour after it is a time ("завтра 10").
pub(crate) fn is_day_word(w: &str) -> bool {
    relative_word(w).is_some() || words::weekday(w).is_some()
}

fn relative_word(w: &str) -> Option<u64> {
    if w.starts_with("сегодня") || matches!(w, "седня" | "сення" | "сегодн") {
        Some(0)
    } else if w.starts_with("послезавтр") {
        Some(2)
    } else if w.starts_with("завтра") || matches!(w, "завтро" | "зафтра" | "завтр") {
        Some(1)
    } else {
        None
    }
}

pub(crate) fn match_at(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    if let Some(found) = except(t, i) {
        return Some(found);
    }
    let (item, n) = relative(t, i)
        .or_else(|| after(t, i))
        .or_else(|| named(t, i))
        .or_else(|| on_day_then_time(t, i))
        .or_else(|| numeric_date(t, i))
        .or_else(|| day_of_month(t, i))?;
    // "в субботу не могу", "сегодня не получится": the day is refused.
    if refused(t, i + n) {
        let excluded = match item {
            DayItem::Weekday { day, .. } => DayItem::Except(day),
            DayItem::Offset(d) => DayItem::ExceptOffset(d),
            // "на выходных не могу": the other days of the week.
            DayItem::Weekend { .. } => DayItem::Workdays,
            // Other refusals just drop what was said.
            _ => DayItem::Refused,
        };
        return Some((excluded, n + 2));
    }
    Some((item, n))
}

/// "не могу", "не получится", "не смогу" right after a day.
fn refused(t: &Toks, i: usize) -> bool {
    t.is_word(i, &["не"])
        && t.word(i + 1).is_some_and(|w| {
            matches!(
                w,
                "могу"
                    | "смогу"
                    | "сможем"
                    | "получится"
                    | "получиться"
                    | "выйдет"
                    | "подходит"
                    | "подойдет"
                    | "удобно"
                    | "успею"
                    | "успеваю"
                    | "работаю"
                    | "приду"
                    | "вариант"
            )
        })
}

/// "на 21 в 15:00": a bare number after "на" followed by a time is the day
/// of the month.
fn on_day_then_time(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    if !t.is_word(i, &["на"]) {
        return None;
    }
    let (d, digits) = t.num(i + 1)?;
    if digits > 2 || !(1..=31).contains(&d) || !t.is_word(i + 2, &["в", "к"]) {
        return None;
    }
    t.num(i + 3)?;
    Some((DayItem::DayOfMonth(d), 2))
}

/// "сегодня", "завтра", "послезавтра", "после завтра".
fn relative(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    let w = t.word(i)?;
    if w == "после" && t.word(i + 1).is_some_and(|n| relative_word(n) == Some(1)) {
        return Some((DayItem::Offset(2), 2));
    }
    relative_word(w).map(|n| (DayItem::Offset(n), 1))
}

/// "через 3 дня", "через неделю", "через пару недель", "через месяц".
/// "через день" is the day after tomorrow: it skips one day.
fn after(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    if !t.is_word(i, &["через", "спустя"]) {
        return None;
    }
    let j = i + 1;
    let (amount, used) = if let Some((n, digits)) = t.num(j) {
        if digits > 3 {
            return None;
        }
        (Some(n), 1)
    } else if let Some(w) = t.word(j) {
        if words::is_one(w) {
            (Some(1), 1)
        } else if let Some(n) = words::cardinal(w) {
            (Some(n), 1)
        } else {
            (None, 0)
        }
    } else {
        return None;
    };
    let unit = t.word(j + used)?;
    let n = u64::from(amount.unwrap_or(1));
    let item = match unit {
        "день" if amount.is_none() => DayItem::Offset(2),
        "день" | "дня" | "дней" | "денек" | "денька" | "деньков" => DayItem::Offset(n),
        u if u.starts_with("недел") => DayItem::WeeksAhead(n),
        "месяц" | "месяца" | "месяцев" | "месяцок" => {
            DayItem::OffsetMonths(u32::try_from(n).ok()?)
        }
        _ => return None,
    };
    match item {
        DayItem::Offset(d) if d > 366 => None,
        DayItem::WeeksAhead(w) if w > 52 => None,
        DayItem::OffsetMonths(m) if m > 12 => None,
        item => Some((item, used + 2)),
    }
}

/// "кроме понедельника", "кроме выходных", "не в пятницу", "только не в пн".
fn except(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    if !t.is_word(i, &["кроме", "не", "исключая"]) {
        return None;
    }
    // "не" only right before "в/во <day>", "сегодня/завтра" or a refusal
    // verb ("не могу в пятницу").
    if t.is_word(i, &["не"])
        && !refused(t, i)
        && !t.is_word(i + 1, &["в", "во"])
        && t.word(i + 1).is_none_or(|w| relative_word(w).is_none())
    {
        return None;
    }
    // "не могу в пятницу": the refusal before the day.
    if refused(t, i) {
        return match named(t, i + 2)? {
            (DayItem::Weekday { day, .. }, n) => Some((DayItem::Except(day), n + 2)),
            _ => None,
        };
    }
    if let Some((DayItem::Offset(d), n)) = relative(t, i + 1) {
        // "не сегодня", "кроме завтра".
        return Some((DayItem::ExceptOffset(d), n + 1));
    }
    match named(t, i + 1)? {
        (DayItem::Weekday { day, .. }, n) => Some((DayItem::Except(day), n + 1)),
        (DayItem::Weekend { .. }, n) => Some((DayItem::Workdays, n + 1)),
        _ => None,
    }
}

/// Weekdays, weekends, weekdays-as-a-group and weeks, with the preposition
/// and "этот"/"следующий" before them.
fn named(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    let mut k = i;
    let prep = t
        .word(k)
        .filter(|w| matches!(*w, "в" | "во" | "на" | "к" | "ко" | "по" | "до" | "с" | "со" | "за"));
    if prep.is_some() {
        k += 1;
    }
    let mut modifier = None;
    if let Some(w) = t.word(k) {
        if w.starts_with("следующ") || w == "след" || w.starts_with("будущ") {
            modifier = Some(Modifier::Next);
        } else if matches!(w, "эту" | "этот" | "эта" | "это" | "этой" | "эти" | "этих" | "этом")
            || w.starts_with("ближайш")
            || w.starts_with("текущ")
        {
            modifier = Some(Modifier::Plain);
        }
        if modifier.is_some() {
            k += 1;
            if t.glued_sym(k, &['.']) {
                k += 1;
            }
        }
    }
    // "в следующую" with nothing after it: the day is the one said before.
    if modifier == Some(Modifier::Next) && t.word(k).is_none() {
        return Some((DayItem::NextOfSaid, k - i));
    }
    let w = t.word(k)?;
    let recurring_prep = prep == Some("по");
    let m = modifier.unwrap_or(Modifier::Plain);
    let item = if let Some((day, plural)) = words::weekday(w) {
        if matches!(prep, Some("с" | "со")) && t.is_word(k + 1, &["по", "до"]) {
            if let Some((last, _)) = t.word(k + 2).and_then(words::weekday) {
                return Some((DayItem::WeekdayRange(day, last), k + 3 - i));
            }
        }
        // "пн-ср", "понедельник-среда".
        if t.sym(k + 1) == Some('-') {
            if let Some((last, _)) = t.word(k + 2).and_then(words::weekday) {
                return Some((DayItem::WeekdayRange(day, last), k + 3 - i));
            }
        }
        // "до пятницы" / "с понедельника" name a bound, still the day itself.
        DayItem::Weekday {
            day,
            modifier: m,
            recurring: plural || recurring_prep,
        }
    } else if matches!(
        w,
        "выходные" | "выходных" | "выходным" | "выходными" | "уикенд" | "викенд" | "уикэнд"
    ) {
        DayItem::Weekend {
            modifier: m,
            recurring: recurring_prep,
        }
    } else if w.starts_with("будн") {
        DayItem::Workdays
    } else if matches!(w, "рабочие" | "рабочий" | "рабочим" | "рабочих")
        && t.word(k + 1).is_some_and(|d| d.starts_with("дн") || d == "день")
    {
        return Some((DayItem::Workdays, k + 2 - i));
    } else if matches!(w, "неделе" | "неделю" | "неделя" | "недели") {
        // "на неделе" alone means this week; "в неделю" (a rate) does not count.
        if modifier.is_none() && prep != Some("на") {
            return None;
        }
        DayItem::Week(m)
    } else {
        return None;
    };
    Some((item, k + 1 - i))
}

/// "15.12", "15.12.2026", "15.12.26", "15/12", "1.05".
fn numeric_date(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    let (d, dd) = t.num(i)?;
    if dd > 2 || t.preceded_by_digits(i) {
        return None;
    }
    if i > 0 && (t.word(i - 1).is_some_and(words::is_label) || t.sym(i - 1).is_some_and(|c| c == '№' || c == '#')) {
        return None;
    }
    let sep = t.sym(i + 1).filter(|c| *c == '.' || *c == '/')?;
    if !t.glued(i + 1) || !t.glued(i + 2) {
        return None;
    }
    let (m, md) = t.num(i + 2)?;
    // "1.5 часа" is not the first of May: with a dot, the month has two digits.
    if md > 2 || (sep == '.' && md != 2) {
        return None;
    }
    let mut n = 3;
    let mut y = None;
    if t.glued_sym(i + 3, &[sep]) && t.glued(i + 4) {
        if let Some((yv, yd)) = t.num(i + 4) {
            y = match yd {
                2 => Some(2000 + yv as i32),
                4 if (2000..=2100).contains(&yv) => Some(yv as i32),
                _ => return None,
            };
            n = 5;
        }
    }
    if t.continues_digits(i + n) || t.num(i + n).is_some_and(|_| t.glued(i + n)) {
        return None;
    }
    if t.word(i + n).is_some_and(words::is_counted_thing) {
        return None;
    }
    if t.sym(i + n).is_some_and(words::is_counted_symbol) {
        return None;
    }
    valid_day_month(d, m)?;
    Some((DayItem::Date { d, m, y }, n))
}

fn valid_day_month(d: u32, m: u32) -> Option<()> {
    // 2024 is a leap year, so 29.02 passes here and is placed by `resolve`.
    NaiveDate::from_ymd_opt(2024, m, d).map(|_| ())
}

/// A day number written as a number or ordinal words, with an optional
/// "-го"/"-е" tail: returns the day and the next position.
/// `range_end` allows the number to follow a glued dash ("10-12 января").
fn day_number(t: &Toks, i: usize, range_end: bool) -> Option<(u32, usize)> {
    if let Some((d, digits)) = t.num(i) {
        if digits > 2 || (!range_end && t.preceded_by_digits(i)) || !(1..=31).contains(&d) {
            return None;
        }
        let mut k = i + 1;
        if t.glued_sym(k, &['-']) && t.word(k + 1).is_some_and(is_ordinal_tail) {
            k += 2;
        } else if t.glued(k) && t.word(k).is_some_and(is_ordinal_tail) {
            k += 1;
        }
        return Some((d, k));
    }
    let w = t.word(i)?;
    // "двадцать пятого", "тридцать первого".
    if let Some(tens @ (20 | 30)) = words::cardinal(w) {
        let unit = t.word(i + 1).and_then(words::ordinal).filter(|u| *u < 10)?;
        return Some((tens + unit, i + 2));
    }
    let d = words::ordinal(w)?;
    Some((d, i + 1))
}

/// "15 декабря", "1 января 2027", "первого января", "31-го", "на 5 число",
/// "5-е".
fn day_of_month(t: &Toks, i: usize) -> Option<(DayItem, usize)> {
    let (d, k) = day_number(t, i, false)?;
    if !(1..=31).contains(&d) {
        return None;
    }
    let had_tail = k > i + 1 && t.num(i).is_some();
    // "с 10 по 15 декабря", "10-12 января".
    if t.sym(k) == Some('-') || t.is_word(k, &["по", "до"]) {
        if let Some((to, k2)) = day_number(t, k + 1, true) {
            if let Some(m) = t.word(k2).and_then(words::month) {
                if d < to {
                    valid_day_month(to, m)?;
                    return Some((DayItem::DateRange { from: d, to, m }, k2 + 1 - i));
                }
            }
        }
    }
    if let Some(m) = t.word(k).and_then(words::month) {
        valid_day_month(d, m)?;
        let mut n = k + 1;
        let mut y = None;
        if let Some((yv, 4)) = t.num(n) {
            if (2000..=2100).contains(&yv) {
                y = Some(yv as i32);
                n += 1;
                if t.word(n).is_some_and(|w| w == "г" || w.starts_with("год")) {
                    n += 1;
                }
            }
        }
        return Some((DayItem::Date { d, m, y }, n - i));
    }
    if t.word(k).is_some_and(|w| w.starts_with("числ")) {
        return Some((DayItem::DayOfMonth(d), k + 1 - i));
    }
    // "11 или 12 декабря", "11, 12 или 13 декабря": the month said once
    // for a list of days.
    let mut j = k;
    for _ in 0..4 {
        let sep = if t.is_word(j, &["или", "и"]) || t.sym(j) == Some(',') {
            1
        } else {
            break;
        };
        let sep = if t.is_word(j + sep, &["или", "и"]) {
            sep + 1
        } else {
            sep
        };
        let Some((_, next)) = day_number(t, j + sep, false) else {
            break;
        };
        if let Some(m) = t.word(next).and_then(words::month) {
            valid_day_month(d, m)?;
            return Some((DayItem::Date { d, m, y: None }, k - i));
        }
        j = next;
    }
    // "на пятое", "к двадцать пятому": the neuter or dative ordinal after
    // "на"/"к" can only be a day of the month.
    let neuter = t.num(i).is_none()
        && i > 0
        && t.is_word(i - 1, &["на", "к"])
        && t.word(k - 1)
            .is_some_and(|w| w.ends_with("ое") || w.ends_with("ье") || w.ends_with("ому") || w.ends_with("ьему"));
    if neuter {
        return Some((DayItem::DayOfMonth(d), k - i));
    }
    // "31-го" alone; ordinal words alone ("первого") are too vague.
    if had_tail {
        if t.word(k).is_some_and(words::is_counted_thing) {
            return None;
        }
        return Some((DayItem::DayOfMonth(d), k - i));
    }
    None
}
