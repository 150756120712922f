//! [`UserStore`] on SQLite: `console_users`, `console_sessions`, `console_api_tokens`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::time::{from_micros, micros, now};
use super::SqliteStore;
use crate::domain::User;
use crate::store::users::user_from_parts;
use crate::store::{ApiTokenRow, NewUser, SessionRow, StoreResult, UserStore};

const USER_COLS: &str = "u.id, u.username, u.role, u.department, u.manager_id";

fn user_of(r: &SqliteRow) -> StoreResult<User> {
    user_from_parts(
        r.try_get("id")?,
        r.try_get("username")?,
        r.try_get::<String, _>("role")?.as_str(),
        r.try_get("department")?,
        r.try_get("manager_id")?,
    )
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM console_users")
            .fetch_one(&self.read)
            .await?)
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "INSERT INTO console_users (username, password_hash, role, department, manager_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING
             RETURNING id, username, role, department, manager_id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&user.department)
        .bind(user.manager_id.as_ref().map(|m| m.as_str()))
        .bind(now())
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn create_first_user(&self, user: &NewUser) -> StoreResult<Option<User>> {
        // One statement on the one write connection: the emptiness check and the insert are
        // atomic.
        let row = sqlx::query(
            "INSERT INTO console_users (username, password_hash, role, department, manager_id, created_at)
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM console_users)
             RETURNING id, username, role, department, manager_id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&user.department)
        .bind(user.manager_id.as_ref().map(|m| m.as_str()))
        .bind(now())
        .fetch_optional(&self.write)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS}, u.password_hash FROM console_users u WHERE u.username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM console_users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM console_users u ORDER BY u.id"))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(user_of).collect()
    }

    async fn set_password(&self, id: i64, password_hash: &str) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let r = sqlx::query("UPDATE console_users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    async fn delete_user(&self, id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM console_users WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO console_sessions (token_hash, user_id, csrf, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(micros(expires_at))
            .bind(now())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS}, s.csrf, s.expires_at FROM console_sessions s
             JOIN console_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2"
        ))
        .bind(token_hash)
        .bind(micros(now))
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user: user_of(&r)?,
                csrf: r.try_get("csrf")?,
                expires_at: from_micros(r.try_get("expires_at")?)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(micros(now))
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected())
    }

    async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO console_api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(name)
        .bind(now())
        .fetch_one(&self.write)
        .await?)
    }

    async fn user_by_api_token(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM console_api_tokens t JOIN console_users u ON u.id = t.user_id
             WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>> {
        let rows =
            sqlx::query("SELECT id, user_id, name, created_at FROM console_api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("name")?,
                    created_at: from_micros(r.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM console_api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
