//! The embedded store's group-commit batches (the writers are `group_commit.rs`'s, as on
//! PostgreSQL): each batch is one `BEGIN IMMEDIATE … COMMIT`, so one WAL fsync, however many
//! steps it holds. SQLite has no `UNNEST`; the batch's rows travel as one JSON array per table
//! and `json_each` turns it into rows, so a batch is a handful of statements, not one per row.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{json, Value};
use sqlx::{Row, SqlitePool};

use super::time::{micros, now};
use crate::domain::LeadId;
pub use crate::store::batch_results::InboxJob;
use crate::store::batch_results::{inbox_first_ids, inbox_results, step_results, transcript_entries, BatchOutcome};
use crate::store::{StepCommit, StoreError, StoreResult, TimerChange};

/// Commits a batch of steps; a stale step fails alone (version conflict), a failure of the
/// file fails the batch (nothing written: every actor restarts from its old snapshot).
pub async fn commit_steps(
    pool: &SqlitePool,
    steps: Vec<StepCommit>,
) -> Vec<StoreResult<Vec<crate::store::TranscriptEntry>>> {
    let refs: Vec<&StepCommit> = steps.iter().collect();
    match commit_batch(pool, &refs).await {
        Ok(outcome) => step_results(&refs, outcome),
        // The database refused something in the batch (one step's data): one bad step must
        // never fail its neighbours, so each is tried on its own.
        Err(e) if refs.len() > 1 && !StoreError::copy_of(&e).is_transient() => {
            tracing::warn!(error = %e, steps = refs.len(), "state batch refused; committing its steps one by one");
            let mut out = Vec::with_capacity(refs.len());
            for step in &refs {
                out.push(match commit_batch(pool, std::slice::from_ref(step)).await {
                    Ok(outcome) => step_results(std::slice::from_ref(step), outcome).remove(0),
                    Err(e) => Err(e.into()),
                });
            }
            out
        }
        Err(e) => {
            tracing::warn!(error = %e, steps = steps.len(), "state batch failed");
            steps.iter().map(|_| Err(StoreError::copy_of(&e))).collect()
        }
    }
}

/// Inserts a batch of inbox rows: `Ok(Some(id))` stored, `Ok(None)` a duplicate, `LeadNotFound`.
pub async fn insert_inbox(pool: &SqlitePool, jobs: Vec<InboxJob>) -> Vec<StoreResult<Option<i64>>> {
    match insert_inbox_batch(pool, &jobs).await {
        Ok(results) => results,
        // One row the database refuses must not fail the others' requests: each on its own.
        Err(e) if jobs.len() > 1 && !StoreError::copy_of(&e).is_transient() => {
            tracing::warn!(error = %e, rows = jobs.len(), "inbox batch refused; inserting its rows one by one");
            let mut out = Vec::with_capacity(jobs.len());
            for job in &jobs {
                out.push(match insert_inbox_batch(pool, std::slice::from_ref(job)).await {
                    Ok(mut r) => r.remove(0),
                    Err(e) => Err(e.into()),
                });
            }
            out
        }
        Err(e) => jobs.iter().map(|_| Err(StoreError::copy_of(&e))).collect(),
    }
}

async fn insert_inbox_batch(
    pool: &SqlitePool,
    jobs: &[InboxJob],
) -> Result<Vec<StoreResult<Option<i64>>>, sqlx::Error> {
    let rows: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "lead": j.lead.0,
                "source": j.source,
                "key": j.dedupe_key,
                "payload": serde_json::to_value(&j.payload).unwrap_or(Value::Null),
            })
        })
        .collect();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // `WHERE true`: SQLite's grammar needs it before an upsert clause on INSERT … SELECT.
    let inserted = sqlx::query(
        "INSERT INTO inbox (lead_id, source, dedupe_key, payload, received_at)
         SELECT u.value ->> 'lead', u.value ->> 'source', u.value ->> 'key', u.value -> 'payload', $2
         FROM json_each($1) AS u JOIN leads l ON l.id = u.value ->> 'lead'
         WHERE true ORDER BY u.key
         ON CONFLICT (source, dedupe_key) DO NOTHING
         RETURNING id, source, dedupe_key",
    )
    .bind(Value::Array(rows))
    .bind(now())
    .fetch_all(&mut *tx)
    .await?;
    let stored: HashMap<(String, String), i64> = inserted
        .iter()
        .map(|r| ((r.get::<String, _>(1), r.get::<String, _>(2)), r.get::<i64, _>(0)))
        .collect();
    // Rows not inserted are duplicates, unless their lead does not exist.
    let (gets_id, missing) = inbox_first_ids(jobs, &stored);
    let existing: HashSet<i64> = if missing.is_empty() {
        HashSet::new()
    } else {
        sqlx::query("SELECT id FROM leads WHERE id IN (SELECT value FROM json_each($1))")
            .bind(json!(missing))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    tx.commit().await?;
    Ok(inbox_results(jobs, gets_id, &stored, &existing))
}

/// The net effect of a step on one timer kind.
enum TimerOp {
    Upsert(i64, i64),
    Delete,
    DeleteIfGeneration(i64),
}

/// Commits `steps` (at most one per lead) in one transaction; returns the leads whose
/// snapshot version did not match (nothing of theirs is written).
async fn commit_batch(pool: &SqlitePool, steps: &[&StepCommit]) -> Result<BatchOutcome, sqlx::Error> {
    let now = now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;

    let (fresh, existing): (Vec<&&StepCommit>, Vec<&&StepCommit>) = steps.iter().partition(|s| s.expected_version == 0);
    let mut written: HashSet<LeadId> = HashSet::new();
    if !fresh.is_empty() {
        let rows: Vec<Value> = fresh
            .iter()
            .map(|s| json!({"lead": s.lead.0, "state": s.state, "applied": s.applied_inbox_id.unwrap_or(0)}))
            .collect();
        let done = sqlx::query(
            "INSERT INTO lead_snapshots (lead_id, version, state, last_applied_inbox_id, updated_at)
             SELECT u.value ->> 'lead', 1, u.value -> 'state', u.value ->> 'applied', $2 FROM json_each($1) AS u
             WHERE true
             ON CONFLICT (lead_id) DO NOTHING
             RETURNING lead_id",
        )
        .bind(Value::Array(rows))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        written.extend(done.iter().map(|r| LeadId(r.get(0))));
    }
    if !existing.is_empty() {
        let rows: Vec<Value> = existing
            .iter()
            .map(|s| {
                json!({
                    "lead": s.lead.0,
                    "expected": s.expected_version,
                    "state": s.state,
                    "applied": s.applied_inbox_id.unwrap_or(0),
                })
            })
            .collect();
        let done = sqlx::query(
            "UPDATE lead_snapshots AS s
             SET version = u.expected + 1, state = u.state,
                 last_applied_inbox_id = max(s.last_applied_inbox_id, u.applied), updated_at = $2
             FROM (SELECT value ->> 'lead' AS lead_id, value ->> 'expected' AS expected, value -> 'state' AS state,
                          value ->> 'applied' AS applied
                   FROM json_each($1)) AS u
             WHERE s.lead_id = u.lead_id AND s.version = u.expected
             RETURNING lead_id",
        )
        .bind(Value::Array(rows))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        written.extend(done.iter().map(|r| LeadId(r.get(0))));
    }
    let ok: Vec<&StepCommit> = steps.iter().copied().filter(|s| written.contains(&s.lead)).collect();
    let conflicts: HashSet<LeadId> = steps.iter().map(|s| s.lead).filter(|l| !written.contains(l)).collect();

    // Steps that changed nothing on the card write nothing there.
    let cards: Vec<&StepCommit> = ok.iter().copied().filter(|s| !s.projection_unchanged).collect();
    if !cards.is_empty() {
        let rows: Vec<Value> = cards
            .iter()
            .map(|s| {
                json!({
                    "id": s.lead.0,
                    "status": s.projection.status.as_str(),
                    "phone": s.projection.phone.as_ref().map(|p| p.as_str()),
                    "manager_id": s.projection.manager_id.as_ref().map(|m| m.as_str()),
                    "reason": s.projection.reason,
                    "channel": s.projection.channel.as_str(),
                })
            })
            .collect();
        sqlx::query(
            "UPDATE leads AS l SET status = u.status, phone = u.phone, manager_id = u.manager_id, reason = u.reason,
                 channel = u.channel, updated_at = $2
             FROM (SELECT value ->> 'id' AS id, value ->> 'status' AS status, value ->> 'phone' AS phone,
                          value ->> 'manager_id' AS manager_id, value ->> 'reason' AS reason,
                          value ->> 'channel' AS channel
                   FROM json_each($1)) AS u
             WHERE l.id = u.id",
        )
        .bind(Value::Array(rows))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }

    // Each step applies exactly one inbox row (or none): marked by primary key.
    let applied: Vec<i64> = ok.iter().filter_map(|s| s.applied_inbox_id).collect();
    if !applied.is_empty() {
        sqlx::query("UPDATE inbox SET applied_at = $2 WHERE id IN (SELECT value FROM json_each($1))")
            .bind(json!(applied))
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }

    let lines: Vec<Value> = ok
        .iter()
        .flat_map(|s| {
            s.transcript.iter().map(move |(d, t)| {
                let author = (*d == crate::store::Direction::Out)
                    .then_some(s.author.as_deref())
                    .flatten();
                json!({"lead": s.lead.0, "d": d.as_str(), "t": t, "a": author})
            })
        })
        .collect();
    let mut transcript = HashMap::new();
    if !lines.is_empty() {
        // The stored lines go back to the actor (it answers the client with them): no read.
        let rows = sqlx::query(
            "INSERT INTO transcript (lead_id, direction, text, created_at, author)
             SELECT value ->> 'lead', value ->> 'd', value ->> 't', $2, value ->> 'a' FROM json_each($1) WHERE true ORDER BY key
             RETURNING id",
        )
        .bind(Value::Array(lines))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let at = super::time::from_micros(now).unwrap_or_else(|_| chrono::Utc::now());
        transcript = transcript_entries(&ok, rows.iter().map(|r| r.get(0)).collect(), at);
    }

    let outbox: Vec<Value> = ok
        .iter()
        .flat_map(|s| {
            s.outbox
                .iter()
                .map(move |o| json!({"lead": s.lead.0, "kind": o.kind, "payload": o.payload, "key": o.idempotency_key, "delivered": o.delivered}))
        })
        .collect();
    if !outbox.is_empty() {
        sqlx::query(
            "INSERT INTO outbox (lead_id, kind, payload, idempotency_key, next_attempt_at, created_at, status, sent_at)
             SELECT value ->> 'lead', value ->> 'kind', value -> 'payload', value ->> 'key', $2, $2,
                 CASE WHEN value ->> 'delivered' THEN 'sent' ELSE 'pending' END,
                 CASE WHEN value ->> 'delivered' THEN $2 END
             FROM json_each($1)
             WHERE true ORDER BY key
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(Value::Array(outbox))
        .bind(now)
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
                    ops.insert((s.lead.0, kind), TimerOp::Upsert(micros(*due_at), *generation));
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
            TimerOp::Upsert(due, generation) => {
                up.push(json!({"lead": lead, "kind": kind, "due": due, "gen": generation}))
            }
            TimerOp::Delete => del.push(json!({"lead": lead, "kind": kind})),
            TimerOp::DeleteIfGeneration(g) => del_gen.push(json!({"lead": lead, "kind": kind, "gen": g})),
        }
    }
    if !up.is_empty() {
        sqlx::query(
            "INSERT INTO lead_timers (lead_id, kind, due_at, generation)
             SELECT value ->> 'lead', value ->> 'kind', value ->> 'due', value ->> 'gen' FROM json_each($1)
             WHERE true
             ON CONFLICT (lead_id, kind)
             DO UPDATE SET due_at = excluded.due_at, generation = excluded.generation, claimed_until = NULL,
                 claimed_by = NULL",
        )
        .bind(Value::Array(up))
        .execute(&mut *tx)
        .await?;
    }
    if !del.is_empty() {
        sqlx::query(
            "DELETE FROM lead_timers
             WHERE (lead_id, kind) IN (SELECT value ->> 'lead', value ->> 'kind' FROM json_each($1))",
        )
        .bind(Value::Array(del))
        .execute(&mut *tx)
        .await?;
    }
    if !del_gen.is_empty() {
        sqlx::query(
            "DELETE FROM lead_timers
             WHERE (lead_id, kind, generation) IN
                   (SELECT value ->> 'lead', value ->> 'kind', value ->> 'gen' FROM json_each($1))",
        )
        .bind(Value::Array(del_gen))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(BatchOutcome { conflicts, transcript })
}
