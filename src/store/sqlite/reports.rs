//! [`ReportStore`] on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::time::{from_micros, micros, now};
use super::SqliteStore;
use crate::domain::{ReportCounter, ReportDeal, ReportLead, ReportLine, ReportSend, ReportViolation};
use crate::store::{NewOutbox, ReportStore, StoreResult};

#[async_trait]
impl ReportStore for SqliteStore {
    async fn report_deals(&self) -> StoreResult<Vec<ReportDeal>> {
        let rows = sqlx::query("SELECT crm, deal_id, state FROM deals ORDER BY crm, deal_id")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportDeal {
                    crm: r.try_get(0)?,
                    deal_id: r.try_get(1)?,
                    state: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn report_violations(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportViolation>> {
        let rows = sqlx::query(
            "SELECT crm, deal_id, robot, manager, stage, started_at, due_at, detected_at FROM sla_violations
             WHERE detected_at >= $1 AND detected_at < $2 ORDER BY detected_at, id",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportViolation {
                    crm: r.try_get(0)?,
                    deal_id: r.try_get(1)?,
                    robot: r.try_get(2)?,
                    manager: r.try_get(3)?,
                    stage: r.try_get(4)?,
                    started_at: from_micros(r.try_get(5)?)?,
                    due_at: from_micros(r.try_get(6)?)?,
                    detected_at: from_micros(r.try_get(7)?)?,
                })
            })
            .collect()
    }

    async fn report_counters(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportCounter>> {
        let rows = sqlx::query(
            "SELECT crm, deal_id, counter, manager, amount, at FROM sla_counters
             WHERE at >= $1 AND at < $2 ORDER BY at, id",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportCounter {
                    crm: r.try_get(0)?,
                    deal_id: r.try_get(1)?,
                    counter: r.try_get(2)?,
                    manager: r.try_get(3)?,
                    amount: r.try_get(4)?,
                    at: from_micros(r.try_get(5)?)?,
                })
            })
            .collect()
    }

    async fn report_leads(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<ReportLead>> {
        let leads = sqlx::query(
            "SELECT id, channel, status, phone, created_at FROM leads
             WHERE created_at >= $1 AND created_at < $2 ORDER BY id",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(leads.len());
        for r in &leads {
            out.push(ReportLead {
                id: r.try_get(0)?,
                channel: r.try_get(1)?,
                status: r.try_get(2)?,
                phone: r.try_get(3)?,
                created_at: from_micros(r.try_get(4)?)?,
                lines: Vec::new(),
            });
        }
        let lines = sqlx::query(
            "SELECT t.lead_id, t.direction, t.author IS NOT NULL, t.created_at, t.text
             FROM transcript t JOIN leads l ON l.id = t.lead_id
             WHERE l.created_at >= $1 AND l.created_at < $2 ORDER BY t.lead_id, t.id",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        let mut i = 0;
        for r in &lines {
            let lead: i64 = r.try_get(0)?;
            while i < out.len() && out[i].id < lead {
                i += 1;
            }
            let Some(l) = out.get_mut(i).filter(|l| l.id == lead) else {
                continue;
            };
            let direction: String = r.try_get(1)?;
            l.lines.push(ReportLine {
                inbound: direction == "in",
                by_person: r.try_get(2)?,
                at: from_micros(r.try_get(3)?)?,
                text: r.try_get(4)?,
            });
        }
        Ok(out)
    }

    async fn record_report_send(&self, send: &ReportSend, outbox: &[NewOutbox]) -> StoreResult<bool> {
        let mut tx = self.write.begin().await?;
        let at = now();
        let inserted = sqlx::query(
            "INSERT INTO report_sends (key, kind, period_from, period_to, recipient, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&send.key)
        .bind(&send.kind)
        .bind(micros(send.period_from))
        .bind(micros(send.period_to))
        .bind(&send.recipient)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        for o in outbox {
            sqlx::query(
                "INSERT INTO outbox (lead_id, kind, payload, idempotency_key, next_attempt_at, created_at)
                 VALUES (NULL, $1, $2, $3, $4, $4) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&o.kind)
            .bind(&o.payload)
            .bind(&o.idempotency_key)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn report_send_exists(&self, key: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM report_sends WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.is_some())
    }
}
