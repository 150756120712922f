use std::fmt;

use serde::{Deserialize, Serialize};

/// Database id of a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeadId(pub i64);

impl fmt::Display for LeadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a lead stands. The CRM adapters map these onto portal-specific status ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Accepted, the actor has not taken its first step yet.
    New,
    /// No phone yet: the bot talks to the client, no manager is assigned.
    BotProcessing,
    /// A phone is known; waiting for a manager who can take it (hours, capacity).
    Queued,
    /// A phone is known and a manager owns the lead.
    Assigned,
    /// Done with: the manager has room again.
    Closed,
    /// The client did not answer in time or refused to give a phone.
    LowQuality,
    /// A person has to look at it (configured instead of `low_quality`, no channel, crash loop...).
    NeedsReview,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 7] = [
        LeadStatus::New,
        LeadStatus::BotProcessing,
        LeadStatus::Queued,
        LeadStatus::Assigned,
        LeadStatus::Closed,
        LeadStatus::LowQuality,
        LeadStatus::NeedsReview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::BotProcessing => "bot_processing",
            LeadStatus::Queued => "queued",
            LeadStatus::Assigned => "assigned",
            LeadStatus::Closed => "closed",
            LeadStatus::LowQuality => "low_quality",
            LeadStatus::NeedsReview => "needs_review",
        }
    }

    /// Open leads still have work for the bot (a dialog, a timer, an assignment to make).
    pub fn is_open(self) -> bool {
        matches!(self, LeadStatus::New | LeadStatus::BotProcessing | LeadStatus::Queued)
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LeadStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LeadStatus::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown status `{s}`, expected one of {}", known.join(", "))
        })
    }
}

/// How a lead left the bot's hands; the label of the outcome metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The phone came with the lead; no dialog was needed.
    PhoneInCard,
    /// The bot obtained a valid phone.
    PhoneObtained,
    /// No answer within the configured window.
    NoAnswer,
    /// The client refused to give a phone (after the second polite attempt).
    Refused,
    /// The lead's channel cannot carry a dialog and no fallback is configured.
    NoChannel,
    /// A phone was obtained but no manager could take the lead.
    NoManager,
    /// The lead's actor kept crashing; parked for a person.
    CrashLoop,
    /// An operator marked it low quality in the console.
    MarkedByOperator,
    /// The client booked a visit (and the lead went to a manager).
    Booked,
    /// The client asked for a person (or was not understood), who took the lead.
    HandedOff,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::PhoneInCard => "phone_in_card",
            Outcome::PhoneObtained => "phone_obtained",
            Outcome::NoAnswer => "no_answer",
            Outcome::Refused => "refused",
            Outcome::NoChannel => "no_channel",
            Outcome::NoManager => "no_manager",
            Outcome::CrashLoop => "crash_loop",
            Outcome::MarkedByOperator => "marked_by_operator",
            Outcome::Booked => "booked",
            Outcome::HandedOff => "handed_off",
        }
    }
}
