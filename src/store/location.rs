//! Where the data lives: `database.url` (or `DATABASE_URL`) when set — `postgres://…` for
//! PostgreSQL, `sqlite://path` for an embedded file named explicitly — else the embedded SQLite
//! file at `database.path`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Postgres(String),
    Sqlite(PathBuf),
}

impl Location {
    /// `url` wins when set and not empty; `path` is the embedded default.
    pub fn from_settings(url: Option<&str>, path: &Path) -> Result<Location, String> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Location::Sqlite(path.to_path_buf())),
            Some(u) => Location::parse(u),
        }
    }

    /// `postgres://…`, `postgresql://…`, `sqlite://path` (`sqlite:///abs/path` or
    /// `sqlite://relative/path`) or `sqlite:path`.
    pub fn parse(url: &str) -> Result<Location, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_string()));
        }
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                // An in-memory database would lose everything at exit: the service promises
                // durable state.
                return Err(format!("`{url}` names no file (sqlite://path/to/leadbot.db)"));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        Err(format!(
            "`{}` is neither a postgres:// nor a sqlite:// URL",
            redact(url)
        ))
    }

    /// `postgres://user:***@host/db` or `sqlite:///abs/path` (the form `parse` reads back).
    pub fn url(&self) -> String {
        match self {
            Location::Postgres(u) => redact(u),
            Location::Sqlite(p) => format!("sqlite://{}", p.display()),
        }
    }

    /// `host:port` of a PostgreSQL server, for "is PostgreSQL running at …?".
    pub fn server(&self) -> Option<String> {
        match self {
            Location::Postgres(u) => {
                let parsed = reqwest::Url::parse(u).ok()?;
                Some(format!(
                    "{}:{}",
                    parsed.host_str().unwrap_or("localhost"),
                    parsed.port().unwrap_or(5432)
                ))
            }
            Location::Sqlite(_) => None,
        }
    }
}

impl fmt::Display for Location {
    /// For the startup line and errors: the kind of store and where, never a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Postgres(u) => write!(f, "PostgreSQL {}", redact(u)),
            Location::Sqlite(p) => write!(f, "SQLite {}", p.display()),
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_store() {
        let default = Path::new("data/leadbot.db");
        assert_eq!(
            Location::from_settings(None, default),
            Ok(Location::Sqlite(default.into()))
        );
        assert_eq!(
            Location::from_settings(Some("  "), default),
            Ok(Location::Sqlite(default.into()))
        );
        assert_eq!(
            Location::from_settings(Some("postgres://u:pw@db:5433/x"), default),
            Ok(Location::Postgres("postgres://u:pw@db:5433/x".into()))
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/leadbot/leadbot.db"),
            Ok(Location::Sqlite("/var/lib/leadbot/leadbot.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite://rel/x.db"),
            Ok(Location::Sqlite("rel/x.db".into()))
        );
        assert_eq!(
            Location::parse("sqlite:x.db?mode=rwc"),
            Ok(Location::Sqlite("x.db".into()))
        );
        assert!(Location::parse("sqlite://:memory:").is_err());
        assert!(Location::parse("sqlite://").is_err());
        let err = Location::parse("mysql://u:secret@h/db").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn descriptions_never_show_a_password() {
        let pg = Location::parse("postgres://leadbot:hunter2@10.0.0.5/leadbot").unwrap();
        assert_eq!(pg.to_string(), "PostgreSQL postgres://leadbot:***@10.0.0.5/leadbot");
        assert_eq!(pg.server().as_deref(), Some("10.0.0.5:5432"));
        assert_eq!(
            Location::parse(&pg.url()).map(|l| l.to_string()),
            Ok("PostgreSQL postgres://leadbot:***@10.0.0.5/leadbot".into())
        );
        let lite = Location::Sqlite("/srv/lb.db".into());
        assert_eq!(lite.to_string(), "SQLite /srv/lb.db");
        assert_eq!(Location::parse(&lite.url()), Ok(lite));
    }
}
