//! Reports for the head of sales end to end: the 19:00 schedule with a controlled clock in
//! Asia/Tashkent across restarts (one report per period and recipient), the running service
//! sending a missed report at start by e-mail (a local SMTP server, the XLSX read back) and
//! Telegram (the fake Bot API, the file uploaded), and the API's CSV / XLSX holding the same
//! cells as its JSON.

mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Timelike, Utc};
use common::fake_telegram::FakeTelegram;
use common::{StoreKind, TestApp, TestDb};
use leadbot::actors::reports::ReportService;
use leadbot::config::{Config, ConfigIssues, ReportsSettings, RobotsSettings, TelegramSettings};
use leadbot::sla::{DealFacts, DealState, StageVisit};
use leadbot::store::{CounterRow, DealCommit, DealRef, Location, Stores, ViolationRow};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn robots_text(tz: &str) -> String {
    format!(
        r#"
time_zone = "{tz}"
[head]
name = "Ольга"
telegram_chat_id = 5550001
email = "rop@example.com"
[managers."bitrix24:7"]
name = "Анна"
email = "anna@example.com"
[managers."bitrix24:9"]
name = "Борис"
[crm.bitrix24.stages]
"Неразобранное" = "NEW"
"Квалификация" = "PREPARATION"
[[robot]]
id = "first_contact_yellow"
on = "entered_stage"
stages = ["Неразобранное"]
after = "15m"
when = {{ no_touch = true }}
actions = ["violation"]
"#
    )
}

fn robots(tz: &str) -> RobotsSettings {
    let text = robots_text(tz);
    let mut issues = ConfigIssues::default();
    let r = RobotsSettings::parse("robots.toml", &text, &mut issues);
    assert!(issues.is_empty(), "{issues}");
    r.unwrap()
}

fn reports(end_of_day_at: &str) -> ReportsSettings {
    toml::from_str(&format!(
        r#"
catch_up = "12h"
[end_of_day]
at = "{end_of_day_at}"
to = ["head", "bitrix24:7"]
"#
    ))
    .unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn deal_state(id: &str, stage: &str, entered: DateTime<Utc>, manager: &str) -> Value {
    let mut st = DealState::new("bitrix24", id);
    st.facts = Some(DealFacts {
        title: format!("Сделка {id}"),
        stage: stage.into(),
        stage_since: None,
        responsible: Some(manager.into()),
        created_at: entered,
        fields: Default::default(),
        tags: Default::default(),
        tasks: vec![],
        comments: 0,
        amount: None,
        modified_at: None,
        crm_required_missing: vec![],
    });
    st.visit = Some(StageVisit {
        stage: stage.into(),
        entry: 1,
        entered_at: entered,
        came_from: None,
    });
    serde_json::to_value(st).unwrap()
}

/// A deal in «Неразобранное» without task or comment, with a violation of Анна's at `at`, and
/// a counter of hers.
async fn seed(stores: &Stores, id: &str, at: DateTime<Utc>) {
    let deal = DealRef::new("bitrix24", id);
    stores
        .deals
        .commit_deal_step(&DealCommit {
            deal: deal.clone(),
            expected_version: 0,
            state: deal_state(id, "Неразобранное", at - chrono::Duration::hours(2), "7"),
            applied_inbox_id: None,
            outbox: vec![],
            timers: vec![],
            violations: vec![ViolationRow {
                key: format!("bitrix24:{id}|yellow"),
                crm: "bitrix24".into(),
                deal_id: id.into(),
                robot: "first_contact_yellow".into(),
                manager: Some("7".into()),
                stage: Some("Неразобранное".into()),
                started_at: at - chrono::Duration::minutes(20),
                due_at: at - chrono::Duration::minutes(5),
                detected_at: at,
            }],
            counters: vec![CounterRow {
                key: format!("bitrix24:{id}|q"),
                crm: "bitrix24".into(),
                deal_id: id.into(),
                counter: "qualification_entered".into(),
                manager: Some("7".into()),
                amount: 1.0,
                at,
            }],
        })
        .await
        .unwrap();
}

async fn open(db: &TestDb) -> Stores {
    Stores::open(&Location::parse(&db.url()).unwrap(), 4).await.unwrap()
}

fn config(tz: &str, end_of_day_at: &str) -> Config {
    let mut c = Config::load(None).unwrap();
    c.robots = Some(robots(tz));
    c.reports = Some(reports(end_of_day_at));
    c
}

/// The report rows waiting in the outbox: (idempotency key, payload).
async fn report_rows(stores: &Stores) -> Vec<(String, Value)> {
    let now = Utc::now();
    let mut rows = stores.store.claim_outbox(now, now, 1000).await.unwrap();
    rows.retain(|r| r.kind == "report");
    rows.into_iter().map(|r| (r.idempotency_key, r.payload)).collect()
}

/// Every sheet of an XLSX file: name → rows of cells as text.
fn sheets(bytes: &[u8]) -> Vec<(String, Vec<Vec<String>>)> {
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes.to_vec())).expect("the XLSX opens");
    let names = wb.sheet_names().to_vec();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            let rows = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| match c {
                            Data::Empty => String::new(),
                            Data::Float(f) => f.to_string(),
                            Data::Int(i) => i.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect();
            (n, rows)
        })
        .collect()
}

fn sheet<'a>(all: &'a [(String, Vec<Vec<String>>)], name: &str) -> &'a [Vec<String>] {
    &all.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no sheet {name}"))
        .1
}

async fn the_19_00_report_goes_out_once_across_restarts(kind: StoreKind) {
    let db = TestDb::fresh(kind);
    let cfg = config("Asia/Tashkent", "19:00");
    // 02.12.2026 in Tashkent (UTC+5): 19:00 is 14:00 UTC.
    let stores = open(&db).await;
    seed(&stores, "301", t("2026-12-02T09:00:00Z")).await;
    let svc = ReportService::new(stores.reports.clone(), &cfg, None);
    // 18:59:59: not yet (yesterday's 19:00 is past the catch-up window).
    assert!(svc.tick(t("2026-12-02T13:59:59Z")).await.unwrap().is_empty());
    drop(svc);
    stores.close().await;

    // Restarted; the clock reaches 19:00.
    let stores = open(&db).await;
    let svc = ReportService::new(stores.reports.clone(), &cfg, None);
    let sent = svc.tick(t("2026-12-02T14:00:00Z")).await.unwrap();
    assert_eq!(
        sent,
        vec![
            "end_of_day|2026-12-02|head|tg",
            "end_of_day|2026-12-02|head|mail",
            "end_of_day|2026-12-02|bitrix24:7|mail",
        ]
    );
    assert!(svc.tick(t("2026-12-02T14:00:30Z")).await.unwrap().is_empty());
    drop(svc);
    stores.close().await;

    // Another restart later that evening: nothing again.
    let stores = open(&db).await;
    let svc = ReportService::new(stores.reports.clone(), &cfg, None);
    assert!(svc.tick(t("2026-12-02T14:05:00Z")).await.unwrap().is_empty());
    let rows = report_rows(&stores).await;
    assert_eq!(rows.len(), 3);
    let (_, mail) = rows
        .iter()
        .find(|(k, _)| k == "report:end_of_day|2026-12-02|head|mail")
        .unwrap();
    assert_eq!(mail["to"], "rop@example.com");
    assert_eq!(mail["subject"], "Отчёт на конец дня · 02.12.2026");
    assert_eq!(mail["file_name"], "end_of_day-2026-12-02.xlsx");
    let file = base64::engine::general_purpose::STANDARD
        .decode(mail["file"].as_str().unwrap())
        .unwrap();
    let all = sheets(&file);
    let v = sheet(&all, "Нарушения");
    assert_eq!(v[0], ["Менеджер", "Нарушение", "Количество"]);
    assert_eq!(v[1], ["Анна", "Первый контакт > 15 мин («Неразобранное»)", "1"]);
    assert_eq!(sheet(&all, "Без задачи")[1][2], "301");
    assert!(mail["html"]
        .as_str()
        .unwrap()
        .contains("Нарушения за день по менеджерам"));

    // The next day's report: the service was down at 19:00 and starts at 21:00 (2 h late,
    // within the catch-up window): it goes out at start, once.
    seed(&stores, "302", t("2026-12-03T10:00:00Z")).await;
    drop(svc);
    stores.close().await;
    let stores = open(&db).await;
    let svc = ReportService::new(stores.reports.clone(), &cfg, None);
    let sent = svc.tick(t("2026-12-03T16:00:00Z")).await.unwrap();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|k| k.starts_with("end_of_day|2026-12-03|")), "{sent:?}");
    assert!(svc.tick(t("2026-12-03T16:00:01Z")).await.unwrap().is_empty());
    assert_eq!(report_rows(&stores).await.len(), 6);
    stores.close().await;
    db.drop_db().await;
}

fn smtp_settings(port: u16) -> leadbot::config::SmtpSettings {
    leadbot::config::SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: leadbot::config::SmtpSecurity::None,
        from: "leadbot <robot@example.com>".into(),
        username: None,
        password: None,
    }
}

fn telegram(fake: &FakeTelegram) -> TelegramSettings {
    let mut s: TelegramSettings = toml::from_str(&format!(
        "bot = \"leadbot_test_bot\"\napi_base = \"{}\"\n[limits]\nper_chat_per_sec = 20.0\nglobal_per_sec = 100.0\ngroup_per_min = 600.0\n",
        fake.base
    ))
    .unwrap();
    s.token = Some(common::fake_telegram::TOKEN.into());
    s.webhook_secret = Some("s3cr3t-s3cr3t".into());
    s
}

async fn wait_until<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attachment of a mail: (file name, bytes).
fn attachment(data: &str) -> (String, Vec<u8>, String) {
    let parsed = mailparse::parse_mail(data.as_bytes()).unwrap();
    let mut html = String::new();
    let mut file = None;
    for part in &parsed.subparts {
        let disp = part.get_content_disposition();
        if disp.disposition == mailparse::DispositionType::Attachment {
            let name = disp.params.get("filename").cloned().unwrap_or_default();
            file = Some((name, part.get_body_raw().unwrap()));
        } else if part.ctype.mimetype == "text/html" {
            html = part.get_body().unwrap();
        }
    }
    let (name, bytes) = file.expect("an attachment");
    (name, bytes, html)
}

async fn a_missed_report_is_sent_at_start_by_email_and_telegram_once(kind: StoreKind) {
    let db = TestDb::fresh(kind);
    let tz: chrono_tz::Tz = "Asia/Tashkent".parse().unwrap();
    // The end-of-day time a minute ago: the service "was down" then, and is starting now.
    let occurrence = (Utc::now() - chrono::Duration::seconds(60))
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let at = occurrence.with_timezone(&tz).format("%H:%M").to_string();
    let stores = open(&db).await;
    seed(&stores, "401", occurrence).await;
    stores.close().await;

    let smtp = common::smtp::SmtpSink::start().await;
    // The SMTP server refuses the first message: the outbox retries it.
    smtp.refuse_next.store(1, std::sync::atomic::Ordering::SeqCst);
    let fake = FakeTelegram::start().await;
    let (port, tg, at2) = (smtp.port, telegram(&fake), at.clone());
    let tweak = move |c: &mut Config| {
        c.robots = Some(robots("Asia/Tashkent"));
        c.reports = Some(reports(&at2));
        c.telegram = Some(tg);
        c.service.notify.smtp = Some(smtp_settings(port));
    };
    let mut app = TestApp::spawn_on(db.clone(), tweak.clone()).await;
    let mails = wait_until("two e-mails (head and Анна)", WAIT, || {
        let m = smtp.mails();
        (m.len() == 2).then_some(m)
    })
    .await;
    let to: Vec<String> = mails.iter().map(|m| m.to.join(",")).collect();
    assert!(to.contains(&"<rop@example.com>".to_string()), "{to:?}");
    assert!(to.contains(&"<anna@example.com>".to_string()), "{to:?}");
    let (name, bytes, html) = attachment(&mails[0].data);
    let day = occurrence.with_timezone(&tz).date_naive();
    assert_eq!(name, format!("end_of_day-{}.xlsx", day.format("%Y-%m-%d")));
    assert!(html.contains("Отчёт на конец дня"), "{html}");
    let all = sheets(&bytes);
    assert_eq!(
        sheet(&all, "Нарушения")[1],
        ["Анна", "Первый контакт > 15 мин («Неразобранное»)", "1"]
    );
    assert_eq!(sheet(&all, "Неразобранное")[1][2], "401");
    let doc = wait_until("the file in Telegram", WAIT, || fake.documents().pop()).await;
    assert_eq!(doc.chat_id, 5550001);
    assert_eq!(doc.file_name, name);
    assert!(doc.caption.starts_with("Отчёт на конец дня"), "{}", doc.caption);
    assert!(doc.caption.contains("Нарушений за день: 1"), "{}", doc.caption);
    assert_eq!(sheet(&sheets(&doc.bytes), "Нарушения").len(), 2);

    // Restarted: the period's report is not sent again.
    app.shutdown().await;
    let app = TestApp::spawn_on(db.clone(), tweak).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(smtp.mails().len(), 2);
    assert_eq!(fake.documents().len(), 1);
    app.stop().await;
}

/// The CSV's tables (separated by an empty line): (title, header, rows).
fn csv_tables(text: &str) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut blocks = text.split("\r\n\r\n").filter(|b| !b.trim().is_empty());
    // The first block is the report's title line.
    blocks.next();
    blocks
        .map(|b| {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(b.as_bytes());
            let mut records: Vec<Vec<String>> = r
                .records()
                .map(|x| x.unwrap().iter().map(str::to_string).collect())
                .collect();
            let rows = records.split_off(2);
            (records[0][0].clone(), records[1].clone(), rows)
        })
        .collect()
}

fn json_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().unwrap().to_string(),
        other => other.to_string(),
    }
}

async fn get_bytes(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = app.http.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, resp.bytes().await.unwrap().to_vec())
}

async fn csv_and_xlsx_from_the_api_equal_the_json(kind: StoreKind) {
    let db = TestDb::fresh(kind);
    let stores = open(&db).await;
    // Monday 30.11.2026 10:00 in Moscow, and Sunday 06.12 23:30 (still the week there).
    seed(&stores, "501", t("2026-11-30T07:00:00Z")).await;
    seed(&stores, "502", t("2026-12-06T20:30:00Z")).await;
    // Sunday 29.11 23:30 in Moscow: the week before.
    seed(&stores, "503", t("2026-11-29T20:30:00Z")).await;
    stores.close().await;
    let app = TestApp::spawn_on(db.clone(), |c| {
        c.robots = Some(robots("Europe/Moscow"));
    })
    .await;
    let token = common::TEST_OPERATOR_TOKEN;
    let q = "/api/v1/reports/weekly?from=2026-11-30&to=2026-12-07";
    let (status, ct, body) = get_bytes(&app, q, Some(token)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(ct.starts_with("application/json"));
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["period"], "30.11.2026 – 06.12.2026");
    assert_eq!(json["time_zone"], "Europe/Moscow");
    let sections = json["sections"].as_array().unwrap();
    let conv = sections.iter().find(|s| s["id"] == "conversion").unwrap();
    // Анна: two deals entered qualification this week (the third was the week before).
    assert_eq!(conv["rows"][0], json!(["Анна", 2, 0, 0.0, "Да"]));

    let (status, ct, body) = get_bytes(&app, &format!("{q}&format=csv"), Some(token)).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"));
    let tables = csv_tables(&String::from_utf8(body).unwrap());
    assert_eq!(tables.len(), sections.len());
    for (s, (title, header, rows)) in sections.iter().zip(&tables) {
        assert_eq!(title, s["title"].as_str().unwrap());
        let cols: Vec<String> = s["columns"].as_array().unwrap().iter().map(json_cell).collect();
        assert_eq!(header, &cols);
        let want: Vec<Vec<String>> = s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(json_cell).collect())
            .collect();
        assert_eq!(rows, &want, "{title}");
    }

    let (status, ct, body) = get_bytes(&app, &format!("{q}&format=xlsx"), Some(token)).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/vnd.openxmlformats"));
    let all = sheets(&body);
    assert_eq!(all.len(), sections.len());
    for (s, (_, rows)) in sections.iter().zip(&all) {
        let cols: Vec<String> = s["columns"].as_array().unwrap().iter().map(json_cell).collect();
        assert_eq!(rows[0], cols);
        let want: Vec<Vec<String>> = s["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(json_cell).collect())
            .collect();
        // calamine drops trailing empty cells of a row.
        let got: Vec<Vec<String>> = rows[1..]
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.resize(cols.len(), String::new());
                r
            })
            .collect();
        assert_eq!(got, want, "{}", s["title"]);
    }

    // Bad requests say what is wrong; nothing answers anonymously.
    for bad in [
        "/api/v1/reports/yearly",
        "/api/v1/reports/weekly?format=pdf",
        "/api/v1/reports/weekly?from=2026-13-01",
        "/api/v1/reports/weekly?from=2026-12-07&to=2026-11-30",
        "/api/v1/reports/weekly?from=2024-01-01&to=2026-01-01",
        "/api/v1/reports/weekly?unknown=1",
        "/api/v1/reports/weekly?from=262142-12-30",
        "/api/v1/reports/monthly?to=0000-01-01",
    ] {
        let (status, _, body) = get_bytes(&app, bad, Some(token)).await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{bad}");
    }
    let (status, _, _) = get_bytes(&app, q, None).await;
    assert_eq!(status, 401);

    // `leadbot report` on the same store: the same tables.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("robots.toml"), robots_text("Europe/Moscow")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .args(["--config", dir.path().to_str().unwrap(), "report", "weekly"])
        .args(["--from", "2026-11-30", "--to", "2026-12-07", "--format", "json"])
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli["sections"], json["sections"]);
    assert_eq!(cli["alerts"], json["alerts"]);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .args([
            "--config",
            dir.path().to_str().unwrap(),
            "report",
            "weekly",
            "--from",
            "30.11.2026",
        ])
        .env("DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("30.11.2026"));
    // The route is in the OpenAPI document.
    let (_, doc) = app.get("/api/openapi.json").await;
    assert!(doc["paths"]["/api/v1/reports/{kind}"]["get"].is_object());
    app.stop().await;
}

/// The per-channel gauges: computed at start (and every minute) from today's leads.
#[tokio::test]
async fn per_channel_figures_are_metrics() {
    let db = TestDb::fresh(StoreKind::Sqlite);
    let mut app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let (lead, _) = app.new_lead("metrics-1", Some("Здравствуйте, сколько стоит?")).await;
    app.say(lead, "мой номер +7 916 123-45-67").await;
    let status = app.lead(lead).await["status"].as_str().unwrap().to_string();
    let handed = if ["queued", "assigned", "closed"].contains(&status.as_str()) {
        1.0
    } else {
        0.0
    };
    app.shutdown().await;
    let app = TestApp::spawn_on(db.clone(), |_| {}).await;
    let start = Instant::now();
    loop {
        let m = app.metrics().await;
        if m.value("leadbot_channel_leads", &[("channel", "webchat")]) == 1.0 {
            assert_eq!(m.value("leadbot_channel_phone_ratio", &[("channel", "webchat")]), 1.0);
            assert_eq!(
                m.value("leadbot_channel_handed_ratio", &[("channel", "webchat")]),
                handed,
                "{status}"
            );
            assert!(
                m.value(
                    "leadbot_channel_time_to_phone_median_seconds",
                    &[("channel", "webchat")]
                ) >= 0.0
            );
            assert!(m.value("leadbot_channel_reply_sla_ratio", &[("channel", "webchat")]) > 0.0);
            break;
        }
        assert!(start.elapsed() < WAIT, "no per-channel gauges: {}", m.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

on_both_stores!(
    the_19_00_report_goes_out_once_across_restarts,
    a_missed_report_is_sent_at_start_by_email_and_telegram_once,
    csv_and_xlsx_from_the_api_equal_the_json,
);

#[allow(dead_code)]
fn unused(_: Arc<()>) {}
