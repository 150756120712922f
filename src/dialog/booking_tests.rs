//! The booking dialog with a controlled clock. The calendar's answers are computed by the pure
//! schedule over the bookings this driver keeps (the store's compare-and-set has its own
//! contract tests on both stores; the actor's wiring has end-to-end tests).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::booking::{Busy, Csat, Hint, Intent, Slot};
use crate::config::{BookingSettings, Config, FailureStatus};
use crate::domain::{LeadId, LeadStatus, ManagerRef, Outcome};
use Event::ReturningClient;

/// Sunday 2026-11-22, 13:00 in Moscow.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn msk(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Moscow
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn settings() -> BookingSettings {
    toml::from_str(include_str!("../../config/examples/booking.toml")).unwrap()
}

fn dialog() -> Dialog {
    let mut cfg = Config::load(None).unwrap();
    for f in &mut cfg.script.faq {
        f.placeholder = false;
    }
    let reader = PhoneReader::new(
        leadbot_phone::Extractor::new("RU").unwrap(),
        leadbot_phone::Policy::default(),
    );
    Dialog::new(cfg.script, reader, FailureStatus::LowQuality, Handover::none())
        .unwrap()
        .with_booking(settings().rules())
}

/// A conversation plus the calendar it books in.
struct Salon {
    d: Dialog,
    s: DialogState,
    now: DateTime<Utc>,
    said: Vec<String>,
    effects: Vec<Effect>,
    bookings: Vec<(i64, Slot, bool)>,
    /// Another client takes the next slot asked for just before us.
    steal_next: bool,
}

impl Salon {
    fn start(text: Option<&str>) -> Salon {
        let mut s = Salon {
            d: dialog(),
            s: DialogState::new(LeadId(1), "webchat", None, t0()),
            now: t0(),
            said: vec![],
            effects: vec![],
            bookings: vec![],
            steal_next: false,
        };
        s.event(Event::Intake {
            phone: None,
            text: text.map(String::from),
            channel_can_talk: true,
        });
        s
    }

    /// A client the store knows, whose card has the phone (a CRM lead).
    fn start_returning(r: Event, phone: &str) -> Salon {
        let mut s = Salon {
            d: dialog(),
            s: DialogState::new(LeadId(1), "webchat", None, t0()),
            now: t0(),
            said: vec![],
            effects: vec![],
            bookings: vec![],
            steal_next: false,
        };
        s.event(r);
        s.s.phone = Some(crate::domain::Phone::parse(&format!("+7{}", &phone[1..])).unwrap());
        s.event(Event::Intake {
            phone: None,
            text: None,
            channel_can_talk: true,
        });
        s
    }

    fn busy(&self) -> Vec<Busy> {
        let buffer = self.d.booking_rules().unwrap().schedule.buffer;
        self.bookings
            .iter()
            .filter(|(_, _, live)| *live)
            .map(|(_, s, _)| Busy {
                resource: s.resource.clone(),
                from: s.start,
                until: s.end + buffer,
            })
            .collect()
    }

    fn take(&mut self, slot: &Slot) -> Option<i64> {
        let buffer = self.d.booking_rules().unwrap().schedule.buffer;
        let clash = self
            .busy()
            .iter()
            .any(|b| b.resource == slot.resource && slot.start < b.until && b.from < slot.end + buffer);
        if clash {
            return None;
        }
        let id = self.bookings.len() as i64 + 1;
        self.bookings.push((id, slot.clone(), true));
        Some(id)
    }

    /// One event, then whatever the calendar answers, as the actor does.
    fn event(&mut self, e: Event) -> Vec<String> {
        let before = self.said.len();
        let mut queue = vec![e];
        self.effects.clear();
        while let Some(e) = queue.pop() {
            let (s, effects) = self.d.step(self.s.clone(), e, self.now);
            self.s = s;
            for e in &effects {
                match e {
                    Effect::Say(t) => self.said.push(t.clone()),
                    Effect::FindSlots { service, wish } => {
                        let rules = self.d.booking_rules().unwrap();
                        let service = rules.schedule.service(service).unwrap().clone();
                        let offer = rules
                            .schedule
                            .offer(&service, &self.busy(), wish, self.now, rules.offer);
                        queue.push(Event::SlotsFound(offer));
                    }
                    Effect::Book { slot, .. } => {
                        if std::mem::take(&mut self.steal_next) {
                            self.bookings.push((99, slot.clone(), true));
                        }
                        queue.push(match self.take(slot) {
                            Some(id) => Event::Booked {
                                booking_id: id,
                                slot: slot.clone(),
                            },
                            None => Event::SlotTaken,
                        });
                    }
                    Effect::MoveBooking { old_id, slot, .. } => {
                        let old = self.bookings.iter().position(|(id, _, _)| id == old_id).unwrap();
                        self.bookings[old].2 = false;
                        match self.take(slot) {
                            Some(id) => queue.push(Event::Booked {
                                booking_id: id,
                                slot: slot.clone(),
                            }),
                            None => {
                                self.bookings[old].2 = true;
                                queue.push(Event::SlotTaken);
                            }
                        }
                    }
                    Effect::CancelBooking { booking_id } => {
                        if let Some(b) = self.bookings.iter_mut().find(|(id, _, _)| id == booking_id) {
                            b.2 = false;
                        }
                        queue.push(Event::BookingCancelled {
                            booking_id: *booking_id,
                        });
                    }
                    _ => {}
                }
            }
            self.effects.extend(effects);
        }
        self.said[before..].to_vec()
    }

    fn client(&mut self, text: &str) -> Vec<String> {
        self.event(Event::ClientMessage { text: text.into() })
    }

    fn fire(&mut self, kind: TimerKind) -> Vec<String> {
        let t = self.s.timers[&kind];
        self.now = t.due_at;
        self.event(Event::TimerFired {
            kind,
            generation: t.generation,
        })
    }

    fn visit(&self) -> Option<&crate::booking::Visit> {
        self.s.booking.as_ref()?.visit.as_ref()
    }

    fn has(&self, f: impl Fn(&Effect) -> bool) -> bool {
        self.effects.iter().any(f)
    }

    fn assign(&mut self) {
        self.event(Event::ManagerAssigned(ManagerRef {
            id: "7".into(),
            name: "Ирина".into(),
        }));
    }
}

#[test]
fn a_booking_in_one_message() {
    let mut s = Salon::start(None);
    let said = s.client("Здравствуйте, я Мария, хочу на стрижку послезавтра в 11:00, мой номер +7 918 123-45-67");
    let v = s.visit().expect("booked").clone();
    assert_eq!(v.slot.start, msk(2026, 11, 24, 11, 0));
    assert_eq!(v.slot.end, msk(2026, 11, 24, 12, 0));
    assert_eq!(v.slot.resource, "anna");
    assert!(
        said.iter()
            .any(|t| t.contains("Записали") && t.contains("24 ноября") && t.contains("11:00")),
        "{said:?}"
    );
    assert_eq!(s.s.name.as_deref(), Some("Мария"));
    assert_eq!(s.s.phone.as_deref(), Some("+79181234567"));
    // The lead goes to a manager as with a phone, and is told of the booking.
    assert!(s.has(|e| matches!(e, Effect::FindManager { .. })));
    s.assign();
    assert_eq!(s.s.outcome, Some(Outcome::Booked));
    let note = s.effects.iter().find_map(|e| match e {
        Effect::NotifyManager { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert!(note.unwrap().contains("Запись: Стрижка"));
    // Reminders 24 h and 2 h before, the satisfaction question 2 h after.
    assert_eq!(
        s.s.timers[&TimerKind::Reminder1].due_at,
        v.slot.start - Duration::hours(24)
    );
    assert_eq!(
        s.s.timers[&TimerKind::Reminder2].due_at,
        v.slot.start - Duration::hours(2)
    );
    assert_eq!(s.s.timers[&TimerKind::Csat].due_at, v.slot.end + Duration::hours(2));
}

#[test]
fn a_booking_in_five_messages_asks_only_for_what_is_missing() {
    let mut s = Salon::start(Some("Добрый день"));
    assert!(s.said.iter().any(|t| t.contains("На какую услугу")), "{:?}", s.said);
    let said = s.client("на стрижку");
    assert!(said.iter().any(|t| t.contains("Когда вам удобно")), "{said:?}");
    let said = s.client("в пятницу после 17");
    assert!(said[0].contains("свободно"), "{said:?}");
    let offered = s.s.offered.clone();
    assert_eq!(
        offered,
        vec!["пт 27.11 в 17:00", "пт 27.11 в 17:15", "пт 27.11 в 17:30"]
    );
    let said = s.client("2");
    assert!(said.iter().any(|t| t.contains("Как к вам обращаться")), "{said:?}");
    assert!(said.iter().any(|t| t.contains("номер телефона")), "{said:?}");
    assert!(s.visit().is_none());
    s.client("Мария, 8 918 123 45 67");
    let v = s.visit().expect("booked");
    assert_eq!(v.slot.start, msk(2026, 11, 27, 17, 15));
    assert_eq!(s.s.name.as_deref(), Some("Мария"));
}

#[test]
fn a_busy_exact_time_offers_the_nearest_and_a_lost_slot_offers_others() {
    let mut s = Salon::start(None);
    s.client("Стрижка завтра в 11:00, 89181234567");
    assert!(s.visit().is_some());
    // A second client wants the same time: the nearest free ones are offered instead.
    let mut other = Salon::start(None);
    other.bookings = s.bookings.clone();
    let said = other.client("Стрижка завтра в 11:00, 89181234568");
    assert!(other.visit().is_none());
    assert!(said.iter().any(|t| t.contains("всё занято")), "{said:?}");
    assert!(
        !other.s.offered.iter().any(|o| o.ends_with("11:00")),
        "{:?}",
        other.s.offered
    );
    // Someone else takes the slot they pick just before them.
    other.steal_next = true;
    let said = other.client("1");
    assert!(other.visit().is_none());
    assert!(said.iter().any(|t| t.contains("только что заняли")), "{said:?}");
    assert_eq!(other.s.offered.len(), 3);
    other.client("1");
    assert!(other.visit().is_some());
}

#[test]
fn the_reminder_offers_confirm_move_cancel_and_cancel_frees_the_slot() {
    let mut s = Salon::start(None);
    s.client("Хочу на маникюр во вторник в 13:00, меня зовут Ольга, +79181234567");
    let v = s.visit().expect("booked").clone();
    assert_eq!(v.slot.resource, "olga");
    s.assign();
    let said = s.fire(TimerKind::Reminder1);
    assert!(said[0].starts_with("Напоминаем"), "{said:?}");
    assert_eq!(s.s.offered, vec!["Подтвердить", "Перенести", "Отменить"]);
    let said = s.client("3");
    assert!(said[0].contains("отменена"), "{said:?}");
    assert!(s.visit().is_none());
    assert!(!s.bookings[0].2, "the slot is free again");
    assert!(!s.s.timers.contains_key(&TimerKind::Reminder2));
    assert!(!s.s.timers.contains_key(&TimerKind::Csat));
    // The manager hears of it.
    assert!(s.has(|e| matches!(e, Effect::NotifyManager { text, .. } if text.contains("отменил"))));
}

#[test]
fn a_reschedule_from_the_reminder_moves_the_visit() {
    let mut s = Salon::start(None);
    s.client("окрашивание в среду в 12, 89181234567");
    let old = s.visit().expect("booked").clone();
    s.assign();
    s.fire(TimerKind::Reminder1);
    let said = s.client("Перенести");
    assert!(said[0].contains("перенести"), "{said:?}");
    let said = s.client("в четверг в 16:00");
    assert!(
        s.visit().is_some_and(|v| v.slot.start == msk(2026, 11, 26, 16, 0)),
        "{said:?}"
    );
    assert!(said.iter().any(|t| t.starts_with("Перенесли")), "{said:?}");
    let (_, _, old_live) = s.bookings.iter().find(|(id, _, _)| *id == old.booking_id).unwrap();
    assert!(!old_live);
    assert!(s.has(|e| matches!(e, Effect::NotifyManager { text, .. } if text.contains("перенёс"))));
    // The reminders follow the new time.
    assert_eq!(s.s.timers[&TimerKind::Reminder2].due_at, msk(2026, 11, 26, 14, 0));
}

#[test]
fn confirming_from_the_reminder() {
    let mut s = Salon::start(None);
    s.client("стрижка завтра в 15:00, 89181234567");
    s.fire(TimerKind::Reminder1);
    let said = s.client("Подтвердить");
    assert!(said[0].contains("ждём вас"), "{said:?}");
    assert!(s.visit().unwrap().confirmed);
    // Confirmed: the 2-hour reminder says nothing.
    let said = s.fire(TimerKind::Reminder2);
    assert!(said.is_empty(), "{said:?}");
}

#[test]
fn handoff_on_asking_for_a_person_with_the_transcript() {
    let mut s = Salon::start(Some("Здравствуйте, хочу на стрижку"));
    let said = s.client("позовите человека");
    assert!(said.iter().any(|t| t.contains("Передаю")), "{said:?}");
    let find = s.effects.iter().find_map(|e| match e {
        Effect::FindManager { text, .. } => Some(text.clone()),
        _ => None,
    });
    assert!(find.unwrap().contains("хочу на стрижку"));
    s.assign();
    assert_eq!(s.s.outcome, Some(Outcome::HandedOff));
    let note = s.effects.iter().find_map(|e| match e {
        Effect::NotifyManager { text, .. } => Some(text.clone()),
        _ => None,
    });
    let note = note.unwrap();
    assert!(
        note.contains("живого человека") && note.contains("— позовите человека"),
        "{note}"
    );
}

#[test]
fn handoff_after_repeated_misunderstanding() {
    let mut s = Salon::start(Some("Здравствуйте"));
    let said = s.client("ммм ну вот");
    assert!(said[0].contains("не совсем поняла"), "{said:?}");
    assert!(!s.has(|e| matches!(e, Effect::FindManager { .. })));
    s.client("ааа");
    assert!(s.has(|e| matches!(e, Effect::FindManager { .. })));
    assert!(s.s.booking.as_ref().unwrap().handoff);
}

#[test]
fn the_satisfaction_question_after_the_visit_score_and_comment() {
    let mut s = Salon::start(None);
    s.client("стрижка завтра в 15:00, 89181234567");
    s.assign();
    let said = s.fire(TimerKind::Csat);
    assert!(said[0].contains("от 1 до 5"), "{said:?}");
    assert_eq!(s.s.offered, vec!["1", "2", "3", "4", "5"]);
    s.client("5");
    let id = s.visit().unwrap().booking_id;
    assert!(s.has(|e| matches!(e, Effect::RecordCsat { score: 5, key, .. } if *key == format!("visit:{id}"))));
    s.client("Всё супер, мастер золотые руки");
    assert!(s.has(|e| matches!(e, Effect::CsatComment { text, .. } if text.contains("золотые"))));
    assert_eq!(s.s.booking.as_ref().unwrap().csat, Csat::Done);
}

#[test]
fn a_confident_llm_reading_decides_an_unsure_one_leaves_it_to_the_rules() {
    let mut s = Salon::start(None);
    s.client("стрижка завтра в 15:00, 89181234567");
    s.assign();
    // Rules alone see nothing in it; the model says "cancel" and is sure.
    s.event(Event::IntentHint(Hint {
        intent: Intent::Cancel,
        confidence: 0.95,
    }));
    s.client("ой, у меня там всё поменялось, не выйдет");
    assert!(s.visit().is_none());
    // An unsure reading is ignored: "хочу записаться" is a booking by the rules.
    let mut s = Salon::start(None);
    s.event(Event::IntentHint(Hint {
        intent: Intent::Human,
        confidence: 0.2,
    }));
    let said = s.client("хочу записаться на стрижку");
    assert!(said.iter().any(|t| t.contains("Когда вам удобно")), "{said:?}");
    assert!(!s.s.booking.as_ref().unwrap().handoff);
}

#[test]
fn a_question_is_answered_and_the_booking_goes_on() {
    let mut s = Salon::start(None);
    let said = s.client("Сколько стоит стрижка и можно завтра после 18?");
    assert!(said.len() >= 2, "{said:?}");
    assert!(said.last().unwrap().contains("свободно"), "{said:?}");
}

#[test]
fn a_returning_client_is_greeted_by_name_with_the_usual_service() {
    let mut s = Salon::start_returning(
        ReturningClient {
            name: Some("Мария".into()),
            service: "manicure".into(),
            resource: "olga".into(),
        },
        "89181234567",
    );
    assert!(
        s.said
            .iter()
            .any(|t| t.contains("Рады снова вас видеть, Мария") && t.contains("Маникюр")),
        "{:?}",
        s.said
    );
    s.client("да, в субботу в 11");
    let v = s.visit().expect("booked");
    assert_eq!(v.slot.service, "manicure");
    assert_eq!(v.slot.resource, "olga");
    assert_eq!(v.slot.start, msk(2026, 11, 28, 11, 0));
}

#[test]
fn no_answer_with_a_phone_but_no_booking_goes_to_a_manager() {
    let mut s = Salon::start(None);
    s.client("хочу на стрижку, мой номер 89181234567");
    assert!(s.visit().is_none());
    s.fire(TimerKind::NoAnswer);
    assert!(s.has(|e| matches!(e, Effect::FindManager { .. })));
    assert_ne!(s.s.status, LeadStatus::LowQuality);
}
