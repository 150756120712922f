//! Wishes as UTC windows: clipping to now, the horizon, other zones and
//! the DST changes of Europe/Berlin.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use leadbot_when::{parse, TimeWish, When};

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn windows(text: &str, now: &str, tz: Tz, horizon: u32) -> Vec<(String, String)> {
    let now = utc(now);
    let when = parse(text, now, tz).unwrap_or_else(|| panic!("{text:?} parsed to None"));
    when.windows(now, tz, horizon)
        .into_iter()
        .map(|(a, b)| {
            (
                a.format("%Y-%m-%dT%H:%MZ").to_string(),
                b.format("%Y-%m-%dT%H:%MZ").to_string(),
            )
        })
        .collect()
}

fn w(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

#[test]
fn a_day_and_a_window_in_moscow() {
    assert_eq!(
        windows("завтра после 18", "2026-12-02T07:00:00Z", chrono_tz::Europe::Moscow, 14),
        vec![w("2026-12-03T15:00Z", "2026-12-03T21:00Z")]
    );
}

#[test]
fn a_time_without_a_day_is_every_day_from_today_if_still_ahead() {
    // 10:30 in Moscow: today's 10:00 has passed, so tomorrow first.
    assert_eq!(
        windows("в 10", "2026-12-02T07:30:00Z", chrono_tz::Europe::Moscow, 2),
        vec![
            w("2026-12-03T07:00Z", "2026-12-03T07:00Z"),
            w("2026-12-04T07:00Z", "2026-12-04T07:00Z")
        ]
    );
    // 09:30: today's 10:00 is still ahead.
    assert_eq!(
        windows("в 10", "2026-12-02T06:30:00Z", chrono_tz::Europe::Moscow, 1)[0],
        w("2026-12-02T07:00Z", "2026-12-02T07:00Z")
    );
}

#[test]
fn a_window_in_progress_is_clipped_to_now_and_the_horizon() {
    // 09:00 in Kaliningrad (UTC+2): the morning runs until 10:00 UTC;
    // tomorrow's morning starts exactly at the horizon and is left out.
    assert_eq!(
        windows("утром", "2026-12-02T07:00:00Z", chrono_tz::Europe::Kaliningrad, 1),
        vec![w("2026-12-02T07:00Z", "2026-12-02T10:00Z")]
    );
    // "сегодня" at 10:00 Moscow: from now to local midnight.
    assert_eq!(
        windows("сегодня", "2026-12-02T07:00:00Z", chrono_tz::Europe::Moscow, 7),
        vec![w("2026-12-02T07:00Z", "2026-12-02T21:00Z")]
    );
    // Recurring days beyond the horizon are dropped.
    assert_eq!(
        windows("по субботам в 12", "2026-12-02T07:00:00Z", chrono_tz::Europe::Moscow, 7),
        vec![w("2026-12-05T09:00Z", "2026-12-05T09:00Z")]
    );
}

#[test]
fn yekaterinburg_and_almaty_are_east_of_moscow() {
    assert_eq!(
        windows(
            "завтра с 10 до 12",
            "2027-01-30T12:00:00Z",
            chrono_tz::Asia::Yekaterinburg,
            14
        ),
        vec![w("2027-01-31T05:00Z", "2027-01-31T07:00Z")]
    );
    // Almaty's offset changed in 2024; compare with the zone's own offset
    // rather than a hard-coded one.
    let now = utc("2026-12-02T20:00:00Z");
    let tz = chrono_tz::Asia::Almaty;
    let got = parse("завтра в 15", now, tz).expect("parsed").windows(now, tz, 14);
    let local = NaiveDate::from_ymd_opt(2026, 12, 4)
        .and_then(|d| d.and_hms_opt(15, 0, 0))
        .expect("date");
    use chrono::TimeZone;
    let expected = tz
        .from_local_datetime(&local)
        .single()
        .expect("single")
        .with_timezone(&Utc);
    assert_eq!(got, vec![(expected, expected)]);
}

#[test]
fn berlin_autumn_change_makes_sunday_25_hours_long() {
    // Wednesday 21 October 2026; summer time ends on Sunday 25 October at 03:00.
    let now = "2026-10-21T10:00:00Z";
    let berlin = chrono_tz::Europe::Berlin;
    assert_eq!(
        windows("в воскресенье", now, berlin, 14),
        vec![w("2026-10-24T22:00Z", "2026-10-25T23:00Z")]
    );
    assert_eq!(
        windows("в субботу в 10", now, berlin, 14),
        vec![w("2026-10-24T08:00Z", "2026-10-24T08:00Z")]
    );
    assert_eq!(
        windows("в воскресенье в 10", now, berlin, 14),
        vec![w("2026-10-25T09:00Z", "2026-10-25T09:00Z")]
    );
    // 02:30 happens twice that night: a moment takes the first.
    assert_eq!(
        windows("в воскресенье в 02:30", now, berlin, 14),
        vec![w("2026-10-25T00:30Z", "2026-10-25T00:30Z")]
    );
    // A window over the repeated hour covers both of its passes.
    assert_eq!(
        windows("в воскресенье с 02:00 до 03:00", now, berlin, 14),
        vec![w("2026-10-25T00:00Z", "2026-10-25T02:00Z")]
    );
    // Every morning of the week: 07:00 UTC before the change, 08:00 after.
    let mornings = windows("утром", now, berlin, 7);
    assert!(
        mornings.contains(&w("2026-10-24T07:00Z", "2026-10-24T10:00Z")),
        "{mornings:?}"
    );
    assert!(
        mornings.contains(&w("2026-10-25T08:00Z", "2026-10-25T11:00Z")),
        "{mornings:?}"
    );
    assert!(
        mornings.contains(&w("2026-10-26T08:00Z", "2026-10-26T11:00Z")),
        "{mornings:?}"
    );
}

#[test]
fn berlin_spring_gap_moves_a_time_forward() {
    // Sunday 28 March 2027: 02:00–03:00 does not exist in Berlin.
    let now = "2027-03-24T10:00:00Z";
    let berlin = chrono_tz::Europe::Berlin;
    assert_eq!(
        windows("в воскресенье в 02:30", now, berlin, 14),
        vec![w("2027-03-28T01:30Z", "2027-03-28T01:30Z")]
    );
    assert_eq!(
        windows("в воскресенье", now, berlin, 14),
        vec![w("2027-03-27T23:00Z", "2027-03-28T22:00Z")]
    );
}

#[test]
fn a_built_when_without_days_covers_the_horizon() {
    let when = When {
        days: None,
        time: Some(TimeWish::Between(
            NaiveTime::from_hms_opt(18, 0, 0).expect("time"),
            NaiveTime::MIN,
        )),
    };
    let now = utc("2026-12-02T07:00:00Z");
    let got = when.windows(now, chrono_tz::UTC, 3);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], (utc("2026-12-02T18:00:00Z"), utc("2026-12-03T00:00:00Z")));
    // Zero horizon: nothing.
    assert!(when.windows(now, chrono_tz::UTC, 0).is_empty());
}
