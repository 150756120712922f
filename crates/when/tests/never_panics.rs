//! Whatever a client types, parse and windows return without panicking.

use chrono::{DateTime, TimeZone, Utc};
use leadbot_when::parse;
use proptest::prelude::*;

fn zones() -> impl Strategy<Value = chrono_tz::Tz> {
    prop_oneof![
        Just(chrono_tz::Europe::Moscow),
        Just(chrono_tz::Europe::Berlin),
        Just(chrono_tz::Asia::Almaty),
        Just(chrono_tz::Pacific::Apia),
        Just(chrono_tz::Australia::Lord_Howe),
        Just(chrono_tz::UTC),
    ]
}

fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970..2200, seconds resolution.
    (0i64..7_258_118_400).prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default())
}

/// Pieces real messages are made of, glued in random order, so the matchers
/// see plausible neighbours and not only random bytes.
fn pieces() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "в",
        "во",
        "к",
        "с",
        "до",
        "после",
        "не",
        "раньше",
        "позже",
        "на",
        "через",
        "между",
        "и",
        "пол",
        "полпятого",
        "без",
        "четверти",
        "пять",
        "два",
        "двадцать",
        "час",
        "часа",
        "минут",
        "утра",
        "вечера",
        "дня",
        "ночи",
        "утром",
        "завтра",
        "сегодня",
        "субботу",
        "пн",
        "следующую",
        "неделе",
        "выходные",
        "будни",
        "декабря",
        "февраля",
        "числа",
        "го",
        "-",
        ":",
        ".",
        "/",
        "+",
        "(",
        ")",
        "0",
        "00",
        "1",
        "7",
        "12",
        "15",
        "23",
        "24",
        "29",
        "31",
        "59",
        "99",
        "999",
        "2026",
        "9999",
        "4294967295",
        "99999999999999999999",
        " ",
        ",",
        "?",
        "ё",
        "₽",
        "%",
    ]);
    prop::collection::vec(words, 0..20).prop_map(|v| v.join(""))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text(text in any::<String>(), now in instants(), tz in zones()) {
        if let Some(w) = parse(&text, now, tz) {
            prop_assert!(w.days.is_some() || w.time.is_some());
            let _ = w.windows(now, tz, 30);
        }
    }

    #[test]
    fn message_like_text(a in pieces(), b in pieces(), now in instants(), tz in zones(), horizon in 0u32..400) {
        let text = format!("{a} {b}");
        if let Some(w) = parse(&text, now, tz) {
            prop_assert!(w.days.is_some() || w.time.is_some());
            if let Some(days) = &w.days {
                prop_assert!(!days.is_empty());
                prop_assert!(days.windows(2).all(|p| p[0] < p[1]), "days not ascending: {:?}", days);
            }
            let windows = w.windows(now, tz, horizon);
            for (s, e) in &windows {
                prop_assert!(s <= e);
                prop_assert!(*s >= now);
            }
            prop_assert!(windows.windows(2).all(|p| p[0] <= p[1]));
        }
    }
}

#[test]
fn a_huge_horizon_is_capped() {
    let now = Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).single().expect("now");
    let w = parse("в 10", now, chrono_tz::Europe::Moscow).expect("a time");
    let windows = w.windows(now, chrono_tz::Europe::Moscow, 90_000_000);
    assert!(windows.len() <= leadbot_when::MAX_HORIZON_DAYS as usize + 1);
}

#[test]
fn extreme_instants() {
    for now in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        for text in [
            "завтра",
            "через месяц",
            "через 2 часа",
            "31-го",
            "29 февраля",
            "в субботу утром",
            "в 10",
        ] {
            if let Some(w) = parse(text, now, chrono_tz::Europe::Moscow) {
                let _ = w.windows(now, chrono_tz::Europe::Moscow, u32::MAX);
            }
        }
    }
}
