//! Load benchmark of the SLA robots' timers: how late a robot fires while N deals have robots
//! pending (the issue's goal: p99 ≤ 1 s at 100k pending). Not a criterion benchmark — it is a
//! load generator that reports medians and tails of one run:
//!
//! ```text
//! cargo bench --bench sla_timers                 # 100k deals, embedded store (temporary file)
//! cargo bench --bench sla_timers -- 20000 60     # 20k deals, measure for 60 s
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench cargo bench --bench sla_timers
//! ```
//!
//! Every deal gets one pending first-contact robot; the due times are spread evenly over
//! 100 minutes, so in the measured window (default 60 s) about 1 % of them fall due while the
//! rest stay pending. Lateness is each fired robot's stored violation time minus its due time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use leadbot::actors::{start_deals, DealParts};
use leadbot::config::{ConfigIssues, RobotsSettings, RuntimeSettings};
use leadbot::sla::{DealEvent, DealFacts, DealState};
use leadbot::store::{DealCommit, DealRef, DealStore, DealTimerChange, Location, Stores};

const ROBOTS: &str = r#"
time_zone = "Europe/Moscow"
[crm.bitrix24.stages]
"Неразобранное" = "NEW"
[[robot]]
id = "first_contact"
on = "entered_stage"
stages = ["Неразобранное"]
after = "30m"
when = { no_touch = true }
actions = ["violation"]
"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let measure = Duration::from_secs(args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60));
    let spread = Duration::from_secs(6000);

    let tmp = tempfile::tempdir()?;
    let location = match std::env::var("DATABASE_URL") {
        Ok(url) => Location::parse(&url).map_err(anyhow::Error::msg)?,
        Err(_) => Location::Sqlite(tmp.path().join("bench.db")),
    };
    let stores = Stores::open(&location, 8).await?;
    let store: Arc<dyn DealStore> = stores.deals.clone();
    let mut issues = ConfigIssues::default();
    let robots =
        RobotsSettings::parse("robots.toml", ROBOTS, &mut issues).ok_or_else(|| anyhow::anyhow!("{issues}"))?;
    let book = robots.book.clone();

    // N deals, each in «Неразобранное» with its first-contact robot pending: the state the
    // robots' own step leaves (a deal seen, its timer armed).
    let loaded = Instant::now();
    // Loading takes about a millisecond per deal on this machine's embedded store: the first
    // robot falls due after that (the ones overdue at start are reported apart).
    let first_due = Utc::now() + chrono::Duration::seconds(20) + chrono::Duration::microseconds(n as i64 * 1300);
    for i in 0..n {
        let offset = chrono::Duration::from_std(spread.mul_f64(i as f64 / n as f64))?;
        let entered = first_due + offset - chrono::Duration::minutes(30);
        let facts = DealFacts {
            title: format!("Сделка {i}"),
            stage: "Неразобранное".into(),
            stage_since: Some(entered),
            responsible: Some("7".into()),
            created_at: entered,
            fields: Default::default(),
            tags: Default::default(),
            tasks: vec![],
            comments: 0,
            amount: None,
            modified_at: None,
            crm_required_missing: vec![],
        };
        let id = format!("b{i}");
        let mut st = DealState::new("bitrix24", &id);
        let effects = leadbot::sla::step(&book, &mut st, DealEvent::Observed { facts }, entered);
        let timers = effects
            .into_iter()
            .filter_map(|e| match e {
                leadbot::sla::Effect::Arm { key, at } => Some(DealTimerChange::Arm { key, due_at: at }),
                _ => None,
            })
            .collect();
        store
            .commit_deal_step(&DealCommit {
                deal: DealRef::new("bitrix24", &id),
                expected_version: 0,
                state: serde_json::to_value(&st)?,
                applied_inbox_id: None,
                outbox: vec![],
                timers,
                violations: vec![],
                counters: vec![],
            })
            .await?;
    }
    println!(
        "loaded {n} deals with a pending robot in {:.1} s ({location})",
        loaded.elapsed().as_secs_f64()
    );

    let settings: RuntimeSettings = leadbot::config::Config::load(None)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .service
        .runtime;
    let deals = start_deals(
        DealParts {
            store: store.clone(),
            robots: Arc::new(robots),
            tracked: vec!["bitrix24".into()],
        },
        &settings,
        Arc::new(tokio::sync::Notify::new()),
        false,
    )
    .await?;
    let started = Utc::now();
    let wait = (first_due - started).to_std().unwrap_or_default() + measure;
    println!(
        "measuring for {:.0} s from the first due time ...",
        measure.as_secs_f64()
    );
    tokio::time::sleep(wait).await;
    let end = Utc::now();
    let fired = store.violations(first_due - chrono::Duration::hours(1), end).await?;
    let overdue_at_start = fired.iter().filter(|v| v.due_at < started).count();
    let mut late: Vec<f64> = fired
        .iter()
        .filter(|v| v.due_at >= started && v.due_at <= end - chrono::Duration::seconds(2))
        .map(|v| (v.detected_at - v.due_at).num_microseconds().unwrap_or(0) as f64 / 1e6)
        .collect();
    late.sort_by(|a, b| a.total_cmp(b));
    let due = (n as f64 * measure.as_secs_f64() / spread.as_secs_f64()).round();
    let pending = stores.deals.tracked_deals().await? as usize - fired.len();
    println!(
        "fired {} of ~{due:.0} due ({overdue_at_start} were overdue at start), {pending} still pending; \
         lateness of the {} due after start: p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        fired.len(),
        late.len(),
        percentile(&late, 0.5),
        percentile(&late, 0.99),
        late.last().copied().unwrap_or(f64::NAN),
    );
    for t in deals.tasks {
        t.abort();
    }
    deals.supervisor.stop(None);
    stores.close().await;
    Ok(())
}
