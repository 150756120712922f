//! What the group-commit batches of every store share: the inbox job, and how one batch's
//! database answer becomes each caller's result (store-neutral; the SQL lives with each store).

use std::collections::{HashMap, HashSet};

use super::{InboxPayload, StepCommit, StoreError, StoreResult};
use crate::domain::LeadId;

/// One inbound item for `insert_inbox`.
#[derive(Debug, Clone)]
pub struct InboxJob {
    pub lead: LeadId,
    pub source: String,
    pub dedupe_key: String,
    pub payload: InboxPayload,
}

/// Each step's result: a version conflict for the leads in `conflicts`, else stored.
pub fn step_results(steps: &[&StepCommit], conflicts: &HashSet<LeadId>) -> Vec<StoreResult<()>> {
    steps
        .iter()
        .map(|s| {
            if conflicts.contains(&s.lead) {
                Err(StoreError::VersionConflict {
                    lead: s.lead,
                    expected: s.expected_version,
                })
            } else {
                Ok(())
            }
        })
        .collect()
}

/// Which jobs got the row `stored` (by source and key): of several jobs with one key in the
/// batch only the first; and the leads of the others, whose existence decides duplicate or
/// unknown lead.
pub fn inbox_first_ids(jobs: &[InboxJob], stored: &HashMap<(String, String), i64>) -> (Vec<bool>, Vec<i64>) {
    let mut first = HashSet::new();
    let gets_id: Vec<bool> = jobs
        .iter()
        .map(|j| {
            let key = (j.source.clone(), j.dedupe_key.clone());
            stored.contains_key(&key) && first.insert(key)
        })
        .collect();
    let missing = jobs
        .iter()
        .zip(&gets_id)
        .filter(|(_, got)| !**got)
        .map(|(j, _)| j.lead.0)
        .collect();
    (gets_id, missing)
}

/// Each inbox job's result: `Some(id)` stored, `None` a duplicate, `LeadNotFound`.
pub fn inbox_results(
    jobs: &[InboxJob],
    gets_id: Vec<bool>,
    stored: &HashMap<(String, String), i64>,
    existing: &HashSet<i64>,
) -> Vec<StoreResult<Option<i64>>> {
    jobs.iter()
        .zip(gets_id)
        .map(|(j, got)| {
            match got
                .then(|| stored.get(&(j.source.clone(), j.dedupe_key.clone())))
                .flatten()
            {
                Some(id) => Ok(Some(*id)),
                None if existing.contains(&j.lead.0) => Ok(None),
                None => Err(StoreError::LeadNotFound(j.lead)),
            }
        })
        .collect()
}
