//! [`UserStore`] on PostgreSQL: `console_users`, `console_sessions`, `console_api_tokens`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::PgStore;
use crate::domain::User;
use crate::store::users::user_from_parts;
use crate::store::{ApiTokenRow, NewUser, SessionRow, StoreResult, UserStore};

const USER_COLS: &str = "u.id, u.username, u.role, u.department, u.manager_id";

fn user_of(r: &PgRow) -> StoreResult<User> {
    user_from_parts(
        r.try_get("id")?,
        r.try_get("username")?,
        r.try_get::<String, _>("role")?.as_str(),
        r.try_get("department")?,
        r.try_get("manager_id")?,
    )
}

#[async_trait]
impl UserStore for PgStore {
    async fn count_users(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM console_users")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "INSERT INTO console_users AS u (username, password_hash, role, department, manager_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING
             RETURNING u.id, u.username, u.role, u.department, u.manager_id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&user.department)
        .bind(user.manager_id.as_ref().map(|m| m.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn create_first_user(&self, user: &NewUser) -> StoreResult<Option<User>> {
        let mut tx = self.pool.begin().await?;
        // One setup at a time: the table lock makes the emptiness check and the insert atomic.
        sqlx::query("LOCK TABLE console_users IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM console_users")
            .fetch_one(&mut *tx)
            .await?;
        if n > 0 {
            return Ok(None);
        }
        let row = sqlx::query(
            "INSERT INTO console_users AS u (username, password_hash, role, department, manager_id)
             VALUES ($1, $2, $3, $4, $5)
             RETURNING u.id, u.username, u.role, u.department, u.manager_id",
        )
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&user.department)
        .bind(user.manager_id.as_ref().map(|m| m.as_str()))
        .fetch_one(&mut *tx)
        .await?;
        let user = user_of(&row)?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<(User, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS}, u.password_hash FROM console_users u WHERE u.username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((user_of(&r)?, r.try_get("password_hash")?))).transpose()
    }

    async fn user(&self, id: i64) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLS} FROM console_users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!("SELECT {USER_COLS} FROM console_users u ORDER BY u.id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(user_of).collect()
    }

    async fn set_password(&self, id: i64, password_hash: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
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
            .execute(&self.pool)
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
        sqlx::query("INSERT INTO console_sessions (token_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<Option<SessionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS}, s.csrf, s.expires_at FROM console_sessions s
             JOIN console_users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SessionRow {
                user: user_of(&r)?,
                csrf: r.try_get("csrf")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO console_api_tokens (token_hash, user_id, name) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(name)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn user_by_api_token(&self, token_hash: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM console_api_tokens t JOIN console_users u ON u.id = t.user_id
             WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_of).transpose()
    }

    async fn api_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiTokenRow>> {
        let rows =
            sqlx::query("SELECT id, user_id, name, created_at FROM console_api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: r.try_get("id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn revoke_api_token(&self, id: i64) -> StoreResult<bool> {
        let r = sqlx::query("DELETE FROM console_api_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
