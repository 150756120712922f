//! Joining what a client says over several messages: "в субботу", then
//! "утром" is Saturday morning; "нет, в воскресенье" replaces the day.

use chrono::{Duration, NaiveTime, Timelike};

use crate::{TimeWish, When};

impl When {
    /// A later message adds to an earlier one: "в субботу" then "утром" →
    /// Saturday morning; a later part replaces the same earlier part.
    ///
    /// One refinement: a later moment whose hour lies outside an earlier
    /// window but whose twelve-hour twin lies inside it takes the twin —
    /// "вечером" then "в 8" is 20:00, "до обеда" then "в 7" is 07:00 (alone
    /// "в 8" would be 08:00 and "в 7" 19:00).
    pub fn merge(&self, later: &When) -> When {
        let time = match (self.time, later.time) {
            (Some(TimeWish::Between(a, b)), Some(TimeWish::At(t))) => Some(TimeWish::At(twin_inside(t, a, b))),
            (earlier, None) => earlier,
            (_, Some(l)) => Some(l),
        };
        When {
            days: later.days.clone().or_else(|| self.days.clone()),
            time,
        }
    }
}

fn inside(t: NaiveTime, a: NaiveTime, b: NaiveTime) -> bool {
    t >= a && (b <= a || t < b)
}

fn twin_inside(t: NaiveTime, a: NaiveTime, b: NaiveTime) -> NaiveTime {
    if inside(t, a, b) {
        return t;
    }
    let twin = if t.hour() < 12 {
        t + Duration::hours(12)
    } else {
        t - Duration::hours(12)
    };
    if inside(twin, a, b) {
        twin
    } else {
        t
    }
}
