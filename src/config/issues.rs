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

    /// Parses one TOML file, recording a syntax or type error with its line and column.
    pub(crate) fn parse<T: DeserializeOwned>(&mut self, file: &str, text: &str) -> Option<T> {
        match toml::from_str::<T>(text) {
            Ok(v) => Some(v),
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
                None
            }
        }
    }
}
