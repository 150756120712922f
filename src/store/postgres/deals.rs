//! [`DealStore`] on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::PgStore;
use crate::store::{
    CounterRow, DealCommit, DealInboxItem, DealRef, DealSnapshot, DealStore, DealTimerChange, DueDealTimer, StoreError,
    StoreResult, ViolationRow,
};

fn violation(r: &PgRow) -> StoreResult<ViolationRow> {
    Ok(ViolationRow {
        key: r.try_get(0)?,
        crm: r.try_get(1)?,
        deal_id: r.try_get(2)?,
        robot: r.try_get(3)?,
        manager: r.try_get(4)?,
        stage: r.try_get(5)?,
        started_at: r.try_get(6)?,
        due_at: r.try_get(7)?,
        detected_at: r.try_get(8)?,
    })
}

fn counter(r: &PgRow) -> StoreResult<CounterRow> {
    Ok(CounterRow {
        key: r.try_get(0)?,
        crm: r.try_get(1)?,
        deal_id: r.try_get(2)?,
        counter: r.try_get(3)?,
        manager: r.try_get(4)?,
        amount: r.try_get(5)?,
        at: r.try_get(6)?,
    })
}

#[async_trait]
impl DealStore for PgStore {
    async fn enqueue_deal_event(&self, deal: &DealRef, dedupe_key: &str, event: &Value) -> StoreResult<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO deal_inbox (crm, deal_id, dedupe_key, event) VALUES ($1, $2, $3, $4)
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind(&deal.crm)
        .bind(&deal.deal_id)
        .bind(dedupe_key)
        .bind(event)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| r.try_get(0)).transpose().map_err(Into::into)
    }

    async fn load_deal(&self, deal: &DealRef) -> StoreResult<Option<DealSnapshot>> {
        let row = sqlx::query("SELECT state, version, last_applied_id FROM deals WHERE crm = $1 AND deal_id = $2")
            .bind(&deal.crm)
            .bind(&deal.deal_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(DealSnapshot {
                state: r.try_get(0)?,
                version: r.try_get(1)?,
                last_applied_id: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn deal_inbox_after(&self, deal: &DealRef, after_id: i64, limit: i64) -> StoreResult<Vec<DealInboxItem>> {
        let rows = sqlx::query(
            "SELECT id, event, received_at FROM deal_inbox
             WHERE crm = $1 AND deal_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(&deal.crm)
        .bind(&deal.deal_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DealInboxItem {
                    id: r.try_get(0)?,
                    event: r.try_get(1)?,
                    received_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn commit_deal_step(&self, step: &DealCommit) -> StoreResult<()> {
        let d = &step.deal;
        let mut tx = self.pool.begin().await?;
        let last_applied = step.applied_inbox_id.unwrap_or(0);
        let updated = if step.expected_version == 0 {
            sqlx::query(
                "INSERT INTO deals (crm, deal_id, state, version, last_applied_id) VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (crm, deal_id) DO NOTHING",
            )
            .bind(&d.crm)
            .bind(&d.deal_id)
            .bind(&step.state)
            .bind(last_applied)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            sqlx::query(
                "UPDATE deals SET state = $3, version = version + 1,
                        last_applied_id = GREATEST(last_applied_id, $5), updated_at = now()
                 WHERE crm = $1 AND deal_id = $2 AND version = $4",
            )
            .bind(&d.crm)
            .bind(&d.deal_id)
            .bind(&step.state)
            .bind(step.expected_version)
            .bind(last_applied)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        if updated != 1 {
            return Err(StoreError::DealVersionConflict {
                deal: d.to_string(),
                expected: step.expected_version,
            });
        }
        if let Some(id) = step.applied_inbox_id {
            sqlx::query("UPDATE deal_inbox SET applied = true WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for t in &step.timers {
            match t {
                DealTimerChange::Arm { key, due_at } => {
                    sqlx::query(
                        "INSERT INTO deal_timers (crm, deal_id, key, due_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (crm, deal_id, key) DO UPDATE SET due_at = EXCLUDED.due_at, claimed_until = NULL",
                    )
                    .bind(&d.crm)
                    .bind(&d.deal_id)
                    .bind(key)
                    .bind(due_at)
                    .execute(&mut *tx)
                    .await?;
                }
                DealTimerChange::Cancel { key } => {
                    sqlx::query("DELETE FROM deal_timers WHERE crm = $1 AND deal_id = $2 AND key = $3")
                        .bind(&d.crm)
                        .bind(&d.deal_id)
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                }
                DealTimerChange::Fired { key, due_at } => {
                    sqlx::query("DELETE FROM deal_timers WHERE crm = $1 AND deal_id = $2 AND key = $3 AND due_at = $4")
                        .bind(&d.crm)
                        .bind(&d.deal_id)
                        .bind(key)
                        .bind(due_at)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        for o in &step.outbox {
            sqlx::query(
                "INSERT INTO outbox (lead_id, kind, payload, idempotency_key) VALUES (NULL, $1, $2, $3)
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&o.kind)
            .bind(&o.payload)
            .bind(&o.idempotency_key)
            .execute(&mut *tx)
            .await?;
        }
        for v in &step.violations {
            sqlx::query(
                "INSERT INTO sla_violations (key, crm, deal_id, robot, manager, stage, started_at, due_at, detected_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&v.key)
            .bind(&v.crm)
            .bind(&v.deal_id)
            .bind(&v.robot)
            .bind(&v.manager)
            .bind(&v.stage)
            .bind(v.started_at)
            .bind(v.due_at)
            .bind(v.detected_at)
            .execute(&mut *tx)
            .await?;
        }
        for c in &step.counters {
            sqlx::query(
                "INSERT INTO sla_counters (key, crm, deal_id, counter, manager, amount, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING",
            )
            .bind(&c.key)
            .bind(&c.crm)
            .bind(&c.deal_id)
            .bind(&c.counter)
            .bind(&c.manager)
            .bind(c.amount)
            .bind(c.at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn claim_due_deal_timers(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<DueDealTimer>> {
        let rows = sqlx::query(
            "UPDATE deal_timers t SET claimed_until = $2
             FROM (SELECT crm, deal_id, key FROM deal_timers
                   WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
                   ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
             WHERE t.crm = due.crm AND t.deal_id = due.deal_id AND t.key = due.key
             RETURNING t.crm, t.deal_id, t.key, t.due_at",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut timers = rows
            .iter()
            .map(|r| {
                Ok(DueDealTimer {
                    deal: DealRef {
                        crm: r.try_get(0)?,
                        deal_id: r.try_get(1)?,
                    },
                    key: r.try_get(2)?,
                    due_at: r.try_get(3)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        timers.sort_by_key(|t| t.due_at);
        Ok(timers)
    }

    async fn next_deal_timer_due(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT min(GREATEST(due_at, COALESCE(claimed_until, due_at))) FROM deal_timers")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn deal_timers(&self, deal: &DealRef) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        let rows =
            sqlx::query("SELECT key, due_at FROM deal_timers WHERE crm = $1 AND deal_id = $2 ORDER BY due_at, key")
                .bind(&deal.crm)
                .bind(&deal.deal_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn deals_with_unapplied_events(&self, limit: i64) -> StoreResult<Vec<DealRef>> {
        let rows = sqlx::query(
            "SELECT crm, deal_id FROM deal_inbox WHERE NOT applied
             GROUP BY crm, deal_id ORDER BY min(id) LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DealRef {
                    crm: r.try_get(0)?,
                    deal_id: r.try_get(1)?,
                })
            })
            .collect()
    }

    async fn has_unapplied_deal_events(&self, deal: &DealRef) -> StoreResult<bool> {
        let row =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM deal_inbox WHERE crm = $1 AND deal_id = $2 AND NOT applied)")
                .bind(&deal.crm)
                .bind(&deal.deal_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }

    async fn violations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ViolationRow>> {
        let rows = sqlx::query(
            "SELECT key, crm, deal_id, robot, manager, stage, started_at, due_at, detected_at FROM sla_violations
             WHERE detected_at >= $1 AND detected_at < $2 ORDER BY detected_at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(violation).collect()
    }

    async fn counters(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<CounterRow>> {
        let rows = sqlx::query(
            "SELECT key, crm, deal_id, counter, manager, amount, at FROM sla_counters
             WHERE at >= $1 AND at < $2 ORDER BY at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(counter).collect()
    }

    async fn tracked_deals(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT count(*) FROM deals").fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }
}
