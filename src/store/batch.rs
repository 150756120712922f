//! The batch statements behind the group-commit writers (`group_commit.rs`): lead steps and
//! inbox rows, each batch in one transaction of multi-row `UNNEST` statements.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

pub use super::batch_results::InboxJob;
use super::batch_results::{inbox_first_ids, inbox_results, step_results, transcript_entries, BatchOutcome};
use super::{StepCommit, StoreError, StoreResult, StoredInbox, TimerChange};
use crate::domain::LeadId;

/// Commits a batch of steps; a stale step fails alone (version conflict), a lost connection
/// fails the batch (nothing written: every actor restarts from its old snapshot).
pub async fn commit_steps(
    pool: &PgPool,
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
            steps.iter().map(|_| Err(batch_error(&e))).collect()
        }
    }
}

/// A batch-wide failure, as each of its callers gets it.
fn batch_error(e: &sqlx::Error) -> StoreError {
    StoreError::copy_of(e)
}

/// Inserts a batch of inbox rows: `Ok(Some(row))` stored, `Ok(None)` a duplicate,
/// `LeadNotFound`.
pub async fn insert_inbox(pool: &PgPool, jobs: Vec<InboxJob>) -> Vec<StoreResult<Option<StoredInbox>>> {
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
        Err(e) => jobs.iter().map(|_| Err(batch_error(&e))).collect(),
    }
}

async fn insert_inbox_batch(
    pool: &PgPool,
    jobs: &[InboxJob],
) -> Result<Vec<StoreResult<Option<StoredInbox>>>, sqlx::Error> {
    let payloads: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| serde_json::to_value(&j.payload).unwrap_or(serde_json::Value::Null))
        .collect();
    // `prev`: the lead's newest row before this statement (the statement's own rows are not
    // visible to it; rows of one lead within the batch are chained below). This writer is the
    // only one adding rows to a lead that exists, so nothing can land between the two.
    let rows = sqlx::query(
        "WITH ins AS (
             INSERT INTO inbox (lead_id, source, dedupe_key, payload)
             SELECT u.lead_id, u.source, u.key, u.payload
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::jsonb[]) WITH ORDINALITY AS u(lead_id, source, key, payload, n)
             JOIN leads l ON l.id = u.lead_id
             ORDER BY u.n
             ON CONFLICT (source, dedupe_key) DO NOTHING
             RETURNING id, lead_id, source, dedupe_key, received_at)
         SELECT ins.id, ins.source, ins.dedupe_key, ins.received_at, ins.lead_id,
             COALESCE((SELECT max(i.id) FROM inbox i WHERE i.lead_id = ins.lead_id), 0) AS prev
         FROM ins ORDER BY ins.id",
    )
    .bind(jobs.iter().map(|j| j.lead.0).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.source.as_str()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.dedupe_key.as_str()).collect::<Vec<_>>())
    .bind(&payloads)
    .fetch_all(pool)
    .await?;
    let mut last_of_lead: HashMap<i64, i64> = HashMap::new();
    let mut stored: HashMap<(String, String), StoredInbox> = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get(0)?;
        let lead: i64 = r.try_get(4)?;
        let before: i64 = r.try_get(5)?;
        // Ascending ids: a lead's earlier row in this batch is this one's predecessor.
        let prev = last_of_lead.insert(lead, id).unwrap_or(before);
        stored.insert(
            (r.try_get(1)?, r.try_get(2)?),
            StoredInbox {
                id,
                prev: Some(prev),
                received_at: r.try_get(3)?,
            },
        );
    }
    // Rows not inserted are duplicates, unless their lead does not exist.
    let (gets_id, missing) = inbox_first_ids(jobs, &stored);
    let existing: HashSet<i64> = if missing.is_empty() {
        HashSet::new()
    } else {
        sqlx::query("SELECT id FROM leads WHERE id = ANY($1::bigint[])")
            .bind(&missing)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    Ok(inbox_results(jobs, gets_id, &stored, &existing))
}

/// The net effect of a step on one timer kind.
enum TimerOp {
    Upsert(DateTime<Utc>, i64),
    Delete,
    DeleteIfGeneration(i64),
}

/// Commits `steps` (at most one per lead) in one transaction; returns the leads whose
/// snapshot version did not match (nothing of theirs is written).
async fn commit_batch(pool: &PgPool, steps: &[&StepCommit]) -> Result<BatchOutcome, sqlx::Error> {
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

    // Steps that changed nothing on the card write nothing there.
    let cards: Vec<&StepCommit> = ok.iter().copied().filter(|s| !s.projection_unchanged).collect();
    if !cards.is_empty() {
        sqlx::query(
            "UPDATE leads l SET status = u.status, phone = u.phone, manager_id = u.manager_id, reason = u.reason,
                 channel = u.channel, updated_at = now()
             FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                 AS u(id, status, phone, manager_id, reason, channel)
             WHERE l.id = u.id",
        )
        .bind(cards.iter().map(|s| s.lead.0).collect::<Vec<_>>())
        .bind(cards.iter().map(|s| s.projection.status.as_str()).collect::<Vec<_>>())
        .bind(
            cards
                .iter()
                .map(|s| s.projection.phone.as_ref().map(|p| p.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(
            cards
                .iter()
                .map(|s| s.projection.manager_id.as_ref().map(|m| m.as_str()))
                .collect::<Vec<_>>(),
        )
        .bind(cards.iter().map(|s| s.projection.reason.clone()).collect::<Vec<_>>())
        .bind(cards.iter().map(|s| s.projection.channel.as_str()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }

    // Each step applies exactly one inbox row (or none): mark it by primary key only (an
    // `applied_at IS NULL` condition lures the planner onto the partial index, whose dead
    // entries grow with history).
    let applied: Vec<i64> = ok.iter().filter_map(|s| s.applied_inbox_id).collect();
    if !applied.is_empty() {
        sqlx::query("UPDATE inbox SET applied_at = now() WHERE id = ANY($1::bigint[])")
            .bind(&applied)
            .execute(&mut *tx)
            .await?;
    }

    let lines: Vec<(i64, &str, &str, Option<&str>)> = ok
        .iter()
        .flat_map(|s| {
            s.transcript.iter().map(move |(d, t)| {
                let author = (*d == super::Direction::Out).then_some(s.author.as_deref()).flatten();
                (s.lead.0, d.as_str(), t.as_str(), author)
            })
        })
        .collect();
    let mut transcript = std::collections::HashMap::new();
    if !lines.is_empty() {
        // The stored lines go back to the actor (it answers the client with them): no read.
        let rows = sqlx::query(
            "INSERT INTO transcript (lead_id, direction, text, author)
             SELECT lead_id, d, t, a FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS x(lead_id, d, t, a, n)
             ORDER BY n
             RETURNING id, created_at",
        )
        .bind(lines.iter().map(|l| l.0).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.1).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.2).collect::<Vec<_>>())
        .bind(lines.iter().map(|l| l.3).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        let at: DateTime<Utc> = rows.first().map_or_else(Utc::now, |r| r.get(1));
        transcript = transcript_entries(&ok, rows.iter().map(|r| r.get(0)).collect(), at);
    }

    let outbox: Vec<(i64, &super::NewOutbox)> = ok
        .iter()
        .flat_map(|s| s.outbox.iter().map(move |o| (s.lead.0, o)))
        .collect();
    if !outbox.is_empty() {
        sqlx::query(
            "INSERT INTO outbox (lead_id, kind, payload, idempotency_key, status, sent_at)
             SELECT lead_id, kind, payload, key,
                 CASE WHEN delivered THEN 'sent' ELSE 'pending' END, CASE WHEN delivered THEN now() END
             FROM UNNEST($1::bigint[], $2::text[], $3::jsonb[], $4::text[], $5::bool[])
                 WITH ORDINALITY AS x(lead_id, kind, payload, key, delivered, n)
             ORDER BY n
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(outbox.iter().map(|o| o.0).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.kind.as_str()).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.payload.clone()).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.idempotency_key.as_str()).collect::<Vec<_>>())
        .bind(outbox.iter().map(|o| o.1.delivered).collect::<Vec<_>>())
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
             DO UPDATE SET due_at = EXCLUDED.due_at, generation = EXCLUDED.generation, claimed_until = NULL,
                 claimed_by = NULL",
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
    Ok(BatchOutcome { conflicts, transcript })
}
