//! The managers as routing sees them, built once from `config/routing.toml`.

use std::collections::HashMap;

use super::availability::Availability;
use crate::config::{RoutingConfig, Strategy};
use crate::domain::{ManagerId, ManagerRef};

#[derive(Debug, Clone)]
pub struct RosterManager {
    pub id: ManagerId,
    pub name: String,
    pub groups: Vec<String>,
    pub tags: Vec<String>,
    /// `None`: no limit.
    pub capacity: Option<u32>,
    pub weight: u32,
    pub availability: Availability,
}

impl RosterManager {
    pub fn as_ref(&self) -> ManagerRef {
        ManagerRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

#[derive(Debug, Clone)]
pub struct Roster {
    pub managers: Vec<RosterManager>,
    pub strategies: HashMap<String, Strategy>,
    pub heads: HashMap<String, String>,
    pub prefer_previous_owner: bool,
    /// At most this many queued leads per manager within the window (`None`: no limit).
    pub backlog_pace: Option<(u32, chrono::Duration)>,
}

impl Roster {
    /// From a validated config (invalid hours fall back to "always", a manager without a valid
    /// id is left out; validation reports both).
    pub fn from_config(c: &RoutingConfig) -> Roster {
        Roster {
            managers: c
                .managers
                .iter()
                .filter_map(|m| Some((ManagerId::parse(&m.id).ok()?, m)))
                .map(|(id, m)| RosterManager {
                    id,
                    name: m.name.clone(),
                    groups: m.groups.clone(),
                    tags: m.tags.clone(),
                    capacity: (m.capacity > 0).then_some(m.capacity),
                    weight: m.weight.max(1),
                    availability: Availability::from_config(m, &c.timezone).unwrap_or_else(|_| Availability::always()),
                })
                .collect(),
            strategies: c.groups.iter().map(|g| (g.name.clone(), g.strategy)).collect(),
            heads: c
                .groups
                .iter()
                .filter_map(|g| g.head.clone().map(|h| (g.name.clone(), h)))
                .collect(),
            prefer_previous_owner: c.prefer_previous_owner,
            backlog_pace: chrono::Duration::from_std(c.backlog_window)
                .ok()
                .filter(|w| c.backlog_burst > 0 && !w.is_zero())
                .map(|w| (c.backlog_burst, w)),
        }
    }

    pub fn strategy(&self, group: &str) -> Strategy {
        self.strategies.get(group).copied().unwrap_or_default()
    }

    pub fn manager(&self, id: &str) -> Option<&RosterManager> {
        self.managers.iter().find(|m| m.id == id)
    }

    /// The head of sales of the manager's (first headed) group.
    pub fn head_of(&self, manager_id: &str) -> Option<&RosterManager> {
        let m = self.manager(manager_id)?;
        m.groups
            .iter()
            .find_map(|g| self.heads.get(g))
            .and_then(|h| self.manager(h))
    }
}
