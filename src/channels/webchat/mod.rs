//! The site's web chat served by leadbot itself (`/chat` and the client API). Its inbound side
//! is the public HTTP API (`POST /api/v1/leads/{id}/messages`), which verifies the lead's chat
//! token and hands the message to the intake port; its outbound side has nothing to deliver,
//! since the page reads the transcript the lead's step already committed.

mod inbound;
mod outbound;

pub use inbound::{message_key, verify_chat_token, verify_token, SOURCE};
pub use outbound::WebChat;

pub const CHANNEL: &str = "webchat";
