//! The business's schedule: services with durations, the staff or rooms (resources) that do
//! them with working hours, breaks and days off, the slot grid and the buffer between visits —
//! and the free slots on it, given what is already busy.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub duration: Duration,
    /// Lower-case word starts that name the service.
    pub words: Vec<String>,
    /// Who can do it; empty = every resource.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// Monday first; `None` = day off.
    pub hours: [Option<(NaiveTime, NaiveTime)>; 7],
    pub breaks: Vec<(NaiveTime, NaiveTime)>,
    pub days_off: BTreeSet<NaiveDate>,
    pub manager_id: Option<String>,
}

/// A time a resource is taken, `[from, until)` (a booking with its buffer, or an outside event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub resource: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A visit that can be booked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub resource: String,
    pub service: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub tz: Tz,
    pub step: Duration,
    pub buffer: Duration,
    pub horizon_days: u32,
    pub services: Vec<Service>,
    pub resources: Vec<Resource>,
}

/// What the client asked for: windows `[from, to)` (a zero-length one is an exact start), and
/// the instant the nearest slots are measured from when nothing fits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Wish {
    pub windows: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    pub prefer_resource: Option<String>,
}

impl Schedule {
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// The resources that can do `service`.
    pub fn resources_for<'a>(&'a self, service: &'a Service) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources
            .iter()
            .filter(move |r| service.resources.is_empty() || service.resources.contains(&r.id))
    }

    /// The period slots are searched in: from now to the end of the horizon.
    pub fn horizon(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (now, now + Duration::days(i64::from(self.horizon_days) + 1))
    }

    /// Every free slot for `service` starting after `now` within the horizon, ordered by start
    /// (then by the preferred resource, then by resource order). `busy` may hold any resource's
    /// intervals; each is widened to the grid, as the store's cells are.
    pub fn free_slots(&self, service: &Service, busy: &[Busy], now: DateTime<Utc>) -> Vec<Slot> {
        let step = self.step.max(Duration::minutes(1));
        let today = now.with_timezone(&self.tz).date_naive();
        let mut out = Vec::new();
        for resource in self.resources_for(service) {
            let mut taken: Vec<(DateTime<Utc>, DateTime<Utc>)> = busy
                .iter()
                .filter(|b| b.resource == resource.id)
                .map(|b| (floor_to(b.from, step), ceil_to(b.until, step)))
                .collect();
            taken.sort();
            for d in 0..=i64::from(self.horizon_days) {
                let Some(day) = today.checked_add_signed(Duration::days(d)) else {
                    break;
                };
                if resource.days_off.contains(&day) {
                    continue;
                }
                let Some((open, close)) = resource.hours[day.weekday().num_days_from_monday() as usize] else {
                    continue;
                };
                let (Some(open), Some(close)) = (local(self.tz, day, open), local(self.tz, day, close)) else {
                    continue;
                };
                let breaks: Vec<(DateTime<Utc>, DateTime<Utc>)> = resource
                    .breaks
                    .iter()
                    .filter_map(|(a, b)| Some((local(self.tz, day, *a)?, local(self.tz, day, *b)?)))
                    .collect();
                let mut start = ceil_to(open, step);
                while start + service.duration <= close {
                    let end = start + service.duration;
                    let occupied = end + self.buffer;
                    let free = start > now
                        && !breaks.iter().any(|(a, b)| start < *b && *a < end)
                        && !taken.iter().any(|(a, b)| start < *b && *a < occupied);
                    if free {
                        out.push(Slot {
                            resource: resource.id.clone(),
                            service: service.id.clone(),
                            start,
                            end,
                        });
                    }
                    start += step;
                }
            }
        }
        out.sort_by_key(|s| s.start);
        out
    }

    /// Up to `limit` slots for the wish: those inside its windows first (an exact start is
    /// a window of one instant), at distinct times, the preferred resource first at a time;
    /// when none fits, the ones nearest to the first window. `exact`: whether the first slot
    /// is exactly what was asked for.
    pub fn offer(&self, service: &Service, busy: &[Busy], wish: &Wish, now: DateTime<Utc>, limit: usize) -> Offer {
        let all = self.free_slots(service, busy, now);
        let prefer = |s: &Slot| wish.prefer_resource.as_deref() != Some(s.resource.as_str());
        let fits = |s: &Slot| {
            wish.windows.is_empty()
                || wish.windows.iter().any(|(a, b)| {
                    if a == b {
                        s.start == *a
                    } else {
                        s.start >= *a && s.start < *b
                    }
                })
        };
        let mut inside: Vec<&Slot> = all.iter().filter(|s| fits(s)).collect();
        inside.sort_by_key(|s| (s.start, prefer(s)));
        let exact_asked = wish.windows.first().is_some_and(|(a, b)| a == b);
        if !inside.is_empty() {
            let slots = distinct(inside, limit);
            return Offer {
                exact: exact_asked,
                fits: true,
                slots,
            };
        }
        // Nothing in the windows: the nearest to what was asked (or simply the soonest).
        let anchor = wish.windows.first().map(|w| w.0);
        let mut near: Vec<&Slot> = all.iter().collect();
        if let Some(anchor) = anchor {
            near.sort_by_key(|s| ((s.start - anchor).num_seconds().abs(), s.start, prefer(s)));
        } else {
            near.sort_by_key(|s| (s.start, prefer(s)));
        }
        let mut slots = distinct(near, limit);
        slots.sort_by_key(|s| s.start);
        Offer {
            exact: false,
            fits: false,
            slots,
        }
    }
}

/// The slots offered for a wish.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// The wish named one exact time and the first slot is it.
    pub exact: bool,
    /// The slots are inside the wish (else: the nearest free ones).
    pub fits: bool,
    pub slots: Vec<Slot>,
}

/// One slot per start time (the first of each, which the caller ordered), at most `limit`.
fn distinct(sorted: Vec<&Slot>, limit: usize) -> Vec<Slot> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in sorted {
        if out.len() >= limit {
            break;
        }
        if seen.insert(s.start) {
            out.push(s.clone());
        }
    }
    out
}

/// A local wall-clock time on `day` as an instant; a time skipped by a DST change moves to the
/// first instant after the gap, an ambiguous one takes the earlier reading.
pub fn local(tz: Tz, day: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = day.and_time(t);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(d) => Some(d.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, _) => Some(a.with_timezone(&Utc)),
        LocalResult::None => {
            let later = naive + Duration::hours(1);
            tz.from_local_datetime(&later).earliest().map(|d| d.with_timezone(&Utc))
        }
    }
}

fn floor_to(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let s = step.num_seconds().max(1);
    let secs = t.timestamp().div_euclid(s) * s;
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

fn ceil_to(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let f = floor_to(t, step);
    if f == t && t.timestamp_subsec_nanos() == 0 {
        t
    } else {
        f + step
    }
}

/// The store's cells are cut on the same grid: `[floor(start), ceil(busy_until))`.
pub fn grid_seconds(schedule: &Schedule) -> i64 {
    schedule.step.num_seconds().max(60)
}
