//! The runtime: one `LeadActor` per open lead under the `LeadSupervisor`, the `ManagerPool`,
//! and the background services that feed them (durable timers, inbox recovery).

mod lead;
mod manager_pool;
mod recovery;
mod supervisor;
mod timers;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::channels::Channels;
use crate::config::RuntimeSettings;
use crate::crm::Crms;
use crate::dialog::Dialog;
use crate::store::Store;

pub use lead::LeadMsg;
pub use manager_pool::{AssignOutcome, ManagerPool, PoolMsg, PoolStatus};
pub use recovery::run_recovery_scan;
pub use supervisor::{ActorState, LeadSupervisor, SupervisorArgs, SupervisorMsg};
pub use timers::run_timer_service;

/// What every lead actor needs; shared, immutable.
pub struct LeadDeps {
    pub store: Arc<dyn Store>,
    pub dialog: Dialog,
    pub channels: Channels,
    /// CRM adapters by lead source: their leads get `CrmUpdate`s in the outbox.
    pub crms: Crms,
    pub pool: ractor::ActorRef<PoolMsg>,
    /// Wakes the outbox dispatcher after a step committed something to send.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the timer service when a timer earlier than its next wake-up is armed.
    pub timer_wake: Arc<Notify>,
    pub runtime: RuntimeSettings,
    pub routing: Arc<RoutingDeps>,
}

/// What a lead needs to ask for a manager: the rules, the classifiers, the roster (heads).
pub struct RoutingDeps {
    pub config: crate::config::RoutingConfig,
    pub rules: crate::routing::RulesClassifier,
    pub llm: Option<crate::routing::llm::LlmClassifier>,
    pub roster: crate::routing::Roster,
}
