//! The console and the operator API's roles, through the HTTP surface a browser and a script
//! use: closed by default (the one-time setup link makes the first admin), sign-in with an
//! argon2-checked password into a server-side session (HttpOnly, SameSite=Strict, Secure when
//! configured), CSRF on every form, API tokens acting with their user's role, and a manager
//! who cannot open another manager's lead (403), in both the console and the API.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, StoreKind, TestApp};
use leadbot::domain::{ManagerId, Role};
use leadbot::http::auth::{hash_password, token_hash};
use leadbot::store::NewUser;
use reqwest::redirect::Policy;
use serde_json::Value;

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
}

async fn add_user(app: &TestApp, name: &str, role: Role, department: Option<&str>, manager: Option<&str>) -> i64 {
    let users = app.running.as_ref().unwrap().stores.users.clone();
    users
        .create_user(&NewUser {
            username: name.into(),
            password_hash: hash_password(&format!("{name}-password")).unwrap(),
            role,
            department: department.map(str::to_string),
            manager_id: manager.map(|m| ManagerId::parse(m).unwrap()),
        })
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Signs in through the login form; the session cookie (`name=value`) and its attributes.
async fn login(app: &TestApp, name: &str) -> (String, String) {
    let resp = browser()
        .post(format!("{}/console/login", app.base))
        .form(&[("username", name), ("password", &format!("{name}-password"))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in of {name}");
    assert_eq!(resp.headers()["location"], "/console");
    let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    let pair = set.split(';').next().unwrap().to_string();
    (pair, set)
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let resp = browser()
        .get(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let resp = browser()
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The CSRF token a console page carries in its forms.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// Two leads with phones: round robin gives one to manager 1 and one to manager 2.
async fn two_assigned_leads(app: &TestApp) -> (i64, i64) {
    let mut by_manager = std::collections::HashMap::new();
    for (ext, phone) in [("c1", "+7 918 123-45-67"), ("c2", "+7 918 765-43-21")] {
        let (id, _) = app.new_lead(ext, None).await;
        app.say(id, &format!("мой номер {phone}")).await;
        let lead = app
            .wait_for(id, Duration::from_secs(10), |l| l["status"] == "assigned")
            .await;
        by_manager.insert(lead["manager_id"].as_str().unwrap().to_string(), id);
    }
    (by_manager["1"], by_manager["2"])
}

async fn api(app: &TestApp, token: Option<&str>, method: &str, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", app.base);
    let mut req = match method {
        "GET" => app.http.get(url),
        _ => app.http.post(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    (code, resp.json().await.unwrap_or(Value::Null))
}

async fn roles_in_the_api_and_the_console(kind: StoreKind) {
    let app = TestApp::spawn_in_with(kind, |c| c.service.server.secure_cookies = true).await;
    let (mine, theirs) = two_assigned_leads(&app).await;
    let manager = add_user(&app, "anna", Role::Manager, None, Some("1")).await;
    add_user(&app, "head", Role::Head, Some("sales"), None).await;
    add_user(&app, "boss", Role::Admin, None, None).await;

    // The operator API never answers anonymously.
    assert_eq!(api(&app, None, "GET", "/api/v1/leads").await.0, 401);
    assert_eq!(
        api(&app, Some("wrong"), "GET", &format!("/api/v1/leads/{mine}"))
            .await
            .0,
        401
    );

    // An API token acts with its user's role: the manager's own lead, not the other's.
    let users = app.running.as_ref().unwrap().stores.users.clone();
    let token = "manager-anna-api-token-0123456789";
    users
        .create_api_token(manager, "script", &token_hash(token))
        .await
        .unwrap();
    assert_eq!(
        api(&app, Some(token), "GET", &format!("/api/v1/leads/{mine}")).await.0,
        200
    );
    let (code, body) = api(&app, Some(token), "GET", &format!("/api/v1/leads/{theirs}")).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        api(&app, Some(token), "POST", &format!("/api/v1/leads/{theirs}/close"))
            .await
            .0,
        403
    );
    assert_eq!(
        api(&app, Some(token), "POST", &format!("/api/v1/leads/{theirs}/restart"))
            .await
            .0,
        403
    );
    let (code, list) = api(&app, Some(token), "GET", "/api/v1/leads").await;
    assert_eq!(code, 200);
    let ids: Vec<i64> = list["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine]);
    // Settings are the admin's; the managers list shows only themselves.
    assert_eq!(api(&app, Some(token), "GET", "/api/v1/channels").await.0, 403);
    let (_, managers) = api(&app, Some(token), "GET", "/api/v1/managers").await;
    let shown: Vec<&str> = managers["managers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["1"]);
    assert_eq!(api(&app, Some(token), "POST", "/api/v1/managers/2/pause").await.0, 403);
    // The operator token stays the admin.
    let op = common::TEST_OPERATOR_TOKEN;
    assert_eq!(api(&app, Some(op), "GET", "/api/v1/channels").await.0, 200);
    assert_eq!(
        api(&app, Some(op), "GET", &format!("/api/v1/leads/{theirs}")).await.0,
        200
    );

    // The console: no session, the sign-in page; a wrong password, 401 and no cookie.
    let resp = browser().get(format!("{}/console", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/console/login");
    let resp = browser()
        .post(format!("{}/console/login", app.base))
        .form(&[("username", "anna"), ("password", "not her password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("set-cookie").is_none());

    let (anna, attrs) = login(&app, "anna").await;
    for a in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
        assert!(attrs.contains(a), "{attrs}");
    }
    let (code, html) = get(&app, &anna, "/console").await;
    assert_eq!(code, 200);
    assert!(html.contains(&format!("href=\"/console/leads/{mine}\"")), "{html}");
    assert!(!html.contains(&format!("href=\"/console/leads/{theirs}\"")), "{html}");
    assert_eq!(get(&app, &anna, &format!("/console/leads/{mine}")).await.0, 200);
    let (code, page) = get(&app, &anna, &format!("/console/leads/{theirs}")).await;
    assert_eq!(code, 403, "{page}");
    assert_eq!(
        get(&app, &anna, &format!("/console/leads/{theirs}/fragment")).await.0,
        403
    );

    // Forms need the session's CSRF token.
    let (_, page) = get(&app, &anna, &format!("/console/leads/{mine}")).await;
    let csrf = csrf_of(&page);
    assert_eq!(
        post_form(&app, &anna, &format!("/console/leads/{mine}/accept"), &[])
            .await
            .0,
        403
    );
    assert_eq!(
        post_form(
            &app,
            &anna,
            &format!("/console/leads/{mine}/accept"),
            &[("csrf", "forged")]
        )
        .await
        .0,
        403
    );
    assert_eq!(
        post_form(
            &app,
            &anna,
            &format!("/console/leads/{theirs}/close"),
            &[("csrf", &csrf)]
        )
        .await
        .0,
        403
    );
    let (code, _) = post_form(
        &app,
        &anna,
        &format!("/console/leads/{mine}/accept"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(code, 303);
    let (code, _) = post_form(&app, &anna, &format!("/console/leads/{mine}/close"), &[("csrf", &csrf)]).await;
    assert_eq!(code, 303);
    app.wait_for(mine, Duration::from_secs(10), |l| l["status"] == "closed")
        .await;
    assert_eq!(app.lead(theirs).await["status"], "assigned");

    // The head sees the department; the admin manages users, the manager does not.
    let (head, _) = login(&app, "head").await;
    let (_, html) = get(&app, &head, "/console").await;
    assert!(html.contains(&format!("href=\"/console/leads/{theirs}\"")));
    assert!(html.contains(&format!("href=\"/console/leads/{mine}\"")));
    let (_, page) = get(&app, &anna, "/console/users").await;
    let csrf = csrf_of(&page);
    let new = [
        ("csrf", csrf.as_str()),
        ("username", "igor"),
        ("password", "igor-password"),
        ("role", "manager"),
        ("manager_id", "2"),
    ];
    assert_eq!(post_form(&app, &anna, "/console/users", &new).await.0, 403);
    let (boss, _) = login(&app, "boss").await;
    let (_, page) = get(&app, &boss, "/console/users").await;
    let mut new = new;
    new[0].1 = &csrf_of(&page).leak()[..];
    assert_eq!(post_form(&app, &boss, "/console/users", &new).await.0, 303);
    let (igor, _) = login(&app, "igor").await;
    assert_eq!(get(&app, &igor, &format!("/console/leads/{theirs}")).await.0, 200);
    assert_eq!(get(&app, &igor, &format!("/console/leads/{mine}")).await.0, 403);

    // Managers: a manager pauses themselves, not another.
    let (_, page) = get(&app, &anna, "/console/managers").await;
    assert!(page.contains("data-manager=\"1\"") && !page.contains("data-manager=\"2\""));
    let csrf = csrf_of(&page);
    assert_eq!(
        post_form(&app, &anna, "/console/managers/2/pause", &[("csrf", &csrf)])
            .await
            .0,
        403
    );
    assert_eq!(
        post_form(&app, &anna, "/console/managers/1/pause", &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let (_, managers) = api(&app, Some(op), "GET", "/api/v1/managers").await;
    let one = managers["managers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "1")
        .unwrap()
        .clone();
    assert_eq!(one["paused"], true);

    // An API token made in the console works at once and is shown once.
    let (_, page) = get(&app, &anna, "/console/users").await;
    let csrf = csrf_of(&page);
    let (code, page) = post_form(
        &app,
        &anna,
        "/console/tokens",
        &[("csrf", &csrf), ("name", "crm robot")],
    )
    .await;
    assert_eq!(code, 200);
    let at = page.find("id=\"new-token\">").unwrap() + 15;
    let made = page[at..].split('<').next().unwrap().to_string();
    assert_eq!(api(&app, Some(&made), "GET", "/api/v1/leads").await.0, 200);

    // Signing out ends the session on the server.
    let (_, page) = get(&app, &anna, "/console").await;
    let csrf = csrf_of(&page);
    assert_eq!(
        post_form(&app, &anna, "/console/logout", &[("csrf", &csrf)]).await.0,
        303
    );
    assert_eq!(get(&app, &anna, "/console").await.0, 303);
    app.stop().await;
}

#[tokio::test]
async fn roles_in_the_api_and_the_console_on_sqlite() {
    roles_in_the_api_and_the_console(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn roles_in_the_api_and_the_console_on_postgres() {
    roles_in_the_api_and_the_console(StoreKind::Postgres).await;
}

/// Stuck leads (a parked one, one the bot holds past the no-answer window) are listed first,
/// the longest stuck on top, and the lead's page says why; the bot's one restarts.
#[tokio::test]
async fn stuck_leads_come_first() {
    let app = TestApp::spawn_in(StoreKind::Sqlite).await;
    let (calm, _) = app.new_lead("calm", Some("здравствуйте")).await;
    let (stuck, _) = app.new_lead("stuck", Some("здравствуйте")).await;
    let (silent, _) = app.new_lead("silent", Some("здравствуйте")).await;
    let (newest, _) = app.new_lead("newest", Some("здравствуйте")).await;
    app.wait_for(silent, Duration::from_secs(10), |l| l["status"] == "bot_processing")
        .await;
    // The bot has held `silent` for a day with no answer (its last change a day ago).
    app.raw()
        .exec(
            "UPDATE leads SET updated_at = updated_at - 86400000000 WHERE id = $1",
            &[silent],
        )
        .await;
    app.running
        .as_ref()
        .unwrap()
        .stores
        .store
        .park_lead(leadbot::domain::LeadId(stuck), "crash loop")
        .await
        .unwrap();
    add_user(&app, "boss", Role::Admin, None, None).await;
    let (boss, _) = login(&app, "boss").await;
    let (code, html) = get(&app, &boss, "/console").await;
    assert_eq!(code, 200);
    let pos = |id: i64| html.find(&format!("href=\"/console/leads/{id}\"")).unwrap();
    assert!(pos(silent) < pos(stuck), "the longest stuck first: {html}");
    assert!(pos(stuck) < pos(newest) && pos(newest) < pos(calm), "{html}");
    assert!(html.contains("бот ведёт 1day без ответа"), "{html}");
    let (_, only) = get(&app, &boss, "/console?status=stuck").await;
    assert!(only.contains(&format!("/console/leads/{stuck}\"")) && !only.contains(&format!("/console/leads/{calm}\"")));
    let (_, page) = get(&app, &boss, &format!("/console/leads/{stuck}")).await;
    assert!(page.contains("crash loop"), "{page}");
    // Restart from the console: the lead's actor comes back.
    let csrf = csrf_of(&page);
    let (code, page) = post_form(
        &app,
        &boss,
        &format!("/console/leads/{silent}/restart"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(code, 303, "{page}");
    let (_, page) = get(&app, &boss, &format!("/console/leads/{silent}")).await;
    assert!(page.contains("работает"), "{page}");
    // Filters: channel, phone, age.
    let (_, none) = get(&app, &boss, "/console?channel=telegram").await;
    assert!(none.contains("Лидов: 0"), "{none}");
    let (_, old) = get(&app, &boss, "/console?age=60").await;
    assert!(old.contains("Лидов: 0"), "{old}");
    assert_eq!(get(&app, &boss, "/console?age=abc").await.0, 400);
    app.stop().await;
}

/// Closed by default, through the real binary: the first start prints a one-time setup link
/// (never a password), the link makes the first admin and signs them in, and works once.
#[tokio::test]
async fn the_first_start_prints_a_one_time_setup_link() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .env_remove("LEADBOT_OPERATOR_TOKEN")
        .env("RUST_LOG", "info")
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("/console/setup?token=") {
                let _ = tx.send(line[at..].trim().to_string());
            }
        }
    });
    let link = rx.recv_timeout(Duration::from_secs(30)).expect("a setup link");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{base}/readyz")).await.is_err() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = link.split("token=").nth(1).unwrap().to_string();
    // Anonymous: the console sends to sign-in, the API says 401, a wrong token is refused.
    assert_eq!(
        browser().get(format!("{base}/console")).send().await.unwrap().status(),
        303
    );
    assert_eq!(
        reqwest::get(format!("{base}/api/v1/leads")).await.unwrap().status(),
        401
    );
    let wrong = browser()
        .get(format!("{base}/console/setup?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let form = browser().get(format!("{base}{link}")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    // A short password is refused with the reason; a good one makes the admin.
    let short = browser()
        .post(format!("{base}/console/setup"))
        .form(&[("token", token.as_str()), ("username", "admin"), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status(), 422);
    let made = browser()
        .post(format!("{base}/console/setup"))
        .form(&[
            ("token", token.as_str()),
            ("username", "admin"),
            ("password", "a long admin password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 303);
    let cookie = made.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let console = browser()
        .get(format!("{base}/console"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(console.status(), 200);
    // Once only.
    let again = browser()
        .post(format!("{base}/console/setup"))
        .form(&[
            ("token", token.as_str()),
            ("username", "eve"),
            ("password", "another long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);
    let _ = child.kill();
    let _ = child.wait();

    // `leadbot user add` beside the stopped service adds a manager; the password comes
    // from the environment, never the command line.
    let out = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .env("LEADBOT_NEW_PASSWORD", "manager password 1")
        .args(["user", "add", "anna", "--role", "manager", "--manager-id", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .args(["user", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("admin\tadmin") && listed.contains("anna\tmanager\t-\t1"),
        "{listed}"
    );
    let refused = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .env("LEADBOT_NEW_PASSWORD", "manager password 1")
        .args(["user", "add", "olga", "--role", "manager"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("manager id"));
}

/// Signs a console user in and returns the cookie and a page's CSRF token.
async fn session_on(app: &TestApp, name: &str, page: &str) -> (String, String) {
    let (cookie, _) = login(app, name).await;
    let (_, html) = get(app, &cookie, page).await;
    (cookie.clone(), csrf_of(&html))
}

/// Take over on the web chat: the bot stops answering, the person's reply reaches the
/// client's side (its transcript, which the web chat shows) with who wrote it.
#[tokio::test]
async fn a_taken_over_web_chat_hears_the_person_not_the_bot() {
    let app = TestApp::spawn_in(StoreKind::Sqlite).await;
    let (lead, _) = app.new_lead("web-1", Some("здравствуйте, есть доставка?")).await;
    app.wait_for(lead, Duration::from_secs(10), |l| l["status"] == "bot_processing")
        .await;
    add_user(&app, "boss", Role::Admin, None, None).await;
    let page = format!("/console/leads/{lead}");
    let (boss, csrf) = session_on(&app, "boss", &page).await;
    // Before taking over, a reply is refused (the bot holds the conversation).
    let (code, _) = post_form(
        &app,
        &boss,
        &format!("{page}/reply"),
        &[("csrf", &csrf), ("text", "рано")],
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(
        post_form(&app, &boss, &format!("{page}/takeover"), &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let (_, html) = get(&app, &boss, &page).await;
    assert!(html.contains("Разговор ведёт boss"), "{html}");
    let timers = app.lead(lead).await["timers"].as_array().unwrap().len();
    assert_eq!(timers, 0, "the bot's clocks stop");

    // The client writes: no bot answer.
    let replies = app.say(lead, "алло, вы тут?").await;
    assert!(replies.is_empty(), "the bot stays silent: {replies:?}");
    let (code, _) = post_form(
        &app,
        &boss,
        &format!("{page}/reply"),
        &[("csrf", &csrf), ("text", "Да, доставляем по городу бесплатно")],
    )
    .await;
    assert_eq!(code, 303);
    let (_, t) = app.get(&format!("/api/v1/leads/{lead}/transcript")).await;
    let lines = t["transcript"].as_array().unwrap();
    let last = lines.last().unwrap();
    assert_eq!(last["text"], "Да, доставляем по городу бесплатно");
    assert_eq!(last["direction"], "out");
    assert_eq!(last["author"], "boss");
    assert!(
        lines
            .iter()
            .filter(|l| l["direction"] == "out")
            .any(|l| l.get("author").is_none()),
        "the bot's lines have no author"
    );
    let (_, html) = get(&app, &boss, &page).await;
    assert!(html.contains("<span class=\"who\">boss</span>"), "{html}");

    // Low quality ends it; nothing more goes out.
    assert_eq!(
        post_form(&app, &boss, &format!("{page}/low-quality"), &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let l = app
        .wait_for(lead, Duration::from_secs(10), |l| l["status"] == "low_quality")
        .await;
    assert_eq!(l["reason"], "marked_by_operator");
    app.stop().await;
}

/// Take over on Telegram: the person's reply goes out through the Bot API to the client's chat.
#[tokio::test]
async fn a_taken_over_telegram_chat_gets_the_persons_reply() {
    use common::fake_telegram::{FakeTelegram, TOKEN};
    const CLIENT: i64 = 123456789;
    let fake = FakeTelegram::start().await;
    let mut tg: leadbot::config::TelegramSettings = toml::from_str(&format!(
        "bot = \"lead_demo_bot\"\napi_base = \"{}\"\n[limits]\nper_chat_per_sec = 20.0\nglobal_per_sec = 100.0\ngroup_per_min = 600.0\n",
        fake.base
    ))
    .unwrap();
    tg.token = Some(TOKEN.into());
    tg.webhook_secret = Some("5f0c2d1e_example-secret".into());
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, move |c| c.telegram = Some(tg)).await;
    let mut update: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/fixtures/telegram/update_message_private_text.teloxide.json").unwrap(),
    )
    .unwrap();
    update["update_id"] = 1.into();
    update["message"]["text"] = "Здравствуйте, сколько стоит доставка?".into();
    update["message"]["from"]["id"] = CLIENT.into();
    update["message"]["chat"]["id"] = CLIENT.into();
    let code = app
        .http
        .post(format!("{}/webhooks/telegram/lead_demo_bot", app.base))
        .header("X-Telegram-Bot-Api-Secret-Token", "5f0c2d1e_example-secret")
        .json(&update)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(code, 200);
    let sent = |fake: &FakeTelegram| -> Vec<String> {
        fake.calls("sendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"] == CLIENT)
            .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let lead = loop {
        let (_, list) = app.get("/api/v1/leads").await;
        let found = list["leads"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["source"] == "telegram").cloned());
        if let Some(l) = found.filter(|_| !sent(&fake).is_empty()) {
            break l["id"].as_i64().unwrap();
        }
        assert!(Instant::now() < deadline, "no telegram lead");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    add_user(&app, "boss", Role::Admin, None, None).await;
    let page = format!("/console/leads/{lead}");
    let (boss, csrf) = session_on(&app, "boss", &page).await;
    assert_eq!(
        post_form(&app, &boss, &format!("{page}/takeover"), &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let (code, _) = post_form(
        &app,
        &boss,
        &format!("{page}/reply"),
        &[("csrf", &csrf), ("text", "Добрый день! Доставка 300 ₽")],
    )
    .await;
    assert_eq!(code, 303);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sent(&fake).iter().any(|t| t == "Добрый день! Доставка 300 ₽") {
        assert!(
            Instant::now() < deadline,
            "the reply never reached Telegram: {:?}",
            sent(&fake)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

/// Reassign from the console: the lead goes to the other manager of the group.
#[tokio::test]
async fn a_reassigned_lead_goes_to_the_next_manager() {
    let app = TestApp::spawn_in(StoreKind::Sqlite).await;
    let (lead, _) = app.new_lead("r1", None).await;
    app.say(lead, "мой номер +7 918 123-45-67").await;
    let first = app
        .wait_for(lead, Duration::from_secs(10), |l| l["status"] == "assigned")
        .await["manager_id"]
        .as_str()
        .unwrap()
        .to_string();
    add_user(&app, "head", Role::Head, Some("sales"), None).await;
    let page = format!("/console/leads/{lead}");
    let (head, csrf) = session_on(&app, "head", &page).await;
    assert_eq!(
        post_form(&app, &head, &format!("{page}/reassign"), &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let l = app
        .wait_for(lead, Duration::from_secs(10), |l| {
            l["status"] == "assigned" && l["manager_id"].as_str() != Some(first.as_str())
        })
        .await;
    assert!(["1", "2"].contains(&l["manager_id"].as_str().unwrap()));
    app.stop().await;
}

/// `check-config` on the shipped config names the placeholder answers still to fill in.
#[test]
fn check_config_reports_the_shipped_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("(address): still the shipped example answer"),
        "{stderr}"
    );
    assert!(stderr.contains("(hours): still the shipped example answer"), "{stderr}");
    assert!(stdout.contains("2 placeholder answer(s) to fill in"), "{stdout}");
}

/// The widget: one script branded from `[widget]`, CORS for the configured sites only, and
/// live replies over SSE (a person's reply after a takeover arrives with its author).
#[tokio::test]
async fn the_widget_script_cors_and_live_replies() {
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, |c| {
        c.service.widget.name = "Окна Юг".into();
        c.service.widget.color = "#e11d48".into();
        c.service.widget.privacy_url = Some("https://okna.example/privacy".into());
        c.service.widget.allowed_origins = vec!["https://okna.example".into()];
    })
    .await;
    let js = app.http.get(format!("{}/widget.js", app.base)).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let js = js.text().await.unwrap();
    assert!(js.contains("Окна Юг") && js.contains("#e11d48") && js.contains("https://okna.example/privacy"));
    assert!(!js.contains("__LEADBOT_WIDGET_CONFIG__"));
    assert!(!js.contains("100vh"), "no 100vh trap on phones");

    // CORS: the configured site may call the chat API, another may not.
    let preflight = |origin: &'static str| {
        let app_base = app.base.clone();
        async move {
            reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, format!("{app_base}/api/v1/leads"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type,idempotency-key")
                .send()
                .await
                .unwrap()
        }
    };
    let ok = preflight("https://okna.example").await;
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://okna.example");
    let other = preflight("https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // A widget conversation, then live events.
    let (lead, _) = app.new_lead("w1", Some("здравствуйте")).await;
    app.wait_for(lead, Duration::from_secs(10), |l| l["status"] == "bot_processing")
        .await;
    let token = app.tokens.lock().unwrap()[&lead].clone();
    let bad = app
        .http
        .get(format!("{}/api/v1/leads/{lead}/events?token=nope", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let (_, t) = app.get(&format!("/api/v1/leads/{lead}/transcript")).await;
    let after = t["transcript"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut stream = app
        .http
        .get(format!(
            "{}/api/v1/leads/{lead}/events?token={token}&after={after}",
            app.base
        ))
        .header("origin", "https://okna.example")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["access-control-allow-origin"], "https://okna.example");
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    add_user(&app, "boss", Role::Admin, None, None).await;
    let page = format!("/console/leads/{lead}");
    let (boss, csrf) = session_on(&app, "boss", &page).await;
    assert_eq!(
        post_form(&app, &boss, &format!("{page}/takeover"), &[("csrf", &csrf)])
            .await
            .0,
        303
    );
    let (code, _) = post_form(
        &app,
        &boss,
        &format!("{page}/reply"),
        &[("csrf", &csrf), ("text", "Сейчас посчитаю")],
    )
    .await;
    assert_eq!(code, 303);
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !got.contains("Сейчас посчитаю") {
        assert!(Instant::now() < deadline, "no live reply: {got}");
        match tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await {
            Ok(Ok(Some(bytes))) => got.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("stream ended: {other:?} after {got}"),
        }
    }
    assert!(got.contains("event: message"), "{got}");
    assert!(got.contains("\"author\":\"boss\""), "{got}");
    app.stop().await;
}

/// `[widget]` is checked: a colour, origins without paths, a privacy policy for a site.
#[test]
fn widget_settings_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    for f in ["dialog.toml", "routing.toml"] {
        std::fs::copy(format!("config/{f}"), dir.path().join("config").join(f)).unwrap();
    }
    let base = std::fs::read_to_string("config/leadbot.toml").unwrap();
    let cut = base.find("[widget]").unwrap();
    let bad = format!(
        "{}[widget]\ncolor = \"red\"\nallowed_origins = [\"https://okna.example/page\"]\n",
        &base[..cut]
    );
    std::fs::write(dir.path().join("config/leadbot.toml"), bad).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .arg("check-config")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("widget.color"), "{stderr}");
    assert!(stderr.contains("widget.allowed_origins[0]"), "{stderr}");
    assert!(stderr.contains("widget.privacy_url"), "{stderr}");
}

/// The job board on the managers page: a dispatched deal is listed, open, for the admin.
#[tokio::test]
async fn the_job_board_lists_dispatched_deals() {
    use common::fake_telegram::{FakeTelegram, TOKEN};
    let fake = FakeTelegram::start().await;
    let mut tg: leadbot::config::TelegramSettings = toml::from_str(&format!(
        "bot = \"lead_demo_bot\"\napi_base = \"{}\"\n[limits]\nper_chat_per_sec = 20.0\nglobal_per_sec = 100.0\ngroup_per_min = 600.0\n\
         [jobs]\ngroup_chat_id = -1001234567890\ntemplate = \"Заказ {{deal_id}}: {{title}}\"\n",
        fake.base
    ))
    .unwrap();
    tg.token = Some(TOKEN.into());
    let app = TestApp::spawn_in_with(StoreKind::Sqlite, move |c| c.telegram = Some(tg)).await;
    let (code, body) = app
        .post(
            "/api/v1/deals/D-77/dispatch",
            serde_json::json!({"title": "Монтаж окна", "client_phone": "+79181234567"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    add_user(&app, "boss", Role::Admin, None, None).await;
    let (boss, _) = login(&app, "boss").await;
    let (code, html) = get(&app, &boss, "/console/managers").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("Биржа заказов") && html.contains("D-77") && html.contains("Монтаж окна"),
        "{html}"
    );
    assert!(html.contains("открыт"), "{html}");
    add_user(&app, "anna", Role::Manager, None, Some("1")).await;
    let (anna, _) = login(&app, "anna").await;
    let (_, html) = get(&app, &anna, "/console/managers").await;
    assert!(!html.contains("D-77"), "a manager does not see the board");
    app.stop().await;
}
