//! [`JobStore`] on PostgreSQL: `jobs`, `job_reveals`, `deal_assignments`, and outbox rows that
//! belong to no lead.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use crate::domain::{Claim, DealJob, JobTaker};
use crate::store::{JobRow, JobStore, NewOutbox, StoreError, StoreResult};

const JOB_COLUMNS: &str = "id, deal_id, details, chat_id, message_id, taken_by, taken_by_name, crm_user_id";

fn job_from_row(r: &PgRow) -> StoreResult<JobRow> {
    Ok(JobRow {
        id: r.try_get(0)?,
        deal_id: r.try_get(1)?,
        // A row written by an older version may not read as today's DealJob: keep the job.
        deal: serde_json::from_value(r.try_get(2)?).ok(),
        chat_id: r.try_get(3)?,
        message_id: r.try_get(4)?,
        taken_by: r.try_get(5)?,
        taken_by_name: r.try_get(6)?,
        crm_user_id: r.try_get(7)?,
    })
}

async fn insert_effects(tx: &mut Transaction<'_, Postgres>, effects: &[NewOutbox]) -> StoreResult<()> {
    for e in effects {
        sqlx::query(
            "INSERT INTO outbox (lead_id, kind, payload, idempotency_key) VALUES (NULL, $1, $2, $3)
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&e.kind)
        .bind(&e.payload)
        .bind(&e.idempotency_key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl JobStore for PgStore {
    async fn upsert_job(&self, deal_id: &str, deal: &DealJob, chat_id: i64) -> StoreResult<JobRow> {
        let details = serde_json::to_value(deal).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (deal_id, details, chat_id) VALUES ($1, $2, $3)
             ON CONFLICT (deal_id) DO UPDATE SET deal_id = EXCLUDED.deal_id
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(deal_id)
        .bind(details)
        .bind(chat_id)
        .fetch_one(&self.pool)
        .await?;
        job_from_row(&row)
    }

    async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<JobRow>> {
        let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn reveals(&self, job_id: i64) -> StoreResult<Vec<crate::store::RevealRow>> {
        let rows =
            sqlx::query("SELECT user_id, user_name, login, via, at FROM job_reveals WHERE job_id = $1 ORDER BY id")
                .bind(job_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::store::RevealRow {
                    user_id: r.try_get(0)?,
                    user_name: r.try_get(1)?,
                    login: r.try_get(2)?,
                    via: r.try_get(3)?,
                    at: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn job(&self, id: i64) -> StoreResult<Option<JobRow>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_of_deal(&self, deal_id: &str) -> StoreResult<Option<JobRow>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE deal_id = $1"))
            .bind(deal_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn unposted_jobs(&self, chat_id: i64) -> StoreResult<i64> {
        let row =
            sqlx::query("SELECT count(*) FROM jobs WHERE chat_id = $1 AND message_id IS NULL AND taken_by IS NULL")
                .bind(chat_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }

    async fn job_posted(&self, id: i64, message_id: Option<i64>) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET message_id = $2, posted_at = now() WHERE id = $1")
            .bind(id)
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn jobs_to_repost(&self, stale_secs: f64, limit: i64) -> StoreResult<Vec<JobRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs
             WHERE taken_by IS NULL
               AND (message_id IS NULL OR ($1 >= 0 AND posted_at < now() - make_interval(secs => $1)))
             ORDER BY id LIMIT $2"
        ))
        .bind(stale_secs)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn claim_job(
        &self,
        id: i64,
        taker: &JobTaker,
        executor: &str,
        effects: &(dyn for<'r> Fn(&'r JobRow) -> Vec<NewOutbox> + Send + Sync),
    ) -> StoreResult<Claim> {
        let mut tx = self.pool.begin().await?;
        let won = sqlx::query(&format!(
            "UPDATE jobs SET taken_by = $2, taken_by_name = $3, taken_by_login = $4, crm_user_id = $5, taken_at = now()
             WHERE id = $1 AND taken_by IS NULL
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(id)
        .bind(taker.user_id)
        .bind(&taker.name)
        .bind(&taker.login)
        .bind(&taker.crm_user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = won {
            let job = job_from_row(&row)?;
            let deal_id = job.deal_id.clone();
            sqlx::query(
                "INSERT INTO deal_assignments (deal_id, crm_user_id, executor) VALUES ($1, $2, $3)
                 ON CONFLICT (deal_id) DO UPDATE SET crm_user_id = EXCLUDED.crm_user_id, executor = EXCLUDED.executor, at = now()",
            )
            .bind(&deal_id)
            .bind(&taker.crm_user_id)
            .bind(executor)
            .execute(&mut *tx)
            .await?;
            let rows = effects(&job);
            insert_effects(&mut tx, &rows).await?;
            tx.commit().await?;
            return Ok(Claim::Won { deal_id });
        }
        tx.rollback().await?;
        let current = sqlx::query("SELECT taken_by FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match current {
            None => Claim::NoSuchJob,
            Some(r) if r.try_get::<Option<i64>, _>(0)? == Some(taker.user_id) => Claim::AlreadyYours,
            Some(_) => Claim::Taken,
        })
    }

    async fn record_reveal(&self, job_id: i64, taker: &JobTaker, via: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO job_reveals (job_id, user_id, user_name, login, via) VALUES ($1, $2, $3, $4, $5)")
            .bind(job_id)
            .bind(taker.user_id)
            .bind(&taker.name)
            .bind(&taker.login)
            .bind(via)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn enqueue_effects(&self, effects: &[NewOutbox]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_effects(&mut tx, effects).await?;
        tx.commit().await?;
        Ok(())
    }
}
