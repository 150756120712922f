use std::collections::HashMap;

use crate::config::RoutingConfig;
use crate::domain::ManagerRef;
use crate::keywords::{KeywordSet, Words};

/// The group a lead goes to: the first rule that matches its channel and text, else the default.
pub fn choose_group<'a>(config: &'a RoutingConfig, channel: &str, text: &str) -> &'a str {
    let words = Words::of(text);
    config
        .rules
        .iter()
        .find(|r| {
            let channel_ok = r.channels.is_empty() || r.channels.iter().any(|c| c == channel);
            let keyword_ok = r.keywords.is_empty() || KeywordSet::new(&r.keywords).matches(&words);
            channel_ok && keyword_ok
        })
        .map_or(config.default_group.as_str(), |r| r.group.as_str())
}

/// Round-robin inside each group; the positions are what must survive a restart.
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    positions: HashMap<String, i64>,
}

impl RoundRobin {
    pub fn with_positions(positions: impl IntoIterator<Item = (String, i64)>) -> RoundRobin {
        RoundRobin {
            positions: positions.into_iter().collect(),
        }
    }

    /// The next manager of `group` and the group's new position.
    pub fn next(&mut self, config: &RoutingConfig, group: &str) -> Option<(ManagerRef, i64)> {
        let members: Vec<_> = config
            .managers
            .iter()
            .filter(|m| m.groups.iter().any(|g| g == group))
            .collect();
        if members.is_empty() {
            return None;
        }
        let pos = self.positions.entry(group.to_string()).or_insert(0);
        let manager = members[(*pos).rem_euclid(members.len() as i64) as usize];
        *pos += 1;
        Some((ManagerRef::from(manager), *pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RoutingRule;
    use crate::domain::Manager;

    fn config() -> RoutingConfig {
        let m = |id: &str, groups: &[&str]| Manager {
            id: id.into(),
            name: format!("M{id}"),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        RoutingConfig {
            default_group: "sales".into(),
            managers: vec![m("1", &["sales"]), m("2", &["sales", "b2b"]), m("3", &["sales"])],
            rules: vec![RoutingRule {
                group: "b2b".into(),
                channels: vec![],
                keywords: vec!["тендер".into()],
            }],
        }
    }

    #[test]
    fn rules_pick_the_group() {
        let c = config();
        assert_eq!(choose_group(&c, "webchat", "Участвуем в тендере"), "b2b");
        assert_eq!(choose_group(&c, "webchat", "хочу стрижку"), "sales");
    }

    #[test]
    fn round_robin_is_fair_and_resumes_from_saved_position() {
        let c = config();
        let mut rr = RoundRobin::default();
        let ids: Vec<String> = (0..6).map(|_| rr.next(&c, "sales").unwrap().0.id).collect();
        assert_eq!(ids, ["1", "2", "3", "1", "2", "3"]);
        let (_, pos) = rr.next(&c, "sales").unwrap();
        let mut restored = RoundRobin::with_positions([("sales".to_string(), pos)]);
        assert_eq!(restored.next(&c, "sales").unwrap().0.id, "2");
        assert!(rr.next(&c, "nobody").is_none());
    }
}
