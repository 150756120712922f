//! The cells a booking occupies (see `bookings.rs`): every `cell_seconds` cell of
//! `[floor(starts_at), ceil(busy_until))` on the epoch grid (`floor(t / cell) * cell`), as epoch
//! seconds. Both stores insert exactly these, so the compare-and-set is the same on both.

use super::{NewBooking, StoreError, StoreResult};

/// More cells than this is not a visit but a mistake (a year at one-minute cells is 525 600):
/// refused instead of inserting a million rows.
const MAX_CELLS: i64 = 10_000;

pub(super) fn cells_of(b: &NewBooking) -> StoreResult<Vec<i64>> {
    let cell = b.cell_seconds;
    if cell <= 0 {
        return Err(StoreError::Rejected(format!(
            "booking {}: cell_seconds must be > 0",
            b.key
        )));
    }
    if b.busy_until <= b.starts_at || b.ends_at < b.starts_at {
        return Err(StoreError::Rejected(format!(
            "booking {}: empty or reversed interval",
            b.key
        )));
    }
    let first = b.starts_at.timestamp().div_euclid(cell) * cell;
    // ceil(busy_until) on the grid: a sub-second remainder still reaches into the next cell.
    let until_micros = b.busy_until.timestamp_micros();
    let cell_micros = cell.saturating_mul(1_000_000);
    let end = until_micros.div_euclid(cell_micros) * cell
        + if until_micros.rem_euclid(cell_micros) > 0 {
            cell
        } else {
            0
        };
    let count = (end - first) / cell;
    if count > MAX_CELLS {
        return Err(StoreError::Rejected(format!(
            "booking {}: {count} cells is too long",
            b.key
        )));
    }
    Ok((0..count).map(|i| first + i * cell).collect())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::LeadId;

    fn booking(start: (u32, u32, u32), until: (u32, u32, u32), cell: i64) -> NewBooking {
        let at = |(h, m, s): (u32, u32, u32)| Utc.with_ymd_and_hms(2026, 12, 7, h, m, s).unwrap();
        NewBooking {
            lead: LeadId(1),
            key: "k".into(),
            resource: "anna".into(),
            service: "cut".into(),
            starts_at: at(start),
            ends_at: at(until),
            busy_until: at(until),
            cell_seconds: cell,
            channel: "webchat".into(),
            client_name: None,
            phone: None,
            manager_id: None,
        }
    }

    #[test]
    fn cells_cover_the_interval_on_the_epoch_grid() {
        let b = booking((18, 0, 0), (19, 10, 0), 900);
        let cells = cells_of(&b).unwrap();
        assert_eq!(cells.len(), 5, "18:00 .. 19:15 in quarters");
        assert_eq!(cells[0], b.starts_at.timestamp());
        // Off the grid: 18:05 .. 18:20 touches the 18:00 and 18:15 cells.
        let cells = cells_of(&booking((18, 5, 0), (18, 20, 0), 900)).unwrap();
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0] % 900, 0);
        let mut exact = booking((18, 0, 0), (18, 15, 0), 900);
        assert_eq!(cells_of(&exact).unwrap().len(), 1);
        exact.busy_until += chrono::Duration::milliseconds(1);
        assert_eq!(
            cells_of(&exact).unwrap().len(),
            2,
            "a millisecond past reaches the next cell"
        );
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(cells_of(&booking((18, 0, 0), (19, 0, 0), 0)).is_err());
        assert!(cells_of(&booking((18, 0, 0), (18, 0, 0), 900)).is_err());
        assert!(cells_of(&booking((0, 0, 0), (23, 0, 0), 1)).is_err());
    }
}
