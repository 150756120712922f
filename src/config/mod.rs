//! Typed configuration: the service settings, the dialog script and the routing rules, each a TOML
//! file under `config/`, validated together with errors that name the file and the key.

mod duration;
mod issues;
mod routing;
mod script;
mod service;

use std::path::{Path, PathBuf};

pub use issues::{ConfigIssue, ConfigIssues};
pub use routing::{RoutingConfig, RoutingRule};
pub use script::{FaqEntry, Reprompts, Script, Texts, Timing};
pub use service::{FailureStatus, NotifySettings, RuntimeSettings, ServiceSettings};

/// File names inside the config directory.
pub const SERVICE_FILE: &str = "leadbot.toml";
pub const DIALOG_FILE: &str = "dialog.toml";
pub const ROUTING_FILE: &str = "routing.toml";

/// The defaults shipped in the repository, compiled in so the binary runs from anywhere.
const EMBEDDED: [(&str, &str); 3] = [
    (SERVICE_FILE, include_str!("../../config/leadbot.toml")),
    (DIALOG_FILE, include_str!("../../config/dialog.toml")),
    (ROUTING_FILE, include_str!("../../config/routing.toml")),
];

/// Everything leadbot is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceSettings,
    pub script: Script,
    pub routing: RoutingConfig,
    /// Where the files came from (a directory, or `None` for the compiled-in defaults).
    pub source: Option<PathBuf>,
}

impl Config {
    /// Loads from `dir`; a file missing there falls back to the compiled-in default.
    /// Environment overrides (`DATABASE_URL`, `LEADBOT_LISTEN`, `LEADBOT_NOTIFY_URL`) are applied after.
    pub fn load(dir: Option<&Path>) -> Result<Config, ConfigIssues> {
        let mut issues = ConfigIssues::default();
        let read = |name: &str| -> (String, String) {
            let default = EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.to_string())
                .unwrap_or_default();
            match dir {
                Some(d) => {
                    let path = d.join(name);
                    match std::fs::read_to_string(&path) {
                        Ok(text) => (path.display().to_string(), text),
                        Err(_) => (format!("{name} (built-in default)"), default),
                    }
                }
                None => (format!("{name} (built-in default)"), default),
            }
        };
        let (service_file, service_text) = read(SERVICE_FILE);
        let (dialog_file, dialog_text) = read(DIALOG_FILE);
        let (routing_file, routing_text) = read(ROUTING_FILE);

        let service = issues.parse::<ServiceSettings>(&service_file, &service_text);
        let script = issues.parse::<Script>(&dialog_file, &dialog_text);
        let routing = issues.parse::<RoutingConfig>(&routing_file, &routing_text);
        // Each file that parsed is validated even when another did not: report everything at once.
        let mut service = service;
        if let Some(service) = service.as_mut() {
            service.apply_env();
            service.validate(&service_file, &mut issues);
        }
        if let Some(script) = &script {
            script.validate(&dialog_file, &mut issues);
        }
        if let Some(routing) = &routing {
            routing.validate(&routing_file, &mut issues);
        }
        let (Some(service), Some(script), Some(routing)) = (service, script, routing) else {
            return Err(issues);
        };
        if issues.is_empty() {
            Ok(Config {
                service,
                script,
                routing,
                source: dir.map(Path::to_path_buf),
            })
        } else {
            Err(issues)
        }
    }

    /// The config directory to use when none is given: `LEADBOT_CONFIG_DIR`, else `./config`
    /// if it exists, else the compiled-in defaults.
    pub fn default_dir() -> Option<PathBuf> {
        if let Ok(d) = std::env::var("LEADBOT_CONFIG_DIR") {
            return Some(PathBuf::from(d));
        }
        let local = PathBuf::from("config");
        local.join(SERVICE_FILE).exists().then_some(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_defaults_are_valid() {
        let cfg = Config::load(None).expect("defaults must validate");
        assert!(!cfg.script.faq.is_empty());
        assert!(!cfg.routing.managers.is_empty());
    }

    #[test]
    fn errors_name_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DIALOG_FILE),
            EMBEDDED[1]
                .1
                .replace("no_answer_timeout = \"1h\"", "no_answer_timeout = \"0s\""),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(ROUTING_FILE),
            "default_group = \"nobody\"\n[[managers]]\nid = \"1\"\nname = \"A\"\ngroups = [\"sales\"]\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("dialog.toml:timing.no_answer_timeout: must be longer than zero"),
            "{issues}"
        );
        assert!(
            issues.contains("routing.toml:default_group: no manager is in group `nobody`"),
            "{issues}"
        );
    }

    #[test]
    fn parse_errors_give_line_and_unknown_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(SERVICE_FILE),
            "[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n",
        )
        .unwrap();
        let issues = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            issues.contains("leadbot.toml:server.lisen: unknown field `lisen`"),
            "{issues}"
        );
        assert!(issues.contains("(line 3, column 1)"), "{issues}");
    }
}
