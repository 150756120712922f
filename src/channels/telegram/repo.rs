//! Telegram's own tables: processed updates, chat ↔ lead, users who started the bot.

use sqlx::{PgPool, Row};

use crate::domain::LeadId;

#[derive(Clone)]
pub struct TgRepo {
    pool: PgPool,
    bot: String,
}

impl TgRepo {
    pub fn new(pool: PgPool, bot: &str) -> TgRepo {
        TgRepo {
            pool,
            bot: bot.to_string(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `false` when this update was processed before.
    pub async fn first_time(&self, update_id: i64) -> sqlx::Result<bool> {
        let r = sqlx::query("INSERT INTO telegram_updates (bot, update_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(&self.bot)
            .bind(update_id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Forgets an update whose processing failed, so Telegram's retry is processed.
    pub async fn forget(&self, update_id: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM telegram_updates WHERE bot = $1 AND update_id = $2")
            .bind(&self.bot)
            .bind(update_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn lead_of_chat(&self, chat_id: i64) -> sqlx::Result<Option<LeadId>> {
        let row = sqlx::query("SELECT lead_id FROM telegram_chats WHERE bot = $1 AND chat_id = $2")
            .bind(&self.bot)
            .bind(chat_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| LeadId(r.get(0))))
    }

    pub async fn link(&self, chat_id: i64, lead: LeadId) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO telegram_chats (bot, chat_id, lead_id) VALUES ($1, $2, $3)
             ON CONFLICT (bot, chat_id) DO UPDATE SET lead_id = EXCLUDED.lead_id",
        )
        .bind(&self.bot)
        .bind(chat_id)
        .bind(lead.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn chat_of_lead(&self, lead: LeadId) -> sqlx::Result<Option<i64>> {
        let row = sqlx::query("SELECT chat_id FROM telegram_chats WHERE bot = $1 AND lead_id = $2 LIMIT 1")
            .bind(&self.bot)
            .bind(lead.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// A new deep-link token for a lead.
    pub async fn new_link(&self, lead: LeadId, token: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO telegram_links (token, bot, lead_id) VALUES ($1, $2, $3)")
            .bind(token)
            .bind(&self.bot)
            .bind(lead.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The lead a `/start <token>` is for.
    pub async fn use_link(&self, token: &str) -> sqlx::Result<Option<LeadId>> {
        let row = sqlx::query(
            "UPDATE telegram_links SET used_at = COALESCE(used_at, now()) WHERE token = $1 AND bot = $2 RETURNING lead_id",
        )
        .bind(token)
        .bind(&self.bot)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| LeadId(r.get(0))))
    }

    /// The user wrote to the bot privately, so the bot may message them.
    pub async fn started(&self, user_id: i64, username: Option<&str>) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO telegram_users (bot, user_id, username) VALUES ($1, $2, $3)
             ON CONFLICT (bot, user_id) DO UPDATE SET username = EXCLUDED.username",
        )
        .bind(&self.bot)
        .bind(user_id)
        .bind(username)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn has_started(&self, user_id: i64) -> sqlx::Result<bool> {
        let row = sqlx::query("SELECT 1 FROM telegram_users WHERE bot = $1 AND user_id = $2")
            .bind(&self.bot)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
