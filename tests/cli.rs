//! The `leadbot` command line: `phones` and `check-config` through the real binary.

use std::io::Write;
use std::process::{Command, Stdio};

fn leadbot(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .args(args)
        .env_remove("LEADBOT_CONFIG_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn phones_prints_one_json_array_per_line() {
    let input = "звоните 8 (918) 123-45-67 или +7 918 765 43 21\nзаказ № 89181234567\n\n8-800-775-04-38\n";
    let (code, out, err) = leadbot(&["phones", "--region", "RU"], input);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [r#"["+79181234567","+79187654321"]"#, "[]", "[]", r#"["+78007750438"]"#]
    );
}

#[test]
fn phones_reads_other_regions() {
    let (code, out, _) = leadbot(&["phones", "--region", "UZ"], "90 123 45 67\n");
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"["+998901234567"]"#);
}

#[test]
fn check_config_accepts_the_shipped_config_and_names_file_and_key_of_errors() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let (code, out, err) = leadbot(&["check-config", "--config", &format!("{manifest}/config")], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("config OK"));

    let dir = tempfile::tempdir().unwrap();
    let dialog = std::fs::read_to_string(format!("{manifest}/config/dialog.toml"))
        .unwrap()
        .replace("reask_after = [\"10m\", \"30m\"]", "reask_after = [\"10m\", \"soon\"]");
    std::fs::write(dir.path().join("dialog.toml"), dialog).unwrap();
    std::fs::write(
        dir.path().join("routing.toml"),
        "default_group = \"sales\"\n[[managers]]\nid = \"1\"\nname = \"A\"\ngroups = [\"sales\"]\n[[rules]]\ngroup = \"vip\"\nkeywords = [\"x\"]\n",
    )
    .unwrap();
    let (code, _, err) = leadbot(&["check-config", "--config", dir.path().to_str().unwrap()], "");
    assert_eq!(code, 2);
    assert!(err.contains("dialog.toml:timing.reask_after"), "{err}");
    assert!(err.contains("`soon`"), "{err}");
    assert!(
        err.contains("routing.toml:rules[0].group: no manager is in group `vip`"),
        "{err}"
    );
}

#[test]
fn check_config_accepts_the_bitrix24_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/bitrix24.toml"),
        dir.path().join("bitrix24.toml"),
    )
    .unwrap();
    let run = |with_secrets: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()])
            .env_remove("LEADBOT_BITRIX24_WEBHOOK_URL")
            .env_remove("LEADBOT_BITRIX24_APP_TOKEN");
        if with_secrets {
            cmd.env(
                "LEADBOT_BITRIX24_WEBHOOK_URL",
                "https://example.bitrix24.ru/rest/1/abc/",
            )
            .env("LEADBOT_BITRIX24_APP_TOKEN", "token");
        }
        cmd.output().unwrap()
    };
    let ok = run(true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(false);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("bitrix24.toml:auth: webhook auth needs LEADBOT_BITRIX24_WEBHOOK_URL"),
        "{err}"
    );
    assert!(err.contains("LEADBOT_BITRIX24_APP_TOKEN"), "{err}");
}

#[test]
fn check_config_accepts_the_amocrm_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/amocrm.toml"),
        dir.path().join("amocrm.toml"),
    )
    .unwrap();
    let run = |secret: Option<&str>, token: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()])
            .env_remove("LEADBOT_AMOCRM_WEBHOOK_SECRET")
            .env_remove("LEADBOT_AMOCRM_TOKEN");
        if let Some(secret) = secret {
            cmd.env("LEADBOT_AMOCRM_WEBHOOK_SECRET", secret);
        }
        if token {
            cmd.env("LEADBOT_AMOCRM_TOKEN", "eyJ0eXAiOiJKV1Qi");
        }
        cmd.output().unwrap()
    };
    let ok = run(Some("a-long-random-webhook-secret"), true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(None, false);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("amocrm.toml:auth: long_lived auth needs LEADBOT_AMOCRM_TOKEN"),
        "{err}"
    );
    assert!(err.contains("LEADBOT_AMOCRM_WEBHOOK_SECRET"), "{err}");
    let short = run(Some("short"), true);
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16 characters"));
}

#[test]
fn check_config_accepts_the_telegram_example_and_wants_its_token() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/telegram.toml"),
        dir.path().join("telegram.toml"),
    )
    .unwrap();
    let run = |with_secrets: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()])
            .env_remove("LEADBOT_TELEGRAM_TOKEN")
            .env_remove("LEADBOT_TELEGRAM_WEBHOOK_SECRET");
        if with_secrets {
            cmd.env("LEADBOT_TELEGRAM_TOKEN", "123:abc")
                .env("LEADBOT_TELEGRAM_WEBHOOK_SECRET", "s3cret_ok");
        }
        cmd.output().unwrap()
    };
    let ok = run(true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(false);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("telegram.toml:bot: the bot token is missing"), "{err}");
}

#[test]
fn check_config_accepts_the_vk_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/vk.toml"),
        dir.path().join("vk.toml"),
    )
    .unwrap();
    let run = |token: Option<&str>, secret: Option<&str>, extra: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()])
            .env_remove("LEADBOT_VK_TOKEN")
            .env_remove("LEADBOT_VK_SECRET")
            .env_remove("LEADBOT_VK_CONFIRMATION");
        if let Some(t) = token {
            cmd.env("LEADBOT_VK_TOKEN", t);
        }
        if let Some(s) = secret {
            cmd.env("LEADBOT_VK_SECRET", s);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(Some("vk1.a.token"), Some("secret_ok"), &[]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(None, None, &[]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("LEADBOT_VK_TOKEN"), "{err}");
    assert!(err.contains("LEADBOT_VK_SECRET"), "{err}");
    let short = run(Some("t"), Some("short"), &[]);
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let bad = run(Some("t"), Some("secret_ok"), &[("LEADBOT_VK__GROUP_ID", "-5")]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("vk.toml:group_id"));
}

#[test]
fn check_config_accepts_the_whatsapp_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/whatsapp.toml"),
        dir.path().join("whatsapp.toml"),
    )
    .unwrap();
    let run = |with: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()]);
        for var in [
            "LEADBOT_WHATSAPP_TOKEN",
            "LEADBOT_WHATSAPP_APP_SECRET",
            "LEADBOT_WHATSAPP_VERIFY_TOKEN",
        ] {
            cmd.env_remove(var);
            if with {
                cmd.env(var, "value-1234");
            }
        }
        cmd.output().unwrap()
    };
    let ok = run(true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(false);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("LEADBOT_WHATSAPP_APP_SECRET is not set"), "{err}");
}

#[test]
fn check_config_accepts_the_instagram_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/instagram.toml"),
        dir.path().join("instagram.toml"),
    )
    .unwrap();
    let run = |with: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()]);
        for var in [
            "LEADBOT_INSTAGRAM_TOKEN",
            "LEADBOT_INSTAGRAM_APP_SECRET",
            "LEADBOT_INSTAGRAM_VERIFY_TOKEN",
        ] {
            cmd.env_remove(var);
            if with {
                cmd.env(var, "value-1234");
            }
        }
        cmd.output().unwrap()
    };
    let ok = run(true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(false);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("LEADBOT_INSTAGRAM_TOKEN is not set"));
}

#[test]
fn check_config_accepts_the_sms_example_and_wants_the_gateways_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/sms.toml"),
        dir.path().join("sms.toml"),
    )
    .unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()]);
        for var in [
            "LEADBOT_SMS_API_ID",
            "LEADBOT_SMS_LOGIN",
            "LEADBOT_SMS_PASSWORD",
            "LEADBOT_SMS_CALLBACK_SECRET",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&[
        ("LEADBOT_SMS_API_ID", "id"),
        ("LEADBOT_SMS_CALLBACK_SECRET", "cb_secret_0123456789"),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(&[]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("SMS.ru needs LEADBOT_SMS_API_ID"), "{err}");
    assert!(err.contains("LEADBOT_SMS_CALLBACK_SECRET"), "{err}");
    let smsc = run(&[
        ("LEADBOT_SMS__PROVIDER", "smsc"),
        ("LEADBOT_SMS_CALLBACK_SECRET", "cb_secret_0123456789"),
    ]);
    assert!(String::from_utf8_lossy(&smsc.stderr).contains("SMSC needs LEADBOT_SMS_LOGIN"));
}

#[test]
fn check_config_accepts_the_avito_example_and_wants_its_secrets() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{manifest}/config/examples/avito.toml"),
        dir.path().join("avito.toml"),
    )
    .unwrap();
    let run = |secret: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config", "--config", dir.path().to_str().unwrap()])
            .env("LEADBOT_AVITO_CLIENT_ID", "id")
            .env("LEADBOT_AVITO_CLIENT_SECRET", "secret")
            .env_remove("LEADBOT_AVITO_WEBHOOK_SECRET");
        if let Some(s) = secret {
            cmd.env("LEADBOT_AVITO_WEBHOOK_SECRET", s);
        }
        cmd.output().unwrap()
    };
    let ok = run(Some("avito_hook_secret_0123"));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let missing = run(None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("LEADBOT_AVITO_WEBHOOK_SECRET is not set"));
    let short = run(Some("short"));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16"));
}

#[test]
fn check_config_accepts_the_routing_example_in_the_readme() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{manifest}/README.md")).unwrap();
    let section = &readme[readme.find("## Routing").expect("a routing section")..];
    let start = section.find("```toml\n").expect("a toml example") + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("routing.toml"), example).unwrap();
    let (code, out, err) = leadbot(&["check-config", "--config", dir.path().to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("config OK"), "{out}");
}

#[test]
fn every_config_key_can_be_set_from_the_environment() {
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadbot"));
        cmd.args(["check-config"]).env_remove("LEADBOT_CONFIG_DIR");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(&[
        ("LEADBOT__SERVER__LISTEN", "127.0.0.1:9999"),
        ("LEADBOT_ROUTING__TIMEZONE", "Asia/Almaty"),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let bad = run(&[("LEADBOT__SERVER__LISTEN", "nonsense")]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("server.listen: `nonsense` is not host:port"), "{err}");
    let typed = run(&[("LEADBOT__SERVER__MAX_TEXT_CHARS", "lots")]);
    assert_eq!(typed.status.code(), Some(2));
    let err = String::from_utf8_lossy(&typed.stderr);
    assert!(
        err.contains("server.max_text_chars") && err.contains("LEADBOT__SERVER__MAX_TEXT_CHARS"),
        "{err}"
    );
}

#[test]
fn log_lines_can_be_json() {
    // The service on an embedded store in a scratch directory: its startup lines, then stopped.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbot"))
        .args(["--log-format", "json", "serve"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEADBOT_CONFIG_DIR")
        .env("LEADBOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("listening") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no log line");
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
    }
}
