//! What the group-commit batches of every store share: the inbox job, and how one batch's
//! database answer becomes each caller's result (store-neutral; the SQL lives with each store).

use std::collections::{HashMap, HashSet};

use super::{InboxPayload, StepCommit, StoreError, StoreResult, TranscriptEntry};
use crate::domain::LeadId;

/// One inbound item for `insert_inbox`.
#[derive(Debug, Clone)]
pub struct InboxJob {
    pub lead: LeadId,
    pub source: String,
    pub dedupe_key: String,
    pub payload: InboxPayload,
}

/// What one batch wrote: the leads whose version did not match, and each written step's
/// transcript lines as stored (one step per lead in a batch).
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub conflicts: HashSet<LeadId>,
    pub transcript: HashMap<LeadId, Vec<TranscriptEntry>>,
}

/// Each step's result: a version conflict for the leads in `conflicts`, else the transcript
/// lines it stored.
pub fn step_results(steps: &[&StepCommit], mut outcome: BatchOutcome) -> Vec<StoreResult<Vec<TranscriptEntry>>> {
    steps
        .iter()
        .map(|s| {
            if outcome.conflicts.contains(&s.lead) {
                Err(StoreError::VersionConflict {
                    lead: s.lead,
                    expected: s.expected_version,
                })
            } else {
                Ok(outcome.transcript.remove(&s.lead).unwrap_or_default())
            }
        })
        .collect()
}

/// The stored lines of `ok`'s transcripts, given the ids and time the batch's insert returned
/// (ids ascend in insertion order, which is the steps' order, then each step's own).
pub fn transcript_entries(
    ok: &[&StepCommit],
    mut ids: Vec<i64>,
    at: chrono::DateTime<chrono::Utc>,
) -> HashMap<LeadId, Vec<TranscriptEntry>> {
    ids.sort_unstable();
    let mut ids = ids.into_iter();
    let mut out = HashMap::new();
    for s in ok {
        let mut lines = Vec::with_capacity(s.transcript.len());
        for (d, t) in &s.transcript {
            let Some(id) = ids.next() else { break };
            lines.push(TranscriptEntry {
                id,
                direction: d.as_str().to_string(),
                text: t.clone(),
                at,
                author: (*d == super::Direction::Out).then(|| s.author.clone()).flatten(),
            });
        }
        if !lines.is_empty() {
            out.insert(s.lead, lines);
        }
    }
    out
}

/// Which jobs got the row `stored` (by source and key): of several jobs with one key in the
/// batch only the first; and the leads of the others, whose existence decides duplicate or
/// unknown lead.
pub fn inbox_first_ids<T>(jobs: &[InboxJob], stored: &HashMap<(String, String), T>) -> (Vec<bool>, Vec<i64>) {
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

/// Each inbox job's result: `Some(row)` stored, `None` a duplicate, `LeadNotFound`.
pub fn inbox_results<T: Copy>(
    jobs: &[InboxJob],
    gets_id: Vec<bool>,
    stored: &HashMap<(String, String), T>,
    existing: &HashSet<i64>,
) -> Vec<StoreResult<Option<T>>> {
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
