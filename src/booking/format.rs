//! How a slot reads to the client: "пт 18.12 в 18:30" on a button, "в пятницу, 18 декабря,
//! в 18:30" in a sentence — always in the business's zone.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

const WEEKDAYS_SHORT: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
const WEEKDAYS_ACC: [&str; 7] = [
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
];
const MONTHS_GEN: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// A button's label: "пт 18.12 в 18:30". Unique per start within one offer.
pub fn label(start: DateTime<Utc>, tz: Tz) -> String {
    let l = start.with_timezone(&tz);
    format!(
        "{} {:02}.{:02} в {}",
        WEEKDAYS_SHORT[l.weekday().num_days_from_monday() as usize],
        l.day(),
        l.month(),
        l.format("%H:%M")
    )
}

/// In a sentence: "в пятницу, 18 декабря, в 18:30".
pub fn when(start: DateTime<Utc>, tz: Tz) -> String {
    let l = start.with_timezone(&tz);
    format!(
        "{}, {} {}, в {}",
        WEEKDAYS_ACC[l.weekday().num_days_from_monday() as usize],
        l.day(),
        MONTHS_GEN[l.month0() as usize],
        l.format("%H:%M")
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn in_the_business_zone() {
        let t = Utc.with_ymd_and_hms(2026, 12, 18, 15, 30, 0).unwrap();
        assert_eq!(label(t, chrono_tz::Europe::Moscow), "пт 18.12 в 18:30");
        assert_eq!(
            when(t, chrono_tz::Asia::Yekaterinburg),
            "в пятницу, 18 декабря, в 20:30"
        );
    }
}
