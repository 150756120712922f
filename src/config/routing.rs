use serde::Deserialize;

use super::ConfigIssues;
use crate::domain::Manager;

/// `config/routing.toml`: managers and the rules that pick their group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Group used when no rule matches.
    pub default_group: String,
    pub managers: Vec<Manager>,
    /// Checked in order; the first match decides the group.
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub group: String,
    /// Lead channels this rule applies to (empty: any).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Words or phrases in the client's messages (empty: any).
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl RoutingConfig {
    pub fn has_group(&self, group: &str) -> bool {
        self.managers.iter().any(|m| m.groups.iter().any(|g| g == group))
    }

    pub(super) fn validate(&self, file: &str, issues: &mut ConfigIssues) {
        if self.managers.is_empty() {
            issues.push(file, "managers", "at least one manager is needed to hand leads over");
        }
        let mut ids = std::collections::HashSet::new();
        for (i, m) in self.managers.iter().enumerate() {
            if m.id.trim().is_empty() {
                issues.push(file, format!("managers[{i}].id"), "must not be empty");
            }
            if !ids.insert(m.id.as_str()) {
                issues.push(file, format!("managers[{i}].id"), format!("`{}` is used twice", m.id));
            }
            if m.groups.is_empty() {
                issues.push(file, format!("managers[{i}].groups"), "must name at least one group");
            }
        }
        if !self.has_group(&self.default_group) {
            issues.push(
                file,
                "default_group",
                format!("no manager is in group `{}`", self.default_group),
            );
        }
        for (i, r) in self.rules.iter().enumerate() {
            if !self.has_group(&r.group) {
                issues.push(
                    file,
                    format!("rules[{i}].group"),
                    format!("no manager is in group `{}`", r.group),
                );
            }
            if r.channels.is_empty() && r.keywords.is_empty() {
                issues.push(
                    file,
                    format!("rules[{i}]"),
                    "needs channels or keywords (or it matches every lead)",
                );
            }
        }
    }
}
