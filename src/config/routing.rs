use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{duration, ConfigIssues};

/// `config/routing.toml`: managers, their groups, hours and skills, and how leads reach them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Group used when no rule matches.
    pub default_group: String,
    /// Time zone of managers that do not name their own (IANA name, e.g. "Europe/Moscow").
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// A manager who does not accept a lead this long after assignment loses it to the next
    /// eligible one and the head of sales is told. "0s" turns reassignment off.
    #[serde(with = "duration", default = "default_reassign")]
    pub reassign_after: Duration,
    /// How many times one lead may be reassigned.
    #[serde(default = "default_hops")]
    pub max_hops: u32,
    /// Give a returning client (same phone) to the manager who had them, when eligible.
    #[serde(default = "yes")]
    pub prefer_previous_owner: bool,
    /// A manager gets at most this many waiting leads from the queue per `backlog_window`, so a
    /// backlog is shared with colleagues who come online a little later instead of being dumped
    /// on the first one. 0: no limit. New leads are not counted.
    #[serde(default = "default_backlog_burst")]
    pub backlog_burst: u32,
    #[serde(with = "duration", default = "default_backlog_window")]
    pub backlog_window: Duration,
    /// Strategy and head of sales per group (a group not listed: round-robin, no head).
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    pub managers: Vec<ManagerConfig>,
    /// Checked in order; the first match decides the group.
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
    #[serde(default)]
    pub classifier: ClassifierConfig,
    /// Optional LLM classifier (OpenAI-compatible chat completions); rules decide on any failure.
    #[serde(default)]
    pub llm: Option<LlmConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// In turn, skipping whoever is not eligible; the position survives restarts.
    #[default]
    RoundRobin,
    /// The eligible manager with the fewest active leads.
    LeastLoaded,
    /// In turn, proportionally to `weight`.
    Weighted,
    /// Managers with a wanted specialization first, then the least loaded.
    Specialization,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub name: String,
    #[serde(default)]
    pub strategy: Strategy,
    /// The head of sales (a manager id) told about reassignments in this group.
    #[serde(default)]
    pub head: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    /// The manager's id in the CRM.
    pub id: String,
    pub name: String,
    pub groups: Vec<String>,
    /// Specializations, e.g. ["нефтегаз", "госзакупки"].
    #[serde(default)]
    pub tags: Vec<String>,
    /// Most active leads at once (0: no limit).
    #[serde(default)]
    pub capacity: u32,
    /// Share of the `weighted` strategy.
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub timezone: Option<String>,
    /// Working hours per weekday (`mon` … `sun`), several periods a day: ["09:00-13:00", "14:00-18:00"].
    /// No `hours` at all: always available.
    #[serde(default)]
    pub hours: BTreeMap<String, Vec<String>>,
    /// Days off: "2026-12-31" or a range "2027-01-01..2027-01-08".
    #[serde(default)]
    pub absences: Vec<String>,
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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierConfig {
    /// Words that make a request a complaint / a service request rather than a new lead.
    #[serde(default)]
    pub complaint: Vec<String>,
    #[serde(default)]
    pub service: Vec<String>,
    /// Words that make a request high priority ("тендер", "срочно").
    #[serde(default)]
    pub high_priority: Vec<String>,
    /// Client ABC segments whose requests are high priority (e.g. ["A"]).
    #[serde(default)]
    pub high_priority_segments: Vec<String>,
    /// Segments of known clients by phone (E.164), for when the CRM does not send one:
    /// `"+79181234567" = "A"`. A segment sent with the lead wins.
    #[serde(default)]
    pub client_segments: BTreeMap<String, String>,
    /// Specialization tags wanted by keywords.
    #[serde(default)]
    pub specializations: Vec<SpecializationRule>,
    /// Where non-lead requests go (a group of their own, not sales managers).
    #[serde(default)]
    pub complaint_group: Option<String>,
    #[serde(default)]
    pub service_group: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecializationRule {
    pub tag: String,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// e.g. "https://api.openai.com/v1" (the key comes from LEADBOT_LLM_API_KEY).
    pub base_url: String,
    pub model: String,
    #[serde(with = "duration", default = "default_llm_timeout")]
    pub timeout: Duration,
    #[serde(skip)]
    pub api_key: Option<String>,
}

fn default_timezone() -> String {
    "Europe/Moscow".into()
}
fn default_reassign() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_hops() -> u32 {
    2
}
fn default_backlog_burst() -> u32 {
    5
}
fn default_backlog_window() -> Duration {
    Duration::from_secs(10 * 60)
}
fn default_llm_timeout() -> Duration {
    Duration::from_secs(5)
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}

impl RoutingConfig {
    pub fn has_group(&self, group: &str) -> bool {
        self.managers.iter().any(|m| m.groups.iter().any(|g| g == group))
    }

    pub(super) fn apply_env(&mut self) {
        if let Some(llm) = self.llm.as_mut() {
            llm.api_key = std::env::var("LEADBOT_LLM_API_KEY").ok().filter(|k| !k.is_empty());
        }
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
            if m.weight == 0 {
                issues.push(file, format!("managers[{i}].weight"), "must be at least 1");
            }
            if let Err(e) = crate::routing::Availability::from_config(m, &self.timezone) {
                issues.push(file, format!("managers[{i}].{}", e.key), e.message);
            }
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            issues.push(
                file,
                "timezone",
                format!("`{}` is not an IANA time zone", self.timezone),
            );
        }
        if !self.has_group(&self.default_group) {
            issues.push(
                file,
                "default_group",
                format!("no manager is in group `{}`", self.default_group),
            );
        }
        for (i, g) in self.groups.iter().enumerate() {
            if !self.has_group(&g.name) {
                issues.push(
                    file,
                    format!("groups[{i}].name"),
                    format!("no manager is in group `{}`", g.name),
                );
            }
            if let Some(head) = &g.head {
                if !self.managers.iter().any(|m| &m.id == head) {
                    issues.push(file, format!("groups[{i}].head"), format!("no manager has id `{head}`"));
                }
            }
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
        for (key, group) in [
            ("classifier.complaint_group", &self.classifier.complaint_group),
            ("classifier.service_group", &self.classifier.service_group),
        ] {
            if let Some(g) = group {
                if !self.has_group(g) {
                    issues.push(file, key, format!("no manager is in group `{g}`"));
                }
            }
        }
        for (i, s) in self.classifier.high_priority_segments.iter().enumerate() {
            if s.trim().is_empty() {
                issues.push(
                    file,
                    format!("classifier.high_priority_segments[{i}]"),
                    "must not be empty",
                );
            }
        }
        for (phone, segment) in &self.classifier.client_segments {
            let e164 = phone
                .strip_prefix('+')
                .is_some_and(|d| (8..=15).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()));
            if !e164 {
                issues.push(
                    file,
                    format!("classifier.client_segments.{phone}"),
                    "the key must be a phone in E.164, like \"+79181234567\"",
                );
            }
            if segment.trim().is_empty() {
                issues.push(
                    file,
                    format!("classifier.client_segments.{phone}"),
                    "must name a segment",
                );
            }
        }
        for (i, s) in self.classifier.specializations.iter().enumerate() {
            if !self.managers.iter().any(|m| m.tags.contains(&s.tag)) {
                issues.push(
                    file,
                    format!("classifier.specializations[{i}].tag"),
                    format!("no manager has tag `{}` (a typo in one of the two?)", s.tag),
                );
            }
        }
        if self.backlog_burst > 0 && self.backlog_window.is_zero() {
            issues.push(
                file,
                "backlog_window",
                "must be longer than zero when backlog_burst is set",
            );
        }
        if let Some(llm) = &self.llm {
            if reqwest::Url::parse(&llm.base_url).is_err() {
                issues.push(file, "llm.base_url", format!("`{}` is not a URL", llm.base_url));
            }
            if llm.timeout.is_zero() {
                issues.push(file, "llm.timeout", "must be longer than zero");
            }
        }
    }
}
