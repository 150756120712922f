//! The runtime: one `LeadActor` per open lead under the `LeadSupervisor`, the `ManagerPool`, the
//! delivery actors (one per channel, CRM and the notifier) that empty the outbox, and the
//! background services that feed them (durable timers, inbox recovery).
//!
//! Nothing outside the runtime sees its messages: adapters reach leads through the intake port
//! (`crate::intake`), which the supervisor implements as a [`LeadWaker`]; the operator API gets
//! the narrow handles in [`Runtime`].

mod booking;
mod deal;
mod deal_supervisor;
mod delivery;
mod lead;
mod manager_pool;
mod recovery;
pub mod reports;
mod supervisor;
mod timers;

use std::sync::Arc;

use ractor::{Actor, ActorRef};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::channels::Channels;
use crate::config::{NotifySettings, RuntimeSettings};
use crate::crm::Crms;
use crate::dialog::Dialog;
use crate::domain::LeadId;
use crate::intake::{Intake, LeadWaker, Waiter};
use crate::notify::Notifier;
use crate::routing::{Classifier, Roster};
use crate::store::Store;

pub use deal_supervisor::DealSupervisorMsg;

pub use delivery::{DeliveryHandle, SinkHealth, SinkState};
pub use lead::LeadMsg;
pub use manager_pool::{AssignOutcome, ManagerPool, PoolMsg, PoolStatus};
pub use supervisor::{ActorState, LeadSupervisor, SupervisorArgs, SupervisorMsg};

/// What every lead actor needs; shared, immutable.
pub struct LeadDeps {
    pub store: Arc<dyn Store>,
    pub dialog: Dialog,
    /// What each channel can do (a dialog needs a real-time one).
    pub channels: Channels,
    /// CRM adapters by lead source: their leads get `CrmUpdate`s in the outbox.
    pub crms: Crms,
    /// Wakes the outbox router after a step committed something to send.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the timer service when a timer earlier than its next wake-up is armed.
    pub timer_wake: Arc<Notify>,
    pub runtime: RuntimeSettings,
    pub routing: Arc<RoutingDeps>,
    /// The fallback chains (fallback.toml); `None`: a lead without a chat ends "no channel".
    pub fallback: Option<Arc<FallbackDeps>>,
    /// Bookings (booking.toml); `None`: the phone-only flow.
    pub booking: Option<Arc<BookingDeps>>,
}

/// What the booking dialog's effects are carried out with.
pub struct BookingDeps {
    pub calendar: Arc<dyn crate::calendar::Calendar>,
    /// Earlier bookings of a phone and the satisfaction scores.
    pub store: Arc<dyn crate::store::BookingStore>,
    /// The LLM's reading of each client message, if configured (the rules decide without it).
    pub intents: Option<Arc<dyn crate::booking::IntentReader>>,
}

/// What the fallback chain needs besides its rules: the Telegram bot, whose deep links bound to
/// the lead go into the SMS.
pub struct FallbackDeps {
    pub rules: crate::dialog::fallback::FallbackRules,
    pub telegram: Option<Arc<crate::channels::telegram::Telegram>>,
}

/// What a lead needs to ask for a manager: the rules, the classifier, the roster (heads).
pub struct RoutingDeps {
    pub config: crate::config::RoutingConfig,
    pub rules: crate::routing::RulesClassifier,
    /// The rules, or an LLM that falls back to them.
    pub classifier: Arc<dyn Classifier>,
    pub roster: Roster,
}

/// The supervisor is the owner of every lead: waking a lead is a message to it.
impl LeadWaker for ActorRef<SupervisorMsg> {
    fn wake(&self, lead: LeadId, applied: Option<Waiter>) {
        // A failed cast means the runtime is stopping: the row is durable and applied at the
        // next start (the recovery scan finds it).
        let _ = self.cast(SupervisorMsg::Wake(lead, applied));
    }
}

/// What the SLA robots' side of the runtime needs (when robots.toml is present).
pub struct DealParts {
    pub store: Arc<dyn crate::store::DealStore>,
    pub robots: Arc<crate::config::RobotsSettings>,
    /// CRM sources whose deals are tracked (connected and mapped).
    pub tracked: Vec<String>,
}

/// The SLA robots' side of a runtime, started.
pub struct DealRuntime {
    pub intake: crate::intake::DealIntake,
    pub supervisor: ActorRef<DealSupervisorMsg>,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Starts the deal supervisor, its timer service and its recovery scan (part of
/// [`Runtime::start`]; on its own for the robots' benchmark).
pub async fn start_deals(
    d: DealParts,
    settings: &RuntimeSettings,
    outbox_wake: Arc<Notify>,
    webhook_notices: bool,
) -> anyhow::Result<DealRuntime> {
    let deal_timer_wake = Arc::new(Notify::new());
    let deps = Arc::new(deal::DealDeps {
        store: d.store.clone(),
        robots: d.robots,
        outbox_wake,
        timer_wake: deal_timer_wake.clone(),
        passivate_after: settings.passivate_after,
        webhook_notices,
    });
    let (sup, _) = Actor::spawn(None, deal_supervisor::DealSupervisor, deps)
        .await
        .map_err(|e| anyhow::anyhow!("starting the deal supervisor: {e}"))?;
    let tasks = vec![
        tokio::spawn({
            let sup = sup.clone();
            timers::run_timer_service(
                timers::DealTimers(d.store.clone()),
                move |t| sup.cast(DealSupervisorMsg::Timer(t)).is_ok(),
                deal_timer_wake,
                settings.timer_poll,
            )
        }),
        tokio::spawn(deal_supervisor::run_deal_recovery_scan(
            d.store.clone(),
            sup.clone(),
            settings.recovery_scan,
        )),
    ];
    let intake = crate::intake::DealIntake::new(d.store, Arc::new(sup.clone()), d.tracked);
    Ok(DealRuntime {
        intake,
        supervisor: sup,
        tasks,
    })
}

/// Everything the runtime is started with.
pub struct RuntimeParts {
    pub deps: LeadDeps,
    pub roster: Roster,
    pub notifier: Notifier,
    pub notify: NotifySettings,
    pub deals: Option<DealParts>,
}

/// A started runtime: the intake port for adapters and the operator's handles.
pub struct Runtime {
    pub intake: Intake,
    pub supervisor: ActorRef<SupervisorMsg>,
    pub pool: ActorRef<PoolMsg>,
    pub delivery: Arc<DeliveryHandle>,
    /// The SLA robots' intake port (`None` without robots).
    pub deal_intake: Option<crate::intake::DealIntake>,
    pub deal_supervisor: Option<ActorRef<DealSupervisorMsg>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runtime {
    /// Spawns the supervisor (which spawns the manager pool), the delivery actors and the
    /// timer and recovery services, in the order their references are needed: no part is
    /// patched after it started.
    pub async fn start(parts: RuntimeParts) -> anyhow::Result<Runtime> {
        let RuntimeParts {
            deps,
            roster,
            notifier,
            notify,
            deals,
        } = parts;
        let webhook_notices = notify.webhook_url.is_some();
        let store = deps.store.clone();
        let settings = deps.runtime.clone();
        let outbox_wake = deps.outbox_wake.clone();
        let deal_outbox_wake = deps.outbox_wake.clone();
        let timer_wake = deps.timer_wake.clone();
        let channels = deps.channels.clone();
        let crms = deps.crms.clone();
        let (supervisor, _) = Actor::spawn(
            None,
            LeadSupervisor,
            SupervisorArgs {
                deps: Arc::new(deps),
                roster,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("starting the lead supervisor: {e}"))?;
        let pool = match supervisor
            .call(SupervisorMsg::ManagerPool, Some(std::time::Duration::from_secs(10)))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(pool)) => pool,
            other => anyhow::bail!("the lead supervisor did not hand out the manager pool: {other:?}"),
        };
        let adapters = crms
            .all()
            .map(|c| c.source().to_string())
            .chain(channels.all().map(|c| c.name().to_string()))
            .collect::<Vec<_>>();
        let intake =
            Intake::new(store.clone(), Arc::new(supervisor.clone()), settings.apply_wait).with_adapters(adapters);
        let delivery = delivery::start(delivery::DeliveryParts {
            store: store.clone(),
            channels,
            crms,
            notifier,
            notify,
            intake: intake.clone(),
            wake: outbox_wake,
            poll: settings.outbox_poll,
        })
        .await?;
        // What a crashed process had claimed is due now, not when its lease lapses: overdue
        // timers fire at start.
        match store.release_dead_claims().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(claims = n, "claims of a previous process released"),
            Err(e) => tracing::warn!(error = %e, "could not release the claims of dead processes"),
        }
        let mut tasks = vec![
            tokio::spawn({
                let supervisor = supervisor.clone();
                timers::run_timer_service(
                    timers::LeadTimers(store.clone()),
                    move |t| supervisor.cast(SupervisorMsg::Timer(t)).is_ok(),
                    timer_wake,
                    settings.timer_poll,
                )
            }),
            tokio::spawn(recovery::run_recovery_scan(
                store,
                supervisor.clone(),
                settings.recovery_scan,
            )),
        ];
        let (deal_intake, deal_supervisor) = match deals {
            Some(d) => {
                let deal = start_deals(d, &settings, deal_outbox_wake, webhook_notices).await?;
                tasks.extend(deal.tasks);
                (Some(deal.intake), Some(deal.supervisor))
            }
            None => (None, None),
        };
        Ok(Runtime {
            intake,
            supervisor,
            pool,
            delivery: Arc::new(delivery),
            deal_intake,
            deal_supervisor,
            tasks,
        })
    }

    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.delivery.stop();
        // The pool is the supervisor's child: it stops with it.
        self.supervisor.stop(None);
        if let Some(d) = &self.deal_supervisor {
            d.stop(None);
        }
    }
}
