use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use leadbot::config::Config;

/// mimalloc rather than the system allocator: under load glibc's malloc and free took about a
/// third of the service's CPU (per-step state clones, JSON trees, request buffers), and
/// mimalloc returns freed memory to the system after a short delay, so RSS falls back when
/// actors passivate instead of staying at its peak.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "leadbot", version, about = "First contact with every new sales lead")]
struct Cli {
    /// Config directory (default: $LEADBOT_CONFIG_DIR, else ./config, else built-in defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Log lines as `text` (default) or `json` (one object per line); also LEADBOT_LOG_FORMAT.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve,
    /// Create the database if missing and apply migrations, then exit.
    Migrate,
    /// Copy every table of one store into another (e.g. the embedded SQLite file into
    /// PostgreSQL), ids kept; row counts are compared at the end. Stop leadbot first.
    MigrateStore {
        /// The source: `sqlite://path/to/leadbot.db` or `postgres://…`.
        #[arg(long)]
        from: String,
        /// The target: `postgres://…` or `sqlite://path`; created and migrated if missing.
        #[arg(long)]
        to: String,
        /// Delete what the target holds first (else a target with any row is refused).
        #[arg(long)]
        replace: bool,
    },
    /// Validate the configuration; prints `file:key: what is wrong` for each problem.
    CheckConfig {
        /// Also check against the connected CRM (e.g. Bitrix24 status ids via crm.status.list).
        #[arg(long)]
        online: bool,
    },
    /// Telegram bot administration.
    Telegram {
        #[command(subcommand)]
        action: TelegramAction,
    },
    /// The generated operator token (when LEADBOT_OPERATOR_TOKEN is not set): `--rotate` makes
    /// a new one and prints it; the old one stops working at the next start.
    OperatorToken {
        #[arg(long)]
        rotate: bool,
    },
    /// Console users: `user add` makes one (the password is read from stdin, one line, or
    /// from LEADBOT_NEW_PASSWORD; never from the command line), `user list` shows them.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// A report for the head of sales over any period (the same numbers as the scheduled
    /// ones): end_of_day, weekly, monthly or channels. Days are in the account's time zone
    /// (robots.toml); the period is [from, to); without them, the current one.
    Report {
        kind: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: Option<String>,
        /// The day after the last one, YYYY-MM-DD.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "json", value_parser = ["json", "csv", "xlsx"])]
        format: String,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read messages one per line on stdin; print the phone numbers found as a JSON array per line.
    Phones {
        /// Default country for numbers without a country code.
        #[arg(long, default_value = "RU")]
        region: String,
        /// Add details about each number.
        #[arg(long)]
        explain: bool,
        /// Print only numbers that can be the client's contact: no toll-free
        /// lines, none introduced as the business's ("ваш …"), no format examples.
        #[arg(long)]
        client: bool,
        /// A number of the business's own, never the client's (repeatable; implies --client).
        #[arg(long, value_name = "NUMBER")]
        exclude: Vec<String>,
        /// Count toll-free (8-800) numbers as the client's (implies --client).
        #[arg(long)]
        toll_free_is_client: bool,
        /// The client's city: 5-7-digit city numbers get its area code (implies --client).
        #[arg(long)]
        city: Option<String>,
        /// Read JSON lines `{"text": …, "previous": […]}` and take numbers as the dialog does.
        #[arg(long)]
        jsonl: bool,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a console user.
    Add {
        username: String,
        /// admin, head (head of sales, with --department) or manager (with --manager-id).
        #[arg(long, default_value = "admin")]
        role: String,
        /// A head's department: the routing group whose leads they see.
        #[arg(long)]
        department: Option<String>,
        /// A manager's id, as in routing.toml.
        #[arg(long)]
        manager_id: Option<String>,
    },
    /// List the console users.
    List,
}

#[derive(Subcommand)]
enum TelegramAction {
    /// Register `{public_url}/webhooks/telegram/{bot}` with the secret token (setWebhook).
    SetWebhook,
}

fn load_config(dir: Option<PathBuf>) -> Result<Config, ExitCode> {
    let dir = dir.or_else(Config::default_dir);
    Config::load(dir.as_deref()).map_err(|issues| {
        eprintln!("{issues}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(format) = &cli.log_format {
        // Read by the logger when it starts; set before any thread exists.
        std::env::set_var("LEADBOT_LOG_FORMAT", format);
    }
    match cli.command {
        Command::Phones {
            region,
            explain,
            client,
            exclude,
            toll_free_is_client,
            city,
            jsonl,
        } => {
            let stdin = io::stdin();
            let stdout = io::stdout();
            let opts = leadbot_phone::CliOptions {
                explain,
                client,
                exclude,
                toll_free_is_client,
                city,
                jsonl,
            };
            match leadbot_phone::run_cli_with(stdin.lock(), BufWriter::new(stdout.lock()), &region, &opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("leadbot phones: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Telegram {
            action: TelegramAction::SetWebhook,
        } => {
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let Some(settings) = config.telegram.clone() else {
                eprintln!("telegram.toml is missing in the config directory");
                return ExitCode::from(2);
            };
            let result = tokio::runtime::Runtime::new()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(async {
                        let token = settings.token.clone().unwrap_or_default();
                        let api =
                            leadbot::channels::telegram::BotApi::new(&settings.api_base, &token, &settings.limits)
                                .map_err(|e| e.to_string())?;
                        leadbot::channels::telegram::set_webhook(&api, &settings).await
                    })
                });
            match result {
                Ok(url) => {
                    println!("webhook set: {url}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("leadbot telegram set-webhook: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::User { action } => {
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(_) => return ExitCode::FAILURE,
            };
            match runtime.block_on(user_command(&config, action)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("leadbot user: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::OperatorToken { rotate } => {
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(_) => return ExitCode::FAILURE,
            };
            let result = runtime.block_on(async {
                let location = config.service.database.location().map_err(anyhow::Error::msg)?;
                // Beside a running service too: the rotation is one write.
                let stores = leadbot::store::Stores::open_beside_service(&location)
                    .await
                    .map_err(|e| anyhow::anyhow!(leadbot::app::store_failure(&location, &e)))?;
                let store = stores.store.clone();
                let name = leadbot::app::OPERATOR_TOKEN;
                if rotate {
                    let token = leadbot::app::new_token();
                    store.replace_generated_secret(name, &token).await?;
                    anyhow::Ok(Some(token))
                } else {
                    Ok(None)
                }
            });
            match result {
                Ok(Some(token)) => {
                    println!("{token}");
                    eprintln!("new operator token stored; restart leadbot for it to take effect");
                    ExitCode::SUCCESS
                }
                Ok(None) => {
                    eprintln!("the operator token is shown once, when generated; use --rotate for a new one");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("operator-token: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig { online } => {
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if let Err(e) = leadbot::app::build_dialog(&config) {
                eprintln!("dialog: {e:#}");
                return ExitCode::from(2);
            }
            if online {
                if let Err(code) = check_online(&config) {
                    return code;
                }
            }
            let from = config
                .source
                .as_ref()
                .map_or("built-in defaults".to_string(), |d| d.display().to_string());
            let todo = config.script.placeholders();
            for (key, what) in &todo {
                eprintln!("dialog.toml: {key}: {what}");
            }
            if todo.is_empty() {
                println!("config OK ({from})");
            } else {
                println!("config OK ({from}), {} placeholder answer(s) to fill in", todo.len());
            }
            ExitCode::SUCCESS
        }
        Command::Report {
            kind,
            from,
            to,
            format,
            output,
        } => {
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let Some(kind) = leadbot::reports::ReportKind::parse(&kind) else {
                eprintln!("leadbot report: unknown report `{kind}` (end_of_day, weekly, monthly, channels)");
                return ExitCode::from(2);
            };
            let format = leadbot::reports::Format::parse(&format).unwrap_or(leadbot::reports::Format::Json);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(_) => return ExitCode::FAILURE,
            };
            match runtime.block_on(report_command(&config, kind, from, to, format)) {
                Ok(bytes) => {
                    let written = match &output {
                        Some(path) => std::fs::write(path, &bytes).with_context(|| path.display().to_string()),
                        None => {
                            use std::io::Write;
                            io::stdout().write_all(&bytes).context("stdout")
                        }
                    };
                    match written {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("leadbot report: {e:#}");
                            ExitCode::FAILURE
                        }
                    }
                }
                Err(ReportCmdError::Period(e)) => {
                    eprintln!("leadbot report: {e}");
                    ExitCode::from(2)
                }
                Err(ReportCmdError::Other(e)) => {
                    eprintln!("leadbot report: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::MigrateStore { from, to, replace } => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(migrate_store(&from, &to, replace)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("leadbot migrate-store: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve | Command::Migrate => {
            leadbot::telemetry::init_tracing();
            let config = match load_config(cli.config) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let result = runtime.block_on(async {
                if matches!(cli.command, Command::Migrate) {
                    let location = config.service.database.location().map_err(anyhow::Error::msg)?;
                    let stores = leadbot::app::open_store(&location, 2).await?;
                    stores.close().await;
                    println!("database is migrated ({location})");
                    return Ok(());
                }
                serve(config).await
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                // Once, on stderr (where the log goes too): a failed start is not logged twice.
                Err(e) => {
                    eprintln!("leadbot: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `check-config --online`: the CRM's own ids exist (offline checks passed already).
fn check_online(config: &Config) -> Result<(), ExitCode> {
    if config.bitrix24.is_none() && config.amocrm.is_none() {
        println!("no CRM connected: nothing to check online");
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|_| ExitCode::FAILURE)?;
    let file_of = |name: &str| {
        config
            .source
            .as_ref()
            .map(|d| d.join(name).display().to_string())
            .unwrap_or_else(|| name.into())
    };
    // The robots' stage and field ids of a CRM, when robots.toml maps that CRM.
    let robots_map = |crm: &str| config.robots.as_ref().and_then(|r| r.crm.get(crm));
    // One CRM's answers: its own file's problems, and robots.toml's when the robots map it.
    type Checked = anyhow::Result<(Vec<String>, Option<anyhow::Result<Vec<String>>>)>;
    fn split(r: Checked) -> (anyhow::Result<Vec<String>>, Option<anyhow::Result<Vec<String>>>) {
        match r {
            Ok((own, robots)) => (Ok(own), robots),
            Err(e) => (Err(e), None),
        }
    }
    let mut failed = false;
    let mut report = |file: String, crm: &str, result: anyhow::Result<Vec<String>>| match result {
        Ok(problems) => {
            for p in &problems {
                eprintln!("{file}:{p}");
            }
            failed |= !problems.is_empty();
        }
        Err(e) => {
            eprintln!("{file}: cannot reach {crm}: {e:#}");
            failed = true;
        }
    };
    if let Some(settings) = config.bitrix24.clone() {
        let result = runtime.block_on(async {
            // The client needs no database for this; a lazy store never connects.
            let location = config.service.database.location().map_err(anyhow::Error::msg)?;
            let stores = leadbot::store::Stores::lazy(&location)?;
            let bx = leadbot::crm::bitrix24::Bitrix24::new(settings, stores.crm.clone())?;
            let robots = match robots_map("bitrix24") {
                Some(map) => Some(bx.check_robot_mapping(map).await.map_err(anyhow::Error::from)),
                None => None,
            };
            anyhow::Ok((bx.check_statuses().await?, robots))
        });
        let (result, robots) = split(result);
        report(file_of(leadbot::config::BITRIX24_FILE), "Bitrix24", result);
        if let Some(r) = robots {
            report(file_of(leadbot::config::ROBOTS_FILE), "Bitrix24", r);
        }
    }
    if let Some(settings) = config.amocrm.clone() {
        let result = runtime.block_on(async {
            // OAuth tokens are in the store (opened lazily); a long-lived token needs none.
            let location = config.service.database.location().map_err(anyhow::Error::msg)?;
            let stores = leadbot::store::Stores::lazy(&location)?;
            let acc = leadbot::crm::amocrm::AmoCrmAccount::new(settings, stores.crm.clone())?;
            let robots = match robots_map("amocrm") {
                Some(map) => Some(acc.check_robot_mapping(map).await.map_err(anyhow::Error::from)),
                None => None,
            };
            anyhow::Ok((acc.check_pipelines().await?, robots))
        });
        let (result, robots) = split(result);
        report(file_of(leadbot::config::AMOCRM_FILE), "amoCRM", result);
        if let Some(r) = robots {
            report(file_of(leadbot::config::ROBOTS_FILE), "amoCRM", r);
        }
    }
    if failed {
        Err(ExitCode::from(2))
    } else {
        Ok(())
    }
}

/// `migrate-store`: opens both stores (the embedded source is locked, so a running leadbot on
/// it is refused), copies with a progress bar, prints the per-table counts.
async fn migrate_store(from: &str, to: &str, replace: bool) -> anyhow::Result<()> {
    use leadbot::store::migrate::{copy, Progress};
    use leadbot::store::Location;
    let from = Location::parse(from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = Location::parse(to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if let Location::Sqlite(p) = &from {
        if !p.is_file() {
            anyhow::bail!("--from: {} does not exist", p.display());
        }
    }
    let source = leadbot::app::open_store(&from, 2).await?;
    let target = leadbot::app::open_store(&to, 2).await?;
    eprintln!("copying {from} → {to}");
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut on_progress = |p: Progress| match p {
        Progress::Total(n) => bar.set_length(n),
        Progress::Table(t) => bar.set_message(t),
        Progress::Rows(n) => bar.inc(n),
    };
    let result = copy(&source.backend, &target.backend, replace, &mut on_progress).await;
    bar.finish_and_clear();
    source.close().await;
    target.close().await;
    let counts = result?;
    let mut total = 0;
    for c in &counts {
        println!("{:<20} {:>10}", c.table, c.target);
        total += c.target;
    }
    println!(
        "{total} rows copied, every table's count matches; start leadbot with DATABASE_URL={}",
        to.url()
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listen = config.service.server.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let running = leadbot::app::start(config, listener).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn user_command(config: &Config, action: UserAction) -> anyhow::Result<()> {
    let location = config.service.database.location().map_err(anyhow::Error::msg)?;
    let stores = leadbot::store::Stores::open_beside_service(&location)
        .await
        .map_err(|e| anyhow::anyhow!(leadbot::app::store_failure(&location, &e)))?;
    let users = stores.users.clone();
    match action {
        UserAction::List => {
            for u in users.list_users().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.username,
                    u.role,
                    u.department.as_deref().unwrap_or("-"),
                    u.manager_id.as_ref().map_or("-", |m| m.as_str())
                );
            }
        }
        UserAction::Add {
            username,
            role,
            department,
            manager_id,
        } => {
            let role: leadbot::domain::Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = match std::env::var("LEADBOT_NEW_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => {
                    eprintln!("password for {username} (one line on stdin):");
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            leadbot::http::auth::check_password(&password).map_err(anyhow::Error::msg)?;
            let hash = leadbot::http::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            let new = leadbot::http::console::new_user_of(
                &username,
                hash,
                role,
                department.as_deref().unwrap_or(""),
                manager_id.as_deref().unwrap_or(""),
            )
            .map_err(anyhow::Error::msg)?;
            match users.create_user(&new).await? {
                Some(u) => eprintln!("console user {} ({}) added", u.username, u.role),
                None => anyhow::bail!("the username `{username}` is taken"),
            }
        }
    }
    stores.close().await;
    Ok(())
}

enum ReportCmdError {
    Period(leadbot::actors::reports::PeriodError),
    Other(anyhow::Error),
}

/// `leadbot report`: the same service the API and the schedule use, on the configured store.
async fn report_command(
    config: &Config,
    kind: leadbot::reports::ReportKind,
    from: Option<String>,
    to: Option<String>,
    format: leadbot::reports::Format,
) -> Result<Vec<u8>, ReportCmdError> {
    let other = |e: anyhow::Error| ReportCmdError::Other(e);
    let location = config
        .service
        .database
        .location()
        .map_err(|e| other(anyhow::anyhow!(e)))?;
    let stores = leadbot::store::Stores::open_beside_service(&location)
        .await
        .map_err(|e| other(anyhow::anyhow!(leadbot::app::store_failure(&location, &e))))?;
    let service = leadbot::actors::reports::ReportService::new(stores.reports.clone(), config, None)
        .with_csat(stores.bookings.clone());
    let now = chrono::Utc::now();
    let period = service
        .period(kind, from.as_deref(), to.as_deref(), now)
        .map_err(ReportCmdError::Period)?;
    let report = service.report(kind, &period, now).await.map_err(|e| other(e.into()))?;
    stores.close().await;
    leadbot::reports::render::render(&report, format).map_err(|e| other(e.into()))
}
