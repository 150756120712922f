//! The Bitrix24 adapter's own tables: received events, the reconciliation cursor, chat links.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Row};

use crate::domain::LeadId;

pub const CRM: &str = "bitrix24";

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: i64,
    pub event: String,
    pub entity_id: String,
    pub payload: Value,
    pub attempts: i32,
}

#[derive(Clone)]
pub struct Repo {
    pool: PgPool,
}

impl Repo {
    pub fn new(pool: PgPool) -> Repo {
        Repo { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Stores an event; `false` when the same event was stored before.
    pub async fn store_event(
        &self,
        event: &str,
        entity_id: &str,
        dedupe_key: &str,
        payload: &Value,
    ) -> sqlx::Result<bool> {
        let r = sqlx::query(
            "INSERT INTO crm_events (crm, event, entity_id, dedupe_key, payload) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(CRM)
        .bind(event)
        .bind(entity_id)
        .bind(dedupe_key)
        .bind(payload)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Claims events due for processing (hidden from other claims for `lease`).
    pub async fn claim_events(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> sqlx::Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "UPDATE crm_events e SET next_attempt_at = $2, attempts = e.attempts + 1
             FROM (SELECT id FROM crm_events WHERE crm = $4 AND processed_at IS NULL AND next_attempt_at <= $1
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE e.id = due.id
             RETURNING e.id, e.event, e.entity_id, e.payload, e.attempts",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(CRM)
        .fetch_all(&self.pool)
        .await?;
        let mut events: Vec<StoredEvent> = rows
            .iter()
            .map(|r| StoredEvent {
                id: r.get(0),
                event: r.get(1),
                entity_id: r.get(2),
                payload: r.get(3),
                attempts: r.get(4),
            })
            .collect();
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    pub async fn event_done(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE crm_events SET processed_at = now(), last_error = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn event_retry(&self, id: i64, error: &str, at: DateTime<Utc>) -> sqlx::Result<()> {
        sqlx::query("UPDATE crm_events SET last_error = $2, next_attempt_at = $3 WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives up on an event for good (kept with its error for the operator).
    pub async fn event_failed(&self, id: i64, error: &str) -> sqlx::Result<()> {
        sqlx::query("UPDATE crm_events SET processed_at = now(), last_error = $2 WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn cursor(&self, name: &str) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM crm_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn set_cursor(&self, name: &str, value: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO crm_cursors (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn link_chat(&self, lead: LeadId, chat_id: &str) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO crm_chat_links (lead_id, crm, chat_id) VALUES ($1, $2, $3)
             ON CONFLICT (lead_id) DO UPDATE SET chat_id = EXCLUDED.chat_id",
        )
        .bind(lead.0)
        .bind(CRM)
        .bind(chat_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn chat_of(&self, lead: LeadId) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT chat_id FROM crm_chat_links WHERE lead_id = $1")
            .bind(lead.0)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn lead_of_chat(&self, chat_id: &str) -> sqlx::Result<Option<LeadId>> {
        let row = sqlx::query("SELECT lead_id FROM crm_chat_links WHERE crm = $1 AND chat_id = $2")
            .bind(CRM)
            .bind(chat_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| LeadId(r.get(0))))
    }
}
