//! The claiming process's epoch. Timer and outbox claims are tagged with it; while the process
//! lives, a dedicated connection holds a session advisory lock on it. PostgreSQL drops the lock
//! the moment the process (or its connection) dies, so "can I take this epoch's lock?" answers
//! "is its owner dead?" exactly — no heartbeat to wait out.

use sqlx::{Connection, PgConnection, PgPool, Row};
use tokio::sync::Mutex;

use crate::store::StoreResult;

/// The advisory-lock namespace of epochs (the first key of the two-key form).
const LOCK_SPACE: i32 = 0x01ea_db07;

#[derive(Debug)]
pub struct Epoch {
    pub id: i32,
    url: String,
    /// `None` for a store that never claims (`connect_lazy`).
    conn: Mutex<Option<PgConnection>>,
}

impl Epoch {
    pub async fn take(url: &str) -> StoreResult<Epoch> {
        // Positive and non-zero: a claim's epoch is never confused with "unclaimed".
        let id = (rand::random::<u32>() >> 1).max(1) as i32;
        let epoch = Epoch {
            id,
            url: url.to_string(),
            conn: Mutex::new(None),
        };
        drop(epoch.held().await?);
        Ok(epoch)
    }

    pub fn none() -> Epoch {
        Epoch {
            id: 0,
            url: String::new(),
            conn: Mutex::new(None),
        }
    }

    /// The lock connection, (re)connected and locked: after a database restart our lock is gone
    /// and must be taken again before we judge anyone else.
    async fn held(&self) -> StoreResult<tokio::sync::MutexGuard<'_, Option<PgConnection>>> {
        let mut guard = self.conn.lock().await;
        let alive = match guard.as_mut() {
            Some(c) => c.ping().await.is_ok(),
            None => false,
        };
        if !alive {
            let mut c = PgConnection::connect(&self.url).await?;
            sqlx::query("SELECT pg_advisory_lock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(self.id)
                .execute(&mut c)
                .await?;
            *guard = Some(c);
        }
        Ok(guard)
    }

    pub async fn release_dead_claims(&self, pool: &PgPool) -> StoreResult<u64> {
        if self.id == 0 {
            return Ok(0);
        }
        let others: Vec<i32> = sqlx::query(
            "SELECT claimed_by FROM lead_timers WHERE claimed_by IS NOT NULL AND claimed_by <> $1
             UNION
             SELECT claimed_by FROM outbox WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> $1",
        )
        .bind(self.id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        if others.is_empty() {
            return Ok(0);
        }
        let mut guard = self.held().await?;
        let Some(conn) = guard.as_mut() else { return Ok(0) };
        let mut released = 0;
        for epoch in others {
            let free: bool = sqlx::query("SELECT pg_try_advisory_lock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(epoch)
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            if !free {
                continue; // its owner is alive
            }
            let timers =
                sqlx::query("UPDATE lead_timers SET claimed_until = NULL, claimed_by = NULL WHERE claimed_by = $1")
                    .bind(epoch)
                    .execute(pool)
                    .await?
                    .rows_affected();
            let outbox = sqlx::query(
                "UPDATE outbox SET next_attempt_at = now(), claimed_by = NULL
                 WHERE claimed_by = $1 AND status = 'pending'",
            )
            .bind(epoch)
            .execute(pool)
            .await?
            .rows_affected();
            sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(epoch)
                .execute(&mut *conn)
                .await?;
            if timers + outbox > 0 {
                tracing::info!(epoch, timers, outbox, "released the claims of a process that is gone");
            }
            released += timers + outbox;
        }
        Ok(released)
    }
}
