//! A booked visit as the rest of the house hears of it (the CRM card's note and field).

use serde::{Deserialize, Serialize};

/// A visit as the CRM hears of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitNote {
    /// `booked`, `moved` or `cancelled`.
    pub change: String,
    pub service: String,
    pub resource: String,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// How the client read it ("в пятницу, 27 ноября, в 17:15"), for the note.
    pub when: String,
}

impl VisitNote {
    pub fn text(&self) -> String {
        let what = match self.change.as_str() {
            "moved" => "Запись перенесена",
            "cancelled" => "Запись отменена клиентом",
            _ => "Клиент записался",
        };
        format!("{what}: {}, {}, мастер {}.", self.service, self.when, self.resource)
    }
}
