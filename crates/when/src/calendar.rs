//! Turning what a message said about days (`DayItem`s) into local dates:
//! the next such weekday, this or next calendar week, the next occurrence
//! of a date, the days left out.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

use crate::days::{DayItem, Modifier};

/// How far "по субботам" and "в будни" reach: the dialog offers the
/// nearest free slots, two weeks of candidates is plenty.
pub(crate) const RECURRING_DAYS: u64 = 14;

fn add_days(d: NaiveDate, n: u64) -> Option<NaiveDate> {
    d.checked_add_days(Days::new(n))
}

/// Monday of the week `today` is in, plus 7 for the next one.
fn week_start(today: NaiveDate, modifier: Modifier) -> Option<NaiveDate> {
    let monday = today.checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))?;
    match modifier {
        Modifier::Plain => Some(monday),
        Modifier::Next => add_days(monday, 7),
    }
}

fn next_weekday(from: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + day.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7;
    add_days(from, u64::from(ahead))
}

/// Dates of a span [from, from + len) whose weekday passes `keep`.
fn span(from: NaiveDate, len: u64, keep: impl Fn(Weekday) -> bool) -> Vec<NaiveDate> {
    (0..len)
        .filter_map(|k| add_days(from, k))
        .filter(|d| keep(d.weekday()))
        .collect()
}

fn is_weekend(d: Weekday) -> bool {
    matches!(d, Weekday::Sat | Weekday::Sun)
}

/// The next occurrence of a day and month on or after today (29.02 waits
/// for a leap year); with a year, exactly that date.
fn calendar_date(d: u32, m: u32, y: Option<i32>, today: NaiveDate) -> Option<NaiveDate> {
    if let Some(y) = y {
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    (today.year()..=today.year() + 8)
        .filter_map(|y| NaiveDate::from_ymd_opt(y, m, d))
        .find(|x| *x >= today)
}

/// The next month (this one included) that has day `d`, on or after today.
fn month_day(d: u32, today: NaiveDate) -> Option<NaiveDate> {
    let first = today.with_day(1)?;
    (0..=12)
        .filter_map(|k| first.checked_add_months(Months::new(k)))
        .filter_map(|f| f.with_day(d))
        .find(|x| *x >= today)
}

/// Turns what was said into dates. `today_counts` says whether today can be
/// "the next Saturday" (the wished time is still ahead); it does not affect
/// "сегодня" or calendar dates, which name today explicitly.
pub(crate) fn resolve(items: &[DayItem], today: NaiveDate, today_counts: bool) -> Option<Vec<NaiveDate>> {
    let first = if today_counts { today } else { add_days(today, 1)? };
    // A calendar date says which day; a weekday beside it only describes it
    // ("в пятницу 18.12").
    let calendar = items.iter().any(DayItem::is_calendar);
    let has_days_in_week = items
        .iter()
        .any(|x| matches!(x, DayItem::Weekday { .. } | DayItem::Workdays | DayItem::Weekend { .. }));
    // The week weekdays are picked from: "на следующей неделе", or the week
    // "через неделю" lands in when a weekday is said with it.
    let week: Option<NaiveDate> = items.iter().find_map(|x| match *x {
        DayItem::Week(m) => week_start(today, m),
        DayItem::WeeksAhead(n) if has_days_in_week => {
            add_days(today, n.checked_mul(7)?).and_then(|d| week_start(d, Modifier::Plain))
        }
        _ => None,
    });
    let week_days = |monday: NaiveDate| -> Vec<NaiveDate> {
        span(monday, 7, |_| true).into_iter().filter(|d| *d >= first).collect()
    };
    let mut excluded_days = Vec::new();
    let mut excluded_dates = Vec::new();
    for item in items {
        match *item {
            DayItem::Except(d) => excluded_days.push(d),
            DayItem::ExceptOffset(n) => excluded_dates.extend(add_days(today, n)),
            _ => {}
        }
    }
    let is_exclusion = |x: &DayItem| matches!(x, DayItem::Except(_) | DayItem::ExceptOffset(_));
    let mut out = BTreeSet::new();
    if items.iter().all(is_exclusion) && !(excluded_days.is_empty() && excluded_dates.is_empty()) {
        // Only "кроме понедельника" / "сегодня не получится": any of the
        // coming days but those.
        out.extend(span(first, RECURRING_DAYS, |_| true));
    }
    for item in items {
        let dates: Vec<NaiveDate> = match *item {
            DayItem::Offset(n) => add_days(today, n).into_iter().collect(),
            DayItem::OffsetMonths(n) => today.checked_add_months(Months::new(n)).into_iter().collect(),
            DayItem::Date { d, m, y } => calendar_date(d, m, y, today).into_iter().collect(),
            DayItem::DayOfMonth(d) => month_day(d, today).into_iter().collect(),
            DayItem::DateRange { from, to, m } => match calendar_date(to, m, None, today) {
                // The span ends on the next occurrence of its last day and
                // starts in the same month; days already past are left out.
                Some(end) => (from..=to)
                    .filter_map(|d| end.with_day(d))
                    .filter(|d| *d >= today)
                    .collect(),
                None => vec![],
            },
            DayItem::Except(_) | DayItem::ExceptOffset(_) | DayItem::NextOfSaid | DayItem::Refused => continue,
            _ if calendar => continue,
            DayItem::WeeksAhead(n) if !has_days_in_week => {
                n.checked_mul(7).and_then(|d| add_days(today, d)).into_iter().collect()
            }
            DayItem::WeeksAhead(_) => continue,
            DayItem::Weekday {
                day,
                modifier,
                recurring,
            } => {
                let in_week: Vec<NaiveDate> = week
                    .map(|w| week_days(w).into_iter().filter(|d| d.weekday() == day).collect())
                    .unwrap_or_default();
                if !in_week.is_empty() {
                    in_week
                } else if recurring {
                    span(first, RECURRING_DAYS, |d| d == day)
                } else if modifier == Modifier::Next {
                    next_week_day(today, day).into_iter().collect()
                } else {
                    next_weekday(first, day).into_iter().collect()
                }
            }
            DayItem::Weekend { modifier, recurring } => {
                if recurring {
                    span(first, RECURRING_DAYS, is_weekend)
                } else {
                    let start = match (week, modifier) {
                        (_, Modifier::Next) => week_start(today, Modifier::Next),
                        (Some(w), _) => Some(w.max(first)),
                        _ => Some(first),
                    };
                    match start {
                        // From `start`, the weekend in progress or the next one.
                        Some(s) if s.weekday() == Weekday::Sun => vec![s],
                        Some(s) => next_weekday(s, Weekday::Sat)
                            .map(|sat| [Some(sat), add_days(sat, 1)].into_iter().flatten().collect())
                            .unwrap_or_default(),
                        None => vec![],
                    }
                }
            }
            DayItem::WeekdayRange(a, b) => match next_weekday(first, a) {
                Some(start) => {
                    let len = (7 + b.num_days_from_monday() - a.num_days_from_monday()) % 7;
                    span(start, u64::from(len) + 1, |_| true)
                }
                None => vec![],
            },
            DayItem::Workdays => match week {
                Some(w) => week_days(w).into_iter().filter(|d| !is_weekend(d.weekday())).collect(),
                None => span(first, RECURRING_DAYS, |d| !is_weekend(d)),
            },
            DayItem::Week(m) if !has_days_in_week => week_start(today, m).map(week_days).unwrap_or_default(),
            DayItem::Week(_) => continue,
        };
        out.extend(dates);
    }
    out.retain(|d| !excluded_days.contains(&d.weekday()) && !excluded_dates.contains(d));
    // "в эту субботу не могу, в следующую": next week's day of those said.
    if items.contains(&DayItem::NextOfSaid) {
        for item in items {
            if let DayItem::Weekday { day, .. } | DayItem::Except(day) = *item {
                out.extend(next_week_day(today, day));
            }
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out.into_iter().collect())
    }
}

/// The given weekday in the calendar week after this one.
fn next_week_day(today: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    week_start(today, Modifier::Next).and_then(|s| next_weekday(s, day))
}
