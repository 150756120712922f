//! The robots of the shipped `config/robots.toml`, each with a controlled clock.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct File {
    time_zone: chrono_tz::Tz,
    calendar: WorkCalendar,
    robot: Vec<RobotSpec>,
}

fn book() -> RobotBook {
    let f: File = toml::from_str(include_str!("../../config/robots.toml")).expect("robots.toml parses");
    RobotBook {
        time_zone: f.time_zone,
        calendar: f.calendar,
        robots: f
            .robot
            .into_iter()
            .map(|r| Robot::try_from(r).expect("valid robot"))
            .collect(),
    }
}

fn t0() -> DateTime<Utc> {
    // Wednesday 10:00 in Moscow.
    Utc.with_ymd_and_hms(2026, 12, 2, 7, 0, 0).unwrap()
}

fn facts(stage: &str) -> DealFacts {
    DealFacts {
        title: "Окна в офис".into(),
        stage: stage.into(),
        stage_since: None,
        responsible: Some("7".into()),
        created_at: t0(),
        fields: Default::default(),
        tags: Default::default(),
        tasks: vec![],
        comments: 0,
        amount: None,
        modified_at: None,
        crm_required_missing: vec![],
    }
}

struct Deal {
    book: RobotBook,
    st: DealState,
}

impl Deal {
    fn new() -> Deal {
        Deal {
            book: book(),
            st: DealState::new("bitrix24", "21"),
        }
    }
    fn see(&mut self, f: DealFacts, now: DateTime<Utc>) -> Vec<Effect> {
        step(&self.book, &mut self.st, DealEvent::Observed { facts: f }, now)
    }
    fn touch(&mut self, kind: TouchKind, inbound: bool, at: DateTime<Utc>) -> Vec<Effect> {
        step(&self.book, &mut self.st, DealEvent::Touch { kind, inbound, at }, at)
    }
    /// Fires every armed timer due by `now`, as the timer service would.
    fn run_until(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        let mut out = Vec::new();
        loop {
            let due: Vec<(String, DateTime<Utc>)> = self
                .st
                .armed
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, at)| (k.clone(), *at))
                .collect();
            if due.is_empty() {
                return out;
            }
            for (key, at) in due {
                out.extend(step(&self.book, &mut self.st, DealEvent::Timer { key }, at));
            }
        }
    }
}

fn crm(effects: &[Effect]) -> Vec<CrmAction> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Crm { action, .. } => Some(action.clone()),
            _ => None,
        })
        .collect()
}

fn notices(effects: &[Effect]) -> Vec<(Recipient, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify { to, text, .. } => Some((to.clone(), text.clone())),
            _ => None,
        })
        .collect()
}

fn violations(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Violation { violation, .. } => Some(violation.robot.clone()),
            _ => None,
        })
        .collect()
}

fn counts(effects: &[Effect]) -> Vec<(String, f64)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Count { counter, amount, .. } => Some((counter.clone(), *amount)),
            _ => None,
        })
        .collect()
}

fn full_fields(mut f: DealFacts) -> DealFacts {
    for (k, v) in [
        ("name", "Иван Петров"),
        ("phone", "+79001234567"),
        ("source", "Сайт"),
        ("visit_at", "2026-12-05T12:00:00+03:00"),
    ] {
        f.fields.insert(k.into(), v.into());
    }
    f.comments = 1;
    f.tasks.push(DealTask {
        id: "5".into(),
        title: "Позвонить".into(),
        due: None,
    });
    f
}

#[test]
fn the_shipped_file_is_valid() {
    let b = book();
    assert!(b.robots.len() >= 15);
    assert_eq!(b.time_zone, chrono_tz::Europe::Moscow);
}

#[test]
fn an_untouched_new_deal_gets_the_yellow_tag_at_15_minutes_and_the_urgent_task_at_30() {
    let mut d = Deal::new();
    let fx = d.see(facts("Неразобранное"), t0());
    let armed: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Arm { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    assert!(armed.contains(&(t0() + Duration::minutes(15))));
    assert!(armed.contains(&(t0() + Duration::minutes(30))));
    assert!(crm(&fx).is_empty());

    assert!(d.run_until(t0() + Duration::minutes(14)).is_empty());
    let fx = d.run_until(t0() + Duration::minutes(15));
    assert_eq!(
        crm(&fx)[0],
        CrmAction::AddTag {
            tag: "Жёлтое предупреждение".into()
        }
    );
    assert!(matches!(&crm(&fx)[1], CrmAction::Comment { text } if text.contains("15 мин")));
    assert_eq!(violations(&fx), vec!["first_contact_yellow"]);
    assert!(notices(&fx).is_empty());

    let fx = d.run_until(t0() + Duration::minutes(30));
    assert!(matches!(&crm(&fx)[0], CrmAction::Task { title, due, responsible }
        if title == "Срочно связаться" && *due == t0() + Duration::minutes(45) && responsible.as_deref() == Some("7")));
    let n = notices(&fx);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].0, Recipient::Head);
    assert!(n[0].1.contains("30 мин"), "{}", n[0].1);
    assert_eq!(violations(&fx), vec!["first_contact_urgent"]);
}

#[test]
fn a_call_stamped_in_whole_seconds_in_the_second_the_deal_arrived_stops_the_clock() {
    // The deal was seen at 10:00:00.700; amoCRM stamps the call made right then 10:00:00.
    let mut d = Deal::new();
    let seen = t0() + Duration::milliseconds(700);
    d.see(facts("Неразобранное"), seen);
    d.touch(TouchKind::Call, false, t0());
    let fx = d.run_until(t0() + Duration::hours(2));
    assert!(crm(&fx).is_empty(), "{fx:?}");
    // A call well before the stay began is no contact in it.
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), seen);
    d.touch(TouchKind::Call, false, t0() - Duration::minutes(5));
    let fx = d.run_until(t0() + Duration::minutes(16));
    assert!(!crm(&fx).is_empty(), "{fx:?}");
}

#[test]
fn a_call_before_15_minutes_stops_the_clock() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    d.touch(TouchKind::Call, false, t0() + Duration::minutes(9));
    let fx = d.run_until(t0() + Duration::hours(2));
    assert!(crm(&fx).is_empty(), "{fx:?}");
    assert!(violations(&fx).is_empty());
}

#[test]
fn a_call_between_15_and_30_minutes_stops_only_the_second_step() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    let fx = d.run_until(t0() + Duration::minutes(16));
    assert_eq!(violations(&fx), vec!["first_contact_yellow"]);
    d.touch(TouchKind::Message, false, t0() + Duration::minutes(20));
    let fx = d.run_until(t0() + Duration::hours(1));
    assert!(notices(&fx).is_empty());
    assert!(violations(&fx).is_empty());
}

#[test]
fn a_redelivered_webhook_and_a_timer_delivered_twice_change_nothing() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    let again = d.see(facts("Неразобранное"), t0() + Duration::seconds(5));
    assert!(again.is_empty(), "{again:?}");
    let first = d.run_until(t0() + Duration::minutes(15));
    assert_eq!(crm(&first).len(), 2);
    let dup = step(
        &d.book,
        &mut d.st,
        DealEvent::Timer {
            key: "first_contact_yellow|entry1".into(),
        },
        t0() + Duration::minutes(15),
    );
    assert!(crm(&dup).is_empty() && violations(&dup).is_empty(), "{dup:?}");
}

#[test]
fn a_tag_the_deal_already_has_is_not_added_again() {
    let mut d = Deal::new();
    let mut f = facts("Неразобранное");
    f.tags.insert("Жёлтое предупреждение".into());
    d.see(f, t0());
    let fx = d.run_until(t0() + Duration::minutes(15));
    assert!(!crm(&fx).iter().any(|a| matches!(a, CrmAction::AddTag { .. })));
}

#[test]
fn qualification_has_30_60_and_120_minute_steps() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    let fx = d.run_until(t0() + Duration::minutes(30));
    assert_eq!(
        crm(&fx),
        vec![CrmAction::AddTag {
            tag: "Жёлтое предупреждение".into()
        }]
    );
    let fx = d.run_until(t0() + Duration::minutes(60));
    assert!(matches!(&crm(&fx)[0], CrmAction::Task { title, .. } if title == "Срочно связаться"));
    assert!(notices(&fx).is_empty());
    let fx = d.run_until(t0() + Duration::minutes(120));
    assert_eq!(notices(&fx)[0].0, Recipient::Head);
    assert_eq!(violations(&fx), vec!["qualification_head"]);
}

#[test]
fn fewer_than_three_touches_in_24_hours_tells_the_manager() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    d.touch(TouchKind::Call, false, t0() + Duration::minutes(5));
    let fx = d.run_until(t0() + Duration::hours(24));
    let n = notices(&fx);
    assert!(n
        .iter()
        .any(|(to, t)| *to == Recipient::Manager(Some("7".into())) && t.contains("касаний")));
    assert!(crm(&fx).contains(&CrmAction::Comment {
        text: "Недостаточно касаний".into()
    }));
    assert!(violations(&fx).contains(&"touches_24h".to_string()));
}

#[test]
fn two_calls_and_a_message_are_enough() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    d.touch(TouchKind::Call, false, t0() + Duration::minutes(5));
    d.touch(TouchKind::Call, true, t0() + Duration::hours(3));
    d.touch(TouchKind::Message, false, t0() + Duration::hours(4));
    let fx = d.run_until(t0() + Duration::hours(25));
    assert!(!violations(&fx).contains(&"touches_24h".to_string()), "{fx:?}");
}

#[test]
fn three_calls_without_a_message_are_not() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    for h in 1..=3 {
        d.touch(TouchKind::Call, false, t0() + Duration::hours(h));
    }
    let fx = d.run_until(t0() + Duration::hours(25));
    assert!(violations(&fx).contains(&"touches_24h".to_string()));
}

#[test]
fn a_move_to_qualified_without_required_fields_is_moved_back_with_the_list() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    d.touch(TouchKind::Call, false, t0() + Duration::minutes(3));
    let mut f = facts("Квалифицирован");
    f.fields.insert("name".into(), "Иван".into());
    f.fields.insert("phone".into(), "+79001234567".into());
    f.comments = 2;
    let fx = d.see(f, t0() + Duration::minutes(10));
    let actions = crm(&fx);
    assert_eq!(
        actions[0],
        CrmAction::MoveStage {
            stage: "Неразобранное".into()
        }
    );
    assert!(
        matches!(&actions[1], CrmAction::Comment { text } if text.ends_with("не заполнены источник, задача")),
        "{actions:?}"
    );
    assert_eq!(violations(&fx), vec!["qualified_required_fields"]);

    // The CRM's echo of the move back resumes the first stay: no fresh first-contact clock.
    let fx = d.see(facts("Неразобранное"), t0() + Duration::minutes(11));
    assert!(fx.iter().all(|e| !matches!(e, Effect::Crm { .. })), "{fx:?}");
    assert_eq!(d.st.visit.as_ref().unwrap().entered_at, t0());
    assert_eq!(d.st.visit.as_ref().unwrap().entry, 1);

    // With every field filled, the move holds.
    let fx = d.see(full_fields(facts("Квалифицирован")), t0() + Duration::minutes(20));
    assert!(
        !crm(&fx).iter().any(|a| matches!(a, CrmAction::MoveStage { .. })),
        "{fx:?}"
    );
}

#[test]
fn appointed_needs_the_visit_date() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    let mut f = full_fields(facts("Назначено"));
    f.fields.remove("visit_at");
    let fx = d.see(f, t0() + Duration::minutes(5));
    assert_eq!(
        crm(&fx)[0],
        CrmAction::MoveStage {
            stage: "Квалификация".into()
        }
    );
    assert!(matches!(&crm(&fx)[1], CrmAction::Comment { text } if text.contains("дата визита")));
}

#[test]
fn a_deal_still_open_36_hours_after_the_first_reply_is_a_violation() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    d.touch(TouchKind::Message, true, t0() + Duration::hours(1));
    let fx = d.run_until(t0() + Duration::hours(25));
    assert!(notices(&fx).iter().any(|(_, t)| t.contains("«Назначено» или «Отказ»")));
    assert!(!violations(&fx).contains(&"deal_speed_36h".to_string()));
    let fx = d.run_until(t0() + Duration::hours(37));
    assert!(violations(&fx).contains(&"deal_speed_36h".to_string()));
}

#[test]
fn a_deal_appointed_in_time_is_no_violation() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    d.touch(TouchKind::Message, true, t0() + Duration::hours(1));
    d.see(full_fields(facts("Назначено")), t0() + Duration::hours(20));
    let fx = d.run_until(t0() + Duration::hours(40));
    assert!(!violations(&fx).iter().any(|v| v.starts_with("deal_speed")), "{fx:?}");
}

#[test]
fn visits_get_a_confirmation_task_a_notice_and_the_no_show_move() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    // Visit on Saturday 12:00 Moscow = 09:00 UTC.
    let visit = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
    let f = full_fields(facts("Назначено"));
    d.see(f.clone(), t0() + Duration::hours(1));
    let fx = d.run_until(visit - Duration::hours(24));
    assert!(crm(&fx)
        .iter()
        .any(|a| matches!(a, CrmAction::Task { title, .. } if title == "Подтвердить визит")));
    // The CRM now shows the open task.
    let mut with_task = f.clone();
    with_task.tasks.push(DealTask {
        id: "9".into(),
        title: "Подтвердить визит".into(),
        due: Some(visit - Duration::hours(4)),
    });
    d.see(with_task, visit - Duration::hours(23));
    let fx = d.run_until(visit - Duration::hours(3));
    assert!(notices(&fx)
        .iter()
        .any(|(to, t)| *to == Recipient::Manager(Some("7".into())) && t.contains("не подтверждён")));
    let fx = d.run_until(visit + Duration::hours(1));
    assert_eq!(
        crm(&fx)[0],
        CrmAction::MoveStage {
            stage: "Срыв визита".into()
        }
    );
}

#[test]
fn a_confirmed_visit_gets_no_notice() {
    let mut d = Deal::new();
    d.see(facts("Квалификация"), t0());
    let visit = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
    d.see(full_fields(facts("Назначено")), t0() + Duration::hours(1));
    d.run_until(visit - Duration::hours(24));
    // The confirmation task is done (not among the open ones), the visit happened.
    d.see(full_fields(facts("Успешно")), visit + Duration::minutes(30));
    let fx = d.run_until(visit + Duration::hours(2));
    assert!(notices(&fx).is_empty() && crm(&fx).is_empty(), "{fx:?}");
}

#[test]
fn a_return_after_a_no_show_is_counted_once() {
    let mut d = Deal::new();
    d.see(full_fields(facts("Назначено")), t0());
    let fx = d.see(full_fields(facts("Срыв визита")), t0() + Duration::hours(1));
    assert_eq!(counts(&fx), vec![("no_shows".to_string(), 1.0)]);
    let fx = d.see(full_fields(facts("Назначено")), t0() + Duration::hours(2));
    assert!(crm(&fx).contains(&CrmAction::SetField {
        field: "return".into(),
        value: "Да".into()
    }));
    assert_eq!(counts(&fx), vec![("returns".to_string(), 1.0)]);
    d.see(full_fields(facts("Срыв визита")), t0() + Duration::hours(3));
    let fx = d.see(full_fields(facts("Успешно")), t0() + Duration::hours(4));
    assert!(!counts(&fx).iter().any(|(c, _)| c == "returns"), "{fx:?}");
}

#[test]
fn repeat_sales_count_calls_bookings_and_revenue() {
    let mut d = Deal::new();
    let fx = d.see(facts("Повторный звонок"), t0());
    assert_eq!(counts(&fx), vec![("repeat_calls".to_string(), 1.0)]);
    let fx = d.see(facts("Запись"), t0() + Duration::hours(1));
    assert_eq!(counts(&fx), vec![("repeat_bookings".to_string(), 1.0)]);
    let mut won = full_fields(facts("Успешно"));
    won.amount = Some(1_500_000.0);
    let fx = d.see(won, t0() + Duration::hours(5));
    assert!(counts(&fx).contains(&("repeat_revenue".to_string(), 1_500_000.0)));
}

#[test]
fn leaving_the_stage_cancels_its_timers() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    let fx = d.see(facts("Квалификация"), t0() + Duration::minutes(5));
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::Cancel { key } if key.starts_with("first_contact_yellow"))));
    // The new stage's clock starts at the move.
    assert!(fx.iter().any(|e| matches!(e, Effect::Arm { key, at }
        if key.starts_with("qualification_yellow") && *at == t0() + Duration::minutes(35))));
}

#[test]
fn working_time_robots_wait_for_opening_hours() {
    let mut b = book();
    let mut r = b.robot("first_contact_yellow").unwrap().clone();
    r.working_time = true;
    b.robots = vec![r];
    let mut st = DealState::new("amocrm", "5");
    // Friday 18:50 Moscow.
    let fri = Utc.with_ymd_and_hms(2026, 12, 4, 15, 50, 0).unwrap();
    let fx = step(
        &b,
        &mut st,
        DealEvent::Observed {
            facts: facts("Неразобранное"),
        },
        fri,
    );
    // 10 minutes on Friday, 5 on Monday from 09:00.
    let monday = Utc.with_ymd_and_hms(2026, 12, 7, 6, 5, 0).unwrap();
    assert!(fx.contains(&Effect::Arm {
        key: "first_contact_yellow|entry1".into(),
        at: monday
    }));
}

#[test]
fn a_stage_the_crm_gives_a_time_for_starts_the_clock_then() {
    let mut d = Deal::new();
    let mut f = facts("Неразобранное");
    f.stage_since = Some(t0() - Duration::minutes(20));
    // First seen 20 minutes after it came in (a reconciliation): the yellow step is due now.
    let fx = d.see(f, t0());
    assert_eq!(violations(&fx), vec!["first_contact_yellow"]);
}

#[test]
fn every_action_key_is_unique_and_stable() {
    let mut d = Deal::new();
    d.see(facts("Неразобранное"), t0());
    let fx = d.run_until(t0() + Duration::minutes(30));
    let keys: Vec<String> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Crm { key, .. } | Effect::Notify { key, .. } | Effect::Violation { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    let unique: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len());
    assert!(keys.iter().all(|k| k.starts_with("bitrix24:21|")));
}

#[test]
fn a_daily_robot_fires_once_a_day_and_its_record_of_past_days_stays_small() {
    let spec: RobotSpec = toml::from_str(
        r#"
id = "stale_reminder"
on = "time_of_day"
at = "18:00"
stages = ["Квалификация"]
actions = [{ comment = "Сделка ждёт в «{stage}»" }]
"#,
    )
    .unwrap();
    let mut d = Deal::new();
    d.book.robots = vec![Robot::try_from(spec).unwrap()];
    d.see(facts("Квалификация"), t0());
    let mut comments = 0;
    // Thirty days, the clock moving every six hours.
    for step in 1..=120 {
        let now = t0() + Duration::hours(6 * step);
        comments += crm(&d.run_until(now)).len();
        // The deal is seen again now and then (a webhook): no second comment on the same day.
        if step % 3 == 0 {
            comments += crm(&d.see(facts("Квалификация"), now)).len();
        }
    }
    assert_eq!(comments, 30);
    let daily = d.st.fired.iter().filter(|k| k.contains("|day")).count();
    assert!(daily <= 4, "{:?}", d.st.fired);
}
