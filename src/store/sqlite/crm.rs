//! [`CrmStore`] on SQLite: `crm_events`, `crm_cursors`, `crm_chat_links`, `crm_oauth_tokens`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

use super::time::{from_micros, micros, now};
use super::SqliteStore;
use crate::domain::LeadId;
use crate::store::{CrmStore, OAuthTokens, StoreResult, StoredEvent};

#[async_trait]
impl CrmStore for SqliteStore {
    async fn store_event(
        &self,
        crm: &str,
        event: &str,
        entity_id: &str,
        dedupe_key: &str,
        payload: &Value,
    ) -> StoreResult<bool> {
        let now = now();
        let r = sqlx::query(
            "INSERT INTO crm_events (crm, event, entity_id, dedupe_key, payload, received_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(crm)
        .bind(event)
        .bind(entity_id)
        .bind(dedupe_key)
        .bind(payload)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn claim_events(
        &self,
        crm: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        // One statement on the one writer: atomic without `FOR UPDATE SKIP LOCKED`.
        let rows = sqlx::query(
            "UPDATE crm_events SET next_attempt_at = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM crm_events WHERE crm = $4 AND processed_at IS NULL AND next_attempt_at <= $1
                          ORDER BY id LIMIT $3)
             RETURNING id, event, entity_id, payload, attempts",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit)
        .bind(crm)
        .fetch_all(&self.write)
        .await?;
        let mut events = rows
            .iter()
            .map(|r| {
                Ok(StoredEvent {
                    id: r.try_get(0)?,
                    event: r.try_get(1)?,
                    entity_id: r.try_get(2)?,
                    payload: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn event_done(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE crm_events SET processed_at = $2, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(now())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn event_retry(&self, id: i64, error: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE crm_events SET last_error = $2, next_attempt_at = $3 WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(micros(at))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn event_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE crm_events SET processed_at = $3, last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(now())
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn cursor(&self, name: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM crm_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn set_cursor(&self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO crm_cursors (name, value, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn link_chat(&self, crm: &str, lead: LeadId, chat_id: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO crm_chat_links (lead_id, crm, chat_id) VALUES ($1, $2, $3)
             ON CONFLICT (lead_id) DO UPDATE SET chat_id = excluded.chat_id",
        )
        .bind(lead.0)
        .bind(crm)
        .bind(chat_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn chat_of(&self, lead: LeadId) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT chat_id FROM crm_chat_links WHERE lead_id = $1")
            .bind(lead.0)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn lead_of_chat(&self, crm: &str, chat_id: &str) -> StoreResult<Option<LeadId>> {
        let row = sqlx::query("SELECT lead_id FROM crm_chat_links WHERE crm = $1 AND chat_id = $2")
            .bind(crm)
            .bind(chat_id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.try_get(0).map(LeadId)).transpose()?)
    }

    async fn load_tokens(&self, account: &str) -> StoreResult<Option<OAuthTokens>> {
        let row = sqlx::query(
            "SELECT access_token, refresh_token, client_endpoint, expires_at FROM crm_oauth_tokens WHERE member_id = $1",
        )
        .bind(account)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(OAuthTokens {
                access_token: r.try_get(0)?,
                refresh_token: r.try_get(1)?,
                client_endpoint: r.try_get(2)?,
                expires_at: from_micros(r.try_get(3)?)?,
            })
        })
        .transpose()
    }

    async fn install_tokens(&self, account: &str, tokens: &OAuthTokens) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO crm_oauth_tokens (member_id, access_token, refresh_token, client_endpoint, expires_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (member_id) DO UPDATE SET access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token, client_endpoint = excluded.client_endpoint,
                 expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(account)
        .bind(&tokens.access_token)
        .bind(&tokens.refresh_token)
        .bind(&tokens.client_endpoint)
        .bind(micros(tokens.expires_at))
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn replace_tokens(&self, account: &str, old_refresh: &str, fresh: &OAuthTokens) -> StoreResult<bool> {
        // The compare-and-set is one UPDATE on the one writer: of two racing refreshes, the
        // second finds the refresh token already changed.
        let updated = sqlx::query(
            "UPDATE crm_oauth_tokens SET access_token = $3, refresh_token = $4, client_endpoint = $5,
                 expires_at = $6, updated_at = $7
             WHERE member_id = $1 AND refresh_token = $2",
        )
        .bind(account)
        .bind(old_refresh)
        .bind(&fresh.access_token)
        .bind(&fresh.refresh_token)
        .bind(&fresh.client_endpoint)
        .bind(micros(fresh.expires_at))
        .bind(now())
        .execute(&self.write)
        .await?;
        Ok(updated.rows_affected() == 1)
    }
}
