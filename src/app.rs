//! Wires the parts together, in the order their references are needed and with no part patched
//! after it started: the store; the outbound side of every adapter (channels, CRMs, the
//! notifier); the runtime (which hands out the intake port); the inbound side of every adapter
//! (given the intake port); the HTTP surface.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::actors::{LeadDeps, RoutingDeps, Runtime, RuntimeParts};
use crate::channels::avito::{Avito, AvitoInbound};
use crate::channels::instagram::{Instagram, InstagramInbound};
use crate::channels::sms::{Sms, SmsCallbacks};
use crate::channels::telegram::{ButtonPresses, Telegram, TelegramInbound};
use crate::channels::vk::{Vk, VkInbound};
use crate::channels::voice::{Voice, VoiceWebhooks};
use crate::channels::whatsapp::{WhatsApp, WhatsAppInbound};
use crate::channels::Channels;
use crate::config::Config;
use crate::crm::amocrm::{AmoCrm, AmoCrmAccount, AmoInbound};
use crate::crm::bitrix24::{Bitrix24, Bitrix24Crm, Bitrix24Inbound, OpenLines};
use crate::crm::{Crms, DealDispatch};
use crate::dialog::{Dialog, Handover, PhoneReader};
use crate::http::{router, AppState};
use crate::jobs::{JobBoard, JobBoardParts};
use crate::llm::LlmClassifier;
use crate::notify::Notifier;
use crate::routing::{Classifier, Roster, RulesClassifier};
use crate::store::{Location, Store, StoreError, Stores};
use crate::telemetry;

/// A running leadbot; dropping it does not stop it, call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    /// The store it runs on (PostgreSQL or the embedded file); the app itself sees only traits.
    pub stores: Stores,
    runtime: Runtime,
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
    let dialog = Dialog::new(
        config.script.clone(),
        PhoneReader::new(extractor, policy),
        config.service.outcome.on_failure,
        Handover::from_config(&config.routing)?,
    )?;
    Ok(match &config.booking {
        Some(b) => dialog.with_booking(b.rules()),
        None => dialog,
    })
}

/// The calendar the bookings go to (our store; Google Calendar over it when configured), the
/// booking store, and the LLM intent reader when booking.toml asks for it.
fn booking_deps(config: &Config, stores: &Stores) -> anyhow::Result<Option<Arc<crate::actors::BookingDeps>>> {
    let Some(b) = &config.booking else {
        return Ok(None);
    };
    let own = crate::calendar::StoreCalendar::new(stores.bookings.clone());
    let calendar: Arc<dyn crate::calendar::Calendar> = match &b.google_calendar {
        Some(g) => Arc::new(
            crate::calendar::GoogleCalendar::new(own, g, &b.resources)
                .map_err(|e| anyhow::anyhow!("booking.toml [google_calendar]: {e}"))?,
        ),
        None => Arc::new(own),
    };
    let intents: Option<Arc<dyn crate::booking::IntentReader>> = match (&config.routing.llm, b.use_llm) {
        (Some(llm), true) => Some(Arc::new(
            crate::llm::LlmIntents::new(llm.clone()).context("building the LLM intent reader")?,
        )),
        _ => None,
    };
    Ok(Some(Arc::new(crate::actors::BookingDeps {
        calendar,
        store: stores.bookings.clone(),
        intents,
    })))
}

fn routing_deps(config: &Config) -> anyhow::Result<RoutingDeps> {
    let rules = RulesClassifier::new(&config.routing.classifier);
    let classifier: Arc<dyn Classifier> = match &config.routing.llm {
        Some(llm) => Arc::new(LlmClassifier::new(llm.clone(), rules.clone()).context("building the LLM client")?),
        None => Arc::new(rules.clone()),
    };
    Ok(RoutingDeps {
        config: config.routing.clone(),
        rules,
        classifier,
        roster: Roster::from_config(&config.routing),
    })
}

/// This CRM's stage and field names for the SLA robots, if robots.toml maps it.
fn robot_mapping(config: &Config, crm: &str) -> Option<Arc<crate::config::CrmMapping>> {
    config
        .robots
        .as_ref()
        .and_then(|r| r.mapping(crm))
        .map(|m| Arc::new(m.clone()))
}

/// The SLA robots' feed for a CRM adapter's inbound side (robots on and the CRM mapped).
fn robot_feed(runtime: &Runtime, config: &Config, crm: &str) -> Option<crate::crm::robots::RobotFeed> {
    let intake = runtime.deal_intake.clone().filter(|i| i.tracks(crm))?;
    Some(crate::crm::robots::RobotFeed {
        intake,
        mapping: robot_mapping(config, crm)?,
    })
}

/// Starts everything on `listener` (bind it with the configured address, or port 0 in tests).
pub async fn start(config: Config, listener: TcpListener) -> anyhow::Result<Running> {
    let metrics = telemetry::metrics_handle();
    let svc = &config.service;
    let location = svc
        .database
        .location()
        .map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
    let opened = open_store(&location, svc.database.max_connections).await?;
    let store = opened.store.clone();

    // Outbound sides: what the runtime's delivery actors drive.
    let mut channels = Channels::with_builtin();
    let mut crms = Crms::default();
    let bitrix24 = match &config.bitrix24 {
        Some(settings) => {
            let bx = Bitrix24::new(settings.clone(), opened.crm.clone()).context("connecting Bitrix24")?;
            crms.register(Arc::new(Bitrix24Crm {
                bx: bx.clone(),
                store: store.clone(),
                robots: robot_mapping(&config, crate::crm::bitrix24::SOURCE),
            }));
            if bx.openlines_bot() {
                channels.register(Arc::new(OpenLines { bx: bx.clone() }));
            }
            Some(bx)
        }
        None => None,
    };
    let amocrm = match &config.amocrm {
        Some(settings) => {
            let acc = AmoCrmAccount::new(settings.clone(), opened.crm.clone()).context("connecting amoCRM")?;
            acc.authorize_if_needed().await.context("amoCRM OAuth authorization")?;
            crms.register(Arc::new(AmoCrm {
                acc: acc.clone(),
                store: store.clone(),
                robots: robot_mapping(&config, crate::crm::amocrm::SOURCE),
            }));
            Some(acc)
        }
        None => None,
    };
    let telegram = match &config.telegram {
        Some(settings) => {
            let tg = Telegram::new(settings.clone(), opened.chats.clone()).context("building the Telegram client")?;
            channels.register(tg.clone());
            Some(tg)
        }
        None => None,
    };
    let vk = match &config.vk {
        Some(settings) => {
            let vk = Vk::new(settings.clone(), opened.chats.clone()).context("building the VK client")?;
            channels.register(vk.clone());
            Some(vk)
        }
        None => None,
    };
    let whatsapp = match &config.whatsapp {
        Some(settings) => {
            let wa = WhatsApp::new(settings.clone(), opened.chats.clone()).context("building the WhatsApp client")?;
            channels.register(wa.clone());
            Some(wa)
        }
        None => None,
    };
    let instagram = match &config.instagram {
        Some(settings) => {
            let ig = Instagram::new(settings.clone(), opened.chats.clone()).context("building the Instagram client")?;
            channels.register(ig.clone());
            Some(ig)
        }
        None => None,
    };
    let sms = match &config.sms {
        Some(settings) => {
            let sms = Sms::new(settings.clone()).context("building the SMS gateway client")?;
            channels.register(sms.clone());
            Some(sms)
        }
        None => None,
    };
    let voice = match &config.voice {
        Some(settings) => {
            let voice = Voice::new(settings.clone()).context("building the voice provider client")?;
            channels.register(voice.clone());
            Some(voice)
        }
        None => None,
    };
    let avito = match &config.avito {
        Some(settings) => {
            let avito = Avito::new(settings.clone(), opened.chats.clone()).context("building the Avito client")?;
            channels.register(avito.clone());
            Some(avito)
        }
        None => None,
    };
    let booking = booking_deps(&config, &opened)?;
    let mut notifier = Notifier::new(&svc.notify).context("building the notifier")?;
    if let Some(tg) = &telegram {
        notifier = notifier.with_telegram(tg.api.clone());
    }
    // The SLA robots run for every connected CRM that robots.toml maps.
    let deal_parts = config.robots.as_ref().and_then(|robots| {
        let connected = [
            (crate::crm::bitrix24::SOURCE, bitrix24.is_some()),
            (crate::crm::amocrm::SOURCE, amocrm.is_some()),
        ];
        let tracked: Vec<String> = connected
            .iter()
            .filter(|(crm, on)| *on && robots.mapping(crm).is_some())
            .map(|(crm, _)| crm.to_string())
            .collect();
        if tracked.is_empty() {
            tracing::warn!("robots.toml is present but maps no connected CRM: the SLA robots are off");
            return None;
        }
        tracing::info!(crms = ?tracked, robots = robots.book.robots.len(), "SLA robots on");
        Some(crate::actors::DealParts {
            store: opened.deals.clone(),
            robots: Arc::new(robots.clone()),
            tracked,
        })
    });

    // The runtime, and with it the intake port.
    let routing = Arc::new(routing_deps(&config)?);
    let outbox_wake = Arc::new(Notify::new());
    let runtime = Runtime::start(RuntimeParts {
        roster: routing.roster.clone(),
        deps: LeadDeps {
            store: store.clone(),
            dialog: build_dialog(&config)?,
            channels,
            crms,
            outbox_wake: outbox_wake.clone(),
            timer_wake: Arc::new(Notify::new()),
            runtime: svc.runtime.clone(),
            routing,
            fallback: config.fallback.as_ref().map(|f| {
                Arc::new(crate::actors::FallbackDeps {
                    rules: f.rules(),
                    telegram: telegram.clone(),
                })
            }),
            booking,
        },
        notifier,
        notify: svc.notify.clone(),
        deals: deal_parts,
    })
    .await?;
    let intake = runtime.intake.clone();
    let mut tasks = vec![];

    // Inbound sides: each hands what it receives to the intake port.
    let jobs = match (&telegram, config.telegram.as_ref().and_then(|t| t.jobs.clone())) {
        (Some(tg), Some(settings)) => {
            let board = Arc::new(JobBoard::new(JobBoardParts {
                settings,
                texts: tg.settings.texts.clone(),
                executors: tg.settings.executors.clone(),
                jobs: opened.jobs.clone(),
                chats: opened.chats.clone(),
                bot: tg.settings.bot.clone(),
                api: tg.api.clone(),
                // Bitrix24's deals keep their plain ids (as stored before amoCRM came).
                deals_crm: match (&bitrix24, &amocrm) {
                    (Some(_), _) => Some(crate::crm::bitrix24::SOURCE.to_string()),
                    (None, Some(_)) => Some(crate::crm::amocrm::SOURCE.to_string()),
                    (None, None) => None,
                },
                other_deal_crms: match (&bitrix24, &amocrm) {
                    (Some(_), Some(_)) => vec![crate::crm::amocrm::SOURCE.to_string()],
                    _ => vec![],
                },
                group_per_min: tg.settings.limits.group_per_min,
            }));
            let every = board
                .settings
                .repost_after
                .map_or(std::time::Duration::from_secs(60), |d| {
                    (d / 2).min(std::time::Duration::from_secs(60))
                });
            tasks.push(tokio::spawn(board.clone().run_poster(every)));
            Some(board)
        }
        _ => None,
    };
    let telegram_in = telegram.map(|tg| {
        let buttons = jobs.clone().map(|b| b as Arc<dyn ButtonPresses>);
        let inbound = TelegramInbound::new(tg.clone(), intake.clone(), buttons);
        if tg.settings.polling {
            tasks.push(tokio::spawn(inbound.clone().poll()));
        }
        inbound
    });
    let vk_in = vk.map(|vk| VkInbound::new(vk, intake.clone()));
    let whatsapp_in = whatsapp.map(|wa| WhatsAppInbound::new(wa, intake.clone()));
    let instagram_in = instagram.map(|ig| InstagramInbound::new(ig, intake.clone()));
    let avito_in = avito.map(|a| AvitoInbound::new(a, intake.clone()));
    let voice_in = voice.map(|v| Arc::new(VoiceWebhooks::new(v.settings.clone(), intake.clone())));
    let sms_in = sms.map(|sms| {
        let secret = sms.settings.callback_secret.clone().unwrap_or_default();
        SmsCallbacks::new(sms.provider.clone(), secret, intake.clone())
    });
    let bitrix24_in = bitrix24.map(|bx| {
        let deals = jobs.clone().map(|b| b as Arc<dyn DealDispatch>);
        let robots = robot_feed(&runtime, &config, crate::crm::bitrix24::SOURCE);
        let inbound = Bitrix24Inbound::new(bx, intake.clone(), store.clone(), deals, robots);
        tasks.extend(inbound.spawn_workers());
        inbound
    });

    let amocrm_in = amocrm.map(|acc| {
        let deals = jobs.clone().map(|b| b as Arc<dyn DealDispatch>);
        let robots = robot_feed(&runtime, &config, crate::crm::amocrm::SOURCE);
        let inbound = AmoInbound::new(acc, intake.clone(), store.clone(), deals, robots);
        tasks.extend(inbound.spawn_workers());
        inbound
    });

    // The reports: on demand always; the scheduled ones with reports.toml.
    let reports = Arc::new(
        crate::actors::reports::ReportService::new(opened.reports.clone(), &config, Some(outbox_wake.clone()))
            .with_csat(opened.bookings.clone()),
    );
    tasks.push(tokio::spawn(
        reports.clone().run_metrics(std::time::Duration::from_secs(60)),
    ));
    if reports.has_schedule() {
        tracing::info!(time_zone = %reports.time_zone(), "scheduled reports on");
        tasks.push(tokio::spawn(reports.clone().run()));
    }

    let operator_token = operator_token(&config, store.as_ref()).await?;
    let state = AppState {
        store,
        intake,
        chat_tokens: Arc::default(),
        supervisor: runtime.supervisor.clone(),
        pool: runtime.pool.clone(),
        delivery: runtime.delivery.clone(),
        metrics,
        max_text_chars: svc.server.max_text_chars,
        operator_token: Some(Arc::from(operator_token.as_str())),
        users: opened.users.clone(),
        job_store: opened.jobs.clone(),
        departments: Arc::new(crate::http::auth::Departments::new(
            config.routing.managers.iter().map(|m| (m.id.clone(), m.groups.clone())),
        )),
        secure_cookies: svc.server.secure_cookies,
        console: Arc::new(console_settings(&config)),
        widget_script: Arc::new(crate::http::widget_script(&svc.widget)),
        widget_origins: Arc::new(svc.widget.allowed_origins.clone()),
        bitrix24: bitrix24_in,
        amocrm: amocrm_in,
        telegram: telegram_in,
        vk: vk_in,
        whatsapp: whatsapp_in,
        instagram: instagram_in,
        sms: sms_in,
        avito: avito_in,
        voice: voice_in,
        jobs,
        reports,
    };
    let addr = listener.local_addr()?;
    console_setup(&config, opened.users.as_ref(), opened.store.as_ref(), addr).await?;
    for (key, what) in config.script.placeholders() {
        tracing::warn!(key = %key, "dialog.toml: {what}");
    }
    let app = router(state);
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    }));
    tracing::info!(
        %addr,
        config = %config.source.as_ref().map_or("built-in defaults".to_string(), |d| d.display().to_string()),
        store = %location,
        integrations = %integrations(&config),
        "leadbot listening"
    );
    Ok(Running {
        addr,
        stores: opened,
        runtime,
        tasks,
    })
}

impl Running {
    pub async fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.runtime.shutdown().await;
        // Last: the embedded store checkpoints its WAL and lets the file go.
        self.stores.close().await;
    }
}

/// The name of the generated operator token in the store.
pub const OPERATOR_TOKEN: &str = "operator_token";

/// The operator API never answers anonymously: `LEADBOT_OPERATOR_TOKEN` if set, else a token
/// generated on the first start, kept in the database and printed once (to the terminal, never
/// into a log line). `leadbot operator-token --rotate` makes a new one.
async fn operator_token(config: &Config, store: &dyn Store) -> anyhow::Result<String> {
    if let Some(t) = &config.service.server.operator_token {
        return Ok(t.clone());
    }
    let candidate = new_token();
    let (token, created) = store
        .generated_secret(OPERATOR_TOKEN, &candidate)
        .await
        .context("reading the operator token")?;
    if created {
        eprintln!(
            "leadbot: no LEADBOT_OPERATOR_TOKEN set; generated an operator token (shown only now):\n\n    {token}\n\n\
             Send it as `Authorization: Bearer <token>`; `leadbot operator-token --rotate` makes a new one."
        );
    } else {
        tracing::info!("operator API guarded by the generated operator token (LEADBOT_OPERATOR_TOKEN overrides it)");
    }
    Ok(token)
}

/// What the console shows from the config: the stuck window, CRM card links, hours.
fn console_settings(config: &Config) -> crate::http::console::ConsoleSettings {
    let mut crm_cards = vec![];
    if let Some(bx) = &config.bitrix24 {
        crm_cards.push((
            crate::crm::bitrix24::SOURCE.to_string(),
            format!("https://{}/crm/lead/details/{{id}}/", bx.portal),
        ));
    }
    if let Some(amo) = &config.amocrm {
        crm_cards.push((
            crate::crm::amocrm::SOURCE.to_string(),
            format!("https://{}.{}/leads/detail/{{id}}", amo.subdomain, amo.domain),
        ));
    }
    let hours = config
        .routing
        .managers
        .iter()
        .filter(|m| !m.hours.is_empty())
        .map(|m| {
            let text = m
                .hours
                .iter()
                .map(|(day, periods)| format!("{day} {}", periods.join(", ")))
                .collect::<Vec<_>>()
                .join("; ");
            (m.id.clone(), text)
        })
        .collect();
    crate::http::console::ConsoleSettings {
        no_answer_window: config.script.timing.no_answer_timeout,
        crm_cards,
        hours,
    }
}

/// Closed by default: with no console user yet, a one-time setup link is printed (to the
/// terminal, never into a log line) that makes the first admin; a fresh one each start until
/// it is used, so a lost link costs a restart, not the deployment.
async fn console_setup(
    config: &Config,
    users: &dyn crate::store::UserStore,
    store: &dyn Store,
    addr: std::net::SocketAddr,
) -> anyhow::Result<()> {
    if users.count_users().await.context("counting console users")? > 0 {
        store
            .replace_generated_secret(crate::http::auth::SETUP_SECRET, "")
            .await
            .context("clearing the console setup token")?;
        return Ok(());
    }
    let token = new_token();
    store
        .replace_generated_secret(crate::http::auth::SETUP_SECRET, &crate::http::auth::token_hash(&token))
        .await
        .context("storing the console setup token")?;
    let base = config
        .service
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    eprintln!(
        "leadbot: no console user yet. Make the first admin (the link works once):\n\n    {}/console/setup?token={token}\n\n\
         or run `leadbot user add --role admin <name>`.",
        base.trim_end_matches('/')
    );
    tracing::info!("console has no user yet: the one-time setup link was printed to the terminal");
    Ok(())
}

/// 32 random bytes as hex.
pub fn new_token() -> String {
    format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    crate::store::redact(url)
}

/// Opens the store, or says in one sentence what to do about it (no error chain: the driver's
/// words are said once, after the advice).
pub async fn open_store(location: &Location, max_connections: u32) -> anyhow::Result<Stores> {
    Stores::open(location, max_connections)
        .await
        .map_err(|e| anyhow::anyhow!(store_failure(location, &e)))
}

/// "Is PostgreSQL running at …?" for a server that does not answer; the embedded store's own
/// messages already name the file and what went wrong with it.
pub fn store_failure(location: &Location, e: &StoreError) -> String {
    match (location, e) {
        (Location::Postgres(_), StoreError::Unavailable(why)) => format!(
            "cannot reach {location}: is PostgreSQL running at {}? ({why})",
            location.server().unwrap_or_default()
        ),
        (Location::Postgres(_), StoreError::Rejected(why)) => format!("{location} refused: {why}"),
        (Location::Sqlite(_), StoreError::Unavailable(why) | StoreError::Rejected(why)) => why.clone(),
        (Location::Sqlite(p), StoreError::Corrupt(why)) => {
            format!("{} is not a readable leadbot database: {why}", p.display())
        }
        (_, e) => format!("{location}: {e}"),
    }
}

/// The integrations that are on, for the startup line.
fn integrations(config: &Config) -> String {
    let mut on = vec![];
    if let Some(bx) = &config.bitrix24 {
        on.push(if bx.openlines.bot_id.is_some() {
            "bitrix24 (open lines)"
        } else {
            "bitrix24"
        });
    }
    if let Some(tg) = &config.telegram {
        on.push(if tg.polling {
            "telegram (polling)"
        } else {
            "telegram (webhook)"
        });
        if tg.jobs.is_some() {
            on.push("job board");
        }
    }
    if config.routing.llm.is_some() {
        on.push("llm classifier");
    }
    if config.service.notify.webhook_url.is_some() {
        on.push("notify webhook");
    }
    if on.is_empty() {
        "none (web chat and API only)".to_string()
    } else {
        on.join(", ")
    }
}
