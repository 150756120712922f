//! Group commit of lead steps. Every lead actor waits for its own step to commit, so while one
//! batch is being written the next ones queue up; the writer takes whatever is queued (up to
//! `MAX_BATCH`) and commits it in one transaction of multi-row statements. At low load a batch
//! is one step and nothing waits for a timer; under load one fsync serves hundreds of steps.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::{StepCommit, StoreError, StoreResult, TimerChange};
use crate::domain::LeadId;

const MAX_BATCH: usize = 512;
const QUEUE: usize = 8192;

type Job = (StepCommit, oneshot::Sender<StoreResult<()>>);

#[derive(Debug, Clone)]
pub struct BatchWriter {
    tx: mpsc::Sender<Job>,
}

impl BatchWriter {
    pub fn spawn(pool: PgPool) -> BatchWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, rx));
        BatchWriter { tx }
    }

    pub async fn commit(&self, step: StepCommit) -> StoreResult<()> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((step, done))
            .await
            .map_err(|_| StoreError::Corrupt("the state writer has stopped".into()))?;
        wait.await
            .map_err(|_| StoreError::Corrupt("the state writer dropped a step".into()))?
    }
}

async fn run(pool: PgPool, mut rx: mpsc::Receiver<Job>) {
    let mut queued: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        if queued.is_empty() && rx.recv_many(&mut queued, MAX_BATCH).await == 0 {
            return; // every sender is gone
        }
        // At most one step per lead in a batch (an operator restart can briefly leave a dying
        // incarnation's step queued beside the new one's); the rest waits for the next batch,
        // where the version fence decides.
        let mut seen = HashSet::new();
        let (mut jobs, later): (Vec<Job>, Vec<Job>) = queued.drain(..).partition(|(s, _)| seen.insert(s.lead));
        queued = later;
        let steps: Vec<&StepCommit> = jobs.iter().map(|(s, _)| s).collect();
        metrics::histogram!(crate::telemetry::STATE_BATCH_SIZE).record(steps.len() as f64);
        match commit_batch(&pool, &steps).await {
            Ok(conflicts) => {
                for (step, done) in jobs.drain(..) {
                    let result = if conflicts.contains(&step.lead) {
                        Err(StoreError::VersionConflict {
                            lead: step.lead,
                            expected: step.expected_version,
                        })
                    } else {
                        Ok(())
                    };
                    let _ = done.send(result);
                }
            }
            Err(e) => {
                // The whole batch failed (connection lost...): every step fails and its actor
                // restarts from the snapshot, which is still the old one.
                let transient = matches!(
                    e,
                    sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
                );
                let msg = e.to_string();
                tracing::warn!(error = %msg, steps = jobs.len(), "state batch failed");
                for (_, done) in jobs.drain(..) {
                    let err = if transient {
                        StoreError::Unavailable(msg.clone())
                    } else {
                        StoreError::Db(sqlx::Error::Protocol(msg.clone()))
                    };
                    let _ = done.send(Err(err));
                }
            }
        }
    }
}

/// The net effect of a step on one timer kind.
enum TimerOp {
    Upsert(DateTime<Utc>, i64),
    Delete,
    DeleteIfGeneration(i64),
}

/// Commits `steps` (at most one per lead) in one transaction; returns the leads whose
/// snapshot version did not match (nothing of theirs is written).
pub async fn commit_batch(pool: &PgPool, steps: &[&StepCommit]) -> Result<HashSet<LeadId>, sqlx::Error> {
    let mut tx = pool.begin().await?;

    let (fresh, existing): (Vec<&&StepCommit>, Vec<&&StepCommit>) = steps.iter().partition(|s| s.expected_version == 0);
    let mut written: HashSet<LeadId> = HashSet::new();
    if !fresh.is_empty() {
        let rows = sqlx::query(
            "INSERT INTO lead_snapshots (lead_id, version, state, last_applied_inbox_id)
             SELECT lead_id, 1, state, applied FROM UNNEST($1::bigint[], $2::jsonb[], $3::bigint[]) AS u(lead_id, state, applied)
             ON CONFLICT (lead_id) DO NOTHING
             RETURNING lead_id",
        )
        .bind(fresh.iter().map(|s| s.lead.0).collect::<Vec<_>>())
        .bind(fresh.iter().map(|s| s.state.clone()).collect::<Vec<_>>())
        .bind(fresh.iter().map(|s| s.applied_inbox_id.unwrap_or(0)).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        written.extend(rows.iter().map(|r| LeadId(r.get(0))));
    }
    if !existing.is_empty() {
        let rows = sqlx::query(
            "UPDATE lead_snapshots s
             SET version = u.expected + 1, state = u.state,
                 last_applied_inbox_id = GREATEST(s.last_applied_inbox_id, u.applied), updated_at = now()
             FROM UNNEST($1::bigint[], $2::bigint[], $3::jsonb[], $4::bigint[]) AS u(lead_id, expected, state, applied)
             WHERE s.lead_id = u.lead_id AND s.version = u.expected
             RETURNING s.lead_id",
        )
        .bind(existing.iter().map(|s| s.lead.0).collect::<Vec<_>>())
        .bind(existing.iter().map(|s| s.expected_version).collect::<Vec<_>>())
        .bind(existing.iter().map(|s| s.state.clone()).collect::<Vec<_>>())
        .bind(
            existing
                .iter()
                .map(|s| s.applied_inbox_id.unwrap_or(0))
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        written.extend(rows.iter().map(|r| LeadId(r.get(0))));
    }
    let ok: Vec<&StepCommit> = steps.iter().copied().filter(|s| written.contains(&s.lead)).collect();
    let conflicts: HashSet<LeadId> = steps.iter().map(|s| s.lead).filter(|l| !written.contains(l)).collect();

    if !ok.is_empty() {
        sqlx::query(
            "UPDATE leads l SET status = u.status, phone = u.phone, manager_id = u.manager_id, reason = u.reason,
                 updated_at = now()
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])
                 AS u(id, status, phone, manager_id, reason)
             WHERE l.id = u.id",
        )
        .bind(ok.iter().map(|s| s.lead.0).collect::<Vec<_>>())
        .bind(ok.iter().map(|s| s.projection.status.as_str()).collect::<Vec<_>>())
        .bind(ok.iter().map(|s| s.projection.phone.clone()).collect::<Vec<_>>())
        .bind(ok.iter().map(|s| s.projection.manager_id.clone()).collect::<Vec<_>>())
        .bind(ok.iter().map(|s| s.projection.reason.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }

    // Each step applies exactly one inbox row (or none): mark it by primary key.
    let applied: Vec<i64> = ok.iter().filter_map(|s| s.applied_inbox_id).collect();
    if !applied.is_empty() {
        sqlx::query("UPDATE inbox SET applied_at = now() WHERE id = ANY($1::bigint[]) AND applied_at IS NULL")
            .bind(&applied)
            .execute(&mut *tx)
            .await?;
    }

    let lines: Vec<(i64, &str, &str)> = ok
        .iter()
        .flat_map(|s| {
            s.transcript
                .iter()
                .map(move |(d, t)| (s.lead.0, d.as_str(), t.as_str()))
        })
        .collect();
    if !lines.is_empty() {
        sqlx::query(
            "INSERT INTO transcript (lead_id, direction, text)
             SELECT lead_id, d, t FROM UNNEST($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS x(lead_id, d, t, n)
             ORDER BY n",
        )
        .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.1).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.2).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }

    let outbox: Vec<(i64, &super::NewOutbox)> = ok
        .iter()
        .flat_map(|s| s.outbox.iter().map(move |o| (s.lead.0, o)))
        .collect();
    if !outbox.is_empty() {
        sqlx::query(
            "INSERT INTO outbox (lead_id, kind, payload, idempotency_key)
             SELECT lead_id, kind, payload, key FROM UNNEST($1::bigint[], $2::text[], $3::jsonb[], $4::text[])
                 WITH ORDINALITY AS x(lead_id, kind, payload, key, n)
             ORDER BY n
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(outbox.iter().map(|o| o.0).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.kind.as_str()).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.payload.clone()).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.idempotency_key.as_str()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }

    // Each step's timer changes folded to their net effect per kind.
    let mut ops: BTreeMap<(i64, &str), TimerOp> = BTreeMap::new();
    for s in &ok {
        for change in &s.timers {
            match change {
                TimerChange::Arm {
                    kind,
                    due_at,
                    generation,
                } => {
                    ops.insert((s.lead.0, kind), TimerOp::Upsert(*due_at, *generation));
                }
                TimerChange::Cancel { kind } => {
                    ops.insert((s.lead.0, kind), TimerOp::Delete);
                }
                TimerChange::Fired { kind, generation } => {
                    // A re-arm in the same step has a newer generation and wins.
                    ops.entry((s.lead.0, kind))
                        .or_insert(TimerOp::DeleteIfGeneration(*generation));
                }
            }
        }
    }
    let (mut up, mut del, mut del_gen) = (vec![], vec![], vec![]);
    for ((lead, kind), op) in &ops {
        match op {
            TimerOp::Upsert(due, generation) => up.push((*lead, *kind, *due, *generation)),
            TimerOp::Delete => del.push((*lead, *kind)),
            TimerOp::DeleteIfGeneration(g) => del_gen.push((*lead, *kind, *g)),
        }
    }
    if !up.is_empty() {
        sqlx::query(
            "INSERT INTO lead_timers (lead_id, kind, due_at, generation)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::bigint[])
             ON CONFLICT (lead_id, kind)
             DO UPDATE SET due_at = EXCLUDED.due_at, generation = EXCLUDED.generation, claimed_until = NULL",
        )
        .bind(up.iter().map(|u| u.0).collect::<Vec<_>>())
        .bind(up.iter().map(|u| u.1).collect::<Vec<_>>())
        .bind(up.iter().map(|u| u.2).collect::<Vec<_>>())
        .bind(up.iter().map(|u| u.3).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !del.is_empty() {
        sqlx::query(
            "DELETE FROM lead_timers t USING UNNEST($1::bigint[], $2::text[]) AS u(lead_id, kind)
             WHERE t.lead_id = u.lead_id AND t.kind = u.kind",
        )
        .bind(del.iter().map(|d| d.0).collect::<Vec<_>>())
        .bind(del.iter().map(|d| d.1).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !del_gen.is_empty() {
        sqlx::query(
            "DELETE FROM lead_timers t USING UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS u(lead_id, kind, generation)
             WHERE t.lead_id = u.lead_id AND t.kind = u.kind AND t.generation = u.generation",
        )
        .bind(del_gen.iter().map(|d| d.0).collect::<Vec<_>>())
        .bind(del_gen.iter().map(|d| d.1).collect::<Vec<_>>())
        .bind(del_gen.iter().map(|d| d.2).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(conflicts)
}
