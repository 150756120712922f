use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::booking::{BookingState, Hint, Offer, Slot, Wish};
use crate::domain::{ChannelName, LeadId, LeadStatus, ManagerId, ManagerRef, Outcome, Phone};

/// Durable timers a lead can have; at most one of each kind is armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKind {
    /// Silence after the bot's question: ask again.
    Reask,
    /// The whole no-answer window: give up.
    NoAnswer,
    /// The assigned manager has this long to accept the lead before it moves on.
    AcceptDeadline,
    /// Booking reminders before the visit (the longest lead time first).
    Reminder1,
    Reminder2,
    Reminder3,
    /// The satisfaction question after the visit.
    Csat,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Reask => "reask",
            TimerKind::NoAnswer => "no_answer",
            TimerKind::AcceptDeadline => "accept_deadline",
            TimerKind::Reminder1 => "reminder_1",
            TimerKind::Reminder2 => "reminder_2",
            TimerKind::Reminder3 => "reminder_3",
            TimerKind::Csat => "csat",
        }
    }

    /// The reminder timer of the `i`-th configured reminder (at most three).
    pub fn reminder(i: usize) -> Option<TimerKind> {
        [TimerKind::Reminder1, TimerKind::Reminder2, TimerKind::Reminder3]
            .get(i)
            .copied()
    }

    pub const BOOKING: [TimerKind; 4] = [
        TimerKind::Reminder1,
        TimerKind::Reminder2,
        TimerKind::Reminder3,
        TimerKind::Csat,
    ];

    pub fn parse(s: &str) -> Option<TimerKind> {
        match s {
            "reask" => Some(TimerKind::Reask),
            "no_answer" => Some(TimerKind::NoAnswer),
            "accept_deadline" => Some(TimerKind::AcceptDeadline),
            "reminder_1" => Some(TimerKind::Reminder1),
            "reminder_2" => Some(TimerKind::Reminder2),
            "reminder_3" => Some(TimerKind::Reminder3),
            "csat" => Some(TimerKind::Csat),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArmedTimer {
    pub due_at: DateTime<Utc>,
    /// Changes on every re-arm, so a firing of an older arming is recognised and ignored.
    pub generation: u64,
}

/// How many of the client's latest messages are kept to find a number split across them.
pub const RECENT_MESSAGES: usize = 4;

/// Everything the dialog knows about one lead; snapshotted after every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DialogState {
    pub lead_id: LeadId,
    pub status: LeadStatus,
    pub channel: ChannelName,
    pub name: Option<String>,
    /// E.164.
    pub phone: Option<Phone>,
    pub manager: Option<ManagerRef>,
    pub outcome: Option<Outcome>,
    pub refusals: u32,
    pub reasks_sent: u32,
    pub recent: VecDeque<String>,
    pub timers: BTreeMap<TimerKind, ArmedTimer>,
    pub next_generation: u64,
    /// A phone is known and a manager has been asked for.
    pub awaiting_manager: bool,
    /// The bot talked to the client before the phone was known.
    pub had_dialog: bool,
    pub handover_acknowledged: bool,
    /// The assigned manager accepted the lead.
    #[serde(default)]
    pub accepted: bool,
    /// Reassignments so far, and every manager the lead was given to.
    #[serde(default)]
    pub hops: u32,
    #[serde(default)]
    pub tried: Vec<ManagerId>,
    /// The client asked not to be written to ("СТОП"): nothing is said to them any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opted_out: bool,
    /// The answers offered with the bot's last question (a reply "2" picks the second).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<String>,
    /// Who took the conversation over (the bot is silent from then on).
    #[serde(default)]
    pub taken_over_by: Option<String>,
    /// The booking dialog's progress (deployments with `booking.toml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking: Option<BookingState>,
    pub created_at: DateTime<Utc>,
    pub first_reply_at: Option<DateTime<Utc>>,
    pub phone_at: Option<DateTime<Utc>>,
}

impl DialogState {
    pub fn new(lead_id: LeadId, channel: &str, name: Option<String>, now: DateTime<Utc>) -> DialogState {
        DialogState {
            lead_id,
            status: LeadStatus::New,
            channel: ChannelName::new(channel),
            name,
            phone: None,
            manager: None,
            outcome: None,
            refusals: 0,
            reasks_sent: 0,
            recent: VecDeque::new(),
            timers: BTreeMap::new(),
            next_generation: 1,
            awaiting_manager: false,
            had_dialog: false,
            handover_acknowledged: false,
            accepted: false,
            hops: 0,
            tried: Vec::new(),
            offered: Vec::new(),
            opted_out: false,
            taken_over_by: None,
            booking: None,
            created_at: now,
            first_reply_at: None,
            phone_at: None,
        }
    }
}

/// What happens to a lead.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The lead was created (from the CRM, the intake API or a channel).
    Intake {
        phone: Option<String>,
        text: Option<String>,
        /// Whether leadbot can talk on the lead's channel at all.
        channel_can_talk: bool,
    },
    ClientMessage {
        text: String,
    },
    TimerFired {
        kind: TimerKind,
        generation: u64,
    },
    ManagerAssigned(ManagerRef),
    /// Nobody can take it now: it waits in the routing queue.
    Queued,
    NoManagerAvailable,
    /// The manager took the lead.
    Accepted,
    /// The lead is done with.
    Closed,
    /// A contact card; `verified` when it is the client's own (Telegram: contact.user_id == from.id).
    ContactShared {
        phone: String,
        verified: bool,
    },
    /// The channel cannot reach the client any more.
    ChannelLost,
    /// The client opened a chat on `channel` for this lead (e.g. a Telegram deep link).
    ChannelJoined {
        channel: ChannelName,
    },
    /// A person took the conversation over: the bot says nothing more to this client.
    TakenOver {
        by: String,
    },
    /// The person who took over writes to the client.
    ManagerWrote {
        text: String,
    },
    /// An operator marked the lead low quality.
    MarkedLowQuality,
    /// An operator asks for the next eligible manager.
    ReassignRequested,
    /// The LLM's reading of the client message that follows in the same step.
    IntentHint(Hint),
    /// The calendar's answer to [`Effect::FindSlots`].
    SlotsFound(Offer),
    /// [`Effect::Book`] or [`Effect::MoveBooking`] succeeded.
    Booked {
        booking_id: i64,
        slot: Slot,
    },
    /// Another client holds (part of) the slot: nothing was booked.
    SlotTaken,
    /// [`Effect::CancelBooking`] freed the visit.
    BookingCancelled {
        booking_id: i64,
    },
    /// What earlier bookings say about this client (by phone).
    ReturningClient {
        name: Option<String>,
        service: String,
        resource: String,
    },
}

/// What the actor must do after committing the new state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A bot message to the client on the lead's channel.
    Say(String),
    /// Answers offered with the `Say` just before (buttons, or a numbered list).
    Offer(Vec<String>),
    ArmTimer {
        kind: TimerKind,
        timer: ArmedTimer,
    },
    CancelTimer(TimerKind),
    /// Ask the manager pool for a manager; `text` is what the client wrote (rules match on it);
    /// `exclude`: managers who already had it (a reassignment).
    FindManager {
        text: String,
        exclude: Vec<ManagerId>,
    },
    /// The manager no longer holds this lead (reassigned, closed, or an assignment that came late).
    ReleaseManager {
        manager_id: ManagerId,
    },
    /// The lead stopped waiting for a manager (closed while queued).
    LeaveQueue,
    /// Tell the head of sales of `about`'s group.
    NotifyHead {
        about: ManagerRef,
        text: String,
    },
    NotifyManager {
        manager: ManagerRef,
        text: String,
    },
    /// The lead left the bot's hands with this outcome.
    Finished(Outcome),
    /// The client corrected the number they gave ("нет, правильный номер …"); the state
    /// holds `new`. After the hand-over the CRM card still shows `old` until this is applied.
    PhoneCorrected {
        old: Phone,
        new: Phone,
    },
    /// Ask the calendar for free slots; the answer is [`Event::SlotsFound`].
    FindSlots {
        service: String,
        wish: Wish,
    },
    /// Book the slot (compare-and-set); the answer is [`Event::Booked`] or [`Event::SlotTaken`].
    /// `key`: the same key never books twice (a redone step).
    Book {
        slot: Slot,
        key: String,
    },
    /// Book `slot` and cancel `old_id` together.
    MoveBooking {
        old_id: i64,
        slot: Slot,
        key: String,
    },
    /// Free the visit; the answer is [`Event::BookingCancelled`].
    CancelBooking {
        booking_id: i64,
    },
    /// Store a satisfaction score (once per key).
    RecordCsat {
        key: String,
        score: i16,
        service: Option<String>,
        booking_id: Option<i64>,
    },
    /// The client's comment to the score stored under `key`.
    CsatComment {
        key: String,
        text: String,
    },
    /// Look the phone up in earlier bookings; the answer (if any) is [`Event::ReturningClient`].
    LookUpClient {
        phone: Phone,
    },
    /// The visit was booked, moved or cancelled: for the CRM card.
    VisitChanged(crate::domain::VisitNote),
}
