use std::fmt;

use serde::{Deserialize, Serialize};

/// The channel a lead talks on (or came from): `webchat`, `telegram`, `bitrix24-openlines`...
/// Whether leadbot can talk on it is the channel registry's business, not the name's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChannelName(String);

/// Where a lead may say it came from at intake. A lead may come from a channel leadbot has no
/// adapter for (a phone call, a form): it is accepted and ends in the fallback ("no channel").
pub const LEAD_ORIGINS: &[&str] = &[
    "webchat",
    "telegram",
    "vk",
    "whatsapp",
    "instagram",
    "avito",
    "sms",
    "voice",
    "email",
    "phone",
    "form",
    "other",
];

impl ChannelName {
    /// A channel name an adapter declares (trusted: compiled in).
    pub fn new(name: &str) -> ChannelName {
        ChannelName(name.to_string())
    }

    /// A channel named by outside input (the intake API): one of [`LEAD_ORIGINS`].
    pub fn parse_origin(s: &str) -> Result<ChannelName, String> {
        if LEAD_ORIGINS.contains(&s) {
            Ok(ChannelName(s.to_string()))
        } else {
            Err(format!("unknown channel `{s}`; known: {}", LEAD_ORIGINS.join(", ")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for ChannelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ChannelName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ChannelName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
