use std::fmt;

use serde::de::DeserializeOwned;

/// One problem in the configuration: `file:key: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub file: String,
    /// A dotted key path (`timing.reask_after[1]`) or `line:column` for a syntax error.
    pub key: String,
    pub message: String,
}

/// All problems found; loading reports every one at once rather than the first.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct ConfigIssues(pub Vec<ConfigIssue>);

impl fmt::Display for ConfigIssues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}: {}", issue.file, issue.key, issue.message)?;
        }
        Ok(())
    }
}

impl ConfigIssues {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn push(&mut self, file: &str, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigIssue {
            file: file.to_string(),
            key: key.into(),
            message: message.into(),
        });
    }

    /// Parses `user` (a file's text, if present) laid over `default`, recording syntax errors
    /// with line and column and type errors with the key they concern.
    /// The built-in default, the user's file over it, then environment variables over both: with
    /// `env_prefix` `LEADBOT_ROUTING__`, `LEADBOT_ROUTING__CLASSIFIER__LLM_TIMEOUT=3s` sets
    /// `classifier.llm_timeout` (keys lower-cased, `__` between levels, values read as TOML
    /// values where they parse — numbers, booleans, arrays — else as strings).
    pub(crate) fn parse_layered_env<T: DeserializeOwned>(
        &mut self,
        file: &str,
        default: &str,
        user: Option<&str>,
        env_prefix: Option<&str>,
    ) -> Option<T> {
        let mut merged = match default.parse::<toml::Table>() {
            Ok(t) => t,
            Err(e) => {
                self.push(file, "-", format!("built-in default does not parse: {}", e.message()));
                return None;
            }
        };
        if let Some(text) = user {
            match text.parse::<toml::Table>() {
                Ok(t) => merge(&mut merged, t),
                Err(e) => {
                    let key = match e.span() {
                        Some(span) => {
                            let before = &text[..span.start.min(text.len())];
                            let line = before.matches('\n').count() + 1;
                            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                            format!("{line}:{col}")
                        }
                        None => "-".to_string(),
                    };
                    self.push(file, key, e.message().trim().to_string());
                    return None;
                }
            }
        }
        let mut from_env = vec![];
        if let Some(prefix) = env_prefix {
            match env_layer(prefix) {
                Ok((table, keys)) => {
                    merge(&mut merged, table);
                    from_env = keys;
                }
                Err(e) => {
                    self.push(file, "-", format!("environment ({prefix}*): {e}"));
                    return None;
                }
            }
        }
        match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(merged)) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let key = if path.is_empty() || path == "." {
                    "-".to_string()
                } else {
                    path
                };
                let mut message = e.into_inner().message().trim().to_string();
                if let Some(var) = from_env.iter().find(|(k, _)| *k == key).map(|(_, v)| v) {
                    message.push_str(&format!(" (set by the environment variable {var})"));
                }
                self.push(file, key, message);
                None
            }
        }
    }
}

/// Lays `over` onto `base`: tables merge key by key, anything else (arrays too) replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The environment variables under `prefix` as a table (figment reads and nests them), and
/// which dotted key each one set (for error messages).
fn env_layer(prefix: &str) -> Result<(toml::Table, Vec<(String, String)>), String> {
    use figment::providers::Env;
    let vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(prefix) && k.len() > prefix.len())
        .map(|(k, _)| (k[prefix.len()..].to_lowercase().replace("__", "."), k))
        .collect();
    if vars.is_empty() {
        return Ok((toml::Table::new(), vars));
    }
    let figment = figment::Figment::from(Env::prefixed(prefix).split("__"));
    let value: toml::Value = figment.extract().map_err(|e| e.to_string())?;
    match value {
        toml::Value::Table(t) => Ok((t, vars)),
        _ => Ok((toml::Table::new(), vars)),
    }
}
