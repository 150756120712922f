//! Choosing a manager for a lead: classification, eligibility (hours, absences, pauses,
//! capacity), strategies, the waiting queue. Pure; the manager pool actor owns the live state.
//! A classifier that does I/O (the optional LLM, `src/llm/`) plugs in through [`Classifier`].

mod allocator;
mod availability;
mod classify;
mod roster;

use async_trait::async_trait;

use crate::config::RoutingConfig;
use crate::keywords::{KeywordSet, Words};

pub use allocator::{Allocator, ManagerStatus, Request};
pub use availability::{Availability, AvailabilityError};
pub use classify::{Classification, Priority, RequestKind, RulesClassifier};
pub use roster::{Roster, RosterManager};

/// Classifies a request's text. Never fails: an implementation that can (a remote model)
/// falls back to the rules itself.
#[async_trait]
pub trait Classifier: Send + Sync + 'static {
    async fn classify(&self, text: &str) -> Classification;
}

#[async_trait]
impl Classifier for RulesClassifier {
    async fn classify(&self, text: &str) -> Classification {
        RulesClassifier::classify(self, text)
    }
}

/// The group a request goes to: non-lead kinds to their own group when configured, else the
/// first rule that matches its channel and text, else the default.
pub fn choose_group<'a>(config: &'a RoutingConfig, channel: &str, text: &str, kind: RequestKind) -> &'a str {
    let own = match kind {
        RequestKind::Complaint => config.classifier.complaint_group.as_deref(),
        RequestKind::ServiceRequest => config.classifier.service_group.as_deref(),
        _ => None,
    };
    if let Some(g) = own {
        return g;
    }
    let words = Words::of(text);
    config
        .rules
        .iter()
        .find(|r| {
            let channel_ok = r.channels.is_empty() || r.channels.iter().any(|c| c == channel);
            let keyword_ok = r.keywords.is_empty() || KeywordSet::new(&r.keywords).matches(&words);
            channel_ok && keyword_ok
        })
        .map_or(config.default_group.as_str(), |r| r.group.as_str())
}
