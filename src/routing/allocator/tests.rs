//! The pool with a controlled clock, plus property tests of its invariants.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::config::{GroupConfig, ManagerConfig, RoutingConfig, Strategy};
use crate::routing::Roster;

fn manager(id: &str, groups: &[&str], capacity: u32, tags: &[&str], hours: Option<&str>) -> ManagerConfig {
    ManagerConfig {
        id: id.into(),
        name: format!("M{id}"),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        capacity,
        weight: 1,
        timezone: Some("UTC".into()),
        hours: hours
            .map(|h| {
                ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .iter()
                    .map(|d| (d.to_string(), vec![h.to_string()]))
                    .collect()
            })
            .unwrap_or_default(),
        absences: vec![],
    }
}

fn config(managers: Vec<ManagerConfig>, strategy: Strategy) -> RoutingConfig {
    RoutingConfig {
        default_group: "sales".into(),
        timezone: "UTC".into(),
        reassign_after: std::time::Duration::from_secs(900),
        max_hops: 2,
        prefer_previous_owner: true,
        backlog_burst: 0,
        backlog_window: std::time::Duration::from_secs(600),
        groups: vec![GroupConfig {
            name: "sales".into(),
            strategy,
            head: None,
        }],
        managers,
        rules: vec![],
        classifier: Default::default(),
        llm: None,
    }
}

fn pool(managers: Vec<ManagerConfig>, strategy: Strategy) -> Allocator {
    Allocator::new(Roster::from_config(&config(managers, strategy)))
}

fn req(lead: i64, priority: Priority) -> Request {
    Request {
        lead: LeadId(lead),
        group: "sales".into(),
        priority,
        tags: vec![],
        previous_owner: None,
        exclude: vec![],
        since: noon() + Duration::seconds(lead),
    }
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

#[test]
fn round_robin_rotates_and_resumes_from_a_restored_cursor() {
    let ms = vec![
        manager("1", &["sales"], 0, &[], None),
        manager("2", &["sales"], 0, &[], None),
        manager("3", &["sales"], 0, &[], None),
    ];
    let mut p = pool(ms.clone(), Strategy::RoundRobin);
    let ids: Vec<crate::domain::ManagerId> = (0..4)
        .map(|i| p.assign(&req(i, Priority::Normal), noon()).unwrap().id)
        .collect();
    assert_eq!(ids, ["1", "2", "3", "1"]);
    let mut restored = pool(ms, Strategy::RoundRobin);
    restored.restore([], [("sales".to_string(), p.cursor("sales"))], [], [], vec![]);
    assert_eq!(restored.assign(&req(9, Priority::Normal), noon()).unwrap().id, "2");
}

#[test]
fn moved_cursors_are_reported_once_for_saving() {
    let ms = vec![
        manager("1", &["sales"], 0, &[], None),
        manager("2", &["sales"], 0, &[], None),
    ];
    let mut p = pool(ms, Strategy::RoundRobin);
    assert!(p.take_moved_cursors().is_empty());
    p.assign(&req(1, Priority::Normal), noon());
    p.assign(&req(2, Priority::Normal), noon());
    assert_eq!(p.take_moved_cursors(), [("sales".to_string(), 2)]);
    assert!(p.take_moved_cursors().is_empty(), "reported once");
}

#[test]
fn a_dequeued_lead_is_not_drained() {
    let mut p = pool(vec![manager("1", &["sales"], 1, &[], None)], Strategy::RoundRobin);
    p.restore([("1".into(), 1)], [], [], [], vec![]);
    p.enqueue(req(1, Priority::High));
    p.enqueue(req(2, Priority::Normal));
    assert!(p.dequeue(LeadId(1)));
    assert!(!p.dequeue(LeadId(1)));
    p.release("1");
    let got: Vec<i64> = p.drain(noon()).iter().map(|(r, _)| r.lead.0).collect();
    assert_eq!(got, [2]);
}

#[test]
fn a_backlog_is_paced_so_whoever_comes_online_first_does_not_get_it_all() {
    let config = |burst| {
        let mut c = config(
            vec![
                manager("early", &["sales"], 0, &[], Some("09:00-18:00")),
                manager("late", &["sales"], 0, &[], Some("09:10-18:00")),
            ],
            Strategy::RoundRobin,
        );
        c.backlog_burst = burst;
        c
    };
    let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap();
    let mut p = Allocator::new(Roster::from_config(&config(3)));
    for i in 0..6 {
        p.enqueue(req(i, Priority::Normal));
    }
    let ids = |got: Vec<(Request, ManagerRef)>| got.into_iter().map(|(_, m)| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(p.drain(at(9, 0))),
        ["early"; 3],
        "the first shift gets its share only"
    );
    assert!(p.drain(at(9, 5)).is_empty(), "and no more within the window");
    assert_eq!(ids(p.drain(at(9, 10))), ["late", "early", "late"], "the rest is shared");
    // A new lead is not held back by the pacing.
    assert!(p.assign(&req(7, Priority::Normal), at(9, 11)).is_some());

    let mut unpaced = Allocator::new(Roster::from_config(&config(0)));
    for i in 0..6 {
        unpaced.enqueue(req(i, Priority::Normal));
    }
    assert_eq!(unpaced.drain(at(9, 0)).len(), 6, "burst 0: no pacing");
}

#[test]
fn nobody_outside_hours_paused_absent_or_full_gets_a_lead() {
    let mut p = pool(
        vec![
            manager("night", &["sales"], 0, &[], Some("00:00-06:00")),
            manager("paused", &["sales"], 0, &[], None),
            manager("away", &["sales"], 0, &[], None),
            manager("full", &["sales"], 1, &[], None),
        ],
        Strategy::RoundRobin,
    );
    p.set_paused("paused", true);
    p.set_absent_until("away", Some(noon().date_naive()));
    assert_eq!(p.assign(&req(1, Priority::Normal), noon()).unwrap().id, "full");
    assert!(
        p.assign(&req(2, Priority::Normal), noon()).is_none(),
        "full is at capacity now"
    );
    p.release("full");
    assert_eq!(p.assign(&req(3, Priority::Normal), noon()).unwrap().id, "full");
    let status = p.status(noon());
    assert!(status.iter().all(|s| !s.eligible));
    assert!(status.iter().find(|s| s.id == "night").is_some_and(|s| !s.in_hours));
}

#[test]
fn least_loaded_and_specialization() {
    let ms = vec![
        manager("1", &["sales"], 0, &[], None),
        manager("2", &["sales"], 0, &["нефтегаз"], None),
        manager("3", &["sales"], 0, &[], None),
    ];
    let mut p = pool(ms.clone(), Strategy::LeastLoaded);
    p.restore([("1".into(), 5), ("2".into(), 1), ("3".into(), 3)], [], [], [], vec![]);
    assert_eq!(p.assign(&req(1, Priority::Normal), noon()).unwrap().id, "2");
    let mut s = pool(ms, Strategy::Specialization);
    s.restore([("2".into(), 7)], [], [], [], vec![]);
    let mut tender = req(2, Priority::High);
    tender.tags = vec!["нефтегаз".into()];
    assert_eq!(
        s.assign(&tender, noon()).unwrap().id,
        "2",
        "the specialist despite load"
    );
    assert_ne!(
        s.assign(&req(3, Priority::Normal), noon()).unwrap().id,
        "2",
        "others by load"
    );
}

#[test]
fn weighted_shares_follow_weights() {
    let mut a = manager("a", &["sales"], 0, &[], None);
    a.weight = 3;
    let mut p = pool(vec![a, manager("b", &["sales"], 0, &[], None)], Strategy::Weighted);
    let picks: Vec<crate::domain::ManagerId> = (0..8)
        .map(|i| p.assign(&req(i, Priority::Normal), noon()).unwrap().id)
        .collect();
    assert_eq!(picks.iter().filter(|p| *p == "a").count(), 6);
}

#[test]
fn returning_client_goes_to_the_previous_owner_and_excluded_ones_are_skipped() {
    let mut p = pool(
        vec![
            manager("1", &["sales"], 0, &[], None),
            manager("2", &["sales"], 0, &[], None),
        ],
        Strategy::RoundRobin,
    );
    let mut r = req(1, Priority::Normal);
    r.previous_owner = Some("2".into());
    assert_eq!(p.assign(&r, noon()).unwrap().id, "2");
    let mut r = req(2, Priority::Normal);
    r.exclude = vec!["1".into()];
    assert_eq!(p.assign(&r, noon()).unwrap().id, "2");
    r.exclude = vec!["1".into(), "2".into()];
    assert!(p.assign(&r, noon()).is_none());
}

#[test]
fn queue_waits_for_the_shift_high_priority_first_and_spreads() {
    let mut p = pool(
        vec![
            manager("1", &["sales"], 0, &[], Some("09:00-18:00")),
            manager("2", &["sales"], 0, &[], Some("09:00-18:00")),
        ],
        Strategy::RoundRobin,
    );
    let night = Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap();
    for i in 0..4 {
        let r = req(i, if i == 3 { Priority::High } else { Priority::Normal });
        assert!(p.assign(&r, night).is_none());
        p.enqueue(r);
    }
    assert!(p.drain(night).is_empty());
    let morning = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    let got = p.drain(morning);
    let leads: Vec<i64> = got.iter().map(|(r, _)| r.lead.0).collect();
    assert_eq!(leads, [3, 0, 1, 2], "high priority first, then FIFO");
    let managers: Vec<&str> = got.iter().map(|(_, m)| m.id.as_str()).collect();
    assert_eq!(managers, ["1", "2", "1", "2"], "spread, not dumped on one");
    assert!(p.queue().is_empty());
}

proptest! {
    /// Whatever happens (assignments, queue drains, releases, pauses, absences, the clock moving,
    /// any strategy), nobody is ever above capacity, outside their hours, absent or paused when
    /// given a lead, and the live load equals assignments minus releases.
    #[test]
    fn nobody_ineligible_is_ever_given_a_lead(
        ops in prop::collection::vec((0u8..6, 0i64..96, 0usize..4), 1..200),
        caps in prop::collection::vec(0u32..4, 4),
        strategy in prop_oneof![
            Just(Strategy::RoundRobin),
            Just(Strategy::LeastLoaded),
            Just(Strategy::Weighted),
            Just(Strategy::Specialization),
        ],
    ) {
        let hours = [None, Some("09:00-18:00"), Some("00:00-12:00"), Some("12:00-24:00")];
        let mut ms: Vec<ManagerConfig> = (0..4)
            .map(|i| manager(&i.to_string(), &["sales"], caps[i], &[], hours[i]))
            .collect();
        ms[3].absences = vec!["2026-11-24".into()];
        ms[2].weight = 3;
        ms[1].tags = vec!["нефтегаз".into()];
        let mut p = pool(ms, strategy);
        let mut model = [0u32; 4];
        let mut paused = [false; 4];
        let mut away = [false; 4];
        let mut lead = 0;
        for (op, half_hours, who) in ops {
            let now = noon() + Duration::minutes(30 * half_hours);
            let mut given = vec![];
            match op {
                0 | 1 => {
                    lead += 1;
                    let mut r = req(lead, if op == 0 { Priority::High } else { Priority::Normal });
                    r.tags = vec!["нефтегаз".into()];
                    match p.assign(&r, now) {
                        Some(m) => given.push(m),
                        None => p.enqueue(r),
                    }
                }
                2 => given.extend(p.drain(now).into_iter().map(|(_, m)| m)),
                3 => {
                    if model[who] > 0 {
                        model[who] -= 1;
                    }
                    p.release(&who.to_string());
                }
                4 => {
                    paused[who] = !paused[who];
                    p.set_paused(&who.to_string(), paused[who]);
                }
                _ => {
                    away[who] = !away[who];
                    p.set_absent_until(&who.to_string(), away[who].then(|| noon().date_naive() + Duration::days(365)));
                }
            }
            for m in given {
                let i: usize = m.id.parse().unwrap();
                model[i] += 1;
                let rm = p.roster.manager(&m.id).unwrap().clone();
                prop_assert!(rm.availability.in_hours(now), "{} outside hours", m.id);
                prop_assert!(!rm.availability.is_absent(now), "{} on a configured day off", m.id);
                prop_assert!(!paused[i], "{} paused", m.id);
                prop_assert!(!away[i], "{} marked absent", m.id);
                if let Some(c) = rm.capacity {
                    prop_assert!(p.load_of(&m.id) <= c, "{} above capacity", m.id);
                }
            }
            for (i, n) in model.iter().enumerate() {
                prop_assert_eq!(p.load_of(&i.to_string()), *n, "live load of {}", i);
            }
        }
    }

    /// Round-robin over equal, always-eligible managers: counts differ by at most one.
    #[test]
    fn round_robin_is_fair(n in 2usize..6, leads in 1i64..100, start in 0i64..10) {
        let ms: Vec<ManagerConfig> = (0..n).map(|i| manager(&i.to_string(), &["sales"], 0, &[], None)).collect();
        let mut p = pool(ms, Strategy::RoundRobin);
        p.restore([], [("sales".to_string(), start)], [], [], vec![]);
        let mut counts = vec![0; n];
        for l in 0..leads {
            let m = p.assign(&req(l, Priority::Normal), noon()).unwrap();
            counts[m.id.parse::<usize>().unwrap()] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "{counts:?}");
    }

    /// A high-priority request never waits behind a normal one.
    #[test]
    fn high_priority_never_waits_behind_normal(prios in prop::collection::vec(any::<bool>(), 1..30), free in 0usize..30) {
        let mut p = pool(vec![manager("1", &["sales"], free as u32 + 1, &[], None)], Strategy::RoundRobin);
        p.restore([("1".into(), free as u32 + 1)], [], [], [], vec![]);
        for (i, high) in prios.iter().enumerate() {
            p.enqueue(req(i as i64, if *high { Priority::High } else { Priority::Normal }));
        }
        for _ in 0..free { p.release("1"); }
        let served = p.drain(noon());
        let served_normal = served.iter().any(|(r, _)| r.priority == Priority::Normal);
        let waiting_high = p.queue().iter().any(|r| r.priority == Priority::High);
        prop_assert!(!(served_normal && waiting_high));
    }
}
