//! What a request is: a new lead, a complaint, a service request; how urgent; which
//! specialization it wants. Rules from config; an LLM may propose, rules are the fallback.

use serde::{Deserialize, Serialize};

use crate::config::ClassifierConfig;
use crate::keywords::{KeywordSet, Words};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    NewLead,
    Complaint,
    ServiceRequest,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Normal,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: RequestKind,
    pub priority: Priority,
    /// Specialization tags wanted.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RulesClassifier {
    complaint: KeywordSet,
    service: KeywordSet,
    high: KeywordSet,
    specializations: Vec<(String, KeywordSet)>,
}

impl RulesClassifier {
    pub fn new(c: &ClassifierConfig) -> RulesClassifier {
        RulesClassifier {
            complaint: KeywordSet::new(&c.complaint),
            service: KeywordSet::new(&c.service),
            high: KeywordSet::new(&c.high_priority),
            specializations: c
                .specializations
                .iter()
                .map(|s| (s.tag.clone(), KeywordSet::new(&s.keywords)))
                .collect(),
        }
    }

    pub fn classify(&self, text: &str) -> Classification {
        let words = Words::of(text);
        let kind = if self.complaint.matches(&words) {
            RequestKind::Complaint
        } else if self.service.matches(&words) {
            RequestKind::ServiceRequest
        } else {
            RequestKind::NewLead
        };
        Classification {
            kind,
            priority: if self.high.matches(&words) {
                Priority::High
            } else {
                Priority::Normal
            },
            tags: self
                .specializations
                .iter()
                .filter(|(_, k)| k.matches(&words))
                .map(|(t, _)| t.clone())
                .collect(),
        }
    }

    /// The specialization tags the config knows (an LLM answer may only use these).
    pub fn known_tags(&self) -> Vec<String> {
        self.specializations.iter().map(|(t, _)| t.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SpecializationRule;

    fn rules() -> RulesClassifier {
        RulesClassifier::new(&ClassifierConfig {
            complaint: vec!["жалоба".into(), "недоволен".into()],
            service: vec!["ремонт".into(), "гарантия".into()],
            high_priority: vec!["тендер".into(), "срочно".into()],
            specializations: vec![SpecializationRule {
                tag: "нефтегаз".into(),
                keywords: vec!["нефть".into(), "газ".into(), "буровой".into()],
            }],
            complaint_group: None,
            service_group: None,
        })
    }

    #[test]
    fn kind_priority_and_tags() {
        let c = rules().classify("Объявлен тендер на поставку бурового оборудования");
        assert_eq!(c.kind, RequestKind::NewLead);
        assert_eq!(c.priority, Priority::High);
        assert_eq!(c.tags, ["нефтегаз"]);
        assert_eq!(rules().classify("Я недоволен доставкой").kind, RequestKind::Complaint);
        assert_eq!(
            rules().classify("нужен ремонт по гарантии").kind,
            RequestKind::ServiceRequest
        );
        assert_eq!(rules().classify("хочу купить").priority, Priority::Normal);
    }
}
