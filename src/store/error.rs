//! What a store call can fail with. The driver's error never leaves `src/store/`: callers learn
//! only whether it is worth trying again (`is_transient`), so no caller re-classifies driver
//! errors of its own.

use crate::domain::LeadId;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("lead {0} not found")]
    LeadNotFound(LeadId),
    /// Another writer committed a newer version of this lead (fencing).
    #[error("lead {lead}: snapshot version conflict (expected {expected})")]
    VersionConflict { lead: LeadId, expected: i64 },
    /// Another writer committed a newer version of this deal's robot state.
    #[error("deal {deal}: state version conflict (expected {expected})")]
    DealVersionConflict { deal: String, expected: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database could not be reached (or timed out); nothing was written. Worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused this statement or its data; the same call will fail again.
    #[error("database refused: {0}")]
    Rejected(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database is away, not the data wrong: retry later, never park a lead over it.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl StoreError {
    /// The same error for each of many callers (a batch's): sqlx errors are not `Clone`.
    pub(super) fn copy_of(original: &sqlx::Error) -> StoreError {
        let msg = original.to_string();
        match classify(original) {
            Class::Unavailable => StoreError::Unavailable(msg),
            Class::Corrupt => StoreError::Corrupt(msg),
            Class::Rejected => StoreError::Rejected(msg),
        }
    }
}

enum Class {
    Unavailable,
    Corrupt,
    Rejected,
}

fn classify(e: &sqlx::Error) -> Class {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        // SQLite's codes are numbers of their own (the embedded store).
        sqlx::Error::Database(db) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
            match db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .map(super::sqlite::classify)
            {
                Some(super::sqlite::SqliteClass::Unavailable) => Class::Unavailable,
                Some(super::sqlite::SqliteClass::Corrupt) => Class::Corrupt,
                _ => Class::Rejected,
            }
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // Class 08 (connection), 53 (resources), 57P (shutdown, crash), 40001/40P01
            // (serialization, deadlock): the same statement may well succeed later.
            Some(c) if c.starts_with("08") || c.starts_with("53") || c.starts_with("57P") => Class::Unavailable,
            Some("40001" | "40P01") => Class::Unavailable,
            _ => Class::Rejected,
        },
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } | sqlx::Error::TypeNotFound { .. } => Class::Corrupt,
        _ => Class::Rejected,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let msg = e.to_string();
        match classify(&e) {
            Class::Unavailable => StoreError::Unavailable(msg),
            Class::Corrupt => StoreError::Corrupt(msg),
            Class::Rejected => StoreError::Rejected(msg),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(inner) => inner.into(),
            other => StoreError::Rejected(format!("migrations: {other}")),
        }
    }
}
