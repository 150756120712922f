//! `robots.toml`: the SLA robots per pipeline stage, the account's time zone and working
//! calendar, who gets the notices, and each CRM's ids for the stages and fields the robots name.
//! Optional: present = robots on, for every CRM that is connected and mapped here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::ConfigIssues;
use crate::sla::{Action, Robot, RobotBook, RobotSpec, Trigger, WorkCalendar};

/// A person leadbot notifies: through a private chat with its Telegram bot and/or by e-mail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub telegram_chat_id: Option<i64>,
    #[serde(default)]
    pub email: Option<String>,
}

impl Recipient {
    pub fn reachable(&self) -> bool {
        self.telegram_chat_id.is_some() || self.email.is_some()
    }
}

/// One CRM's names for what the robots speak of.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmMapping {
    /// The pipeline (Bitrix24 category id, amoCRM pipeline id) whose deals are tracked.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Robot stage name → the CRM's stage / status id.
    #[serde(default)]
    pub stages: BTreeMap<String, String>,
    /// Logical field name → the CRM's field (Bitrix24 `UF_CRM_…`, amoCRM custom field id).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

impl CrmMapping {
    pub fn stage_name(&self, id: &str) -> Option<&str> {
        self.stages
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.as_str())
    }
    pub fn stage_id(&self, name: &str) -> Option<&str> {
        self.stages.get(name).map(String::as_str)
    }
    pub fn field_id(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobotsFile {
    time_zone: String,
    #[serde(default)]
    calendar: WorkCalendar,
    #[serde(default)]
    head: Recipient,
    #[serde(default)]
    managers: BTreeMap<String, Recipient>,
    #[serde(default)]
    crm: BTreeMap<String, CrmMapping>,
    #[serde(default)]
    robot: Vec<RobotSpec>,
}

/// The robots, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotsSettings {
    pub book: RobotBook,
    pub head: Recipient,
    /// By `"{crm}:{user id}"`.
    pub managers: BTreeMap<String, Recipient>,
    /// By CRM source name (`bitrix24`, `amocrm`).
    pub crm: BTreeMap<String, CrmMapping>,
}

/// Fields every CRM adapter fills without a mapping (`crm_required`: the CRM's own required
/// fields of the stage, which need no mapping either).
const BUILT_IN_FIELDS: &[&str] = &["name", "phone", "comment", "task", crate::sla::CRM_REQUIRED];

const KNOWN_CRMS: &[&str] = &["bitrix24", "amocrm"];

impl RobotsSettings {
    pub fn mapping(&self, crm: &str) -> Option<&CrmMapping> {
        self.crm.get(crm)
    }

    pub fn manager(&self, crm: &str, user_id: &str) -> Option<&Recipient> {
        self.managers.get(&format!("{crm}:{user_id}"))
    }

    /// Parses and checks the file's text; every problem goes to `issues`.
    pub fn parse(file: &str, text: &str, issues: &mut ConfigIssues) -> Option<RobotsSettings> {
        let raw: RobotsFile = issues.parse_layered_env(file, "", Some(text), Some("LEADBOT_ROBOTS__"))?;
        let time_zone = match raw.time_zone.parse::<chrono_tz::Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                issues.push(
                    file,
                    "time_zone",
                    format!("`{}` is not a time zone (e.g. Europe/Moscow)", raw.time_zone),
                );
                None
            }
        };
        let mut robots = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, spec) in raw.robot.into_iter().enumerate() {
            let key = format!("robot[{i}] ({})", spec.id);
            if !ids.insert(spec.id.clone()) {
                issues.push(file, &key, "two robots have this id");
            }
            match Robot::try_from(spec) {
                Ok(r) => robots.push(r),
                Err(e) => issues.push(file, &key, e),
            }
        }
        for name in raw.crm.keys() {
            if !KNOWN_CRMS.contains(&name.as_str()) {
                issues.push(
                    file,
                    format!("crm.{name}"),
                    format!("unknown CRM (known: {})", KNOWN_CRMS.join(", ")),
                );
            }
        }
        if raw.crm.is_empty() {
            issues.push(
                file,
                "crm",
                "no CRM is mapped: add [crm.bitrix24] or [crm.amocrm] with its stages",
            );
        }
        for r in &robots {
            let key = format!("robot ({})", r.id);
            let (stages, fields) = names_used(r);
            for (crm, map) in &raw.crm {
                for s in &stages {
                    if !map.stages.contains_key(s) {
                        issues.push(
                            file,
                            &key,
                            format!("stage «{s}» is not mapped under [crm.{crm}.stages]"),
                        );
                    }
                }
                for f in &fields {
                    let built_in = BUILT_IN_FIELDS.contains(&f.as_str()) || (crm == "bitrix24" && f == "source");
                    if !built_in && !map.fields.contains_key(f) {
                        issues.push(
                            file,
                            &key,
                            format!("field `{f}` is not mapped under [crm.{crm}.fields]"),
                        );
                    }
                }
            }
            let notifies_head = r.actions.iter().any(|a| matches!(a, Action::NotifyHead(_)));
            if notifies_head && !raw.head.reachable() {
                tracing::debug!(robot = %r.id, "head of sales has no telegram_chat_id or email: notices are logged only");
            }
        }
        for (who, m) in &raw.managers {
            if !who.contains(':') {
                issues.push(
                    file,
                    format!("managers.{who}"),
                    "write managers as \"crm:user id\", e.g. \"bitrix24:7\"",
                );
            }
            if let Some(e) = &m.email {
                if !e.contains('@') {
                    issues.push(
                        file,
                        format!("managers.{who}.email"),
                        format!("`{e}` is not an e-mail address"),
                    );
                }
            }
        }
        if let Some(e) = &raw.head.email {
            if !e.contains('@') {
                issues.push(file, "head.email", format!("`{e}` is not an e-mail address"));
            }
        }
        if raw.calendar.end <= raw.calendar.start {
            issues.push(file, "calendar", "the working day ends before it starts");
        }
        if raw.calendar.days.is_empty() && raw.calendar.extra_days.is_empty() {
            issues.push(file, "calendar.days", "no working day");
        }
        Some(RobotsSettings {
            book: RobotBook {
                time_zone: time_zone?,
                calendar: raw.calendar,
                robots,
            },
            head: raw.head,
            managers: raw.managers,
            crm: raw.crm,
        })
    }
}

/// The stage and field names a robot uses.
fn names_used(r: &Robot) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut stages: BTreeSet<String> = r.stages.iter().cloned().collect();
    stages.extend(r.when.stage_not.iter().cloned());
    stages.extend(r.when.came_from.iter().cloned());
    stages.extend(r.when.was_in.iter().cloned());
    let mut fields: BTreeSet<String> = r.when.missing_fields.iter().cloned().collect();
    if let Trigger::FieldDate { field } = &r.trigger {
        fields.insert(field.clone());
    }
    for a in &r.actions {
        match a {
            Action::Move(s) => {
                stages.insert(s.clone());
            }
            Action::SetField { field, .. } => {
                fields.insert(field.clone());
            }
            _ => {}
        }
    }
    (stages, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<RobotsSettings>, ConfigIssues) {
        let mut issues = ConfigIssues::default();
        let s = RobotsSettings::parse("robots.toml", text, &mut issues);
        (s, issues)
    }

    #[test]
    fn the_shipped_file_is_clean() {
        let (s, issues) = parse(include_str!("../../config/robots.toml"));
        assert!(issues.is_empty(), "{issues}");
        let s = s.unwrap();
        assert_eq!(s.mapping("bitrix24").unwrap().stage_name("NEW"), Some("Неразобранное"));
        assert_eq!(s.mapping("amocrm").unwrap().stage_id("Успешно"), Some("142"));
    }

    #[test]
    fn mistakes_are_reported_with_the_robot() {
        let text = r#"
time_zone = "Europe/Moskva"
[crm.bitrix24.stages]
"Неразобранное" = "NEW"
[[robot]]
id = "a"
on = "entered_stage"
stages = ["Неразобранное", "Нет такого"]
after = "15m"
actions = [{ tag = "x" }]
[[robot]]
id = "a"
on = "field_date"
field = "visit_at"
actions = []
[[robot]]
id = "b"
on = "created"
after = "-1h"
actions = ["violation"]
"#;
        let (_, issues) = parse(text);
        let all = issues.to_string();
        assert!(all.contains("Europe/Moskva"), "{all}");
        assert!(all.contains("«Нет такого» is not mapped"), "{all}");
        assert!(all.contains("two robots have this id"), "{all}");
        assert!(all.contains("at least one action"), "{all}");
        assert!(all.contains("negative `after`"), "{all}");
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let text = "time_zone = \"Europe/Moscow\"\n[crm.bitrix24]\n[[robot]]\nid = \"a\"\non = \"created\"\nafterr = \"1h\"\nactions = [\"violation\"]\n";
        let (_, issues) = parse(text);
        assert!(issues.to_string().contains("afterr"), "{issues}");
    }
}
