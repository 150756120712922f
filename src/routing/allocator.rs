//! Who gets a lead, as a pure state machine: live load, pauses, absences, the waiting queue and
//! each group's strategy. The manager pool actor owns one and persists what must survive.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::classify::Priority;
use super::roster::{Roster, RosterManager};
use crate::config::Strategy;
use crate::domain::{LeadId, ManagerId, ManagerRef};

/// A lead waiting for (or asking for) a manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub lead: LeadId,
    pub group: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// The manager a returning client (same phone) had.
    pub previous_owner: Option<ManagerId>,
    /// Managers this lead must not go to again (they did not react).
    pub exclude: Vec<ManagerId>,
    pub since: DateTime<Utc>,
}

/// A manager's state for the operator API and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagerStatus {
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
    pub tags: Vec<String>,
    pub active: u32,
    pub capacity: Option<u32>,
    pub in_hours: bool,
    pub absent: bool,
    pub paused: bool,
    pub eligible: bool,
}

#[derive(Debug, Clone)]
pub struct Allocator {
    pub roster: Roster,
    load: HashMap<String, u32>,
    paused: HashSet<String>,
    /// Set through the operator API: absent up to and including this (manager-local) date.
    absent_until: HashMap<String, NaiveDate>,
    cursors: HashMap<String, i64>,
    /// Groups whose cursor moved since the owner last saved them (see `take_moved_cursors`).
    moved: HashSet<String>,
    /// Smooth weighted round-robin state per group and manager.
    weights: HashMap<(String, String), i64>,
    queue: Vec<Request>,
    /// When each manager last received queued leads (for `Roster::backlog_pace`).
    handouts: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl Allocator {
    pub fn new(roster: Roster) -> Allocator {
        Allocator {
            roster,
            load: HashMap::new(),
            paused: HashSet::new(),
            absent_until: HashMap::new(),
            cursors: HashMap::new(),
            moved: HashSet::new(),
            weights: HashMap::new(),
            queue: Vec::new(),
            handouts: HashMap::new(),
        }
    }

    /// What survived a restart: active leads per manager, cursors, pauses, absences, the queue.
    pub fn restore(
        &mut self,
        load: impl IntoIterator<Item = (String, u32)>,
        cursors: impl IntoIterator<Item = (String, i64)>,
        paused: impl IntoIterator<Item = String>,
        absent_until: impl IntoIterator<Item = (String, NaiveDate)>,
        queue: Vec<Request>,
    ) {
        self.load = load.into_iter().collect();
        self.cursors = cursors.into_iter().collect();
        self.moved.clear();
        self.paused = paused.into_iter().collect();
        self.absent_until = absent_until.into_iter().collect();
        self.queue = queue;
        self.sort_queue();
    }

    pub fn load_of(&self, id: &str) -> u32 {
        self.load.get(id).copied().unwrap_or(0)
    }

    pub fn cursor(&self, group: &str) -> i64 {
        self.cursors.get(group).copied().unwrap_or(0)
    }

    /// Cursors that moved since the last call, to be persisted (round-robin survives restarts).
    pub fn take_moved_cursors(&mut self) -> Vec<(String, i64)> {
        let mut moved: Vec<(String, i64)> = std::mem::take(&mut self.moved)
            .into_iter()
            .map(|g| {
                let pos = self.cursor(&g);
                (g, pos)
            })
            .collect();
        moved.sort();
        moved
    }

    pub fn queue(&self) -> &[Request] {
        &self.queue
    }

    pub fn set_paused(&mut self, id: &str, paused: bool) {
        if paused {
            self.paused.insert(id.to_string());
        } else {
            self.paused.remove(id);
        }
    }

    pub fn set_absent_until(&mut self, id: &str, until: Option<NaiveDate>) {
        match until {
            Some(d) => self.absent_until.insert(id.to_string(), d),
            None => self.absent_until.remove(id),
        };
    }

    fn absent(&self, m: &RosterManager, now: DateTime<Utc>) -> bool {
        m.availability.is_absent(now)
            || self
                .absent_until
                .get(m.id.as_str())
                .is_some_and(|until| m.availability.local_date(now) <= *until)
    }

    /// In working hours, not absent, not paused, under capacity.
    pub fn eligible(&self, m: &RosterManager, now: DateTime<Utc>) -> bool {
        m.availability.in_hours(now)
            && !self.absent(m, now)
            && !self.paused.contains(m.id.as_str())
            && m.capacity.is_none_or(|c| self.load_of(&m.id) < c)
    }

    pub fn status(&self, now: DateTime<Utc>) -> Vec<ManagerStatus> {
        self.roster
            .managers
            .iter()
            .map(|m| ManagerStatus {
                id: m.id.to_string(),
                name: m.name.clone(),
                groups: m.groups.clone(),
                tags: m.tags.clone(),
                active: self.load_of(&m.id),
                capacity: m.capacity,
                in_hours: m.availability.in_hours(now),
                absent: self.absent(m, now),
                paused: self.paused.contains(m.id.as_str()),
                eligible: self.eligible(m, now),
            })
            .collect()
    }

    /// Picks a manager for `req` now, or `None` when nobody eligible is in its group.
    /// The pick counts towards the manager's load at once.
    pub fn assign(&mut self, req: &Request, now: DateTime<Utc>) -> Option<ManagerRef> {
        self.pick(req, now, false)
    }

    /// Whether `id` already received its share of the backlog within the pacing window.
    fn paced_out(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let Some((burst, window)) = self.roster.backlog_pace else {
            return false;
        };
        let Some(times) = self.handouts.get_mut(id) else {
            return false;
        };
        while times.front().is_some_and(|t| *t <= now - window) {
            times.pop_front();
        }
        times.len() >= burst as usize
    }

    /// `from_queue`: a backlog item, subject to the pacing of `Roster::backlog_pace`.
    fn pick(&mut self, req: &Request, now: DateTime<Utc>, from_queue: bool) -> Option<ManagerRef> {
        let members: Vec<usize> = self
            .roster
            .managers
            .iter()
            .enumerate()
            .filter(|(_, m)| m.in_group(&req.group))
            .map(|(i, _)| i)
            .collect();
        let mut eligible: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| {
                let m = &self.roster.managers[i];
                !req.exclude.contains(&m.id) && self.eligible(m, now)
            })
            .collect();
        if from_queue {
            let ids: Vec<(usize, String)> = eligible
                .iter()
                .map(|&i| (i, self.roster.managers[i].id.to_string()))
                .collect();
            eligible = ids
                .into_iter()
                .filter(|(_, id)| !self.paced_out(id, now))
                .map(|(i, _)| i)
                .collect();
        }
        if eligible.is_empty() {
            return None;
        }
        let previous = req
            .previous_owner
            .as_ref()
            .filter(|_| self.roster.prefer_previous_owner)
            .and_then(|p| eligible.iter().copied().find(|&i| &self.roster.managers[i].id == p));
        let pick = match previous {
            Some(i) => i,
            None => match self.roster.strategy(&req.group) {
                Strategy::RoundRobin => self.round_robin(&req.group, &members, &eligible),
                Strategy::LeastLoaded => self.least_loaded(&req.group, &members, &eligible),
                Strategy::Weighted => self.weighted(&req.group, &eligible),
                Strategy::Specialization => {
                    let skilled: Vec<usize> = eligible
                        .iter()
                        .copied()
                        .filter(|&i| self.roster.managers[i].tags.iter().any(|t| req.tags.contains(t)))
                        .collect();
                    let from = if skilled.is_empty() { &eligible } else { &skilled };
                    self.least_loaded(&req.group, &members, from)
                }
            },
        };
        let m = &self.roster.managers[pick];
        *self.load.entry(m.id.to_string()).or_insert(0) += 1;
        if from_queue && self.roster.backlog_pace.is_some() {
            self.handouts.entry(m.id.to_string()).or_default().push_back(now);
        }
        Some(m.as_ref())
    }

    /// The next eligible member after the group's cursor; the cursor moves past it.
    fn round_robin(&mut self, group: &str, members: &[usize], eligible: &[usize]) -> usize {
        let n = members.len() as i64;
        let start = self.cursor(group).rem_euclid(n);
        for step in 0..n {
            let pos = (start + step) % n;
            let idx = members[pos as usize];
            if eligible.contains(&idx) {
                self.cursors.insert(group.to_string(), pos + 1);
                self.moved.insert(group.to_string());
                return idx;
            }
        }
        eligible[0]
    }

    /// Fewest active leads; ties broken in round-robin order so equal loads still rotate.
    fn least_loaded(&mut self, group: &str, members: &[usize], candidates: &[usize]) -> usize {
        let min = candidates
            .iter()
            .map(|&i| self.load_of(&self.roster.managers[i].id))
            .min()
            .unwrap_or(0);
        let lightest: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.load_of(&self.roster.managers[i].id) == min)
            .collect();
        self.round_robin(group, members, &lightest)
    }

    /// Smooth weighted round-robin (each pick adds every weight, the chosen one pays the total).
    fn weighted(&mut self, group: &str, eligible: &[usize]) -> usize {
        let total: i64 = eligible.iter().map(|&i| self.roster.managers[i].weight as i64).sum();
        let mut best = eligible[0];
        let mut best_w = i64::MIN;
        for &i in eligible {
            let m = &self.roster.managers[i];
            let w = self.weights.entry((group.to_string(), m.id.to_string())).or_insert(0);
            *w += m.weight as i64;
            if *w > best_w {
                best_w = *w;
                best = i;
            }
        }
        let id = self.roster.managers[best].id.to_string();
        if let Some(w) = self.weights.get_mut(&(group.to_string(), id)) {
            *w -= total;
        }
        best
    }

    /// A lead closed or moved away: its manager has room again.
    pub fn release(&mut self, manager_id: &str) {
        if let Some(n) = self.load.get_mut(manager_id) {
            *n = n.saturating_sub(1);
        }
    }

    /// Takes a lead out of the queue (closed or withdrawn while waiting); true if it was there.
    pub fn dequeue(&mut self, lead: LeadId) -> bool {
        let before = self.queue.len();
        self.queue.retain(|q| q.lead != lead);
        self.queue.len() != before
    }

    pub fn enqueue(&mut self, req: Request) {
        self.queue.retain(|q| q.lead != req.lead);
        self.queue.push(req);
        self.sort_queue();
    }

    /// High priority first, then oldest first.
    fn sort_queue(&mut self) {
        self.queue
            .sort_by(|a, b| b.priority.cmp(&a.priority).then(a.since.cmp(&b.since)));
    }

    /// Assigns what it can from the queue, in queue order, each by its group's strategy (so a
    /// backlog is spread, not dumped on the first manager who comes online).
    pub fn drain(&mut self, now: DateTime<Utc>) -> Vec<(Request, ManagerRef)> {
        let mut out = vec![];
        let mut waiting = vec![];
        for req in std::mem::take(&mut self.queue) {
            match self.pick(&req, now, true) {
                Some(m) => out.push((req, m)),
                None => waiting.push(req),
            }
        }
        self.queue = waiting;
        out
    }
}

#[cfg(test)]
mod tests;
