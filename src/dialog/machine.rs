use chrono::{DateTime, Utc};
use leadbot_phone::Rejection;

use super::faq::Faq;
use super::phone_input::{is_correction, PhoneInput, PhoneReader};
use super::refusal::RefusalRules;
use super::state::{ArmedTimer, DialogState, Effect, Event, TimerKind, RECENT_MESSAGES};
use crate::booking::BookingRules;
use crate::config::{FailureStatus, Script};
use crate::domain::capabilities::numbered_choice;
use crate::domain::{ChannelName, LeadStatus, ManagerRef, Outcome, Phone};

#[derive(Debug, thiserror::Error)]
pub enum DialogError {
    #[error("timing value out of range: {0}")]
    Duration(#[from] chrono::OutOfRangeError),
}

/// The dialog rules for one configuration. Pure: no clock, no I/O.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub(super) script: Script,
    pub(super) faq: Faq,
    pub(super) refusal: RefusalRules,
    pub(super) phones: PhoneReader,
    pub(super) on_failure: LeadStatus,
    reask_after: Vec<chrono::Duration>,
    pub(super) no_answer_timeout: chrono::Duration,
    handover: Handover,
    /// Bookings (`booking.toml`); `None`: the phone-only flow.
    pub(super) booking: Option<BookingRules>,
}

/// How a lead moves between managers after the phone is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handover {
    /// The manager must accept within this; `None`: no reassignment.
    pub accept_within: Option<chrono::Duration>,
    pub max_hops: u32,
}

impl Handover {
    pub fn from_config(routing: &crate::config::RoutingConfig) -> Result<Handover, DialogError> {
        let d = chrono::Duration::from_std(routing.reassign_after)?;
        Ok(Handover {
            accept_within: (!d.is_zero()).then_some(d),
            max_hops: routing.max_hops,
        })
    }

    pub fn none() -> Handover {
        Handover {
            accept_within: None,
            max_hops: 0,
        }
    }
}

/// Collects the effects of one step.
pub(super) struct Step {
    pub(super) effects: Vec<Effect>,
}

impl Step {
    pub(super) fn say(&mut self, state: &mut DialogState, text: &str, now: DateTime<Utc>) {
        if text.trim().is_empty() || state.opted_out {
            return;
        }
        state.first_reply_at.get_or_insert(now);
        self.effects.push(Effect::Say(text.to_string()));
    }

    pub(super) fn arm(&mut self, state: &mut DialogState, kind: TimerKind, due_at: DateTime<Utc>) {
        let timer = ArmedTimer {
            due_at,
            generation: state.next_generation,
        };
        state.next_generation += 1;
        state.timers.insert(kind, timer);
        self.effects.push(Effect::ArmTimer { kind, timer });
    }

    pub(super) fn cancel(&mut self, state: &mut DialogState, kind: TimerKind) {
        if state.timers.remove(&kind).is_some() {
            self.effects.push(Effect::CancelTimer(kind));
        }
    }

    pub(super) fn cancel_all(&mut self, state: &mut DialogState) {
        for kind in [TimerKind::Reask, TimerKind::NoAnswer, TimerKind::AcceptDeadline] {
            self.cancel(state, kind);
        }
    }
}

impl Dialog {
    pub fn new(
        script: Script,
        mut phones: PhoneReader,
        on_failure: FailureStatus,
        handover: Handover,
    ) -> Result<Dialog, DialogError> {
        let reask_after = script
            .timing
            .reask_after
            .iter()
            .map(|d| chrono::Duration::from_std(*d))
            .collect::<Result<Vec<_>, _>>()?;
        let no_answer_timeout = chrono::Duration::from_std(script.timing.no_answer_timeout)?;
        // Numbers the bot writes (format examples, contacts in FAQ answers) and the business's
        // own lines are never the client's: a client who quotes them back gave no number.
        for text in bot_texts(&script) {
            phones.exclude_found_in(text);
        }
        for raw in &script.phones.business_numbers {
            phones.exclude_found_in(raw);
        }
        phones.set_toll_free_is_client(script.phones.toll_free_is_client);
        Ok(Dialog {
            faq: Faq::new(&script.faq),
            refusal: RefusalRules::new(&script.refusal.phrases),
            phones,
            on_failure: match on_failure {
                FailureStatus::LowQuality => LeadStatus::LowQuality,
                FailureStatus::NeedsReview => LeadStatus::NeedsReview,
            },
            reask_after,
            no_answer_timeout,
            handover,
            script,
            booking: None,
        })
    }

    pub fn phones(&self) -> &PhoneReader {
        &self.phones
    }

    /// Applies one event: returns the new state and what must happen because of it.
    pub fn step(&self, mut state: DialogState, event: Event, now: DateTime<Utc>) -> (DialogState, Vec<Effect>) {
        let mut step = Step { effects: Vec::new() };
        match event {
            Event::Intake {
                phone,
                text,
                channel_can_talk,
            } => self.on_intake(&mut state, &mut step, phone, text, channel_can_talk, now),
            Event::ClientMessage { text } => self.on_client_message(&mut state, &mut step, text, now),
            Event::TimerFired { kind, generation } => self.on_timer(&mut state, &mut step, kind, generation, now),
            Event::ManagerAssigned(manager) => self.on_assigned(&mut state, &mut step, manager, now),
            Event::Queued => {
                if state.awaiting_manager {
                    state.status = LeadStatus::Queued;
                }
            }
            Event::NoManagerAvailable => self.on_no_manager(&mut state, &mut step),
            Event::Accepted => {
                if state.status == LeadStatus::Assigned && !state.accepted {
                    state.accepted = true;
                    step.cancel(&mut state, TimerKind::AcceptDeadline);
                }
            }
            Event::ContactShared { phone, verified } => self.on_contact(&mut state, &mut step, phone, verified, now),
            Event::ChannelLost => {
                // The fallback for a channel that cannot carry the dialog (SMS/voice later).
                if state.status == LeadStatus::BotProcessing && !state.awaiting_manager {
                    self.finish(&mut state, &mut step, LeadStatus::NeedsReview, Outcome::NoChannel);
                }
            }
            Event::ChannelJoined { channel } => self.on_channel_joined(&mut state, &mut step, channel, now),
            Event::TakenOver { by } => self.on_taken_over(&mut state, &mut step, by),
            Event::ManagerWrote { text } => {
                // Only a taken-over conversation has a person writing; the bot never speaks
                // for them, and a finished lead's channel is left alone.
                if state.taken_over_by.is_some() && !finished(state.status) {
                    step.say(&mut state, &text, now);
                }
            }
            Event::MarkedLowQuality => {
                if !finished(state.status) {
                    if state.status == LeadStatus::Queued {
                        step.effects.push(Effect::LeaveQueue);
                    }
                    if let Some(m) = &state.manager {
                        step.effects.push(Effect::ReleaseManager {
                            manager_id: m.id.clone(),
                        });
                    }
                    state.awaiting_manager = false;
                    self.finish(&mut state, &mut step, LeadStatus::LowQuality, Outcome::MarkedByOperator);
                }
            }
            Event::IntentHint(hint) => {
                if let Some(b) = state.booking.as_mut() {
                    b.hint = Some(hint);
                } else if self.booking.is_some() {
                    state.booking = Some(crate::booking::BookingState {
                        hint: Some(hint),
                        ..Default::default()
                    });
                }
            }
            Event::SlotsFound(offer) => self.on_slots(&mut state, &mut step, offer, now),
            Event::Booked { booking_id, slot } => self.on_booked(&mut state, &mut step, booking_id, slot, now),
            Event::SlotTaken => self.on_slot_taken(&mut state, &mut step, now),
            Event::BookingCancelled { booking_id } => self.on_booking_cancelled(&mut state, &mut step, booking_id, now),
            Event::ReturningClient {
                name,
                service,
                resource,
            } => self.on_returning(&mut state, name, service, resource),
            Event::ReassignRequested => {
                if let (LeadStatus::Assigned, Some(_)) = (state.status, &state.manager) {
                    if !state.awaiting_manager {
                        state.awaiting_manager = true;
                        step.cancel(&mut state, TimerKind::AcceptDeadline);
                        step.effects.push(Effect::FindManager {
                            text: state.recent.iter().cloned().collect::<Vec<_>>().join("\n"),
                            exclude: state.tried.clone(),
                        });
                    }
                }
            }
            Event::Closed => {
                if state.status != LeadStatus::Closed {
                    if state.status == LeadStatus::Queued {
                        step.effects.push(Effect::LeaveQueue);
                    }
                    if let Some(m) = &state.manager {
                        step.effects.push(Effect::ReleaseManager {
                            manager_id: m.id.clone(),
                        });
                    }
                    state.status = LeadStatus::Closed;
                    state.awaiting_manager = false;
                    step.cancel_all(&mut state);
                }
            }
        }
        self.offer(&mut state, &mut step);
        (state, step.effects)
    }

    /// While the bot waits for the phone every message of its asks for it: the last one of the
    /// step carries the configured answers (buttons, or a numbered list), which a reply picks.
    fn offer(&self, state: &mut DialogState, step: &mut Step) {
        if let Some(options) = step.effects.iter().rev().find_map(|e| match e {
            Effect::Offer(o) => Some(o.clone()),
            _ => None,
        }) {
            // The booking dialog offered its own answers (slots, reminder buttons, scores).
            state.offered = options;
            return;
        }
        if state.booking.as_ref().is_some_and(|b| !b.offered.is_empty()) {
            // The slots offered before stay pickable ("2") until the client answers them.
            return;
        }
        let options = &self.script.texts.phone_request_options;
        let waiting = state.status == LeadStatus::BotProcessing && state.phone.is_none() && !state.awaiting_manager;
        if !waiting || options.is_empty() {
            state.offered.clear();
            return;
        }
        if let Some(last) = step.effects.iter().rposition(|e| matches!(e, Effect::Say(_))) {
            step.effects.insert(last + 1, Effect::Offer(options.clone()));
            state.offered = options.clone();
        }
    }

    fn on_intake(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        phone: Option<String>,
        text: Option<String>,
        channel_can_talk: bool,
        now: DateTime<Utc>,
    ) {
        if state.status != LeadStatus::New {
            return; // a replayed intake
        }
        if let Some(PhoneInput::Valid(e164)) = phone.as_deref().map(|p| self.phones.read_card(p)) {
            self.accept_phone(state, step, e164, text.unwrap_or_default(), now);
            return;
        }
        if !channel_can_talk {
            self.finish(state, step, LeadStatus::NeedsReview, Outcome::NoChannel);
            return;
        }
        match text.filter(|t| !t.trim().is_empty()) {
            Some(text) => {
                self.greet(state, step, now);
                if !self.booking_message(state, step, &text, true, now) {
                    self.talk(state, step, &text, now, true);
                }
            }
            None => self.open_dialog(state, step, now),
        }
    }

    /// The bot takes the lead: greeting by name when known.
    pub(super) fn greet(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        state.status = LeadStatus::BotProcessing;
        state.outcome = None;
        state.had_dialog = true;
        let greeting = match &state.name {
            Some(name) if !name.trim().is_empty() => self.script.texts.greeting_named.replace("{name}", name.trim()),
            _ => self.script.texts.greeting.clone(),
        };
        step.say(state, &greeting, now);
    }

    /// Greeting, the phone request, and the clocks that follow it.
    pub(super) fn open_dialog(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        self.greet(state, step, now);
        if !self.booking_open(state, step, now) {
            step.say(state, &self.script.texts.phone_request, now);
        }
        self.rearm_after_bot_question(state, step, now);
        step.arm(state, TimerKind::NoAnswer, now + self.no_answer_timeout);
    }

    /// A person takes the conversation: every bot clock stops, a queued lead leaves the queue
    /// (the person has it), an assigned one counts as accepted.
    fn on_taken_over(&self, state: &mut DialogState, step: &mut Step, by: String) {
        if finished(state.status) || state.taken_over_by.as_deref() == Some(by.as_str()) {
            return;
        }
        if state.status == LeadStatus::Queued {
            step.effects.push(Effect::LeaveQueue);
            state.awaiting_manager = false;
            state.status = LeadStatus::BotProcessing;
        }
        if state.status == LeadStatus::Assigned {
            state.accepted = true;
        }
        if state.status == LeadStatus::New {
            state.status = LeadStatus::BotProcessing;
        }
        state.taken_over_by = Some(by);
        step.cancel_all(state);
    }

    fn on_client_message(&self, state: &mut DialogState, step: &mut Step, text: String, now: DateTime<Utc>) {
        if state.taken_over_by.is_some() {
            // A person answers now; the message is in the transcript for them.
            state.recent.push_back(text);
            while state.recent.len() > super::state::RECENT_MESSAGES {
                state.recent.pop_front();
            }
            return;
        }
        if state.opted_out {
            // Silence, unless the client comes back with their number themselves.
            if !matches!(self.phones.read(&text, &[]), PhoneInput::Valid(_)) {
                return;
            }
            state.opted_out = false;
        }
        if self.script.opt_out.matches(&text) {
            self.opt_out(state, step, now);
            return;
        }
        // "2" after a numbered list (a channel without buttons) is the second answer offered.
        let text = match numbered_choice(&text, &state.offered) {
            Some(picked) => picked.to_string(),
            None => text,
        };
        if self.booking_message(state, step, &text, false, now) {
            return;
        }
        match state.status {
            LeadStatus::New => {}
            LeadStatus::BotProcessing if state.awaiting_manager => {
                self.correction(state, step, &text, now);
            }
            LeadStatus::Queued => {
                self.correction(state, step, &text, now);
            }
            LeadStatus::Closed => {}
            LeadStatus::BotProcessing => self.talk(state, step, &text, now, false),
            LeadStatus::Assigned => {
                if self.correction(state, step, &text, now) {
                    return;
                }
                if !state.handover_acknowledged {
                    state.handover_acknowledged = true;
                    step.say(state, &self.script.texts.after_handover, now);
                }
            }
            LeadStatus::LowQuality | LeadStatus::NeedsReview => {
                // A client who went silent or refused may come back with a number: take it.
                let revivable = matches!(state.outcome, Some(Outcome::NoAnswer | Outcome::Refused));
                if revivable {
                    if let PhoneInput::Valid(e164) = self.phones.read(&text, &[]) {
                        state.status = LeadStatus::BotProcessing;
                        self.accept_phone(state, step, e164, text, now);
                    }
                }
            }
        }
    }

    /// A lead that had no channel (or a new one) gets a chat: the dialog starts there.
    fn on_channel_joined(&self, state: &mut DialogState, step: &mut Step, channel: ChannelName, now: DateTime<Utc>) {
        state.channel = channel;
        let waiting = matches!(state.status, LeadStatus::New)
            || (state.status == LeadStatus::NeedsReview && state.outcome == Some(Outcome::NoChannel));
        if waiting && state.phone.is_none() {
            self.open_dialog(state, step, now);
        }
    }

    /// A shared contact: the client's own is as good as a typed valid number; someone else's
    /// gets a request for their own.
    fn on_contact(&self, state: &mut DialogState, step: &mut Step, phone: String, verified: bool, now: DateTime<Utc>) {
        if state.status != LeadStatus::BotProcessing || state.awaiting_manager {
            return;
        }
        if !verified {
            step.say(state, &self.script.texts.foreign_contact, now);
            return;
        }
        match self.phones.read_card(&phone) {
            PhoneInput::Valid(e164) => self.accept_phone(state, step, e164, String::new(), now),
            PhoneInput::Rejected(reason) => {
                let reprompt = self.reprompt(&reason).to_string();
                step.say(state, &reprompt, now);
            }
            PhoneInput::Nothing => {
                let text = self.script.reprompts.invalid_number.clone();
                step.say(state, &text, now);
            }
        }
    }

    /// The client said something while the bot waits for the phone.
    fn talk(&self, state: &mut DialogState, step: &mut Step, text: &str, now: DateTime<Utc>, first_contact: bool) {
        let recent: Vec<&str> = state.recent.iter().map(String::as_str).collect();
        let input = self.phones.read(text, &recent);
        state.recent.push_back(text.to_string());
        while state.recent.len() > RECENT_MESSAGES {
            state.recent.pop_front();
        }
        match input {
            PhoneInput::Valid(e164) => {
                let joined: Vec<String> = state.recent.iter().cloned().collect();
                self.accept_phone(state, step, e164, joined.join("\n"), now);
                return;
            }
            PhoneInput::Rejected(reason) => {
                let reprompt = self.reprompt(&reason).to_string();
                step.say(state, &reprompt, now);
            }
            PhoneInput::Nothing => {
                // Every bot message before the phone is known asks for it, so after the first
                // one a bare "нет" answers that request.
                if self.refusal.refuses(text, !first_contact) {
                    // "не дам номер, а где вы находитесь?": the question still gets its answer.
                    for a in self.faq.answers(text) {
                        step.say(state, a, now);
                    }
                    state.refusals += 1;
                    if state.refusals >= self.script.refusal.max_refusals {
                        step.say(state, &self.script.texts.farewell_refused, now);
                        self.finish(state, step, self.on_failure, Outcome::Refused);
                        return;
                    }
                    step.say(state, &self.script.texts.refusal_second_attempt, now);
                } else {
                    let answers = self.faq.answers(text);
                    for a in &answers {
                        step.say(state, a, now);
                    }
                    let follow_up = match (first_contact, answers.is_empty()) {
                        (true, _) => &self.script.texts.phone_request,
                        (false, false) => &self.script.texts.steer_back,
                        (false, true) => &self.script.texts.fallback,
                    };
                    step.say(state, follow_up, now);
                }
            }
        }
        self.rearm_after_bot_question(state, step, now);
        step.arm(state, TimerKind::NoAnswer, now + self.no_answer_timeout);
    }

    /// Arms the next re-ask, if the script has one left.
    pub(super) fn rearm_after_bot_question(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        match self.reask_after.get(state.reasks_sent as usize) {
            Some(after) => step.arm(state, TimerKind::Reask, now + *after),
            None => step.cancel(state, TimerKind::Reask),
        }
    }

    pub(super) fn reprompt(&self, reason: &Rejection) -> &str {
        let r = &self.script.reprompts;
        match reason {
            Rejection::TooFewDigits { .. } => &r.too_few_digits,
            Rejection::TooManyDigits { .. } => &r.too_many_digits,
            Rejection::CountryNotAllowed { .. } => &r.country_not_allowed,
            Rejection::NotMobile { .. } => &r.not_mobile,
            _ => &r.invalid_number,
        }
    }

    /// "нет, правильный номер …" after a number was taken: the new one replaces it. Before the
    /// hand-over the manager's notification will carry it; after, the manager is told, and the
    /// effect says so for the CRM card (the outbox does not apply it to the card yet). Returns
    /// whether the message was a correction.
    fn correction(&self, state: &mut DialogState, step: &mut Step, text: &str, now: DateTime<Utc>) -> bool {
        let Some(old) = state.phone.clone() else {
            return false;
        };
        if !is_correction(text) {
            return false;
        }
        // "не 8 918 …, а 8 928 …" names the old number too: take the one that is not it.
        let Some(new) = self.phones.valid_numbers(text).into_iter().find(|n| *n != old) else {
            return false;
        };
        state.phone = Some(new.clone());
        step.say(state, &self.script.texts.phone_corrected, now);
        if let (LeadStatus::Assigned, Some(manager)) = (state.status, state.manager.clone()) {
            let text = self
                .script
                .texts
                .phone_corrected_notification
                .replace("{lead_id}", &state.lead_id.to_string())
                .replace("{old}", &old)
                .replace("{phone}", &new);
            step.effects.push(Effect::NotifyManager { manager, text });
        }
        step.effects.push(Effect::PhoneCorrected { old, new });
        true
    }

    pub(super) fn accept_phone(
        &self,
        state: &mut DialogState,
        step: &mut Step,
        e164: Phone,
        text: String,
        now: DateTime<Utc>,
    ) {
        state.phone = Some(e164);
        state.offered.clear();
        state.phone_at = Some(now);
        state.awaiting_manager = true;
        state.outcome = None;
        step.cancel_all(state);
        if state.had_dialog {
            step.say(state, &self.script.texts.phone_accepted, now);
        }
        step.effects.push(Effect::FindManager { text, exclude: vec![] });
    }

    fn on_timer(&self, state: &mut DialogState, step: &mut Step, kind: TimerKind, generation: u64, now: DateTime<Utc>) {
        match state.timers.get(&kind) {
            Some(t) if t.generation == generation => {
                state.timers.remove(&kind);
            }
            _ => return, // stale: re-armed or cancelled since
        }
        if kind == TimerKind::AcceptDeadline {
            self.on_accept_deadline(state, step);
            return;
        }
        if TimerKind::BOOKING.contains(&kind) {
            self.on_booking_timer(state, step, kind, now);
            return;
        }
        if kind == TimerKind::NoAnswer && self.booking_no_answer(state, step, now) {
            return;
        }
        if state.status != LeadStatus::BotProcessing || state.awaiting_manager {
            return;
        }
        match kind {
            TimerKind::Reask => {
                if let Some(text) = self.script.texts.reask.get(state.reasks_sent as usize) {
                    let text = text.clone();
                    step.say(state, &text, now);
                    state.reasks_sent += 1;
                    self.rearm_after_bot_question(state, step, now);
                }
            }
            TimerKind::NoAnswer => {
                step.say(state, &self.script.texts.farewell_no_answer, now);
                self.finish(state, step, self.on_failure, Outcome::NoAnswer);
            }
            // Handled above.
            TimerKind::AcceptDeadline
            | TimerKind::Reminder1
            | TimerKind::Reminder2
            | TimerKind::Reminder3
            | TimerKind::Csat => {}
        }
    }

    /// The manager did not accept in time: the next eligible one gets it (up to `max_hops`),
    /// and the head of sales is told either way.
    fn on_accept_deadline(&self, state: &mut DialogState, step: &mut Step) {
        let (LeadStatus::Assigned, false, Some(manager)) = (state.status, state.accepted, state.manager.clone()) else {
            return;
        };
        if state.hops < self.handover.max_hops {
            state.hops += 1;
            state.awaiting_manager = true;
            step.effects.push(Effect::FindManager {
                text: state.recent.iter().cloned().collect::<Vec<_>>().join("\n"),
                exclude: state.tried.clone(),
            });
        } else {
            let text = self.head_text(state, &manager, "больше некому передать — нужна ваша помощь");
            step.effects.push(Effect::NotifyHead { about: manager, text });
        }
    }

    fn head_text(&self, state: &DialogState, manager: &ManagerRef, what: &str) -> String {
        self.script
            .texts
            .head_notification
            .replace("{manager}", &manager.name)
            .replace("{lead_id}", &state.lead_id.to_string())
            .replace(
                "{minutes}",
                &self.handover.accept_within.map_or(0, |d| d.num_minutes()).to_string(),
            )
            .replace("{what}", what)
    }

    /// The manager's notice of a lead handed over (the script's template filled in).
    pub(super) fn manager_text(&self, state: &DialogState) -> String {
        self.script
            .texts
            .manager_notification
            .replace("{name}", state.name.as_deref().unwrap_or("без имени"))
            .replace("{phone}", state.phone.as_deref().unwrap_or(""))
            .replace("{channel}", &state.channel)
            .replace("{lead_id}", &state.lead_id.to_string())
    }

    fn on_no_manager(&self, state: &mut DialogState, step: &mut Step) {
        if !state.awaiting_manager {
            return;
        }
        state.awaiting_manager = false;
        match state.manager.clone() {
            // A reassignment found nobody else: the lead stays, the head is told.
            Some(current) => {
                state.hops = self.handover.max_hops;
                let text = self.head_text(state, &current, "других свободных менеджеров нет, лид остаётся у него");
                step.effects.push(Effect::NotifyHead { about: current, text });
            }
            None => self.finish(state, step, LeadStatus::NeedsReview, Outcome::NoManager),
        }
    }

    fn on_assigned(&self, state: &mut DialogState, step: &mut Step, manager: ManagerRef, now: DateTime<Utc>) {
        if !state.awaiting_manager || state.status == LeadStatus::Closed {
            // An answer nobody waits for (the lead was closed meanwhile): give the slot back.
            step.effects.push(Effect::ReleaseManager { manager_id: manager.id });
            return;
        }
        state.awaiting_manager = false;
        state.status = LeadStatus::Assigned;
        state.accepted = false;
        state.tried.push(manager.id.clone());
        let previous = state.manager.replace(manager.clone());
        let text = match self.booking_notification(state) {
            Some(text) => text,
            None => self.manager_text(state),
        };
        step.effects.push(Effect::NotifyManager {
            manager: manager.clone(),
            text,
        });
        if let Some(accept_within) = self.handover.accept_within {
            step.arm(state, TimerKind::AcceptDeadline, now + accept_within);
        }
        match previous {
            Some(old) => {
                step.effects.push(Effect::ReleaseManager {
                    manager_id: old.id.clone(),
                });
                let what = format!("лид передан менеджеру {}", manager.name);
                let text = self.head_text(state, &old, &what);
                step.effects.push(Effect::NotifyHead { about: old, text });
            }
            None => {
                let outcome = match state.booking.as_ref() {
                    Some(b) if b.visit.is_some() => Outcome::Booked,
                    Some(b) if b.handoff => Outcome::HandedOff,
                    _ if state.had_dialog => Outcome::PhoneObtained,
                    _ => Outcome::PhoneInCard,
                };
                state.outcome = Some(outcome);
                step.effects.push(Effect::Finished(outcome));
            }
        }
    }

    /// "СТОП": one confirmation, then silence on every channel. A lead still waiting for the
    /// phone ends as refused; one whose phone is known stays with its manager.
    fn opt_out(&self, state: &mut DialogState, step: &mut Step, now: DateTime<Utc>) {
        step.say(state, &self.script.opt_out.confirmation, now);
        state.opted_out = true;
        state.offered.clear();
        match state.status {
            LeadStatus::New | LeadStatus::BotProcessing if !state.awaiting_manager => {
                self.finish(state, step, self.on_failure, Outcome::Refused);
            }
            // Re-asks and the no-answer window end; the manager's clocks go on.
            _ => {
                step.cancel(state, TimerKind::Reask);
                step.cancel(state, TimerKind::NoAnswer);
            }
        }
    }

    pub(super) fn finish(&self, state: &mut DialogState, step: &mut Step, status: LeadStatus, outcome: Outcome) {
        state.status = status;
        state.outcome = Some(outcome);
        step.cancel_all(state);
        step.effects.push(Effect::Finished(outcome));
    }
}

/// Every text the bot may write: the numbers in them are the bot's, never a client's.
fn bot_texts(script: &Script) -> Vec<&str> {
    let t = &script.texts;
    let r = &script.reprompts;
    let mut v: Vec<&str> = vec![
        &t.greeting_named,
        &t.greeting,
        &t.phone_request,
        &t.steer_back,
        &t.fallback,
        &t.refusal_second_attempt,
        &t.farewell_refused,
        &t.farewell_no_answer,
        &t.foreign_contact,
        &t.phone_accepted,
        &t.after_handover,
        &t.phone_corrected,
        &r.too_few_digits,
        &r.too_many_digits,
        &r.invalid_number,
        &r.country_not_allowed,
        &r.not_mobile,
    ];
    v.extend(t.reask.iter().map(String::as_str));
    v.extend(script.faq.iter().map(|f| f.answer.as_str()));
    v
}

/// A lead nobody talks to any more.
pub(super) fn finished(status: LeadStatus) -> bool {
    matches!(status, LeadStatus::Closed | LeadStatus::LowQuality)
}
