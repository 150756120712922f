//! The Grafana dashboard only queries metrics leadbot exports.

#[test]
fn every_dashboard_metric_is_exported() {
    let dashboard = include_str!("../config/grafana/leadbot-dashboard.json");
    let telemetry = include_str!("../src/telemetry.rs");
    let parsed: serde_json::Value = serde_json::from_str(dashboard).expect("dashboard is JSON");
    assert!(parsed["panels"].as_array().is_some_and(|p| !p.is_empty()));
    let mut names: Vec<&str> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("leadbot_"))
        .map(|w| w.trim_end_matches("_bucket"))
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() > 10);
    for name in names {
        assert!(
            telemetry.contains(&format!("\"{name}\"")),
            "{name} is not defined in src/telemetry.rs"
        );
    }
}
