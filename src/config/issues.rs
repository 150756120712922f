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

    /// Parses one TOML file, recording a syntax or type error with the key it concerns
    /// (or its line and column when no key applies).
    pub(crate) fn parse<T: DeserializeOwned>(&mut self, file: &str, text: &str) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(toml::Deserializer::new(text)) {
            Ok(v) => Some(v),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let at = inner.span().map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    (line, col)
                });
                let message = inner.message().trim().to_string();
                match (path.as_str(), at) {
                    ("." | "", Some((line, col))) => self.push(file, format!("{line}:{col}"), message),
                    ("." | "", None) => self.push(file, "-", message),
                    (key, Some((line, col))) => self.push(file, key, format!("{message} (line {line}, column {col})")),
                    (key, None) => self.push(file, key, message),
                }
                None
            }
        }
    }
}
