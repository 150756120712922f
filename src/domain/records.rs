//! The records every door of the house passes around: a new lead as an adapter hands it over,
//! the stored lead, and what an inbox row carries. They live in the domain so that the store,
//! the adapters and the runtime all depend on the domain instead of on each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ChannelName, LeadId, LeadStatus, ManagerId, Phone};

/// A lead as the intake API or a CRM/channel adapter hands it over.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub source: String,
    pub external_id: String,
    pub channel: ChannelName,
    pub name: Option<String>,
    /// As the CRM or the form gave it (not yet validated: the dialog reads it).
    pub phone: Option<String>,
    pub text: Option<String>,
    /// The client's ABC segment ("A", "B", "C") from the CRM, if it has one.
    pub segment: Option<String>,
    /// The provider's own id of the event that brought the lead. The lead's first inbox row is
    /// stored under it, so a redelivery of that event (even as a plain message to a lead that
    /// now exists) is a duplicate. `None`: `(source, "intake:" + external_id)`.
    pub first_event: Option<EventKey>,
    /// The creator's idempotency key (the API's `Idempotency-Key`): the same key again gets
    /// the chat token again.
    pub creation_key: Option<String>,
}

/// Who delivered an inbound event and their own id for it: an inbox row's dedupe key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    pub source: String,
    pub key: String,
}

impl EventKey {
    pub fn new(source: impl Into<String>, key: impl Into<String>) -> EventKey {
        EventKey {
            source: source.into(),
            key: key.into(),
        }
    }
}

impl NewLead {
    /// The key the lead's first inbox row is stored under.
    pub fn intake_key(&self) -> EventKey {
        self.first_event
            .clone()
            .unwrap_or_else(|| EventKey::new(self.source.clone(), format!("intake:{}", self.external_id)))
    }
}

#[derive(Debug, Clone)]
pub struct Created {
    pub lead: LeadRecord,
    pub created: bool,
}

/// The queryable projection of a lead (the dialog state itself is in the snapshot).
#[derive(Debug, Clone, Serialize)]
pub struct LeadRecord {
    pub id: LeadId,
    pub source: String,
    pub external_id: String,
    pub channel: ChannelName,
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub status: LeadStatus,
    pub manager_id: Option<ManagerId>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The client's ABC segment, if the CRM gave one.
    pub segment: Option<String>,
    /// The client side's secret for this lead (web chat); never shown in operator views.
    #[serde(skip)]
    pub chat_token: Option<String>,
    /// The creator's idempotency key; never shown.
    #[serde(skip)]
    pub creation_key: Option<String>,
}

/// What an inbox row carries: everything that can happen to a lead from outside its actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboxPayload {
    Intake {
        phone: Option<String>,
        text: Option<String>,
    },
    Message {
        text: String,
    },
    /// The manager pool gave the (queued) lead to a manager.
    Assigned {
        manager_id: ManagerId,
        manager_name: String,
    },
    /// The manager took the lead (operator API, CRM, a button).
    Accepted,
    /// The lead is done with (its manager has room again).
    Closed,
    /// A contact card shared from the client's messenger; `verified` when it is their own.
    Contact {
        phone: String,
        verified: bool,
    },
    /// The client's channel cannot reach them any more (blocked the bot, ...).
    ChannelLost {
        reason: String,
        /// The channel that failed (absent in rows older than the fallback chain: the lead's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<ChannelName>,
    },
    /// The client opened a chat for this lead (a Telegram deep link).
    ChannelJoined {
        channel: ChannelName,
    },
    /// A person (`by`, a console user) takes the conversation over: the bot stops talking.
    TakeOver {
        by: String,
    },
    /// A person who took the conversation over writes to the client on the lead's channel.
    ManagerMessage {
        author: String,
        text: String,
    },
    /// An operator judged the lead not worth a manager's time.
    MarkLowQuality,
    /// An operator moves the lead to the next eligible manager.
    Reassign,
    /// The client answered an automated call with keys (`manager`: the key that asks for one).
    CallAnswered {
        digits: String,
        manager: bool,
    },
}

impl InboxPayload {
    /// The metric label of the event kind.
    pub fn kind(&self) -> &'static str {
        match self {
            InboxPayload::Intake { .. } => "intake",
            InboxPayload::Message { .. } => "message",
            InboxPayload::Assigned { .. } => "assigned",
            InboxPayload::Accepted => "accepted",
            InboxPayload::Closed => "closed",
            InboxPayload::Contact { .. } => "contact",
            InboxPayload::ChannelLost { .. } => "channel_lost",
            InboxPayload::ChannelJoined { .. } => "channel_joined",
            InboxPayload::TakeOver { .. } => "take_over",
            InboxPayload::ManagerMessage { .. } => "manager_message",
            InboxPayload::MarkLowQuality => "mark_low_quality",
            InboxPayload::Reassign => "reassign",
            InboxPayload::CallAnswered { .. } => "call_answered",
        }
    }
}
