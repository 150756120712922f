//! [`ChatStore`] on SQLite: `telegram_updates`, `telegram_chats`, `telegram_links`,
//! `telegram_users` (every row keyed by the bot, so several bots share the tables).

use async_trait::async_trait;
use sqlx::Row;

use super::time::now;
use super::SqliteStore;
use crate::domain::LeadId;
use crate::store::{ChatStore, StoreResult};

#[async_trait]
impl ChatStore for SqliteStore {
    async fn first_time(&self, bot: &str, update_id: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "INSERT INTO telegram_updates (bot, update_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(bot)
        .bind(update_id)
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn forget_update(&self, bot: &str, update_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM telegram_updates WHERE bot = $1 AND update_id = $2")
            .bind(bot)
            .bind(update_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn lead_of_chat(&self, bot: &str, chat_id: i64) -> StoreResult<Option<LeadId>> {
        let row = sqlx::query("SELECT lead_id FROM telegram_chats WHERE bot = $1 AND chat_id = $2")
            .bind(bot)
            .bind(chat_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get(0).map(LeadId)).transpose()?)
    }

    async fn link_chat(&self, bot: &str, chat_id: i64, lead: LeadId) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO telegram_chats (bot, chat_id, lead_id) VALUES ($1, $2, $3)
             ON CONFLICT (bot, chat_id) DO UPDATE SET lead_id = excluded.lead_id",
        )
        .bind(bot)
        .bind(chat_id)
        .bind(lead.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn chat_of_lead(&self, bot: &str, lead: LeadId) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT chat_id FROM telegram_chats WHERE bot = $1 AND lead_id = $2 LIMIT 1")
            .bind(bot)
            .bind(lead.0)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn new_link(&self, bot: &str, lead: LeadId, token: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO telegram_links (token, bot, lead_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(token)
            .bind(bot)
            .bind(lead.0)
            .bind(now())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn use_link(&self, bot: &str, token: &str) -> StoreResult<Option<LeadId>> {
        let row = sqlx::query(
            "UPDATE telegram_links SET used_at = COALESCE(used_at, $3) WHERE token = $1 AND bot = $2 RETURNING lead_id",
        )
        .bind(token)
        .bind(bot)
        .bind(now())
        .fetch_optional(&self.write)
        .await?;
        Ok(row.map(|r| r.try_get(0).map(LeadId)).transpose()?)
    }

    async fn user_started(&self, bot: &str, user_id: i64, username: Option<&str>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO telegram_users (bot, user_id, username) VALUES ($1, $2, $3)
             ON CONFLICT (bot, user_id) DO UPDATE SET username = excluded.username",
        )
        .bind(bot)
        .bind(user_id)
        .bind(username)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn has_started(&self, bot: &str, user_id: i64) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM telegram_users WHERE bot = $1 AND user_id = $2")
            .bind(bot)
            .bind(user_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }
}
