//! What the console keeps: its users (argon2 password hashes, never passwords), their
//! server-side sessions and their API tokens (both stored as SHA-256 hashes of the random
//! token, so a copy of the database opens no session).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Role, User};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// An argon2 PHC string.
    pub password_hash: String,
    pub role: Role,
    pub department: Option<String>,
    pub manager_id: Option<crate::domain::ManagerId>,
}

/// A live session: whose it is and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub user: User,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn count_users(&self) -> StoreResult<i64>;
    /// `None` when the username is taken.
    async fn create_user(&self, user: &NewUser) -> StoreResult<Option<User>>;
    /// The first user (setup): created only while there is no user at all; `None` otherwise,
    /// so two setup attempts at once make one admin.
    async fn create_first_user(&self, user: &NewUser) -> StoreResult<Option<User>>;
    /// The user and their password hash.
    async fn user_by_name(&self, username: &str) -> StoreResult<Option<(User, String)>>;
    async fn user(&self, id: i64) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// `false` when there is no such user. Ends the user's sessions.
    async fn set_password(&self, id: i64, password_hash: &str) -> StoreResult<bool>;
    /// `false` when there is no such user; their sessions and tokens go with them.
    async fn delete_user(&self, id: i64) -> StoreResult<bool>;

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The session, if it exists and has not expired by `now`.
    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<SessionRow>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    /// Drops sessions expired by `now`; returns how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> StoreResult<i64>;
    async fn user_by_api_token(&self, token_hash: &str) -> StoreResult<Option<User>>;
    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>>;
    /// `false` when there is no such token.
    async fn revoke_api_token(&self, id: i64) -> StoreResult<bool>;
}

/// A stored role or manager id read back (the CHECK constraint keeps roles valid).
pub(super) fn user_from_parts(
    id: i64,
    username: String,
    role: &str,
    department: Option<String>,
    manager_id: Option<String>,
) -> StoreResult<User> {
    let role = role
        .parse::<Role>()
        .map_err(|e| super::StoreError::Corrupt(format!("console user {id}: {e}")))?;
    let manager_id = manager_id
        .map(|m| crate::domain::ManagerId::parse(&m))
        .transpose()
        .map_err(|e| super::StoreError::Corrupt(format!("console user {id}: {e}")))?;
    Ok(User {
        id,
        username,
        role,
        department,
        manager_id,
    })
}
