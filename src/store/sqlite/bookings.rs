//! [`BookingStore`] on SQLite. The compare-and-set is the primary key of `booking_cells`, as on
//! PostgreSQL; what makes it race-free here is simpler: every write goes through the one writer
//! connection in a `BEGIN IMMEDIATE` transaction (see `mod.rs`), so two bookings never
//! interleave — the second one's insert sees the first one's committed cells.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::time::{from_micros, from_micros_opt, micros, now};
use super::SqliteStore;
use crate::domain::LeadId;
use crate::store::booking_cells::cells_of;
use crate::store::{
    BookOutcome, BookingRow, BookingStore, BusyRow, ClientHistory, CsatSummary, NewBooking, NewCsat, StoreError,
    StoreResult,
};

const COLUMNS: &str = "id, lead_id, key, resource, service, starts_at, ends_at, busy_until, status, channel, \
                       client_name, phone, manager_id, created_at, cancelled_at";

fn booking_from(r: &SqliteRow) -> StoreResult<BookingRow> {
    Ok(BookingRow {
        id: r.try_get("id")?,
        lead: LeadId(r.try_get("lead_id")?),
        key: r.try_get("key")?,
        resource: r.try_get("resource")?,
        service: r.try_get("service")?,
        starts_at: from_micros(r.try_get("starts_at")?)?,
        ends_at: from_micros(r.try_get("ends_at")?)?,
        busy_until: from_micros(r.try_get("busy_until")?)?,
        status: r.try_get("status")?,
        channel: r.try_get("channel")?,
        client_name: r.try_get("client_name")?,
        phone: r.try_get("phone")?,
        manager_id: r.try_get("manager_id")?,
        created_at: from_micros(r.try_get("created_at")?)?,
        cancelled_at: from_micros_opt(r.try_get("cancelled_at")?)?,
    })
}

fn json_list<T: serde::Serialize>(items: &[T]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Books inside `tx`; the caller commits only on `Booked`.
async fn book_in(tx: &mut Transaction<'_, Sqlite>, b: &NewBooking) -> StoreResult<BookOutcome> {
    let cells = cells_of(b)?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO bookings (lead_id, key, resource, service, starts_at, ends_at, busy_until, channel,
                               client_name, phone, manager_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(b.lead.0)
    .bind(&b.key)
    .bind(&b.resource)
    .bind(&b.service)
    .bind(micros(b.starts_at))
    .bind(micros(b.ends_at))
    .bind(micros(b.busy_until))
    .bind(&b.channel)
    .bind(&b.client_name)
    .bind(&b.phone)
    .bind(&b.manager_id)
    .bind(now())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM bookings WHERE key = $1"))
            .bind(&b.key)
            .fetch_one(&mut **tx)
            .await?;
        return Ok(BookOutcome::AlreadyBooked(booking_from(&row)?));
    };
    let booking = booking_from(&row)?;
    // `WHERE true`: SQLite's parser needs it between a SELECT and its ON CONFLICT.
    let taken = sqlx::query(
        "INSERT INTO booking_cells (resource, cell, booking_id)
         SELECT $1, value, $2 FROM json_each($3) WHERE true
         ON CONFLICT DO NOTHING",
    )
    .bind(&b.resource)
    .bind(booking.id)
    .bind(json_list(&cells)?)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if taken as usize != cells.len() {
        return Ok(BookOutcome::Taken);
    }
    Ok(BookOutcome::Booked(booking))
}

async fn cancel_in(tx: &mut Transaction<'_, Sqlite>, lead: LeadId, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = $3
         WHERE id = $1 AND lead_id = $2 AND status = 'booked'",
    )
    .bind(id)
    .bind(lead.0)
    .bind(micros(at))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM booking_cells WHERE booking_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

#[async_trait]
impl BookingStore for SqliteStore {
    async fn busy(&self, resources: &[String], from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BusyRow>> {
        let rows = sqlx::query(
            "SELECT resource, starts_at, busy_until FROM bookings
             WHERE status = 'booked' AND resource IN (SELECT value FROM json_each($1))
               AND starts_at < $3 AND busy_until > $2
             ORDER BY resource, starts_at, id",
        )
        .bind(json_list(resources)?)
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BusyRow {
                    resource: r.try_get(0)?,
                    from: from_micros(r.try_get(1)?)?,
                    until: from_micros(r.try_get(2)?)?,
                })
            })
            .collect()
    }

    async fn book(&self, booking: &NewBooking) -> StoreResult<BookOutcome> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = book_in(&mut tx, booking).await?;
        if matches!(outcome, BookOutcome::Booked(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    async fn cancel_booking(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        let done = cancel_in(&mut tx, lead, booking_id, at).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn reschedule(
        &self,
        lead: LeadId,
        old_id: i64,
        new: &NewBooking,
        at: DateTime<Utc>,
    ) -> StoreResult<BookOutcome> {
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
        // The old cells go first: a move by half an hour overlaps the old visit.
        cancel_in(&mut tx, lead, old_id, at).await?;
        let outcome = book_in(&mut tx, new).await?;
        if matches!(outcome, BookOutcome::Booked(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    async fn get_booking(&self, booking_id: i64) -> StoreResult<Option<BookingRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM bookings WHERE id = $1"))
            .bind(booking_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(booking_from).transpose()
    }

    async fn bookings_of(&self, lead: LeadId) -> StoreResult<Vec<BookingRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bookings WHERE lead_id = $1 ORDER BY id"
        ))
        .bind(lead.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(booking_from).collect()
    }

    async fn bookings_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bookings WHERE starts_at >= $1 AND starts_at < $2 ORDER BY starts_at, id"
        ))
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(booking_from).collect()
    }

    async fn client_history(&self, phone: &str, except: LeadId) -> StoreResult<Option<ClientHistory>> {
        let row = sqlx::query(
            "SELECT client_name, service, resource, manager_id, starts_at,
                    count(*) OVER () AS visits
             FROM bookings WHERE phone = $1 AND lead_id <> $2 AND status <> 'cancelled'
             ORDER BY starts_at DESC, id DESC LIMIT 1",
        )
        .bind(phone)
        .bind(except.0)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(ClientHistory {
                client_name: r.try_get(0)?,
                service: r.try_get(1)?,
                resource: r.try_get(2)?,
                manager_id: r.try_get(3)?,
                starts_at: from_micros(r.try_get(4)?)?,
                visits: r.try_get(5)?,
            })
        })
        .transpose()
    }

    async fn record_csat(&self, csat: &NewCsat) -> StoreResult<bool> {
        let n = sqlx::query(
            "INSERT INTO csat (key, lead_id, score, channel, manager_id, service, booking_id, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&csat.key)
        .bind(csat.lead.0)
        .bind(i32::from(csat.score))
        .bind(&csat.channel)
        .bind(&csat.manager_id)
        .bind(&csat.service)
        .bind(csat.booking_id)
        .bind(micros(csat.at))
        .execute(&self.write)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn csat_comment(&self, lead: LeadId, key: &str, comment: &str) -> StoreResult<()> {
        sqlx::query("UPDATE csat SET comment = $3 WHERE lead_id = $1 AND key = $2")
            .bind(lead.0)
            .bind(key)
            .bind(comment)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn csat_summary(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<CsatSummary>> {
        let rows = sqlx::query(
            "SELECT channel, manager_id, service, count(*), sum(score) FROM csat
             WHERE at >= $1 AND at < $2
             GROUP BY channel, manager_id, service
             ORDER BY channel, manager_id NULLS FIRST, service NULLS FIRST",
        )
        .bind(micros(from))
        .bind(micros(to))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CsatSummary {
                    channel: r.try_get(0)?,
                    manager_id: r.try_get(1)?,
                    service: r.try_get(2)?,
                    count: r.try_get(3)?,
                    sum: r.try_get(4)?,
                })
            })
            .collect()
    }
}
