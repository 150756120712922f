//! The metrics and the shipped alert rules meet Prometheus's own checks (`promtool`, from
//! Debian's `prometheus` package; `.ci/run` installs it).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::TestApp;
use serde_json::json;

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config/prometheus"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is needed for these tests: apt-get install prometheus");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_alert_rules_are_valid_and_fire_on_what_they_are_about() {
    let (ok, out) = promtool(&["check", "rules", "alerts.yml"], None);
    assert!(ok, "{out}");
    let (ok, out) = promtool(&["test", "rules", "alerts.test.yml"], None);
    assert!(ok, "{out}");
}

#[test]
fn every_metric_an_alert_uses_is_exported() {
    let rules = include_str!("../config/prometheus/alerts.yml");
    let telemetry = include_str!("../src/telemetry.rs");
    let mut names: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("leadbot_") && !w.starts_with("leadbot_process"))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(
            telemetry.contains(&format!("\"{name}\"")),
            "{name} is not defined in src/telemetry.rs"
        );
    }
}

#[tokio::test]
async fn a_scrape_passes_promtool_check_metrics_with_help_for_every_family() {
    let app = TestApp::spawn().await;
    // Some activity, so most families have samples.
    let (code, lead) = app
        .post(
            "/api/v1/leads",
            json!({"source": "api", "external_id": "p-1", "channel": "webchat", "name": "Ира"}),
        )
        .await;
    assert_eq!(code, 201, "{lead}");
    app.say(lead["id"].as_i64().unwrap(), "мой номер +7 916 123-45-67")
        .await;
    app.get("/no/such/route").await;
    let scrape = app.metrics().await.0;
    let (ok, out) = promtool(&["check", "metrics"], Some(&scrape));
    assert!(ok, "promtool check metrics:\n{out}");
    for family in [
        "leadbot_build_info",
        "leadbot_http_requests_total",
        "leadbot_http_request_duration_seconds",
        "leadbot_process_resident_memory_bytes",
        "leadbot_process_open_fds",
        "leadbot_process_cpu_seconds_total",
    ] {
        assert!(
            scrape.contains(&format!("# HELP {family} ")),
            "{family} has no HELP:\n{scrape}"
        );
    }
    // Requests are counted by their route's pattern, not their path.
    assert!(scrape.contains("route=\"/api/v1/leads/{id}/messages\""), "{scrape}");
    assert!(!scrape.contains("/no/such/route"));
    // Count-valued histograms have count buckets.
    assert!(
        scrape.contains("leadbot_write_batch_size_bucket{writer=\"steps\",le=\"1\"}"),
        "{scrape}"
    );
    app.stop().await;
}
