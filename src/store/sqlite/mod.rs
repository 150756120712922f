//! SQLite implementation of the store traits: the embedded default, one database file (WAL),
//! no server to run. Same semantics as `src/store/postgres/`; what differs is said where it does.
//!
//! - **Durability.** `journal_mode=WAL`, `synchronous=FULL`: a commit returns once the WAL is
//!   fsynced, so an acknowledged step survives a power loss, as it does on PostgreSQL. (NORMAL
//!   would fsync only at checkpoints and may lose the last commits on a power cut; the service
//!   promises that a 202 is durable.) Group commit (`batch.rs`) keeps this at one fsync per batch.
//! - **One writer.** SQLite lets one connection write at a time. Writes go through a pool of
//!   exactly one connection, so they queue in-process (FIFO, no busy-waiting on the file lock)
//!   and every write transaction is `BEGIN IMMEDIATE` (it takes the write lock up front and never
//!   fails half-way on a lock upgrade). Reads go through a separate pool of read-only
//!   connections: in WAL mode readers neither block nor wait for the writer, so the HTTP reads
//!   and claims' look-ups go on while a batch commits, and a write sent to the wrong pool fails
//!   loudly instead of contending for the lock.
//! - **One process per file** (`lock.rs`): which also makes releasing dead claims exact.
//! - **Types** (`time.rs`, the schema's header): timestamps are INTEGER microseconds.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::Row;

mod batch;
mod bookings;
mod chats;
mod crm;
mod deals;
mod error;
mod jobs;
mod lock;
mod reports;
pub(super) mod time;
mod users;

pub use error::{classify, SqliteClass};

use self::batch::InboxJob;
use self::time::{from_micros, micros};
use super::group_commit::GroupCommit;
use super::{
    Created, DueTimer, InboxItem, InboxPayload, LeadRecord, NewLead, OutboxItem, OutboxRow, Snapshot, StepCommit,
    Store, StoreError, StoreResult, StoredInbox, TimerRow, TranscriptEntry,
};
use crate::domain::{ChannelName, LeadId, LeadStatus, ManagerId, Phone};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write (see the module comment).
    pub(super) write: SqlitePool,
    /// Read-only connections.
    pub(super) read: SqlitePool,
    path: PathBuf,
    /// This process's claims are tagged with it; any other epoch in the file is dead (`lock.rs`).
    epoch: i32,
    /// `None` for a store that never claims (`connect_lazy`).
    lock: Option<Arc<lock::FileLock>>,
    steps: GroupCommit<StepCommit, StoreResult<Vec<TranscriptEntry>>>,
    inbox: GroupCommit<InboxJob, StoreResult<Option<i64>>>,
}

/// As PostgreSQL's: with the writer stuck (a long batch, an outside process holding the write
/// lock) a request is answered 503 in about this long rather than after a long hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a statement waits for a write lock held outside this process (a `sqlite3` shell, a
/// backup's checkpoint) before it is answered SQLITE_BUSY, which is transient.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const LEAD_COLUMNS: &str =
    "id, source, external_id, channel, name, phone, status, manager_id, reason, created_at, updated_at, chat_token, segment, creation_key";

/// A start-up failure on the file system, said so that the operator knows what to fix.
pub(super) fn file_error(path: &Path, what: &str, e: &std::io::Error) -> StoreError {
    // "Permission denied (os error 13)" → "permission denied".
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut why = text.to_string();
    if let Some(first) = why.get(..1) {
        why.replace_range(..1, &first.to_lowercase());
    }
    StoreError::Unavailable(format!("{what} at {}: {why}", path.display()))
}

fn lead_from_row(row: &SqliteRow) -> StoreResult<LeadRecord> {
    let status: String = row.try_get("status")?;
    Ok(LeadRecord {
        id: LeadId(row.try_get("id")?),
        source: row.try_get("source")?,
        external_id: row.try_get("external_id")?,
        channel: ChannelName::new(row.try_get::<&str, _>("channel")?),
        name: row.try_get("name")?,
        phone: row
            .try_get::<Option<&str>, _>("phone")?
            .map(Phone::parse)
            .transpose()
            .map_err(StoreError::Corrupt)?,
        status: LeadStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        manager_id: row
            .try_get::<Option<&str>, _>("manager_id")?
            .map(ManagerId::parse)
            .transpose()
            .map_err(StoreError::Corrupt)?,
        reason: row.try_get("reason")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
        chat_token: row.try_get("chat_token")?,
        creation_key: row.try_get("creation_key")?,
        segment: row.try_get("segment")?,
    })
}

fn payload_json(p: &InboxPayload) -> StoreResult<serde_json::Value> {
    serde_json::to_value(p).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) and migrates the database at
    /// `path`, and takes the file for this process.
    pub async fn connect(path: &Path, max_connections: u32) -> StoreResult<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| file_error(dir, "cannot create the directory", &e))?;
        }
        // SQLite says only "unable to open database file"; this says why.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| file_error(path, "cannot create the database file", &e))?;
        let lock = lock::FileLock::acquire(path).await?;
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // The one connection is never closed for being idle or old: reopening costs the
            // schema parse, and it is in use all the time anyway.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                Self::options(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .map_err(StoreError::from)?;
        let read = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(Self::options(path).read_only(true))
            .await?;
        // Positive and non-zero: a claim's epoch is never confused with "unclaimed".
        let epoch = (rand::random::<u32>() >> 1).max(1) as i32;
        Ok(Self::with_pools(write, read, path, epoch, Some(Arc::new(lock))))
    }

    /// A store that opens the file on first use, runs no migrations, takes no lock and claims
    /// nothing: for commands that may never touch the database (`check-config --online`), and
    /// for short administrative writes beside a running leadbot (`operator-token --rotate`),
    /// which SQLite's own locking serializes with the service's writer.
    pub fn connect_lazy(path: &Path) -> StoreResult<SqliteStore> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(Self::options(path));
        Ok(Self::with_pools(pool.clone(), pool, path, 0, None))
    }

    fn options(path: &Path) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Per connection, so on every one that may write (see the module comment).
            .synchronous(SqliteSynchronous::Full)
    }

    fn with_pools(
        write: SqlitePool,
        read: SqlitePool,
        path: &Path,
        epoch: i32,
        lock: Option<Arc<lock::FileLock>>,
    ) -> SqliteStore {
        let w = write.clone();
        // One step per lead per batch, as on PostgreSQL: a dying incarnation's step must meet
        // the version fence after the new incarnation's, not beside it in one statement.
        let steps = GroupCommit::spawn(
            "steps",
            |s: &StepCommit| Some(s.lead.0),
            move |jobs| {
                let w = w.clone();
                async move { batch::commit_steps(&w, jobs).await }
            },
        );
        let w = write.clone();
        let inbox = GroupCommit::spawn(
            "inbox",
            |_: &InboxJob| None,
            move |jobs| {
                let w = w.clone();
                async move { batch::insert_inbox(&w, jobs).await }
            },
        );
        SqliteStore {
            write,
            read,
            path: path.to_path_buf(),
            epoch,
            lock,
            steps,
            inbox,
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer's pool (one connection); for tests and `migrate-store`.
    pub fn pool(&self) -> &SqlitePool {
        &self.write
    }

    /// Closes both pools and lets the file go (the next process, or a restart in this one,
    /// may take it at once).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
        if let Some(lock) = &self.lock {
            lock.release();
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn create_lead(&self, lead: &NewLead) -> StoreResult<Created> {
        let now = time::now();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO leads (source, external_id, channel, name, phone, status, chat_token, segment, creation_key,
                                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8, $9, $9)
             ON CONFLICT (source, external_id) DO NOTHING
             RETURNING {LEAD_COLUMNS}"
        ))
        .bind(&lead.source)
        .bind(&lead.external_id)
        .bind(lead.channel.as_str())
        .bind(&lead.name)
        // The projection shows a phone only once it is known good; the raw one from the CRM
        // travels in the intake row for the dialog to read.
        .bind(
            lead.phone
                .as_deref()
                .and_then(|p| Phone::parse(p).ok())
                .map(String::from),
        )
        .bind(format!("{:032x}", rand::random::<u128>()))
        .bind(&lead.segment)
        .bind(&lead.creation_key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            let row = sqlx::query(&format!(
                "SELECT {LEAD_COLUMNS} FROM leads WHERE source = $1 AND external_id = $2"
            ))
            .bind(&lead.source)
            .bind(&lead.external_id)
            .fetch_one(&mut *tx)
            .await?;
            tx.rollback().await?;
            return Ok(Created {
                lead: lead_from_row(&row)?,
                created: false,
            });
        };
        let record = lead_from_row(&row)?;
        let payload = InboxPayload::Intake {
            phone: lead.phone.clone(),
            text: lead.text.clone(),
        };
        let key = lead.intake_key();
        sqlx::query(
            "INSERT INTO inbox (lead_id, source, dedupe_key, payload, received_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.id.0)
        .bind(&key.source)
        .bind(&key.key)
        .bind(payload_json(&payload)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Created {
            lead: record,
            created: true,
        })
    }

    /// The embedded store names no predecessor (the lead's owner reads its inbox), and the
    /// row's time is the answer's.
    async fn enqueue_inbox_row(
        &self,
        lead: LeadId,
        source: &str,
        dedupe_key: &str,
        payload: &InboxPayload,
    ) -> StoreResult<Option<StoredInbox>> {
        let job = InboxJob {
            lead,
            source: source.to_string(),
            dedupe_key: dedupe_key.to_string(),
            payload: payload.clone(),
        };
        let stored = self
            .inbox
            .submit(job)
            .await
            .map_err(|_| StoreError::Unavailable("the inbox writer has stopped".into()))??;
        Ok(stored.map(|id| StoredInbox {
            id,
            prev: None,
            received_at: Utc::now(),
        }))
    }

    async fn load_lead(&self, lead: LeadId) -> StoreResult<(LeadRecord, Option<Snapshot>)> {
        let record = self.get_lead(lead).await?;
        let snap = sqlx::query("SELECT version, state, last_applied_inbox_id FROM lead_snapshots WHERE lead_id = $1")
            .bind(lead.0)
            .fetch_optional(&self.read)
            .await?
            .map(|row| -> StoreResult<Snapshot> {
                Ok(Snapshot {
                    version: row.try_get(0)?,
                    state: row.try_get(1)?,
                    last_applied_inbox_id: row.try_get(2)?,
                })
            })
            .transpose()?;
        Ok((record, snap))
    }

    async fn inbox_after(&self, lead: LeadId, after_id: i64, limit: i64) -> StoreResult<Vec<InboxItem>> {
        let rows = sqlx::query(
            "SELECT id, payload, received_at FROM inbox WHERE lead_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(lead.0)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let payload: serde_json::Value = row.try_get(1)?;
                Ok(InboxItem {
                    id: row.try_get(0)?,
                    payload: serde_json::from_value(payload)
                        .map_err(|e| StoreError::Corrupt(format!("inbox row payload: {e}")))?,
                    received_at: from_micros(row.try_get(2)?)?,
                })
            })
            .collect()
    }

    async fn commit_step(&self, step: &StepCommit) -> StoreResult<Vec<TranscriptEntry>> {
        self.steps
            .submit(step.clone())
            .await
            .map_err(|_| StoreError::Unavailable("the state writer has stopped".into()))?
    }

    async fn claim_due_timers(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueTimer>> {
        // One statement on the one writer: the look-up and the claim are atomic without
        // PostgreSQL's `FOR UPDATE SKIP LOCKED` (nobody else can claim in between).
        let rows = sqlx::query(
            "UPDATE lead_timers SET claimed_until = $2, claimed_by = $4
             WHERE rowid IN (SELECT rowid FROM lead_timers
                             WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                             ORDER BY due_at LIMIT $3)
             RETURNING lead_id, kind, due_at, generation",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit)
        .bind(self.epoch)
        .fetch_all(&self.write)
        .await?;
        let mut timers = rows
            .iter()
            .map(|r| {
                Ok(DueTimer {
                    lead: LeadId(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    due_at: from_micros(r.try_get(2)?)?,
                    generation: r.try_get(3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        // RETURNING comes in no promised order; the earliest due first, as claimed.
        timers.sort_by_key(|t| t.due_at);
        Ok(timers)
    }

    async fn next_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // A claimed timer comes back when its claim lapses (the lead did not handle it).
        let row = sqlx::query("SELECT min(max(due_at, COALESCE(claimed_until, due_at))) FROM lead_timers")
            .fetch_one(&self.read)
            .await?;
        time::from_micros_opt(row.try_get(0)?)
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1, claimed_by = $4
             WHERE id IN (SELECT id FROM outbox p WHERE status = 'pending' AND next_attempt_at <= $1
                   -- In order per lead and kind: nothing overtakes an earlier row that waits
                   -- (throttled, retrying) or is in flight (outbox_pending_lead_idx).
                   AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lead_id = p.lead_id AND e.kind = p.kind
                                   AND e.status = 'pending' AND e.id < p.id AND e.next_attempt_at > $1)
                   ORDER BY id LIMIT $3)
             RETURNING id, lead_id, kind, payload, idempotency_key, attempts, created_at",
        )
        .bind(micros(now))
        .bind(micros(lease_until))
        .bind(limit)
        .bind(self.epoch)
        .fetch_all(&self.write)
        .await?;
        let mut items: Vec<OutboxItem> = rows
            .iter()
            .map(|r| {
                Ok(OutboxItem {
                    id: r.try_get(0)?,
                    lead: r.try_get::<Option<i64>, _>(1)?.map(LeadId),
                    kind: r.try_get(2)?,
                    payload: r.try_get(3)?,
                    idempotency_key: r.try_get(4)?,
                    attempts: r.try_get(5)?,
                    created_at: from_micros(r.try_get(6)?)?,
                })
            })
            .collect::<StoreResult<_>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn outbox_sent(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL, claimed_by = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn outbox_retry(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET last_error = $2, next_attempt_at = $3, claimed_by = NULL WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(micros(next_attempt_at))
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn outbox_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'failed', last_error = $2, claimed_by = NULL WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn outbox_pending(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM outbox WHERE status = 'pending'")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn outbox_failed_count(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM outbox WHERE status = 'failed'")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn messages_since(&self, channel: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT count(*) FROM outbox
             WHERE kind = 'message' AND json_extract(payload, '$.channel') = $1 AND created_at >= $2
               AND status <> 'failed'",
        )
        .bind(channel)
        .bind(micros(since))
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn outbox_rows(&self, status: &str, after_id: i64, limit: i64) -> StoreResult<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, lead_id, kind, status, attempts, last_error, next_attempt_at, created_at
             FROM outbox WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(status)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get(0)?,
                    lead_id: r.try_get::<Option<i64>, _>(1)?.map(LeadId),
                    kind: r.try_get(2)?,
                    status: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    last_error: r.try_get(5)?,
                    next_attempt_at: from_micros(r.try_get(6)?)?,
                    created_at: from_micros(r.try_get(7)?)?,
                })
            })
            .collect()
    }

    async fn outbox_requeue(&self, id: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, claimed_by = NULL
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_dead_claims(&self) -> StoreResult<u64> {
        if self.lock.is_none() {
            return Ok(0);
        }
        // Asked on a reader first: the recovery scan calls this every few seconds, and there
        // is nothing to release but after a crash.
        let foreign: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM lead_timers WHERE claimed_by IS NOT NULL AND claimed_by <> $1)
                 OR EXISTS (SELECT 1 FROM outbox WHERE status = 'pending' AND claimed_by IS NOT NULL
                            AND claimed_by <> $1)",
        )
        .bind(self.epoch)
        .fetch_one(&self.read)
        .await?;
        if !foreign {
            return Ok(0);
        }
        // We hold the file's lock, so no other process runs on it: a claim of another epoch
        // is a dead process's (see lock.rs). Released in one transaction, like its claims.
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let timers = sqlx::query(
            "UPDATE lead_timers SET claimed_until = NULL, claimed_by = NULL
             WHERE claimed_by IS NOT NULL AND claimed_by <> $1",
        )
        .bind(self.epoch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let outbox = sqlx::query(
            "UPDATE outbox SET next_attempt_at = $2, claimed_by = NULL
             WHERE claimed_by IS NOT NULL AND claimed_by <> $1 AND status = 'pending'",
        )
        .bind(self.epoch)
        .bind(time::now())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        if timers + outbox > 0 {
            tracing::info!(timers, outbox, "released the claims of a process that is gone");
        }
        Ok(timers + outbox)
    }

    async fn has_unapplied_inbox(&self, lead: LeadId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM inbox WHERE lead_id = $1 AND applied_at IS NULL)")
            .bind(lead.0)
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn leads_with_unapplied_inbox(&self, limit: i64) -> StoreResult<Vec<(LeadId, DateTime<Utc>)>> {
        let rows = sqlx::query(
            "SELECT lead_id, min(received_at) FROM inbox WHERE applied_at IS NULL
             GROUP BY lead_id ORDER BY 2 LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((LeadId(r.try_get(0)?), from_micros(r.try_get(1)?)?)))
            .collect()
    }

    async fn park_lead(&self, lead: LeadId, reason: &str) -> StoreResult<()> {
        let now = time::now();
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE leads SET status = 'needs_review', reason = $2, updated_at = $3 WHERE id = $1")
            .bind(lead.0)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE lead_snapshots
             SET state = json_set(state, '$.status', 'needs_review', '$.outcome', $2),
                 version = version + 1, updated_at = $3
             WHERE lead_id = $1",
        )
        .bind(lead.0)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lead_timers WHERE lead_id = $1")
            .bind(lead.0)
            .execute(&mut *tx)
            .await?;
        // Its pending inbox rows are dead letters now; keep them, but stop replaying them.
        sqlx::query("UPDATE inbox SET applied_at = $2 WHERE lead_id = $1 AND applied_at IS NULL")
            .bind(lead.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_lead(&self, lead: LeadId) -> StoreResult<LeadRecord> {
        let row = sqlx::query(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = $1"))
            .bind(lead.0)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::LeadNotFound(lead))?;
        lead_from_row(&row)
    }

    async fn find_lead(&self, source: &str, external_id: &str) -> StoreResult<Option<LeadRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE source = $1 AND external_id = $2"
        ))
        .bind(source)
        .bind(external_id)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(lead_from_row).transpose()
    }

    async fn list_leads(&self, status: Option<LeadStatus>, after_id: i64, limit: i64) -> StoreResult<Vec<LeadRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE ($1 IS NULL OR status = $1) AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(lead_from_row).collect()
    }

    async fn transcript(&self, lead: LeadId, after_id: i64) -> StoreResult<Vec<TranscriptEntry>> {
        let rows = sqlx::query(
            "SELECT id, direction, text, created_at, author FROM transcript WHERE lead_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(lead.0)
        .bind(after_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TranscriptEntry {
                    id: r.try_get(0)?,
                    direction: r.try_get(1)?,
                    text: r.try_get(2)?,
                    at: from_micros(r.try_get(3)?)?,
                    author: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn timers(&self, lead: LeadId) -> StoreResult<Vec<TimerRow>> {
        let rows = sqlx::query("SELECT kind, due_at, generation FROM lead_timers WHERE lead_id = $1 ORDER BY due_at")
            .bind(lead.0)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TimerRow {
                    kind: r.try_get(0)?,
                    due_at: from_micros(r.try_get(1)?)?,
                    generation: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn count_open_leads(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM leads WHERE status IN ('new', 'bot_processing', 'queued')")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn routing_state(&self) -> StoreResult<super::RoutingState> {
        let load = sqlx::query(
            "SELECT manager_id, count(*) FROM leads WHERE status = 'assigned' AND manager_id IS NOT NULL GROUP BY manager_id",
        )
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u32)))
        .collect::<StoreResult<_>>()?;
        let overrides = sqlx::query("SELECT manager_id, paused, absent_until FROM manager_overrides")
            .fetch_all(&self.read)
            .await?;
        let mut paused = vec![];
        let mut absent_until = vec![];
        for r in &overrides {
            let id: String = r.try_get(0)?;
            if r.try_get::<bool, _>(1)? {
                paused.push(id.clone());
            }
            if let Some(d) = r.try_get::<Option<chrono::NaiveDate>, _>(2)? {
                absent_until.push((id, d));
            }
        }
        let queue = sqlx::query("SELECT request FROM routing_queue ORDER BY enqueued_at")
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(super::RoutingState {
            load,
            cursors: self.load_cursors().await?,
            paused,
            absent_until,
            queue,
        })
    }

    async fn queue_put(&self, lead: LeadId, request: &serde_json::Value) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO routing_queue (lead_id, request, enqueued_at) VALUES ($1, $2, $3)
             ON CONFLICT (lead_id) DO UPDATE SET request = excluded.request",
        )
        .bind(lead.0)
        .bind(request)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn queue_remove(&self, lead: LeadId) -> StoreResult<()> {
        sqlx::query("DELETE FROM routing_queue WHERE lead_id = $1")
            .bind(lead.0)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn set_paused(&self, manager_id: &str, paused: bool) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO manager_overrides (manager_id, paused, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (manager_id) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at",
        )
        .bind(manager_id)
        .bind(paused)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn set_absent_until(&self, manager_id: &str, until: Option<chrono::NaiveDate>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO manager_overrides (manager_id, absent_until, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (manager_id) DO UPDATE SET absent_until = excluded.absent_until, updated_at = excluded.updated_at",
        )
        .bind(manager_id)
        .bind(until)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn previous_owner(&self, phone: &str, except: LeadId) -> StoreResult<Option<ManagerId>> {
        let row = sqlx::query(
            "SELECT manager_id FROM leads WHERE phone = $1 AND id <> $2 AND manager_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(except.0)
        .fetch_optional(&self.read)
        .await?;
        let id: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
        // An id that does not parse (hand-edited row) is no previous owner.
        Ok(id.and_then(|id| ManagerId::parse(&id).ok()))
    }

    async fn generated_secret(&self, name: &str, candidate: &str) -> StoreResult<(String, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO generated_secrets (name, value, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO NOTHING RETURNING value",
        )
        .bind(name)
        .bind(candidate)
        .bind(time::now())
        .fetch_optional(&self.write)
        .await?;
        if let Some(row) = inserted {
            return Ok((row.try_get(0)?, true));
        }
        let row = sqlx::query("SELECT value FROM generated_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.write)
            .await?;
        Ok((row.try_get(0)?, false))
    }

    async fn replace_generated_secret(&self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO generated_secrets (name, value, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, created_at = excluded.created_at",
        )
        .bind(name)
        .bind(value)
        .bind(time::now())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn load_cursors(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT group_name, position FROM routing_cursors")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn save_cursor(&self, group: &str, position: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO routing_cursors (group_name, position) VALUES ($1, $2)
             ON CONFLICT (group_name) DO UPDATE SET position = excluded.position",
        )
        .bind(group)
        .bind(position)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}
