//! What a request is: a new lead, a complaint, a service request; how urgent; which
//! specialization it wants. Rules from config; an LLM may propose, rules are the fallback.

use std::collections::HashMap;

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
    /// The client's ABC segment, when known (from the CRM or the config).
    #[serde(default)]
    pub segment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RulesClassifier {
    complaint: KeywordSet,
    service: KeywordSet,
    high: KeywordSet,
    high_segments: Vec<String>,
    client_segments: HashMap<String, String>,
    specializations: Vec<(String, KeywordSet)>,
}

impl RulesClassifier {
    pub fn new(c: &ClassifierConfig) -> RulesClassifier {
        RulesClassifier {
            complaint: KeywordSet::new(&c.complaint),
            service: KeywordSet::new(&c.service),
            high: KeywordSet::new(&c.high_priority),
            high_segments: c.high_priority_segments.iter().map(|s| normalise_segment(s)).collect(),
            client_segments: c
                .client_segments
                .iter()
                .map(|(phone, s)| (phone.clone(), normalise_segment(s)))
                .collect(),
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
            segment: None,
        }
    }

    /// Adds what is known of the client: the segment the CRM sent, else the configured one for
    /// this phone. A high-priority segment raises the priority whatever the text (or the LLM) said.
    pub fn with_client(&self, mut c: Classification, crm_segment: Option<&str>, phone: Option<&str>) -> Classification {
        let segment = crm_segment
            .map(normalise_segment)
            .filter(|s| !s.is_empty())
            .or_else(|| phone.and_then(|p| self.client_segments.get(p).cloned()));
        if segment.as_ref().is_some_and(|s| self.high_segments.contains(s)) {
            c.priority = Priority::High;
        }
        c.segment = segment;
        c
    }

    /// The specialization tags the config knows (an LLM answer may only use these).
    pub fn known_tags(&self) -> Vec<String> {
        self.specializations.iter().map(|(t, _)| t.clone()).collect()
    }
}

fn normalise_segment(s: &str) -> String {
    s.trim().to_uppercase()
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
            high_priority_segments: vec!["A".into()],
            client_segments: [("+79180000001".to_string(), "a".to_string())].into(),
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

    #[test]
    fn segment_a_is_high_priority_from_the_crm_or_the_config() {
        let r = rules();
        let plain = || r.classify("хочу купить");
        let c = r.with_client(plain(), Some(" a "), None);
        assert_eq!((c.priority, c.segment.as_deref()), (Priority::High, Some("A")));
        let c = r.with_client(plain(), None, Some("+79180000001"));
        assert_eq!(
            (c.priority, c.segment.as_deref()),
            (Priority::High, Some("A")),
            "from the config"
        );
        let c = r.with_client(plain(), Some("C"), Some("+79180000001"));
        assert_eq!(
            (c.priority, c.segment.as_deref()),
            (Priority::Normal, Some("C")),
            "the CRM wins"
        );
        let c = r.with_client(plain(), None, Some("+79180000002"));
        assert_eq!((c.priority, c.segment), (Priority::Normal, None));
        let tender = r.with_client(r.classify("тендер"), Some("B"), None);
        assert_eq!(
            tender.priority,
            Priority::High,
            "a segment never lowers the text's priority"
        );
    }
}
