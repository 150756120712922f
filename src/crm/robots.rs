//! What both CRM adapters share for the SLA robots: the feed (the deal intake port and the CRM's
//! names for stages and fields) and the small conversions between a CRM's card and the robots'
//! neutral [`DealFacts`](crate::sla::DealFacts).

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::CrmMapping;
use crate::intake::DealIntake;

/// Where an adapter hands what it learns about deals, and how to read its cards.
#[derive(Clone)]
pub struct RobotFeed {
    pub intake: DealIntake,
    pub mapping: Arc<CrmMapping>,
}

/// leadbot's own comments start with this, so they never count as a manager's comment.
pub const COMMENT_MARK: &str = "[leadbot] ";

pub fn is_ours(comment: &str) -> bool {
    comment.trim_start().starts_with(COMMENT_MARK.trim_end())
}

/// The robots' name of a stage, or the CRM's id marked as unmapped (so leaving a mapped stage
/// still stops its clocks).
pub fn stage_name(mapping: &CrmMapping, id: &str) -> String {
    mapping.stage_name(id).map_or_else(|| format!("#{id}"), str::to_string)
}

/// A date-time the way CRMs write them (RFC 3339, "YYYY-MM-DD HH:MM:SS" in UTC, Unix seconds),
/// as RFC 3339; `None` for anything else.
pub fn rfc3339(value: &str) -> Option<String> {
    parse_time(value).map(|t| t.to_rfc3339())
}

pub fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    if let Ok(secs) = v.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_crm_format() {
        let want = "2026-12-05T09:00:00+00:00";
        assert_eq!(rfc3339("2026-12-05T12:00:00+03:00").as_deref(), Some(want));
        assert_eq!(rfc3339("2026-12-05 09:00:00").as_deref(), Some(want));
        assert_eq!(rfc3339("1796461200").as_deref(), Some(want));
        assert_eq!(rfc3339("завтра"), None);
    }

    #[test]
    fn our_comments_are_recognised() {
        assert!(is_ours("[leadbot] Жёлтое предупреждение"));
        assert!(!is_ours("Клиент просил перезвонить"));
    }
}
