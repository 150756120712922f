//! What the booking dialog remembers about one lead (kept in the lead's snapshot).

use leadbot_when::When;
use serde::{Deserialize, Serialize};

use super::intent::Hint;
use super::schedule::Slot;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BookingState {
    /// The service asked for (config id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// When the client wants to come, as collected so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// The slots offered with the bot's last message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<Slot>,
    /// The slot the client chose, waiting for the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<Slot>,
    /// The booked visit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<Visit>,
    /// The client moves the visit: the next booking replaces it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rescheduling: bool,
    /// The last booking attempt lost its slot to another client.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lost_slot: bool,
    /// Messages not understood in a row.
    #[serde(default)]
    pub misunderstood: u32,
    /// Handed to a person on the client's wish or after misunderstandings.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handoff: bool,
    /// Bookings made (each attempt's idempotency key counts on it).
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub csat: Csat,
    /// The resource the client had before (a returning client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefer_resource: Option<String>,
    /// The bot asked how to address the client (a bare "Мария" is the answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub asked_name: bool,
    /// A returning client was welcomed back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub welcomed: bool,
    /// The LLM's verdict on the message being applied (consumed by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub booking_id: i64,
    pub slot: Slot,
    #[serde(default)]
    pub confirmed: bool,
}

/// The satisfaction question's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Csat {
    #[default]
    None,
    /// Asked; the key is what the score is stored under.
    Asked {
        key: String,
    },
    /// Scored; a comment may follow.
    Scored {
        key: String,
    },
    Done,
}
