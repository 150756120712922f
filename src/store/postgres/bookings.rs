//! [`BookingStore`] on PostgreSQL. The compare-and-set is the primary key of `booking_cells`:
//! two transactions inserting one cell serialize on it (the second waits for the first to
//! commit or roll back, then sees the conflict), and the cells go in ascending order in one
//! statement, so two overlapping bookings never deadlock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::PgStore;
use crate::domain::LeadId;
use crate::store::booking_cells::cells_of;
use crate::store::{
    BookOutcome, BookingRow, BookingStore, BusyRow, ClientHistory, CsatSummary, NewBooking, NewCsat, StoreResult,
};

const COLUMNS: &str = "id, lead_id, key, resource, service, starts_at, ends_at, busy_until, status, channel, \
                       client_name, phone, manager_id, created_at, cancelled_at";

fn booking_from(r: &PgRow) -> StoreResult<BookingRow> {
    Ok(BookingRow {
        id: r.try_get("id")?,
        lead: LeadId(r.try_get("lead_id")?),
        key: r.try_get("key")?,
        resource: r.try_get("resource")?,
        service: r.try_get("service")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        busy_until: r.try_get("busy_until")?,
        status: r.try_get("status")?,
        channel: r.try_get("channel")?,
        client_name: r.try_get("client_name")?,
        phone: r.try_get("phone")?,
        manager_id: r.try_get("manager_id")?,
        created_at: r.try_get("created_at")?,
        cancelled_at: r.try_get("cancelled_at")?,
    })
}

/// Books inside `tx`; the caller commits only on `Booked` (anything else wrote nothing that
/// should stay).
async fn book_in(tx: &mut Transaction<'_, Postgres>, b: &NewBooking) -> StoreResult<BookOutcome> {
    let cells = cells_of(b)?;
    let inserted = sqlx::query(&format!(
        "INSERT INTO bookings (lead_id, key, resource, service, starts_at, ends_at, busy_until, channel,
                               client_name, phone, manager_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(b.lead.0)
    .bind(&b.key)
    .bind(&b.resource)
    .bind(&b.service)
    .bind(b.starts_at)
    .bind(b.ends_at)
    .bind(b.busy_until)
    .bind(&b.channel)
    .bind(&b.client_name)
    .bind(&b.phone)
    .bind(&b.manager_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else {
        // The key's insert waited for a racing one to commit: a new statement sees its row.
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM bookings WHERE key = $1"))
            .bind(&b.key)
            .fetch_one(&mut **tx)
            .await?;
        return Ok(BookOutcome::AlreadyBooked(booking_from(&row)?));
    };
    let booking = booking_from(&row)?;
    let taken = sqlx::query(
        "INSERT INTO booking_cells (resource, cell, booking_id)
         SELECT $1, c, $2 FROM unnest($3::bigint[]) WITH ORDINALITY AS u(c, n) ORDER BY n
         ON CONFLICT DO NOTHING",
    )
    .bind(&b.resource)
    .bind(booking.id)
    .bind(&cells)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if taken as usize != cells.len() {
        return Ok(BookOutcome::Taken);
    }
    Ok(BookOutcome::Booked(booking))
}

async fn cancel_in(tx: &mut Transaction<'_, Postgres>, lead: LeadId, id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
    let n = sqlx::query(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = $3
         WHERE id = $1 AND lead_id = $2 AND status = 'booked'",
    )
    .bind(id)
    .bind(lead.0)
    .bind(at)
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
impl BookingStore for PgStore {
    async fn busy(&self, resources: &[String], from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BusyRow>> {
        let rows = sqlx::query(
            "SELECT resource, starts_at, busy_until FROM bookings
             WHERE status = 'booked' AND resource = ANY($1) AND starts_at < $3 AND busy_until > $2
             ORDER BY resource, starts_at, id",
        )
        .bind(resources)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BusyRow {
                    resource: r.try_get(0)?,
                    from: r.try_get(1)?,
                    until: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn book(&self, booking: &NewBooking) -> StoreResult<BookOutcome> {
        let mut tx = self.pool.begin().await?;
        let outcome = book_in(&mut tx, booking).await?;
        if matches!(outcome, BookOutcome::Booked(_)) {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(outcome)
    }

    async fn cancel_booking(&self, lead: LeadId, booking_id: i64, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(booking_from).transpose()
    }

    async fn bookings_of(&self, lead: LeadId) -> StoreResult<Vec<BookingRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bookings WHERE lead_id = $1 ORDER BY id"
        ))
        .bind(lead.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(booking_from).collect()
    }

    async fn bookings_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<BookingRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bookings WHERE starts_at >= $1 AND starts_at < $2 ORDER BY starts_at, id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
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
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(ClientHistory {
                client_name: r.try_get(0)?,
                service: r.try_get(1)?,
                resource: r.try_get(2)?,
                manager_id: r.try_get(3)?,
                starts_at: r.try_get(4)?,
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
        .bind(csat.at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    async fn csat_comment(&self, lead: LeadId, key: &str, comment: &str) -> StoreResult<()> {
        sqlx::query("UPDATE csat SET comment = $3 WHERE lead_id = $1 AND key = $2")
            .bind(lead.0)
            .bind(key)
            .bind(comment)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn csat_summary(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<Vec<CsatSummary>> {
        let rows = sqlx::query(
            "SELECT channel, manager_id, service, count(*), sum(score)::BIGINT FROM csat
             WHERE at >= $1 AND at < $2
             GROUP BY channel, manager_id, service
             ORDER BY channel, manager_id NULLS FIRST, service NULLS FIRST",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
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
