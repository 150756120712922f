//! amoCRM webhook bodies: form-encoded with PHP bracket keys,
//! `{entity}[{action}][{i}][field]=…` plus `account[id]` / `account[subdomain]`. One POST may
//! carry several entities, even of different actions (`leads[add][0]`, `leads[status][0]`,
//! `contacts[update][0]`); every one becomes its own event. Both the full format (account
//! webhooks: names, prices, custom fields, tags) and the short one (Digital Pipeline: only
//! `id`, `status_id`, `pipeline_id`, `old_*`) are read. There is no signature: the secret is in
//! the URL (checked by the caller) and the account must be ours.
//!
//! Read leniently, but always storable: invalid UTF-8 and NUL characters become U+FFFD.

use std::collections::BTreeMap;

/// The entity/action pairs leadbot acts on or knows; anything else is `other` in metrics.
pub const KNOWN_EVENTS: &[&str] = &[
    "leads:add",
    "leads:update",
    "leads:status",
    "leads:responsible",
    "leads:restore",
    "leads:delete",
    "leads:note",
    "contacts:add",
    "contacts:update",
    "contacts:delete",
    "message:add",
    "talk:add",
    "talk:update",
    "unsorted:add",
    "task:add",
];

/// Most entities taken from one body (amoCRM sends up to a few hundred in a mass change).
pub const MAX_ENTITIES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// `leads`, `contacts`, `message`, ...
    pub kind: String,
    /// `add`, `update`, `status`, ...
    pub action: String,
    /// The entity's fields by their key below `{kind}[{action}][{i}]`: `id`, `status_id`,
    /// `custom_fields[0][values][0][value]`, ...
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub account_id: Option<String>,
    pub subdomain: Option<String>,
    pub entities: Vec<Entity>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("body is not an amoCRM webhook: {0}")]
    Malformed(String),
    #[error("more than {MAX_ENTITIES} entities in one body")]
    TooMany,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("wrong webhook secret")]
    WrongSecret,
    #[error("account[id] / account[subdomain] is not the configured account")]
    UnknownAccount,
}

impl AuthError {
    pub fn label(&self) -> &'static str {
        match self {
            AuthError::WrongSecret => "wrong_secret",
            AuthError::UnknownAccount => "unknown_account",
        }
    }
}

fn storable(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s
    }
}

/// `a[b][c]` → `["a", "b", "c"]`; `None` when the brackets do not pair up.
fn segments(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut out = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        out.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    Some(out)
}

impl Entity {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn id(&self) -> Option<&str> {
        self.get("id")
    }

    /// `{kind}:{action}`: the stored event's name.
    pub fn name(&self) -> String {
        format!("{}:{}", self.kind, self.action)
    }

    /// The event's name as a metric label (a fixed set).
    pub fn label(&self) -> &'static str {
        let name = self.name();
        KNOWN_EVENTS.iter().find(|e| **e == name).copied().unwrap_or("other")
    }

    /// The same when amoCRM delivers the same change twice. Full bodies carry `updated_at` /
    /// `last_modified`; short (Digital Pipeline) ones only the status move.
    pub fn dedupe_key(&self) -> String {
        let name = self.name();
        let id = self.id().unwrap_or("-");
        if self.kind == "message" {
            return format!("{name}:{id}");
        }
        let version = self
            .get("updated_at")
            .or_else(|| self.get("last_modified"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{}>{}",
                    self.get("old_status_id").unwrap_or("-"),
                    self.get("status_id").unwrap_or("-")
                )
            });
        format!("{name}:{id}:{version}")
    }
}

impl Webhook {
    pub fn parse(body: &[u8]) -> Result<Webhook, WebhookError> {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let mut account_id = None;
        let mut subdomain = None;
        // (kind, action, index) in order of first appearance.
        let mut order: Vec<(String, String, String)> = vec![];
        let mut by_entity: BTreeMap<(String, String, String), BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in pairs {
            let (k, v) = (storable(k), storable(v));
            let Some(seg) = segments(&k) else { continue };
            match seg.as_slice() {
                ["account", "id"] => account_id = Some(v.trim().to_string()),
                ["account", "subdomain"] => subdomain = Some(v.trim().to_string()),
                ["account", ..] => {}
                [kind, action, index, rest @ ..] if !rest.is_empty() && index.parse::<u32>().is_ok() => {
                    let entity = (kind.to_string(), action.to_string(), index.to_string());
                    let field = match rest {
                        [first, tail @ ..] => {
                            let mut f = first.to_string();
                            for t in tail {
                                f.push_str(&format!("[{t}]"));
                            }
                            f
                        }
                        [] => continue,
                    };
                    if !by_entity.contains_key(&entity) {
                        if order.len() >= MAX_ENTITIES {
                            return Err(WebhookError::TooMany);
                        }
                        order.push(entity.clone());
                    }
                    by_entity.entry(entity).or_default().insert(field, v);
                }
                _ => {}
            }
        }
        if order.is_empty() && account_id.is_none() && subdomain.is_none() {
            return Err(WebhookError::Malformed("no entities and no account".into()));
        }
        let entities = order
            .into_iter()
            .map(|key| {
                let fields = by_entity.remove(&key).unwrap_or_default();
                Entity {
                    kind: key.0,
                    action: key.1,
                    fields,
                }
            })
            .collect();
        Ok(Webhook {
            account_id,
            subdomain,
            entities,
        })
    }

    /// The body must name our account: its id where it carries one, and its subdomain where it
    /// carries one; at least one of them.
    pub fn verify_account(&self, account_id: u64, subdomain: &str) -> Result<(), AuthError> {
        let id_ok = self.account_id.as_deref().map(|id| id == account_id.to_string());
        let sub_ok = self.subdomain.as_deref().map(|s| s.eq_ignore_ascii_case(subdomain));
        match (id_ok, sub_ok) {
            (None, None) | (Some(false), _) | (_, Some(false)) => Err(AuthError::UnknownAccount),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(name: &str) -> Vec<u8> {
        let text = match name {
            "leads-create-2025" => {
                include_str!("../../../../tests/fixtures/amocrm/raw-webhook-leads-create-2025.form.txt")
            }
            "contacts-update-2025" => {
                include_str!("../../../../tests/fixtures/amocrm/raw-webhook-contacts-update-2025.form.txt")
            }
            "status-2021" => {
                include_str!("../../../../tests/fixtures/amocrm/raw-webhook-full-leads-status-2021.form.txt")
            }
            "short-status" => include_str!("../../../../tests/fixtures/amocrm/raw-webhook-short-leads-status.form.txt"),
            "short-add" => include_str!("../../../../tests/fixtures/amocrm/raw-webhook-short-leads-add.form.txt"),
            "add_lead-2016" => {
                include_str!("../../../../tests/fixtures/amocrm/raw-webhook-add_lead-2016-zapier_build.form.txt")
            }
            _ => unreachable!(),
        };
        text.trim().as_bytes().to_vec()
    }

    #[test]
    fn a_2025_lead_creation() {
        let w = Webhook::parse(&body("leads-create-2025")).unwrap();
        assert_eq!(w.account_id.as_deref(), Some("32427762"));
        assert_eq!(w.entities.len(), 1);
        let e = &w.entities[0];
        assert_eq!(e.name(), "leads:add");
        assert_eq!(e.id(), Some("32966269"));
        assert_eq!(e.get("status_id"), Some("76789230"));
        assert_eq!(e.get("pipeline_id"), Some("9621010"));
        assert_eq!(e.dedupe_key(), "leads:add:32966269:1748268669");
        assert!(w.verify_account(32427762, "etesttask").is_ok());
        assert_eq!(w.verify_account(32427763, "etesttask"), Err(AuthError::UnknownAccount));
        assert_eq!(w.verify_account(32427762, "other"), Err(AuthError::UnknownAccount));
    }

    #[test]
    fn a_contact_with_its_custom_fields() {
        let w = Webhook::parse(&body("contacts-update-2025")).unwrap();
        let e = &w.entities[0];
        assert_eq!(e.name(), "contacts:update");
        assert_eq!(e.get("custom_fields[1][code]"), Some("PHONE"));
        assert_eq!(e.get("custom_fields[1][values][0][value]"), Some("333"));
        assert_eq!(e.get("name"), Some("Абиба абибович"));
    }

    #[test]
    fn full_and_short_status_changes() {
        let full = Webhook::parse(&body("status-2021")).unwrap();
        let e = &full.entities[0];
        assert_eq!(e.name(), "leads:status");
        assert_eq!(e.get("old_status_id"), Some("16525555"));
        assert_eq!(e.get("tags[0][name]"), Some("Sasa"));
        // A date field's value without a `[value]` key.
        assert_eq!(e.get("custom_fields[1][values][0]"), Some("1615845600"));
        let short = Webhook::parse(&body("short-status")).unwrap();
        let e = &short.entities[0];
        assert_eq!(e.get("status_id"), Some("51725977"));
        assert_eq!(e.dedupe_key(), "leads:status:3029903:51725974>51725977");
        assert!(short.verify_account(30519919, "archibiz").is_ok());
        let add = Webhook::parse(&body("short-add")).unwrap();
        assert_eq!(add.entities[0].name(), "leads:add");
    }

    #[test]
    fn a_body_without_account_id_is_checked_by_subdomain() {
        let w = Webhook::parse(&body("add_lead-2016")).unwrap();
        assert_eq!(w.account_id, None);
        assert!(w.verify_account(1, "test000002").is_ok());
        assert!(w.verify_account(1, "test000003").is_err());
    }

    #[test]
    fn every_entity_of_a_mixed_body() {
        let mixed =
            "leads%5Badd%5D%5B0%5D%5Bid%5D=1&leads%5Badd%5D%5B1%5D%5Bid%5D=2&leads%5Bstatus%5D%5B0%5D%5Bid%5D=3\
                     &contacts%5Bupdate%5D%5B0%5D%5Bid%5D=4&account%5Bid%5D=5";
        let w = Webhook::parse(mixed.as_bytes()).unwrap();
        let names: Vec<_> = w
            .entities
            .iter()
            .map(|e| format!("{}={}", e.name(), e.id().unwrap()))
            .collect();
        assert_eq!(
            names,
            ["leads:add=1", "leads:add=2", "leads:status=3", "contacts:update=4"]
        );
    }

    #[test]
    fn garbage_is_refused_and_nul_is_storable() {
        assert!(Webhook::parse(b"x=1").is_err());
        let w = Webhook::parse(b"leads[add][0][name]=a%00b&account[id]=1").unwrap();
        assert_eq!(w.entities[0].get("name"), Some("a\u{fffd}b"));
        let many: String = (0..=MAX_ENTITIES)
            .map(|i| format!("leads[add][{i}][id]={i}&"))
            .collect();
        assert_eq!(Webhook::parse(many.as_bytes()), Err(WebhookError::TooMany));
    }
}
