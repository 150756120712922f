//! The outbound contract: what can leave the house (the outbox row kinds and their payloads)
//! and how a delivery can fail. Every side effect is an outbox row written in the same
//! transaction as the state that caused it ("durable before visible"); the runtime's delivery
//! actors hand each row to its sink (a channel, a CRM, the notifier) and record the outcome.
//!
//! `plan.rs` is the pure step that turns a lead's effects and state change into rows.

pub mod plan;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{ChannelName, LeadStatus, ManagerId, Outcome, Phone};

/// A bot message to the client, delivered by the lead's channel.
pub const KIND_MESSAGE: &str = "message";
/// A notification to a manager or a head of sales (the notifier).
pub const KIND_NOTIFICATION: &str = "notification";
/// A change to the lead's CRM card (the CRM adapter of the lead's source).
pub const KIND_CRM: &str = "crm";
/// A change to a CRM deal that belongs to no lead (the job board's winner).
pub const KIND_DEAL: &str = "deal";
/// An SLA robot's action on a deal (tag, comment, task, stage, field): the deal's CRM.
pub const KIND_DEAL_ACTION: &str = "deal_action";
/// An SLA robot's notice to a manager or the head of sales, one row per way to reach them.
pub const KIND_SLA_NOTICE: &str = "sla_notice";
/// A scheduled report to one person by one way (the notifier).
pub const KIND_REPORT: &str = "report";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (network, 5xx, rate limit).
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed as it is (4xx, unknown channel).
    #[error("{0}")]
    Permanent(String),
    /// The provider's flood control: try again after this long. Not a failure (never given up),
    /// and delivery does not sit out the wait, so other leads' messages keep flowing.
    #[error("throttled for {0:?}")]
    Throttled(Duration),
    /// The client cannot be reached on this channel any more (blocked the bot, left the chat):
    /// the row is given up and the lead is told, so its dialog takes the fallback.
    #[error("blocked: {0}")]
    Blocked(String),
    /// The channel does not let leadbot write first to this client (VK 901/902, a Telegram
    /// chat never opened): like `Blocked`, the lead is told and its dialog takes the fallback.
    #[error("cannot initiate: {0}")]
    CannotInitiate(String),
}

impl DeliveryError {
    /// The metric label of the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryError::Retryable(_) => "retry",
            DeliveryError::Permanent(_) => "failed",
            DeliveryError::Throttled(_) => "throttled",
            DeliveryError::Blocked(_) => "blocked",
            DeliveryError::CannotInitiate(_) => "cannot_initiate",
        }
    }
}

/// A bot message as stored in the outbox, already fitted to its channel's capabilities (one
/// dialog message may be several rows, each within the channel's length).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub channel: ChannelName,
    pub text: String,
    /// Answer buttons (only where the channel has them; elsewhere they are in the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<String>,
    /// The bot is waiting for the phone: a channel with a native share button shows it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub request_phone: bool,
}

impl OutboundMessage {
    pub fn text(channel: ChannelName, text: impl Into<String>) -> OutboundMessage {
        OutboundMessage {
            channel,
            text: text.into(),
            buttons: vec![],
            request_phone: false,
        }
    }
}

/// A notification as stored in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<i64>,
    /// Set for deal notifications (the executor job board).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<String>,
    pub manager_id: String,
    pub manager_name: String,
    pub text: String,
    /// E.164, for the manager (never logged unmasked).
    pub phone: Option<Phone>,
}

/// One change to make in the CRM card. Each is one outbox row, so a retry repeats only the
/// step that failed; non-idempotent ones (comments, notifications) are separate rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CrmUpdate {
    /// The bot took the lead: status "bot is processing", no manager.
    BotStarted,
    /// A valid phone was obtained: write it (once), set the responsible and the target status.
    HandedOver { phone: Phone, manager_id: ManagerId },
    /// No phone: the failure status with its reason.
    Failed { status: LeadStatus, outcome: Outcome },
    /// A timeline comment with the whole dialog.
    TranscriptComment,
    /// A timeline comment explaining why the bot gave up.
    FailureComment { outcome: Outcome },
    /// Tell the manager in the CRM's own notifications.
    NotifyManager { manager_id: ManagerId, text: String },
    /// After the hand-over the client corrected their number: `new` replaces `old` on the card
    /// (other numbers stay).
    PhoneCorrected { old: Phone, new: Phone },
    /// A visit was booked, moved or cancelled: the visit field and a timeline note.
    Visit(crate::domain::VisitNote),
}

/// A `crm` outbox row: the update and the CRM (the lead's source) that applies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrmRow {
    /// `None` in rows written before rows named their CRM: the lead's source tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<String>,
    #[serde(flatten)]
    pub update: CrmUpdate,
}

/// A change to a CRM deal (no lead): the job board's winner becomes its responsible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealUpdate {
    /// The CRM that owns the deal (the source name of its adapter).
    pub crm: String,
    pub deal_id: String,
    pub crm_user_id: Option<String>,
    /// "Name (@login)", written into the deal.
    pub executor: String,
    /// The deal's manager (told in the CRM too, where the CRM has a way: an amoCRM task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
}

/// A `deal_action` row: what an SLA robot does to a deal in its CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealActionRow {
    pub crm: String,
    pub deal_id: String,
    pub action: crate::sla::CrmAction,
}

/// How a notice reaches its person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum NoticeVia {
    /// A private chat with leadbot's Telegram bot.
    Telegram {
        chat_id: i64,
    },
    Email {
        to: String,
    },
    /// The configured notification webhook (`notify.webhook_url`).
    Webhook,
}

/// An `sla_notice` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaNotice {
    pub crm: String,
    pub deal_id: String,
    pub deal_title: String,
    /// Who it is for: `head` or the manager's CRM user id.
    pub recipient: String,
    pub recipient_name: String,
    pub robot: String,
    pub text: String,
    #[serde(flatten)]
    pub via: NoticeVia,
}

/// A `report` row: a rendered report for one person, one way (e-mail: the HTML body and the
/// file attached; Telegram: the short text and the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDelivery {
    pub report: String,
    pub period: String,
    /// `head` or a manager as `crm:user id`.
    pub recipient: String,
    pub recipient_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub file_name: String,
    pub content_type: String,
    /// The file, base64.
    pub file: String,
    #[serde(flatten)]
    pub via: NoticeVia,
}
