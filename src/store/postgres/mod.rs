//! PostgreSQL implementation of [`Store`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

mod bookings;
mod chats;
mod crm;
mod deals;
mod epoch;
mod jobs;
mod reports;
mod users;

use super::batch::{self, InboxJob};
use super::group_commit::GroupCommit;
use super::{
    Created, DueTimer, InboxItem, InboxPayload, LeadRecord, NewLead, OutboxItem, OutboxRow, Snapshot, StepCommit,
    Store, StoreError, StoreResult, StoredInbox, TimerRow, TranscriptEntry,
};
use crate::domain::{ChannelName, LeadId, LeadStatus, ManagerId, Phone};

#[derive(Debug, Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    /// This process's claims are tagged with it (see `epoch.rs`).
    epoch: Arc<epoch::Epoch>,
    /// Group-commit writers (see `group_commit.rs`): lead steps, inbound items.
    steps: GroupCommit<StepCommit, StoreResult<Vec<TranscriptEntry>>>,
    inbox: GroupCommit<InboxJob, StoreResult<Option<StoredInbox>>>,
    /// Outbox rows their sink delivered, marked sent together (a sink has many in flight).
    sent: GroupCommit<i64, StoreResult<()>>,
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);

const LEAD_COLUMNS: &str =
    "id, source, external_id, channel, name, phone, status, manager_id, reason, created_at, updated_at, chat_token, segment, creation_key";

fn lead_from_row(row: &sqlx::postgres::PgRow) -> StoreResult<LeadRecord> {
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
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        chat_token: row.try_get("chat_token")?,
        creation_key: row.try_get("creation_key")?,
        segment: row.try_get("segment")?,
    })
}

fn payload_json(p: &InboxPayload) -> StoreResult<serde_json::Value> {
    serde_json::to_value(p).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl PgStore {
    /// Creates the database if it does not exist, connects and runs the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<PgStore> {
        if !sqlx::Postgres::database_exists(url).await? {
            // Two instances starting together may race here; the loser sees "already exists".
            if let Err(e) = sqlx::Postgres::create_database(url).await {
                if !sqlx::Postgres::database_exists(url).await? {
                    return Err(e.into());
                }
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // With the database away a request is answered 503 in about this long, not after
            // a long hang (a healthy pool hands out a connection in microseconds).
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(StoreError::from)?;
        let epoch = epoch::Epoch::take(url).await?;
        Ok(PgStore::with_pool(pool, epoch))
    }

    /// A store that connects on first use and runs no migrations (for commands that may never
    /// touch the database, such as `check-config --online`).
    pub fn connect_lazy(url: &str) -> StoreResult<PgStore> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(url)?;
        Ok(PgStore::with_pool(pool, epoch::Epoch::none()))
    }

    fn with_pool(pool: PgPool, epoch: epoch::Epoch) -> PgStore {
        let p = pool.clone();
        // One step per lead per batch: a dying incarnation's step must meet the version fence
        // after the new incarnation's, not beside it in one statement.
        let steps = GroupCommit::spawn(
            "steps",
            |s: &StepCommit| Some(s.lead.0),
            move |jobs| {
                let p = p.clone();
                async move { batch::commit_steps(&p, jobs).await }
            },
        );
        let p = pool.clone();
        let inbox = GroupCommit::spawn(
            "inbox",
            |_: &InboxJob| None,
            move |jobs| {
                let p = p.clone();
                async move { batch::insert_inbox(&p, jobs).await }
            },
        );
        let p = pool.clone();
        let sent = GroupCommit::spawn(
            "outbox_sent",
            |_: &i64| None,
            move |ids: Vec<i64>| {
                let p = p.clone();
                async move {
                    let r = sqlx::query(
                        "UPDATE outbox SET status = 'sent', sent_at = now(), last_error = NULL, claimed_by = NULL
                         WHERE id = ANY($1::bigint[])",
                    )
                    .bind(&ids)
                    .execute(&p)
                    .await;
                    ids.iter()
                        .map(|_| r.as_ref().map(|_| ()).map_err(StoreError::copy_of))
                        .collect()
                }
            },
        );
        PgStore {
            pool,
            epoch: Arc::new(epoch),
            steps,
            inbox,
            sent,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_lead(&self, lead: &NewLead) -> StoreResult<Created> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO leads (source, external_id, channel, name, phone, status, chat_token, segment, creation_key)
             VALUES ($1, $2, $3, $4, $5, 'new', $6, $7, $8)
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
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            tx.rollback().await?;
            let row = sqlx::query(&format!(
                "SELECT {LEAD_COLUMNS} FROM leads WHERE source = $1 AND external_id = $2"
            ))
            .bind(&lead.source)
            .bind(&lead.external_id)
            .fetch_one(&self.pool)
            .await?;
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
        sqlx::query("INSERT INTO inbox (lead_id, source, dedupe_key, payload) VALUES ($1, $2, $3, $4)")
            .bind(record.id.0)
            .bind(&key.source)
            .bind(&key.key)
            .bind(payload_json(&payload)?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Created {
            lead: record,
            created: true,
        })
    }

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
        self.inbox
            .submit(job)
            .await
            .map_err(|_| StoreError::Unavailable("the inbox writer has stopped".into()))?
    }

    async fn load_lead(&self, lead: LeadId) -> StoreResult<(LeadRecord, Option<Snapshot>)> {
        let record = self.get_lead(lead).await?;
        let snap = sqlx::query("SELECT version, state, last_applied_inbox_id FROM lead_snapshots WHERE lead_id = $1")
            .bind(lead.0)
            .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let payload: serde_json::Value = row.try_get(1)?;
                Ok(InboxItem {
                    id: row.try_get(0)?,
                    payload: serde_json::from_value(payload)
                        .map_err(|e| StoreError::Corrupt(format!("inbox row payload: {e}")))?,
                    received_at: row.try_get(2)?,
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
        let rows = sqlx::query(
            "UPDATE lead_timers t SET claimed_until = $2, claimed_by = $4
             FROM (SELECT lead_id, kind FROM lead_timers
                   WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                   ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE t.lead_id = due.lead_id AND t.kind = due.kind
             RETURNING t.lead_id, t.kind, t.due_at, t.generation",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(self.epoch.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DueTimer {
                    lead: LeadId(r.try_get(0)?),
                    kind: r.try_get(1)?,
                    due_at: r.try_get(2)?,
                    generation: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn next_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        // A claimed timer comes back when its claim lapses (the lead did not handle it).
        // Two index lookups (the earliest free timer, the earliest lapsing claim) rather than a
        // scan of every timer: this runs after each step that arms one. A claim always ends
        // after its timer's due time (a timer is claimed once due), so it is the later one.
        let row = sqlx::query(
            "SELECT LEAST(
                 (SELECT min(due_at) FROM lead_timers WHERE claimed_until IS NULL),
                 (SELECT min(claimed_until) FROM lead_timers WHERE claimed_until IS NOT NULL))",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxItem>> {
        let rows = sqlx::query(
            "UPDATE outbox o SET next_attempt_at = $2, attempts = o.attempts + 1, claimed_by = $4
             FROM (SELECT id FROM outbox p WHERE status = 'pending' AND next_attempt_at <= $1
                   -- In order per lead and kind: nothing overtakes an earlier row that waits
                   -- (throttled, retrying) or is in flight. Those are the few pending rows due
                   -- later, found through outbox_pending_idx: no index of its own, which
                   -- would cost every step's insert.
                   AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lead_id = p.lead_id AND e.kind = p.kind
                                   AND e.status = 'pending' AND e.id < p.id AND e.next_attempt_at > $1)
                   ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE o.id = due.id
             RETURNING o.id, o.lead_id, o.kind, o.payload, o.idempotency_key, o.attempts, o.created_at",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .bind(self.epoch.id)
        .fetch_all(&self.pool)
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
                    created_at: r.try_get(6)?,
                })
            })
            .collect::<StoreResult<_>>()?;
        items.sort_by_key(|i| i.id);
        Ok(items)
    }

    async fn outbox_sent(&self, id: i64) -> StoreResult<()> {
        self.sent
            .submit(id)
            .await
            .map_err(|_| StoreError::Unavailable("the outbox writer has stopped".into()))?
    }

    async fn outbox_retry(&self, id: i64, error: &str, next_attempt_at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET last_error = $2, next_attempt_at = $3, claimed_by = NULL WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(next_attempt_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'failed', last_error = $2, claimed_by = NULL WHERE id = $1")
            .bind(id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn outbox_pending(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM outbox WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn outbox_failed_count(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM outbox WHERE status = 'failed'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn messages_since(&self, channel: &str, since: DateTime<Utc>) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT count(*) FROM outbox
             WHERE kind = 'message' AND payload->>'channel' = $1 AND created_at >= $2 AND status <> 'failed'",
        )
        .bind(channel)
        .bind(since)
        .fetch_one(&self.pool)
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
        .fetch_all(&self.pool)
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
                    next_attempt_at: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn outbox_requeue(&self, id: i64) -> StoreResult<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), claimed_by = NULL
             WHERE id = $1 AND status = 'failed'",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    async fn release_dead_claims(&self) -> StoreResult<u64> {
        self.epoch.release_dead_claims(&self.pool).await
    }

    async fn has_unapplied_inbox(&self, lead: LeadId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM inbox WHERE lead_id = $1 AND applied_at IS NULL)")
            .bind(lead.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn leads_with_unapplied_inbox(&self, limit: i64) -> StoreResult<Vec<(LeadId, DateTime<Utc>)>> {
        let rows = sqlx::query(
            "SELECT lead_id, min(received_at) FROM inbox WHERE applied_at IS NULL
             GROUP BY lead_id ORDER BY 2 LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((LeadId(r.try_get(0)?), r.try_get(1)?)))
            .collect()
    }

    async fn park_lead(&self, lead: LeadId, reason: &str) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE leads SET status = 'needs_review', reason = $2, updated_at = now() WHERE id = $1")
            .bind(lead.0)
            .bind(reason)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE lead_snapshots
             SET state = jsonb_set(jsonb_set(state, '{status}', '\"needs_review\"'), '{outcome}', to_jsonb($2::text)),
                 version = version + 1, updated_at = now()
             WHERE lead_id = $1",
        )
        .bind(lead.0)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lead_timers WHERE lead_id = $1")
            .bind(lead.0)
            .execute(&mut *tx)
            .await?;
        // Its pending inbox rows are dead letters now; keep them, but stop replaying them.
        sqlx::query("UPDATE inbox SET applied_at = now() WHERE lead_id = $1 AND applied_at IS NULL")
            .bind(lead.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_lead(&self, lead: LeadId) -> StoreResult<LeadRecord> {
        let row = sqlx::query(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = $1"))
            .bind(lead.0)
            .fetch_optional(&self.pool)
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
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(lead_from_row).transpose()
    }

    async fn list_leads(&self, status: Option<LeadStatus>, after_id: i64, limit: i64) -> StoreResult<Vec<LeadRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE ($1::text IS NULL OR status = $1) AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lead_from_row).collect()
    }

    async fn transcript(&self, lead: LeadId, after_id: i64) -> StoreResult<Vec<TranscriptEntry>> {
        let rows = sqlx::query(
            "SELECT id, direction, text, created_at, author FROM transcript WHERE lead_id = $1 AND id > $2 ORDER BY id",
        )
        .bind(lead.0)
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TranscriptEntry {
                    id: r.try_get(0)?,
                    direction: r.try_get(1)?,
                    text: r.try_get(2)?,
                    at: r.try_get(3)?,
                    author: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn timers(&self, lead: LeadId) -> StoreResult<Vec<TimerRow>> {
        let rows = sqlx::query("SELECT kind, due_at, generation FROM lead_timers WHERE lead_id = $1 ORDER BY due_at")
            .bind(lead.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TimerRow {
                    kind: r.try_get(0)?,
                    due_at: r.try_get(1)?,
                    generation: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn count_open_leads(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM leads WHERE status IN ('new', 'bot_processing', 'queued')")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn routing_state(&self) -> StoreResult<super::RoutingState> {
        let load = sqlx::query(
            "SELECT manager_id, count(*) FROM leads WHERE status = 'assigned' AND manager_id IS NOT NULL GROUP BY manager_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u32)))
        .collect::<StoreResult<_>>()?;
        let overrides = sqlx::query("SELECT manager_id, paused, absent_until FROM manager_overrides")
            .fetch_all(&self.pool)
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
            .fetch_all(&self.pool)
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
            "INSERT INTO routing_queue (lead_id, request) VALUES ($1, $2)
             ON CONFLICT (lead_id) DO UPDATE SET request = EXCLUDED.request",
        )
        .bind(lead.0)
        .bind(request)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn queue_remove(&self, lead: LeadId) -> StoreResult<()> {
        sqlx::query("DELETE FROM routing_queue WHERE lead_id = $1")
            .bind(lead.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_paused(&self, manager_id: &str, paused: bool) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO manager_overrides (manager_id, paused) VALUES ($1, $2)
             ON CONFLICT (manager_id) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()",
        )
        .bind(manager_id)
        .bind(paused)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_absent_until(&self, manager_id: &str, until: Option<chrono::NaiveDate>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO manager_overrides (manager_id, absent_until) VALUES ($1, $2)
             ON CONFLICT (manager_id) DO UPDATE SET absent_until = EXCLUDED.absent_until, updated_at = now()",
        )
        .bind(manager_id)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn previous_owner(&self, phone: &str, except: LeadId) -> StoreResult<Option<ManagerId>> {
        let row = sqlx::query(
            "SELECT manager_id FROM leads WHERE phone = $1 AND id <> $2 AND manager_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(except.0)
        .fetch_optional(&self.pool)
        .await?;
        let id: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
        // An id that does not parse (hand-edited row) is no previous owner.
        Ok(id.and_then(|id| ManagerId::parse(&id).ok()))
    }

    async fn generated_secret(&self, name: &str, candidate: &str) -> StoreResult<(String, bool)> {
        let inserted = sqlx::query(
            "INSERT INTO generated_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value",
        )
        .bind(name)
        .bind(candidate)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = inserted {
            return Ok((row.try_get(0)?, true));
        }
        let row = sqlx::query("SELECT value FROM generated_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get(0)?, false))
    }

    async fn replace_generated_secret(&self, name: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO generated_secrets (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, created_at = now()",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_cursors(&self) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT group_name, position FROM routing_cursors")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn save_cursor(&self, group: &str, position: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO routing_cursors (group_name, position) VALUES ($1, $2)
             ON CONFLICT (group_name) DO UPDATE SET position = EXCLUDED.position",
        )
        .bind(group)
        .bind(position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
