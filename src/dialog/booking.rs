//! The booking half of the dialog (deployments with `booking.toml`): the intent of each client
//! message, collecting service, time, name and phone in any order, offering free slots, booking,
//! reminders, cancel and reschedule, hand-off to a person, and the satisfaction question.
//! Pure like the rest of the dialog: the calendar is asked through effects whose answers come
//! back as events in the same step (the lead's actor resolves them).

use chrono::{DateTime, Utc};

use super::machine::{finished, Dialog, Step};
use super::phone_input::PhoneInput;
use super::state::{DialogState, Effect, TimerKind, RECENT_MESSAGES};
use crate::booking::{collect, format, BookingRules, BookingState, Csat, Intent, Offer, Slot, Visit, Wish};
use crate::domain::LeadStatus;

/// What the client says when the nearest time will do.
const NEAREST: [&str; 6] = [
    "ближайш",
    "поскорее",
    "побыстрее",
    "как можно раньше",
    "любое",
    "когда угодно",
];

impl Dialog {
    /// Bookings on: the texts the bot writes hold no client number either.
    pub fn with_booking(mut self, rules: BookingRules) -> Dialog {
        let t = &rules.texts;
        for text in [
            &t.ask_service,
            &t.ask_time,
            &t.ask_phone,
            &t.booked,
            &t.reminder,
            &t.handoff,
        ] {
            self.phones.exclude_found_in(text);
        }
        self.booking = Some(rules);
        self
    }

    pub fn booking_rules(&self) -> Option<&BookingRules> {
        self.booking.as_ref()
    }

    /// A lead without a first message (from a CRM): the first booking question instead of the
    /// phone request. `false` when bookings are off.
    pub(super) fn booking_open(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) -> bool {
        let Some(rules) = &self.booking else {
            return false;
        };
        let mut b = state.booking.take().unwrap_or_default();
        self.ask_next(rules, state, &mut b, step, now);
        state.booking = Some(b);
        true
    }

    /// A client's message with bookings on; `false` leaves it to the phone-only flow (a lead
    /// with a manager and nothing about a visit, say).
    /// `first`: the lead's first message (a bare "здравствуйте" is not a misunderstanding).
    pub(super) fn booking_message(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        text: &str,
        first: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(rules) = &self.booking else {
            return false;
        };
        if state.taken_over_by.is_some() || state.opted_out || state.status == LeadStatus::New {
            return false;
        }
        let mut b = state.booking.take().unwrap_or_default();
        let handled = self.booking_step(rules, state, &mut b, step, text, first, now);
        state.booking = Some(b);
        handled
    }

    #[allow(clippy::too_many_arguments)]
    fn booking_step(
        &self,
        rules: &BookingRules,
        state: &mut DialogState,
        b: &mut BookingState,
        step: &mut Step,
        text: &str,
        first: bool,
        now: DateTime<Utc>,
    ) -> bool {
        let hint = b.hint.take();
        // The score, then the comment to it.
        match b.csat.clone() {
            Csat::Asked { key } => {
                if let Some(score) = csat_score(text) {
                    remember(state, text);
                    step.effects.push(Effect::RecordCsat {
                        key: key.clone(),
                        score,
                        service: b.visit.as_ref().map(|v| v.slot.service.clone()),
                        booking_id: b.visit.as_ref().map(|v| v.booking_id),
                    });
                    step.say(state, &rules.texts.csat_thanks, now);
                    b.csat = Csat::Scored { key };
                    return true;
                }
            }
            Csat::Scored { key } => {
                let intent = rules.intents.classify(text, hint);
                if matches!(intent, Intent::Other | Intent::Question) && text.chars().any(char::is_alphabetic) {
                    remember(state, text);
                    step.effects.push(Effect::CsatComment {
                        key,
                        text: text.trim().to_string(),
                    });
                    step.say(state, &rules.texts.csat_comment_thanks, now);
                    b.csat = Csat::Done;
                    return true;
                }
            }
            Csat::None | Csat::Done => {}
        }
        let intent = rules.intents.classify(text, hint);
        if intent == Intent::Human && !b.handoff && !finished(state.status) {
            remember(state, text);
            self.handoff(rules, state, b, step, now);
            return true;
        }
        if let Some(visit) = b.visit.clone() {
            match intent {
                Intent::Cancel => {
                    remember(state, text);
                    b.rescheduling = false;
                    step.effects.push(Effect::CancelBooking {
                        booking_id: visit.booking_id,
                    });
                    return true;
                }
                Intent::Reschedule => {
                    remember(state, text);
                    b.rescheduling = true;
                    b.service = Some(visit.slot.service.clone());
                    b.when = leadbot_when::parse(text, now, rules.schedule.tz);
                    b.offered.clear();
                    self.find_slots(rules, b, step, now);
                    return true;
                }
                Intent::Confirm if !b.rescheduling => {
                    remember(state, text);
                    if let Some(v) = b.visit.as_mut() {
                        v.confirmed = true;
                    }
                    let t = fill(rules, &rules.texts.confirmed, &visit.slot, state);
                    step.say(state, &t, now);
                    return true;
                }
                _ => {}
            }
            if b.rescheduling {
                remember(state, text);
                self.collect(rules, state, b, step, text, intent, false, now);
                return true;
            }
            if intent != Intent::Booking {
                return false;
            }
            // A second visit: collected afresh.
            b.service = None;
            b.when = None;
            b.chosen = None;
        } else if intent == Intent::Cancel && state.status == LeadStatus::BotProcessing && !state.awaiting_manager {
            remember(state, text);
            step.say(state, &rules.texts.nothing_to_cancel, now);
            return true;
        }
        let collecting = state.status == LeadStatus::BotProcessing && !state.awaiting_manager;
        let another =
            intent == Intent::Booking && state.phone.is_some() && !state.awaiting_manager && !finished(state.status);
        if !(collecting || another) {
            return false;
        }
        remember(state, text);
        self.collect(rules, state, b, step, text, intent, first, now);
        if state.status == LeadStatus::BotProcessing && !state.awaiting_manager {
            self.rearm_after_bot_question(state, step, now);
            step.arm(state, TimerKind::NoAnswer, now + self.no_answer_timeout);
        }
        true
    }

    /// What the message adds (a picked slot, the service, the time, the name, the phone, a
    /// question), then the next question — or the search, or the booking.
    #[allow(clippy::too_many_arguments)]
    fn collect(
        &self,
        rules: &BookingRules,
        state: &mut DialogState,
        b: &mut BookingState,
        step: &mut Step,
        text: &str,
        intent: Intent,
        first: bool,
        now: DateTime<Utc>,
    ) {
        let tz = rules.schedule.tz;
        let mut understood = false;
        if let Some(slot) = collect::pick(&b.offered, text, tz) {
            b.chosen = Some(slot);
            understood = true;
        } else {
            if let Some(service) = collect::service(&rules.schedule, text) {
                if b.service.as_deref() != Some(service.as_str()) {
                    b.chosen = None;
                    b.offered.clear();
                }
                b.service = Some(service);
                understood = true;
            }
            if let Some(w) = leadbot_when::parse(text, now, tz) {
                b.when = Some(match &b.when {
                    Some(old) => old.merge(&w),
                    None => w,
                });
                b.chosen = None;
                understood = true;
            }
        }
        if state.name.is_none() {
            let name = if b.asked_name {
                collect::answered_name(text)
            } else {
                collect::name(text)
            };
            if let Some(name) = name {
                state.name = Some(name);
                understood = true;
            }
        }
        let mut phone_problem = None;
        if state.phone.is_none() {
            let recent: Vec<&str> = state.recent.iter().rev().skip(1).rev().map(String::as_str).collect();
            match self.phones.read(text, &recent) {
                PhoneInput::Valid(e164) => {
                    step.effects.push(Effect::LookUpClient { phone: e164.clone() });
                    state.phone = Some(e164);
                    state.phone_at = Some(now);
                    understood = true;
                }
                PhoneInput::Rejected(reason) => {
                    phone_problem = Some(reason);
                    understood = true;
                }
                PhoneInput::Nothing => {}
            }
        }
        let answers = self.faq.answers(text);
        for a in &answers {
            step.say(state, a, now);
        }
        understood |= !answers.is_empty() || intent == Intent::Booking || wants_nearest(text) || first;
        if let Some(reason) = phone_problem {
            let t = self.reprompt(&reason).to_string();
            step.say(state, &t, now);
            return;
        }
        if !understood {
            // Waiting for the phone, a refusal is the phone flow's, as without bookings.
            if b.chosen.is_some() && state.phone.is_none() && self.refusal.refuses(text, true) {
                self.booking_refusal(state, step, now);
                return;
            }
            b.misunderstood += 1;
            if b.misunderstood >= rules.handoff_after {
                self.handoff(rules, state, b, step, now);
            } else {
                step.say(state, &rules.texts.not_understood, now);
            }
            return;
        }
        b.misunderstood = 0;
        if wants_nearest(text) && b.when.is_none() && b.service.is_some() && b.chosen.is_none() {
            self.find_slots(rules, b, step, now);
            return;
        }
        self.ask_next(rules, state, b, step, now);
    }

    /// The next thing missing, asked; or the search when everything for it is known.
    fn ask_next(
        &self,
        rules: &BookingRules,
        state: &mut DialogState,
        b: &mut BookingState,
        step: &mut Step,
        now: DateTime<Utc>,
    ) {
        if b.service.is_none() && rules.schedule.services.len() == 1 {
            b.service = rules.schedule.services.first().map(|s| s.id.clone());
        }
        if let Some(slot) = b.chosen.clone() {
            if state.phone.is_some() {
                self.book(state, b, step, slot);
            } else {
                if state.name.is_none() {
                    b.asked_name = true;
                    step.say(state, &rules.texts.ask_name, now);
                }
                step.say(state, &rules.texts.ask_phone, now);
            }
            return;
        }
        if let (Some(service), None, Some(name), false) = (&b.service, &b.when, &state.name, b.welcomed) {
            if b.prefer_resource.is_some() {
                // A returning client: their usual service, by name.
                b.welcomed = true;
                let service = rules.schedule.service(service).map_or("", |s| s.name.as_str());
                let t = rules
                    .texts
                    .welcome_back
                    .replace("{name}", name)
                    .replace("{service}", service);
                step.say(state, &t, now);
                step.say(state, &rules.texts.ask_time, now);
                return;
            }
        }
        if b.service.is_none() {
            let t = rules.texts.ask_service.replace("{services}", &rules.service_list());
            step.say(state, &t, now);
            return;
        }
        if b.when.is_none() {
            step.say(state, &rules.texts.ask_time, now);
            return;
        }
        self.find_slots(rules, b, step, now);
    }

    fn find_slots(&self, rules: &BookingRules, b: &BookingState, step: &mut Step, now: DateTime<Utc>) {
        let Some(service) = b.service.clone() else {
            return;
        };
        let windows = match &b.when {
            Some(w) => {
                let windows = w.windows(now, rules.schedule.tz, rules.schedule.horizon_days);
                // A wish that lies wholly in the past or beyond the horizon: the nearest slots
                // (an instant window no slot can start at, so nothing "fits").
                if windows.is_empty() {
                    vec![(now, now)]
                } else {
                    windows
                }
            }
            None => Vec::new(),
        };
        step.effects.push(Effect::FindSlots {
            service,
            wish: Wish {
                windows,
                prefer_resource: b.prefer_resource.clone(),
            },
        });
    }

    fn book(&self, state: &DialogState, b: &mut BookingState, step: &mut Step, slot: Slot) {
        b.attempts += 1;
        let key = format!("lead:{}:booking:{}", state.lead_id, b.attempts);
        match (&b.visit, b.rescheduling) {
            (Some(v), true) => step.effects.push(Effect::MoveBooking {
                old_id: v.booking_id,
                slot,
                key,
            }),
            _ => step.effects.push(Effect::Book { slot, key }),
        }
    }

    pub(super) fn on_slots(&self, state: &mut DialogState, step: &mut Step, offer: Offer, now: DateTime<Utc>) {
        let (Some(rules), Some(mut b)) = (&self.booking, state.booking.take()) else {
            return;
        };
        if offer.slots.is_empty() {
            let t = rules.texts.none_free.replace("{slots}", "—");
            step.say(state, &t, now);
            self.handoff(rules, state, &mut b, step, now);
        } else if offer.exact && !b.lost_slot {
            let slot = offer.slots[0].clone();
            if state.phone.is_some() {
                self.book(state, &mut b, step, slot);
            } else {
                b.chosen = Some(slot);
                if state.name.is_none() {
                    b.asked_name = true;
                    step.say(state, &rules.texts.ask_name, now);
                }
                step.say(state, &rules.texts.ask_phone, now);
            }
        } else {
            let tz = rules.schedule.tz;
            let labels: Vec<String> = offer.slots.iter().map(|s| format::label(s.start, tz)).collect();
            let template = if b.lost_slot {
                &rules.texts.taken
            } else if !offer.fits {
                &rules.texts.none_free
            } else if b.rescheduling {
                &rules.texts.reschedule_ask
            } else {
                &rules.texts.offer
            };
            let service = rules
                .schedule
                .service(&offer.slots[0].service)
                .map_or(String::new(), |s| s.name.clone());
            let t = template
                .replace("{slots}", &labels.join(", "))
                .replace("{service}", &service);
            step.say(state, &t, now);
            step.effects.push(Effect::Offer(labels));
            b.offered = offer.slots;
            b.lost_slot = false;
        }
        state.booking = Some(b);
    }

    pub(super) fn on_slot_taken(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        let (Some(rules), Some(b)) = (&self.booking, state.booking.as_mut()) else {
            return;
        };
        b.lost_slot = true;
        b.chosen = None;
        b.offered.clear();
        let b = b.clone();
        self.find_slots(rules, &b, step, now);
    }

    pub(super) fn on_booked(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        booking_id: i64,
        slot: Slot,
        now: DateTime<Utc>,
    ) {
        let (Some(rules), Some(mut b)) = (&self.booking, state.booking.take()) else {
            return;
        };
        let old = b.visit.take().filter(|_| b.rescheduling);
        let moved = old.is_some();
        b.visit = Some(Visit {
            booking_id,
            slot: slot.clone(),
            confirmed: false,
        });
        b.chosen = None;
        b.offered.clear();
        b.when = None;
        b.rescheduling = false;
        b.lost_slot = false;
        b.csat = Csat::None;
        state.offered.clear();
        for kind in TimerKind::BOOKING {
            step.cancel(state, kind);
        }
        for (i, before) in rules.reminders.iter().enumerate() {
            if let Some(kind) = TimerKind::reminder(i) {
                let due = slot.start - *before;
                if due > now {
                    step.arm(state, kind, due);
                }
            }
        }
        if let Some(after) = rules.csat_after {
            step.arm(state, TimerKind::Csat, slot.end + after);
        }
        step.effects.push(Effect::VisitChanged(visit_note(
            rules,
            &slot,
            if moved { "moved" } else { "booked" },
        )));
        let template = if moved {
            &rules.texts.rescheduled
        } else {
            &rules.texts.booked
        };
        let t = fill(rules, template, &slot, state);
        step.say(state, &t, now);
        if let (true, Some(old), Some(manager)) = (moved, &old, state.manager.clone()) {
            let t = fill(rules, &rules.texts.manager_rescheduled, &slot, state)
                .replace("{old_when}", &format::when(old.slot.start, rules.schedule.tz));
            step.effects.push(Effect::NotifyManager { manager, text: t });
        }
        state.booking = Some(b);
        // The booking made, the lead goes to a manager as with a phone.
        if state.status == LeadStatus::BotProcessing && state.manager.is_none() && !state.awaiting_manager {
            if let Some(phone) = state.phone.clone() {
                let had = state.had_dialog;
                // The "phone accepted" line would repeat what the booking message said.
                state.had_dialog = false;
                let text: Vec<String> = state.recent.iter().cloned().collect();
                self.accept_phone(state, step, phone, text.join("\n"), now);
                state.had_dialog = had;
            }
        }
    }

    pub(super) fn on_booking_cancelled(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        booking_id: i64,
        now: DateTime<Utc>,
    ) {
        let (Some(rules), Some(mut b)) = (&self.booking, state.booking.take()) else {
            return;
        };
        match b.visit.take() {
            Some(v) if v.booking_id == booking_id => {
                for kind in TimerKind::BOOKING {
                    step.cancel(state, kind);
                }
                b.rescheduling = false;
                b.offered.clear();
                b.csat = Csat::None;
                step.effects
                    .push(Effect::VisitChanged(visit_note(rules, &v.slot, "cancelled")));
                let t = fill(rules, &rules.texts.cancelled, &v.slot, state);
                step.say(state, &t, now);
                if let Some(manager) = state.manager.clone() {
                    let t = fill(rules, &rules.texts.manager_cancelled, &v.slot, state);
                    step.effects.push(Effect::NotifyManager { manager, text: t });
                }
            }
            other => b.visit = other,
        }
        state.booking = Some(b);
    }

    pub(super) fn on_returning(
        &self,
        state: &mut DialogState,
        name: Option<String>,
        service: String,
        resource: String,
    ) {
        if self.booking.is_none() {
            return;
        }
        let b = state.booking.get_or_insert_with(Default::default);
        if b.service.is_none() {
            b.service = Some(service);
        }
        b.prefer_resource = Some(resource);
        if state.name.is_none() {
            state.name = name;
        }
    }

    pub(super) fn on_booking_timer(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        kind: TimerKind,
        now: DateTime<Utc>,
    ) {
        let (Some(rules), Some(mut b)) = (&self.booking, state.booking.take()) else {
            return;
        };
        if let Some(v) = b.visit.clone() {
            if kind == TimerKind::Csat {
                if b.csat == Csat::None {
                    step.say(state, &rules.texts.csat_ask, now);
                    step.effects
                        .push(Effect::Offer((1..=5).map(|n| n.to_string()).collect()));
                    b.csat = Csat::Asked {
                        key: format!("visit:{}", v.booking_id),
                    };
                }
            } else if v.slot.start > now && !v.confirmed {
                let t = fill(rules, &rules.texts.reminder, &v.slot, state);
                step.say(state, &t, now);
                step.effects.push(Effect::Offer(rules.texts.reminder_buttons.clone()));
            }
        }
        state.booking = Some(b);
    }

    /// The no-answer window ran out with a phone but no booking: the lead is worth a manager.
    pub(super) fn booking_no_answer(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) -> bool {
        if self.booking.is_none() || state.status != LeadStatus::BotProcessing || state.awaiting_manager {
            return false;
        }
        match state.phone.clone() {
            Some(phone) => {
                let text: Vec<String> = state.recent.iter().cloned().collect();
                self.accept_phone(state, step, phone, text.join("\n"), now);
                true
            }
            None => false,
        }
    }

    /// A person takes over: told at once when the lead has a manager, else a manager is found
    /// (without a phone if need be) and gets the transcript.
    fn handoff(
        &self,
        rules: &BookingRules,
        state: &mut DialogState,
        b: &mut BookingState,
        step: &mut Step,
        now: DateTime<Utc>,
    ) {
        b.handoff = true;
        step.say(state, &rules.texts.handoff, now);
        if let (LeadStatus::Assigned, Some(manager)) = (state.status, state.manager.clone()) {
            let text = handoff_text(rules, state);
            step.effects.push(Effect::NotifyManager { manager, text });
            return;
        }
        if state.awaiting_manager || finished(state.status) {
            return;
        }
        state.awaiting_manager = true;
        state.offered.clear();
        b.offered.clear();
        step.cancel(state, TimerKind::Reask);
        step.cancel(state, TimerKind::NoAnswer);
        let transcript: Vec<String> = state.recent.iter().cloned().collect();
        step.effects.push(Effect::FindManager {
            text: transcript.join("\n"),
            exclude: vec![],
        });
    }

    /// The manager's notice for a booked or handed-off lead.
    pub(super) fn booking_notification(&self, state: &DialogState) -> Option<String> {
        let rules = self.booking.as_ref()?;
        let b = state.booking.as_ref()?;
        if let Some(v) = &b.visit {
            let base = self.manager_text(state);
            let r = rules
                .schedule
                .resource(&v.slot.resource)
                .map_or("", |r| r.name.as_str());
            let s = rules.schedule.service(&v.slot.service).map_or("", |s| s.name.as_str());
            return Some(format!(
                "{base}\nЗапись: {s}, {}, {r}",
                format::when(v.slot.start, rules.schedule.tz)
            ));
        }
        b.handoff.then(|| handoff_text(rules, state))
    }

    fn booking_refusal(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        state.refusals += 1;
        if state.refusals >= self.script.refusal.max_refusals {
            step.say(state, &self.script.texts.farewell_refused, now);
            self.finish(state, step, self.on_failure, crate::domain::Outcome::Refused);
        } else {
            step.say(state, &self.script.texts.refusal_second_attempt, now);
        }
    }
}

fn visit_note(rules: &BookingRules, slot: &Slot, change: &str) -> crate::domain::VisitNote {
    let s = &rules.schedule;
    crate::domain::VisitNote {
        change: change.to_string(),
        service: s
            .service(&slot.service)
            .map_or(slot.service.clone(), |x| x.name.clone()),
        resource: s
            .resource(&slot.resource)
            .map_or(slot.resource.clone(), |x| x.name.clone()),
        starts_at: slot.start,
        ends_at: slot.end,
        when: format::when(slot.start, s.tz),
    }
}

fn handoff_text(rules: &BookingRules, state: &DialogState) -> String {
    let transcript: Vec<String> = state.recent.iter().map(|m| format!("— {m}")).collect();
    rules
        .texts
        .manager_handoff
        .replace("{lead_id}", &state.lead_id.to_string())
        .replace("{channel}", &state.channel)
        .replace("{name}", state.name.as_deref().unwrap_or("без имени"))
        .replace("{phone}", state.phone.as_deref().unwrap_or("не указан"))
        .replace("{transcript}", &transcript.join("\n"))
}

/// A booking text with the visit's details.
fn fill(rules: &BookingRules, template: &str, slot: &Slot, state: &DialogState) -> String {
    let s = &rules.schedule;
    template
        .replace("{service}", s.service(&slot.service).map_or("", |x| x.name.as_str()))
        .replace("{resource}", s.resource(&slot.resource).map_or("", |x| x.name.as_str()))
        .replace("{when}", &format::when(slot.start, s.tz))
        .replace("{name}", state.name.as_deref().unwrap_or("без имени"))
        .replace("{lead_id}", &state.lead_id.to_string())
}

fn remember(state: &mut DialogState, text: &str) {
    state.recent.push_back(text.to_string());
    while state.recent.len() > RECENT_MESSAGES {
        state.recent.pop_front();
    }
}

fn wants_nearest(text: &str) -> bool {
    let t = text.to_lowercase();
    NEAREST.iter().any(|w| t.contains(w))
}

/// "5", "5!", "⭐5", "на 4", "оценка 3" → the score; anything with another number is not one.
fn csat_score(text: &str) -> Option<i16> {
    let digits: Vec<char> = text.chars().filter(char::is_ascii_digit).collect();
    let words = text.split_whitespace().count();
    match digits.as_slice() {
        [d] if words <= 3 => {
            let n = d.to_digit(10)? as i16;
            (1..=5).contains(&n).then_some(n)
        }
        _ => None,
    }
}
