//! Wires the parts together: store, actors, background services, HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use ractor::{Actor, ActorRef};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::actors::{
    run_recovery_scan, run_timer_service, LeadDeps, LeadSupervisor, ManagerPool, PoolMsg, RoutingDeps, SupervisorArgs,
    SupervisorMsg,
};
use crate::channels::telegram::Telegram;
use crate::channels::Channels;
use crate::config::Config;
use crate::crm::bitrix24::{Bitrix24, Bitrix24Crm, Bitrix24Deals, OpenLines};
use crate::crm::Crms;
use crate::delivery::Dispatcher;
use crate::dialog::{Dialog, Handover, PhoneReader};
use crate::dispatch::{DealResponsible, JobBoard, LocalDeals};
use crate::http::{router, AppState};
use crate::notify::Notifier;
use crate::routing::llm::LlmClassifier;
use crate::routing::{Roster, RulesClassifier};
use crate::store::{PgStore, Store};
use crate::telemetry;

/// A running leadbot; dropping it does not stop it, call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    pub store: PgStore,
    supervisor: ActorRef<SupervisorMsg>,
    pool: ActorRef<PoolMsg>,
    tasks: Vec<JoinHandle<()>>,
}

/// The dialog as configured (also used by `check-config`).
pub fn build_dialog(config: &Config) -> anyhow::Result<Dialog> {
    let phones = &config.service.phones;
    let extractor = leadbot_phone::Extractor::new(&phones.region).context("phones.region")?;
    let policy = leadbot_phone::Policy {
        allowed_countries: phones.allowed_countries.clone(),
        require_mobile: phones.require_mobile,
    };
    Ok(Dialog::new(
        config.script.clone(),
        PhoneReader::new(extractor, policy),
        config.service.outcome.on_failure,
        Handover::from_config(&config.routing)?,
    )?)
}

/// Starts everything on `listener` (bind it with the configured address, or port 0 in tests).
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    let metrics = telemetry::metrics_handle();
    let svc = &config.service;
    let pg = PgStore::connect(&svc.database.url, svc.database.max_connections)
        .await
        .with_context(|| format!("database {}", redact(&svc.database.url)))?;
    let store: Arc<dyn Store> = Arc::new(pg.clone());
    let dialog = build_dialog(&config)?;
    let mut channels = Channels::with_builtin();
    let mut crms = Crms::default();
    let bitrix24 = match &config.bitrix24 {
        Some(settings) => {
            let bx = Bitrix24::new(settings.clone(), pg.pool().clone()).context("connecting Bitrix24")?;
            crms.register(Arc::new(Bitrix24Crm {
                bx: bx.clone(),
                store: store.clone(),
            }));
            if bx.openlines_bot() {
                channels.register(Arc::new(OpenLines { bx: bx.clone() }));
            }
            Some(bx)
        }
        None => None,
    };
    let notifier = Notifier::new(&svc.notify).context("building the notifier's HTTP client")?;
    let telegram = match &config.telegram {
        Some(settings) => {
            let pool = pg.pool().clone();
            let deals: Arc<dyn DealResponsible> = match &bitrix24 {
                Some(bx) => Arc::new(Bitrix24Deals {
                    bx: bx.clone(),
                    local: LocalDeals { pool: pool.clone() },
                }),
                None => Arc::new(LocalDeals { pool: pool.clone() }),
            };
            let tg = Telegram::new(settings.clone(), store.clone(), pool.clone(), |api, repo| {
                settings.jobs.clone().map(|jobs| {
                    Arc::new(JobBoard::new(
                        jobs,
                        settings.texts.clone(),
                        settings.executors.clone(),
                        pool.clone(),
                        api,
                        repo,
                        notifier.clone(),
                        deals,
                    ))
                })
            })
            .context("building the Telegram client")?;
            channels.register(tg.clone());
            if let (Some(bx), Some(jobs)) = (&bitrix24, &tg.jobs) {
                let _ = bx.jobs.set(jobs.clone());
            }
            Some(tg)
        }
        None => None,
    };
    let outbox_wake = Arc::new(Notify::new());
    let timer_wake = Arc::new(Notify::new());

    let roster = Roster::from_config(&config.routing);
    let routing = Arc::new(RoutingDeps {
        config: config.routing.clone(),
        rules: RulesClassifier::new(&config.routing.classifier),
        llm: match &config.routing.llm {
            Some(llm) => Some(LlmClassifier::new(llm.clone()).context("building the LLM client")?),
            None => None,
        },
        roster: roster.clone(),
    });
    let (pool, _) = Actor::spawn(None, ManagerPool, (roster, store.clone()))
        .await
        .context("starting the manager pool")?;
    let deps = Arc::new(LeadDeps {
        store: store.clone(),
        dialog,
        channels: channels.clone(),
        crms: crms.clone(),
        pool: pool.clone(),
        outbox_wake: outbox_wake.clone(),
        timer_wake: timer_wake.clone(),
        runtime: svc.runtime.clone(),
        routing,
    });
    let (supervisor, _) = Actor::spawn(None, LeadSupervisor, SupervisorArgs { deps })
        .await
        .context("starting the lead supervisor")?;
    pool.cast(PoolMsg::SetSupervisor(supervisor.clone()))
        .context("wiring the manager pool")?;

    let dispatcher = Dispatcher::new(
        store.clone(),
        channels,
        crms,
        notifier,
        svc.notify.clone(),
        outbox_wake,
        svc.runtime.outbox_poll,
    );
    let mut tasks = vec![
        tokio::spawn(dispatcher.run()),
        tokio::spawn(run_timer_service(
            store.clone(),
            supervisor.clone(),
            timer_wake,
            svc.runtime.timer_poll,
        )),
        tokio::spawn(run_recovery_scan(
            store.clone(),
            supervisor.clone(),
            svc.runtime.recovery_scan,
        )),
    ];

    if let Some(bx) = &bitrix24 {
        tasks.extend(bx.spawn_workers(store.clone(), supervisor.clone()));
    }
    if let Some(tg) = &telegram {
        tg.set_supervisor(supervisor.clone());
        if tg.settings.polling {
            tasks.push(tokio::spawn(tg.clone().poll()));
        }
        if let Some(jobs) = &tg.jobs {
            let every = jobs
                .settings
                .repost_after
                .map_or(std::time::Duration::from_secs(60), |d| {
                    (d / 2).min(std::time::Duration::from_secs(60))
                });
            tasks.push(tokio::spawn(jobs.clone().run_reposts(every)));
        }
    }
    let state = AppState {
        store,
        supervisor: supervisor.clone(),
        metrics,
        max_text_chars: svc.server.max_text_chars,
        apply_wait: svc.runtime.apply_wait,
        operator_token: svc.server.operator_token.as_deref().map(Arc::from),
        bitrix24,
        pool: pool.clone(),
        telegram,
    };
    let addr = listener.local_addr()?;
    let app = router(state);
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    }));
    tracing::info!(%addr, "leadbot listening");
    Ok(Running {
        addr,
        store: pg,
        supervisor,
        pool,
        tasks,
    })
}

impl Running {
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.supervisor.stop(None);
        self.pool.stop(None);
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
