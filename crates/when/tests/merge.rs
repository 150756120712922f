//! Several messages making one wish.

use chrono::{DateTime, Utc};
use leadbot_when::{parse, When};

const NOW: &str = "2026-12-02T07:00:00Z"; // Wednesday 10:00 in Moscow

fn p(text: &str) -> When {
    let now: DateTime<Utc> = NOW.parse().expect("now");
    parse(text, now, chrono_tz::Europe::Moscow).unwrap_or_else(|| panic!("{text:?} parsed to None"))
}

fn chain(texts: &[&str]) -> When {
    let mut it = texts.iter().map(|t| p(t));
    let first = it.next().expect("one message");
    it.fold(first, |acc, next| acc.merge(&next))
}

#[test]
fn a_day_then_a_time_of_day() {
    assert_eq!(chain(&["в субботу", "утром"]), p("в субботу утром"));
    assert_eq!(chain(&["утром", "в субботу"]), p("в субботу утром"));
}

#[test]
fn a_later_part_replaces_the_earlier_one() {
    assert_eq!(
        chain(&["в субботу утром", "нет, лучше в воскресенье"]),
        p("в воскресенье утром")
    );
    assert_eq!(chain(&["завтра в 10", "а можно в 12?"]), p("завтра в 12"));
    assert_eq!(chain(&["15.12", "в 11:30", "или 16.12"]), p("16.12 в 11:30"));
}

#[test]
fn an_hour_after_a_part_of_the_day_takes_its_twin_inside_it() {
    assert_eq!(chain(&["завтра вечером", "в 8"]), p("завтра в 20:00"));
    assert_eq!(chain(&["до обеда", "в 7"]), p("в 07:00"));
    // Inside already: unchanged.
    assert_eq!(chain(&["утром", "в 10"]), p("в 10"));
    // Neither inside: the later hour as read alone.
    assert_eq!(chain(&["утром", "в 15"]), p("в 15"));
}

#[test]
fn merging_with_itself_changes_nothing() {
    let w = p("в пятницу с 14 до 16");
    assert_eq!(w.merge(&w), w);
}
