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
    pub(crate) fn parse_layered<T: DeserializeOwned>(
        &mut self,
        file: &str,
        default: &str,
        user: Option<&str>,
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
        match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(merged)) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let key = if path.is_empty() || path == "." {
                    "-".to_string()
                } else {
                    path
                };
                self.push(file, key, e.into_inner().message().trim().to_string());
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
