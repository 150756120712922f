//! The dialog driven with a controlled clock: no actors, no database.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::config::{Config, FailureStatus};
use crate::domain::{LeadId, LeadStatus, ManagerRef, Outcome};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn dialog_with(on_failure: FailureStatus) -> Dialog {
    let mut cfg = Config::load(None).unwrap();
    // As a business that filled in its address and hours.
    for f in &mut cfg.script.faq {
        f.placeholder = false;
    }
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    Dialog::new(cfg.script, reader, on_failure, Handover::none()).unwrap()
}

fn dialog() -> Dialog {
    dialog_with(FailureStatus::LowQuality)
}

/// A conversation under test: state plus everything said so far.
struct Talk {
    d: Dialog,
    s: DialogState,
    now: DateTime<Utc>,
    said: Vec<String>,
    last: Vec<Effect>,
}

impl Talk {
    fn start(d: Dialog, name: Option<&str>, text: Option<&str>) -> Talk {
        let s = DialogState::new(LeadId(1), "webchat", name.map(String::from), t0());
        let mut t = Talk {
            d,
            s,
            now: t0(),
            said: vec![],
            last: vec![],
        };
        t.event(Event::Intake {
            phone: None,
            text: text.map(String::from),
            channel_can_talk: true,
        });
        t
    }

    fn event(&mut self, e: Event) -> &[Effect] {
        let (s, effects) = self.d.step(self.s.clone(), e, self.now);
        self.s = s;
        for e in &effects {
            if let Effect::Say(t) = e {
                self.said.push(t.clone());
            }
        }
        self.last = effects;
        &self.last
    }

    fn client(&mut self, text: &str) -> Vec<String> {
        let before = self.said.len();
        self.event(Event::ClientMessage { text: text.into() });
        self.said[before..].to_vec()
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Fires every timer due by now, as the timer service would.
    fn fire_due(&mut self) {
        let due: Vec<_> = self
            .s
            .timers
            .iter()
            .filter(|(_, t)| t.due_at <= self.now)
            .map(|(k, t)| (*k, t.generation))
            .collect();
        for (kind, generation) in due {
            self.event(Event::TimerFired { kind, generation });
        }
    }

    fn manager_found(&self) -> bool {
        self.last.iter().any(|e| matches!(e, Effect::FindManager { .. }))
    }
}

fn anna() -> ManagerRef {
    ManagerRef {
        id: "1".into(),
        name: "Анна".into(),
    }
}

#[test]
fn greets_by_name_asks_for_phone_and_arms_timers() {
    let t = Talk::start(dialog(), Some("Ольга"), None);
    assert_eq!(t.s.status, LeadStatus::BotProcessing);
    assert!(t.said[0].contains("Ольга"), "{:?}", t.said);
    assert!(t.said[1].contains("номер телефона"));
    assert_eq!(t.s.timers[&TimerKind::Reask].due_at, t0() + Duration::minutes(10));
    assert_eq!(t.s.timers[&TimerKind::NoAnswer].due_at, t0() + Duration::hours(1));
    assert_eq!(t.s.first_reply_at, Some(t0()));
    assert!(t.s.manager.is_none());
}

#[test]
fn faq_answers_then_steers_back_to_phone() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("А какой у вас график работы и адрес?");
    assert!(said.iter().any(|s| s.contains("9:00")), "{said:?}");
    assert!(said.iter().any(|s| s.contains("Садовая")), "{said:?}");
    assert!(said.last().unwrap().contains("номер"), "{said:?}");
    let said = t.client("сколько стоит?");
    assert!(said[0].contains("Стоимость"), "{said:?}");
}

#[test]
fn first_message_with_question_is_answered_in_the_greeting() {
    let t = Talk::start(dialog(), None, Some("Где вы находитесь?"));
    assert_eq!(t.said.len(), 3, "{:?}", t.said);
    assert!(t.said[1].contains("Садовая"));
    assert!(t.said[2].contains("номер телефона"));
}

#[test]
fn valid_phone_leads_to_assignment_and_notification() {
    let mut t = Talk::start(dialog(), Some("Ольга"), None);
    t.advance(Duration::minutes(3));
    let said = t.client("+7 918 123-45-67");
    assert!(said[0].contains("Спасибо"));
    assert!(t.manager_found());
    assert_eq!(t.s.phone.as_deref(), Some("+79181234567"));
    assert!(t.s.timers.is_empty(), "timers are cancelled once the phone is known");
    let effects = t.event(Event::ManagerAssigned(anna())).to_vec();
    assert_eq!(t.s.status, LeadStatus::Assigned);
    assert_eq!(t.s.outcome, Some(Outcome::PhoneObtained));
    let note = effects
        .iter()
        .find_map(|e| match e {
            Effect::NotifyManager { text, .. } => Some(text.clone()),
            _ => None,
        })
        .unwrap();
    assert!(note.starts_with("Вам назначен новый лид с контактом"), "{note}");
    assert!(
        note.contains("+79181234567") && note.contains("Ольга") && note.contains("№1"),
        "{note}"
    );
}

#[test]
fn phone_in_card_skips_the_dialog() {
    let d = dialog();
    let s = DialogState::new(LeadId(7), "telegram", None, t0());
    let (s, effects) = d.step(
        s,
        Event::Intake {
            phone: Some("8 (918) 123-45-67".into()),
            text: None,
            channel_can_talk: false,
        },
        t0(),
    );
    assert!(effects.iter().all(|e| !matches!(e, Effect::Say(_))), "{effects:?}");
    assert!(effects.iter().any(|e| matches!(e, Effect::FindManager { .. })));
    let (s, _) = d.step(s, Event::ManagerAssigned(anna()), t0());
    assert_eq!(
        (s.status, s.outcome),
        (LeadStatus::Assigned, Some(Outcome::PhoneInCard))
    );
}

#[test]
fn no_channel_and_no_phone_needs_review() {
    let d = dialog();
    let s = DialogState::new(LeadId(7), "avito", None, t0());
    let (s, _) = d.step(
        s,
        Event::Intake {
            phone: None,
            text: Some("Здравствуйте".into()),
            channel_can_talk: false,
        },
        t0(),
    );
    assert_eq!(
        (s.status, s.outcome),
        (LeadStatus::NeedsReview, Some(Outcome::NoChannel))
    );
}

#[test]
fn refusal_gets_a_second_polite_attempt_then_gives_up() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("Номер не дам");
    assert!(said[0].contains("не передаём"), "{said:?}");
    assert_eq!(t.s.status, LeadStatus::BotProcessing);
    let said = t.client("не хочу оставлять номер");
    assert!(said[0].contains("не буду настаивать"), "{said:?}");
    assert_eq!(
        (t.s.status, t.s.outcome),
        (LeadStatus::LowQuality, Some(Outcome::Refused))
    );
    assert!(t.s.timers.is_empty());
}

#[test]
fn failure_status_is_configurable() {
    let mut t = Talk::start(dialog_with(FailureStatus::NeedsReview), None, None);
    t.client("не дам");
    t.client("не дам");
    assert_eq!(t.s.status, LeadStatus::NeedsReview);
}

#[test]
fn invalid_or_partial_numbers_get_a_precise_reprompt() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("8 918 123 45");
    assert!(said[0].contains("не хватает цифр"), "{said:?}");
    assert_eq!(t.s.status, LeadStatus::BotProcessing);
    let said = t.client("89181234567");
    assert!(said[0].contains("Спасибо"), "{said:?}");
}

#[test]
fn number_split_over_two_messages_is_understood() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8918");
    t.client("123 45 67");
    assert_eq!(t.s.phone.as_deref(), Some("+79181234567"));
    assert!(t.manager_found());
}

#[test]
fn reasks_after_configured_silences_then_no_answer_closes() {
    let mut t = Talk::start(dialog(), None, None);
    t.advance(Duration::minutes(9));
    t.fire_due();
    assert_eq!(t.said.len(), 2, "nothing before 10 minutes");
    t.advance(Duration::minutes(1));
    t.fire_due();
    assert_eq!(t.said.len(), 3);
    assert!(t.said[2].contains("Вы ещё здесь"));
    t.advance(Duration::minutes(30));
    t.fire_due();
    assert_eq!(t.said.len(), 4);
    assert!(t.said[3].contains("Напоминаю"));
    assert!(
        !t.s.timers.contains_key(&TimerKind::Reask),
        "only two re-asks are configured"
    );
    t.advance(Duration::minutes(20));
    t.fire_due();
    assert_eq!(
        (t.s.status, t.s.outcome),
        (LeadStatus::LowQuality, Some(Outcome::NoAnswer))
    );
}

#[test]
fn client_activity_extends_the_no_answer_window_and_stale_timers_are_ignored() {
    let mut t = Talk::start(dialog(), None, None);
    let first = t.s.timers[&TimerKind::NoAnswer];
    t.advance(Duration::minutes(50));
    t.client("а цены какие?");
    t.advance(Duration::minutes(15));
    // The old arming fires late: it must not close the lead.
    t.event(Event::TimerFired {
        kind: TimerKind::NoAnswer,
        generation: first.generation,
    });
    assert_eq!(t.s.status, LeadStatus::BotProcessing);
    t.advance(Duration::minutes(50));
    t.fire_due();
    assert_eq!(t.s.status, LeadStatus::LowQuality);
}

#[test]
fn a_client_who_comes_back_with_a_number_is_revived() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("не дам");
    t.client("не дам");
    assert_eq!(t.s.status, LeadStatus::LowQuality);
    assert!(t.client("ладно, 89181234567").iter().any(|s| s.contains("Спасибо")));
    t.event(Event::ManagerAssigned(anna()));
    assert_eq!(t.s.status, LeadStatus::Assigned);
}

#[test]
fn after_handover_the_bot_acknowledges_once() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("89181234567");
    t.event(Event::ManagerAssigned(anna()));
    assert_eq!(t.client("а когда позвонят?").len(), 1);
    assert!(t.client("алло?").is_empty());
}

#[test]
fn no_manager_available_parks_for_review() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("89181234567");
    t.event(Event::NoManagerAvailable);
    assert_eq!(
        (t.s.status, t.s.outcome),
        (LeadStatus::NeedsReview, Some(Outcome::NoManager))
    );
}

#[test]
fn snapshot_round_trips_through_json() {
    let mut t = Talk::start(dialog(), Some("Ольга"), None);
    t.client("8918");
    let json = serde_json::to_value(&t.s).unwrap();
    let back: DialogState = serde_json::from_value(json).unwrap();
    assert_eq!(back, t.s);
}

fn igor() -> ManagerRef {
    ManagerRef {
        id: "2".into(),
        name: "Игорь".into(),
    }
}

/// A dialog that reassigns after 15 minutes, at most once.
fn handover_dialog() -> Dialog {
    let cfg = Config::load(None).unwrap();
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    let handover = Handover {
        accept_within: Some(Duration::minutes(15)),
        max_hops: 1,
    };
    Dialog::new(cfg.script, reader, FailureStatus::LowQuality, handover).unwrap()
}

fn assigned_to_anna() -> Talk {
    let mut t = Talk::start(handover_dialog(), Some("Ольга"), None);
    t.client("+7 918 123-45-67");
    assert!(t.manager_found());
    t.event(Event::ManagerAssigned(anna()));
    t
}

fn head_notes(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::NotifyHead { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn no_reaction_moves_the_lead_on_releases_the_first_and_tells_the_head() {
    let mut t = assigned_to_anna();
    assert_eq!(
        t.s.timers[&TimerKind::AcceptDeadline].due_at,
        t0() + Duration::minutes(15)
    );
    t.advance(Duration::minutes(14));
    t.fire_due();
    assert!(!t.manager_found(), "not before the deadline");
    t.advance(Duration::minutes(1));
    t.fire_due();
    let exclude = t.last.iter().find_map(|e| match e {
        Effect::FindManager { exclude, .. } => Some(exclude.clone()),
        _ => None,
    });
    assert_eq!(
        exclude,
        Some(vec!["1".into()]),
        "never back to the one who did not react"
    );
    let effects = t.event(Event::ManagerAssigned(igor())).to_vec();
    assert_eq!(t.s.manager.as_ref().map(|m| m.id.as_str()), Some("2"));
    assert_eq!(t.s.hops, 1);
    assert!(effects.contains(&Effect::ReleaseManager { manager_id: "1".into() }));
    let heads = head_notes(&effects);
    assert_eq!(heads.len(), 1, "{effects:?}");
    assert!(heads[0].contains("Анна") && heads[0].contains("Игорь"), "{heads:?}");
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Finished(_))),
        "the outcome metric counts the lead once"
    );

    // max_hops reached: the head is told, the lead stays.
    t.advance(Duration::minutes(15));
    t.fire_due();
    assert!(!t.manager_found());
    assert_eq!(head_notes(&t.last).len(), 1, "{:?}", t.last);
    assert_eq!(t.s.manager.as_ref().map(|m| m.id.as_str()), Some("2"));
}

#[test]
fn accepting_stops_the_clock() {
    let mut t = assigned_to_anna();
    t.advance(Duration::minutes(5));
    t.event(Event::Accepted);
    assert!(t.s.accepted);
    assert!(t.last.contains(&Effect::CancelTimer(TimerKind::AcceptDeadline)));
    t.advance(Duration::hours(1));
    t.fire_due();
    assert!(!t.manager_found());
    assert_eq!(t.s.manager, Some(anna()));
}

#[test]
fn nobody_else_to_take_it_keeps_the_lead_and_tells_the_head() {
    let mut t = assigned_to_anna();
    t.advance(Duration::minutes(15));
    t.fire_due();
    assert!(t.manager_found());
    t.event(Event::NoManagerAvailable);
    assert_eq!(t.s.status, LeadStatus::Assigned);
    assert_eq!(t.s.manager, Some(anna()));
    assert_eq!(head_notes(&t.last).len(), 1);
}

#[test]
fn queued_then_closed_leaves_the_queue_and_a_late_assignment_is_given_back() {
    let mut t = Talk::start(handover_dialog(), None, None);
    t.client("89181234567");
    t.event(Event::Queued);
    assert_eq!(t.s.status, LeadStatus::Queued);
    t.event(Event::Closed);
    assert_eq!(t.s.status, LeadStatus::Closed);
    assert!(t.last.contains(&Effect::LeaveQueue), "{:?}", t.last);
    t.event(Event::ManagerAssigned(anna()));
    assert_eq!(t.s.status, LeadStatus::Closed);
    assert!(t.s.manager.is_none());
    assert_eq!(t.last, [Effect::ReleaseManager { manager_id: "1".into() }]);
}

#[test]
fn closing_an_assigned_lead_frees_its_manager() {
    let mut t = assigned_to_anna();
    t.event(Event::Closed);
    assert_eq!(t.s.status, LeadStatus::Closed);
    assert!(t.last.contains(&Effect::ReleaseManager { manager_id: "1".into() }));
    assert!(!t.last.contains(&Effect::LeaveQueue));
    assert!(t.s.timers.is_empty());
}

// ---- issue 19: refusals, whose number, corrections, split numbers, FAQ forms ----

fn refused_first_time(t: &Talk, said: &[String]) -> bool {
    t.s.refusals == 1 && said.iter().any(|s| s.contains("третьим лицам"))
}

#[test]
fn refusals_in_many_phrasings_polite_and_rude() {
    for text in [
        "нет",
        "Нет, спасибо",
        "неа",
        "не надо",
        "номер я вам не оставлю",
        "давать свой телефон не буду",
        "не хочу ничего оставлять",
        "телефон не скажу, извините",
        "а можно без звонков?",
        "не звоните мне",
        "не пишите мне больше",
        "перестаньте мне писать",
        "отстаньте",
        "да пошли вы",
        "задолбали уже со своим номером",
        "мне ничего не нужно",
        "передумал",
        "не могу дать номер, он рабочий",
        "нет, не надо мне ничего",
        "мне ничего от вас не нужно",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(
            refused_first_time(&t, &said),
            "{text:?} was not read as a refusal: {said:?}"
        );
    }
}

#[test]
fn messages_near_the_request_that_are_not_refusals() {
    for text in [
        "не знаю номер наизусть, сейчас посмотрю",
        "не могу оставить заявку на сайте",
        "мне вчера не звонили, хотя обещали",
        "нет, подождите, сейчас найду",
        "не хочу переплачивать, сколько стоит?",
        "пошли с мужем смотреть кухни",
        "не получается отправить фото",
        "не хочу ждать долго, когда перезвоните?",
        "нет, я не против",
        "а почему нет?",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert_eq!(t.s.refusals, 0, "{text:?} was read as a refusal: {said:?}");
    }
}

#[test]
fn a_bare_no_in_the_first_message_is_no_refusal() {
    // The client wrote before the bot asked anything: "нет" answers nothing of ours.
    let t = Talk::start(dialog(), None, Some("нет"));
    assert_eq!(t.s.refusals, 0);
}

#[test]
fn a_refusal_with_a_question_still_gets_the_answer() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("номер не дам, а где вы находитесь?");
    assert!(said.iter().any(|s| s.contains("Садовая")), "{said:?}");
    assert!(refused_first_time(&t, &said), "{said:?}");
    let said = t.client("сказал же нет. Во сколько вы закрываетесь?");
    assert!(said.iter().any(|s| s.contains("9:00")), "{said:?}");
    assert_eq!(t.s.outcome, Some(Outcome::Refused));
}

#[test]
fn a_refusal_until_the_price_is_known_gets_the_price_answer() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("я не дам вам номер, пока не узнаю цены");
    assert!(said.iter().any(|s| s.contains("Стоимость")), "{said:?}");
    assert!(refused_first_time(&t, &said), "{said:?}");
}

#[test]
fn how_much_it_costs_is_no_opening_hours_question() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("во сколько обойдется кухня 3 метра?");
    assert!(said.iter().any(|s| s.contains("Стоимость")), "{said:?}");
    assert!(!said.iter().any(|s| s.contains("9:00")), "{said:?}");
}

#[test]
fn a_rude_second_refusal_ends_the_dialog() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("не дам");
    let said = t.client("отвали уже");
    assert!(said.iter().any(|s| s.contains("не буду настаивать")), "{said:?}");
    assert_eq!(t.s.status, LeadStatus::LowQuality);
}

#[test]
fn toll_free_and_the_bots_own_example_are_not_the_clients_number() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("звонил на 8 800 555-35-35, никто не ответил");
    assert!(t.s.phone.is_none());
    t.client("как в примере +7 900 123-45-67?");
    assert!(t.s.phone.is_none());
    t.client("мой 8 916 204 77 31");
    assert_eq!(t.s.phone.as_deref(), Some("+79162047731"));
}

#[test]
fn the_business_numbers_from_config_are_not_the_clients() {
    let mut cfg = Config::load(None).unwrap();
    cfg.script.phones.business_numbers = vec!["8 (863) 201-44-50".into()];
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    let d = Dialog::new(cfg.script, reader, FailureStatus::LowQuality, Handover::none()).unwrap();
    let mut t = Talk::start(d, None, None);
    t.client("набирал 8 (863) 201-44-50 — занято");
    assert!(t.s.phone.is_none());
    // Introduced as the business's ("ваш"), the client's own comes after it.
    t.client("это ваш 8 961 330 77 85? а мой 8 903 555 12 40");
    assert_eq!(t.s.phone.as_deref(), Some("+79035551240"));
}

#[test]
fn toll_free_can_be_allowed() {
    let mut cfg = Config::load(None).unwrap();
    cfg.script.phones.toll_free_is_client = true;
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    let d = Dialog::new(cfg.script, reader, FailureStatus::LowQuality, Handover::none()).unwrap();
    let mut t = Talk::start(d, None, None);
    t.client("88005553535");
    assert_eq!(t.s.phone.as_deref(), Some("+78005553535"));
}

fn corrected(effects: &[Effect]) -> Option<(String, String)> {
    effects.iter().find_map(|e| match e {
        Effect::PhoneCorrected { old, new } => Some((old.to_string(), new.to_string())),
        _ => None,
    })
}

#[test]
fn a_correction_before_the_handover_replaces_the_phone() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67");
    let said = t.client("ой, ошибся, правильный 8 928 765 43 21");
    assert!(said[0].contains("исправил"), "{said:?}");
    assert_eq!(t.s.phone.as_deref(), Some("+79287654321"));
    assert_eq!(corrected(&t.last), Some(("+79181234567".into(), "+79287654321".into())));
    // The manager's notification carries the corrected number.
    let effects = t.event(Event::ManagerAssigned(anna())).to_vec();
    let note = effects.iter().find_map(|e| match e {
        Effect::NotifyManager { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert!(note.unwrap_or_default().contains("+79287654321"));
}

#[test]
fn a_correction_after_the_handover_tells_the_manager() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67");
    t.event(Event::ManagerAssigned(anna()));
    t.client("нет, не тот номер. Вот верный: +7 903 555-12-40");
    assert_eq!(t.s.phone.as_deref(), Some("+79035551240"));
    assert!(corrected(&t.last).is_some());
    let told = t
        .last
        .iter()
        .any(|e| matches!(e, Effect::NotifyManager { text, .. } if text.contains("+79035551240")));
    assert!(told, "{:?}", t.last);
}

#[test]
fn a_reply_starting_with_no_and_a_new_number_is_a_correction() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67");
    t.client("Нет, 8 918 123 45 76");
    assert_eq!(t.s.phone.as_deref(), Some("+79181234576"));
}

#[test]
fn a_correction_that_names_the_old_number_too() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67");
    t.event(Event::ManagerAssigned(anna()));
    t.client("ой, ошибся: не 8 918 123 45 67, а 8 918 123 45 76");
    assert_eq!(t.s.phone.as_deref(), Some("+79181234576"));
}

#[test]
fn another_number_without_a_correction_word_replaces_nothing() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67");
    t.event(Event::ManagerAssigned(anna()));
    t.client("и жены на всякий случай 8 928 765 43 21");
    assert_eq!(t.s.phone.as_deref(), Some("+79181234567"));
    assert!(corrected(&t.last).is_none());
}

#[test]
fn a_number_split_over_three_messages_with_a_remark_between() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 916");
    t.client("204");
    t.client("ой сорвалось");
    t.client("77 31");
    assert_eq!(t.s.phone.as_deref(), Some("+79162047731"));
    let mut t = Talk::start(dialog(), None, None);
    t.client("восемь, девятьсот шестнадцать,");
    t.client("двести четыре, семьдесят семь, тридцать один");
    assert_eq!(t.s.phone.as_deref(), Some("+79162047731"));
}

#[test]
fn faq_matches_forms_not_prefixes() {
    // The price entry no longer fires inside a place name, "почему" or "стоит ли".
    for text in [
        "мы в Центральном районе живём",
        "почему так долго отвечаете?",
        "стоит ли вообще у вас заказывать?",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(!said.iter().any(|s| s.contains("Стоимость")), "{text:?}: {said:?}");
    }
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("сколько у вас стоит ремонт кухни?");
    assert!(said.iter().any(|s| s.contains("Стоимость")), "{said:?}");
    // Words of the address question that are not adjacent.
    let said = t.client("где у вас находится офис?");
    assert!(said.iter().any(|s| s.contains("Садовая")), "{said:?}");
    // Scattered too far apart: no answer rather than a guess.
    let said = t.client("где-то читал, что у вас в городе склад находится");
    assert!(!said.iter().any(|s| s.contains("Садовая")), "{said:?}");
}

#[test]
fn a_city_number_gets_the_area_code_of_the_city_named_before() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("мы в Караганде, мобильного нет");
    t.client("домашний 41-22-05");
    assert_eq!(t.s.phone.as_deref(), Some("+77212412205"));
    let mut t = Talk::start(dialog(), None, None);
    t.client("запишите городской в Ростове: 201-23-45");
    assert_eq!(t.s.phone.as_deref(), Some("+78632012345"));
}

#[test]
fn a_national_number_of_the_country_the_client_named() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("я из Бреста");
    t.client("8 029 123-45-67");
    assert_eq!(t.s.phone.as_deref(), Some("+375291234567"));
}

#[test]
fn a_correction_inside_one_message_takes_the_second_number() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67, ой нет, ошиблась, правильный 8 928 765 43 21");
    assert_eq!(t.s.phone.as_deref(), Some("+79287654321"));
    // Two numbers without a correction: the client's first, as before.
    let mut t = Talk::start(dialog(), None, None);
    t.client("8 918 123 45 67 или 8 928 765 43 21");
    assert_eq!(t.s.phone.as_deref(), Some("+79181234567"));
}

#[test]
fn an_area_code_in_brackets_or_in_the_previous_message() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("41-22-05 (7212)");
    assert_eq!(t.s.phone.as_deref(), Some("+77212412205"));
    let mut t = Talk::start(dialog(), None, None);
    t.client("код 863");
    t.client("255-90-14");
    assert_eq!(t.s.phone.as_deref(), Some("+78632559014"));
}

#[test]
fn offered_answers_follow_the_phone_request_and_a_number_picks_one() {
    let mut cfg = Config::load(None).unwrap();
    cfg.script.texts.phone_request_options = vec!["Часы работы".into(), "Где вы находитесь?".into()];
    for f in &mut cfg.script.faq {
        f.placeholder = false;
    }
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    let d = Dialog::new(cfg.script, reader, FailureStatus::LowQuality, Handover::none()).unwrap();
    let mut t = Talk::start(d, None, None);
    // The offer comes right after the phone request it belongs to.
    let offer_at = t
        .last
        .iter()
        .position(|e| matches!(e, Effect::Offer(_)))
        .expect("an offer");
    assert!(matches!(&t.last[offer_at - 1], Effect::Say(s) if s.starts_with("Оставьте")));
    assert_eq!(t.s.offered.len(), 2);
    // "2" on a channel that showed a numbered list is the second answer: the address.
    let said = t.client("2");
    assert!(said.iter().any(|s| s.starts_with("Наш адрес")), "{said:?}");
    // Once the phone is known nothing is offered any more: "1" is just text.
    t.client("+7 916 123-45-67");
    assert_eq!(t.s.phone.as_ref().map(|p| p.as_str()), Some("+79161234567"));
    assert!(t.s.offered.is_empty());
}

#[test]
fn stop_is_confirmed_once_and_then_nothing_is_said_even_when_clocks_fire() {
    let mut t = Talk::start(dialog(), None, Some("Здравствуйте"));
    assert!(!t.said.is_empty());
    let said = t.client("СТОП");
    assert_eq!(said, ["Хорошо, больше не будем вам писать."]);
    assert!(t.s.opted_out);
    assert_eq!(t.s.status, LeadStatus::LowQuality);
    assert_eq!(t.s.outcome, Some(Outcome::Refused));
    assert!(t.s.timers.is_empty(), "no re-asks, no farewell");
    let before = t.said.len();
    t.advance(Duration::hours(3));
    t.fire_due();
    assert!(t.client("а сколько стоит?").is_empty());
    assert!(t.client("стоп").is_empty(), "confirmed once");
    assert_eq!(t.said.len(), before);
    // The client comes back with their number themselves: taken.
    t.client("ладно, 8 916 123-45-67");
    assert!(!t.s.opted_out);
    assert_eq!(t.s.phone.as_ref().map(|p| p.as_str()), Some("+79161234567"));
}

#[test]
fn stop_after_the_handover_silences_the_bot_but_the_lead_stays_with_its_manager() {
    let mut t = Talk::start(dialog(), None, Some("8 916 123-45-67"));
    assert!(t.manager_found());
    t.event(Event::ManagerAssigned(anna()));
    assert_eq!(t.s.status, LeadStatus::Assigned);
    t.client(" Stop! ");
    assert!(t.s.opted_out);
    assert_eq!(t.s.status, LeadStatus::Assigned);
    assert!(t.client("спасибо").is_empty(), "no after-handover reply");
}

#[test]
fn opt_out_words_match_alone_in_any_case_only() {
    let o = crate::config::Script::default_opt_out();
    assert!(o.matches("СТОП"));
    assert!(o.matches(" стоп. "));
    assert!(o.matches("STOP"));
    assert!(!o.matches("стоп, а сколько стоит?"));
    assert!(!o.matches("остановка"));
    assert!(!o.matches(""));
}

#[test]
fn a_taken_over_conversation_silences_the_bot_and_carries_the_persons_words() {
    let mut t = Talk::start(dialog(), Some("Ольга"), None);
    assert!(!t.s.timers.is_empty());
    // Before a takeover, no person's words go out.
    t.event(Event::ManagerWrote {
        text: "рано".into()
    });
    assert!(!t.said.iter().any(|s| s == "рано"));
    t.event(Event::TakenOver { by: "olga".into() });
    assert_eq!(t.s.taken_over_by.as_deref(), Some("olga"));
    assert!(t.s.timers.is_empty(), "every bot clock stops");
    assert!(t.client("сколько стоит?").is_empty(), "the bot does not answer");
    // Hours later: no reask, no no-answer farewell.
    t.advance(Duration::hours(30));
    t.fire_due();
    assert_eq!(t.s.status, LeadStatus::BotProcessing);
    let before = t.said.len();
    t.event(Event::ManagerWrote {
        text: "Добрый день, 300 ₽".into(),
    });
    assert_eq!(t.said[before..], ["Добрый день, 300 ₽".to_string()]);
    // Repeating the takeover changes nothing.
    assert!(t.event(Event::TakenOver { by: "olga".into() }).is_empty());
}

#[test]
fn a_queued_lead_taken_over_leaves_the_queue() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("+7 918 123-45-67");
    t.event(Event::Queued);
    assert_eq!(t.s.status, LeadStatus::Queued);
    let effects = t.event(Event::TakenOver { by: "head".into() }).to_vec();
    assert!(effects.contains(&Effect::LeaveQueue), "{effects:?}");
    assert!(!t.s.awaiting_manager);
}

#[test]
fn marked_low_quality_releases_the_manager_and_finishes() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("+7 918 123-45-67");
    t.event(Event::ManagerAssigned(anna()));
    let effects = t.event(Event::MarkedLowQuality).to_vec();
    assert_eq!(t.s.status, LeadStatus::LowQuality);
    assert_eq!(t.s.outcome, Some(Outcome::MarkedByOperator));
    assert!(
        effects.contains(&Effect::ReleaseManager { manager_id: "1".into() }),
        "{effects:?}"
    );
    assert!(effects.contains(&Effect::Finished(Outcome::MarkedByOperator)));
    // A finished lead is not marked twice.
    assert!(t.event(Event::MarkedLowQuality).is_empty());
}

#[test]
fn a_reassignment_asks_for_another_manager_than_the_ones_tried() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("+7 918 123-45-67");
    t.event(Event::ManagerAssigned(anna()));
    let effects = t.event(Event::ReassignRequested).to_vec();
    let exclude = effects
        .iter()
        .find_map(|e| match e {
            Effect::FindManager { exclude, .. } => Some(exclude.clone()),
            _ => None,
        })
        .expect("a new manager is asked for");
    assert_eq!(exclude, vec![crate::domain::ManagerId::from("1")]);
    assert!(t.s.awaiting_manager);
    // A second request while one is pending asks nothing more.
    assert!(t.event(Event::ReassignRequested).is_empty());
}

#[test]
fn a_placeholder_answer_is_never_told_to_a_client() {
    // The shipped dialog.toml as is: its address and hours are examples.
    let cfg = Config::load(None).unwrap();
    let todo = cfg.script.placeholders();
    assert_eq!(todo.len(), 2, "{todo:?}");
    assert!(todo.iter().any(|(k, _)| k.contains("address")) && todo.iter().any(|(k, _)| k.contains("hours")));
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    let d = Dialog::new(cfg.script, reader, FailureStatus::LowQuality, Handover::none()).unwrap();
    let mut t = Talk::start(d, None, None);
    let said = t.client("А какой у вас адрес?");
    assert!(!said.iter().any(|s| s.contains("Садовая")), "{said:?}");
    let said = t.client("сколько стоит?");
    assert!(
        said[0].contains("Стоимость"),
        "the filled-in answers still work: {said:?}"
    );
}

// ---- issue 19, second round: phrasings written before they were run ----

#[test]
fn refusals_in_other_words_polite_and_rude() {
    for text in [
        "Обойдусь без звонков, спасибо",
        "телефон оставлять не стану",
        "вам мой номер ни к чему",
        "номер? нет уж",
        "я не собираюсь вам ничего давать",
        "Хватит названивать!",
        "идите лесом со своими звонками",
        "не беспокойте меня больше",
        "Номер не дам принципиально",
        "никаких телефонов, только переписка",
        "мне это не интересно, удалите мою заявку",
        "зачем вам мой телефон? не дам",
        "неа, обойдетесь",
        "к черту ваш номер",
        "да отъебитесь вы уже",
        "спам не нужен, не пишите сюда",
        "по телефону общаться не хочу",
        "Не надо мне звонить, я сам наберу",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(
            refused_first_time(&t, &said),
            "{text:?} was not read as a refusal: {said:?}"
        );
    }
}

#[test]
fn replies_with_a_no_that_are_not_refusals() {
    for text in [
        "нет, подождите, сейчас найду номер",
        "не звонили ещё? жду",
        "номер не помню наизусть, щас гляну",
        "не могли бы вы позвонить после 18?",
        "нет, не дорого, просто уточняю",
        "без проблем, записывайте",
        "не, ну я не против созвониться",
        "нет-нет, всё в порядке, сейчас напишу",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert_eq!(t.s.refusals, 0, "{text:?} was read as a refusal: {said:?}");
    }
}

#[test]
fn a_rude_refusal_with_a_question_answers_the_question() {
    let mut t = Talk::start(dialog(), None, None);
    let said = t.client("отстаньте с номером. где вы находитесь?");
    assert!(said.iter().any(|s| s.contains("Садовая")), "{said:?}");
    assert!(refused_first_time(&t, &said), "{said:?}");
}

#[test]
fn corrections_in_other_words() {
    for (text, new) in [
        ("перепутала цифры, верный 8 916 204 77 13", "+79162047713"),
        ("поправка: 8 928 555 10 10", "+79285551010"),
        ("Нет, правильный номер 8 903 111 22 33", "+79031112233"),
        ("не этот номер, а 8 961 330 77 85", "+79613307785"),
    ] {
        let mut t = Talk::start(dialog(), None, None);
        t.client("8 916 204 77 31");
        t.event(Event::ManagerAssigned(anna()));
        t.client(text);
        assert_eq!(t.s.phone.as_deref(), Some(new), "{text:?}");
        assert_eq!(
            corrected(&t.last),
            Some(("+79162047731".into(), new.into())),
            "{text:?}"
        );
    }
}

#[test]
fn the_clients_number_after_a_quoted_business_or_toll_free_one() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("на сайте у вас 8 (863) 201-44-50, дозвониться не могу");
    assert!(t.s.phone.is_none());
    t.client("8 800 100 20 30 тоже молчит");
    assert!(t.s.phone.is_none());
    t.client("я вам пишу с 8 926 511 38 40, наберите");
    assert_eq!(t.s.phone.as_deref(), Some("+79265113840"));
}

#[test]
fn a_dictated_number_split_with_commas_and_a_remark() {
    let mut t = Talk::start(dialog(), None, None);
    t.client("8, 926,");
    t.client("щас, секунду");
    t.client("511, 38, 40");
    assert_eq!(t.s.phone.as_deref(), Some("+79265113840"));
    let mut t = Talk::start(dialog(), None, None);
    t.client("89");
    t.client("26 511 38 40");
    assert_eq!(t.s.phone.as_deref(), Some("+79265113840"));
}

#[test]
fn faq_false_matches_in_other_words() {
    for text in [
        "почему никто не перезвонил?",
        "стоит ли оно того?",
        "я живу на Ценовой улице",
        "а стоит ли ждать скидок?",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(!said.iter().any(|s| s.contains("Стоимость")), "{text:?}: {said:?}");
    }
    for text in ["почём у вас кухни?", "сколько будет стоить установка?", "какая цена?"]
    {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(said.iter().any(|s| s.contains("Стоимость")), "{text:?}: {said:?}");
    }
    for text in [
        "а вы где территориально находитесь?",
        "подскажите ваш адрес",
        "как к вам проехать?",
    ] {
        let mut t = Talk::start(dialog(), None, None);
        let said = t.client(text);
        assert!(said.iter().any(|s| s.contains("Садовая")), "{text:?}: {said:?}");
    }
}
