//! Who may see and do what in the console and the operator API (spec 004: a manager sees only
//! their own leads, the head of sales their department, the admin everything and the
//! settings). Pure rules over the principal and the lead; no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{LeadRecord, ManagerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, settings and users included.
    Admin,
    /// The head of sales: the leads of their department (a routing group) and the queue.
    Head,
    /// A manager: only the leads assigned to their manager id.
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Head => "head",
            Role::Manager => "manager",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "admin" => Ok(Role::Admin),
            "head" => Ok(Role::Head),
            "manager" => Ok(Role::Manager),
            other => Err(format!("`{other}` is not a role (admin, head, manager)")),
        }
    }
}

/// A console user as the rules see it (no password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// A head's department: the routing group whose managers' leads they see.
    pub department: Option<String>,
    /// A manager's id in the routing config (and the CRM).
    pub manager_id: Option<ManagerId>,
}

/// Whoever is asking: a console user, an API token's user, or the operator token (admin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: Option<User>,
    pub role: Role,
    pub department: Option<String>,
    pub manager_id: Option<ManagerId>,
}

impl Principal {
    /// `LEADBOT_OPERATOR_TOKEN` (or the generated one): the admin without a user.
    pub fn operator() -> Principal {
        Principal {
            user: None,
            role: Role::Admin,
            department: None,
            manager_id: None,
        }
    }

    pub fn of(user: User) -> Principal {
        Principal {
            role: user.role,
            department: user.department.clone(),
            manager_id: user.manager_id.clone(),
            user: Some(user),
        }
    }

    pub fn name(&self) -> &str {
        self.user.as_ref().map_or("operator", |u| u.username.as_str())
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// May this principal see (and act on) a lead held by `holder`? `in_department` tells
    /// whether a manager belongs to a department (routing group).
    pub fn may_see(&self, holder: Option<&ManagerId>, in_department: &dyn Fn(&ManagerId, &str) -> bool) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Manager => matches!((holder, &self.manager_id), (Some(h), Some(me)) if h == me),
            // The head sees their managers' leads and the ones no manager holds yet (the bot's
            // and the queue's), which are the department's to pick up.
            Role::Head => match (holder, &self.department) {
                (None, _) => true,
                (Some(h), Some(dep)) => in_department(h, dep),
                (Some(_), None) => false,
            },
        }
    }

    pub fn may_see_lead(&self, lead: &LeadRecord, in_department: &dyn Fn(&ManagerId, &str) -> bool) -> bool {
        self.may_see(lead.manager_id.as_ref(), in_department)
    }

    /// May this principal change a manager's pause and absence?
    pub fn may_manage(&self, manager: &ManagerId, in_department: &dyn Fn(&ManagerId, &str) -> bool) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Manager => self.manager_id.as_ref() == Some(manager),
            Role::Head => self.department.as_deref().is_some_and(|d| in_department(manager, d)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> ManagerId {
        ManagerId::parse(s).unwrap()
    }

    fn user(role: Role, department: Option<&str>, manager: Option<&str>) -> Principal {
        Principal::of(User {
            id: 1,
            username: "u".into(),
            role,
            department: department.map(str::to_string),
            manager_id: manager.map(m),
        })
    }

    fn sales(manager: &ManagerId, dep: &str) -> bool {
        dep == "sales" && (manager.as_str() == "7" || manager.as_str() == "8")
    }

    #[test]
    fn a_manager_sees_only_their_own_leads() {
        let p = user(Role::Manager, None, Some("7"));
        assert!(p.may_see(Some(&m("7")), &sales));
        assert!(!p.may_see(Some(&m("8")), &sales));
        assert!(!p.may_see(None, &sales));
        assert!(p.may_manage(&m("7"), &sales));
        assert!(!p.may_manage(&m("8"), &sales));
    }

    #[test]
    fn a_manager_without_a_manager_id_sees_nothing() {
        let p = user(Role::Manager, None, None);
        assert!(!p.may_see(Some(&m("7")), &sales));
        assert!(!p.may_see(None, &sales));
    }

    #[test]
    fn the_head_sees_their_department_and_the_unassigned() {
        let p = user(Role::Head, Some("sales"), None);
        assert!(p.may_see(Some(&m("7")), &sales));
        assert!(p.may_see(Some(&m("8")), &sales));
        assert!(!p.may_see(Some(&m("9")), &sales));
        assert!(p.may_see(None, &sales));
        assert!(p.may_manage(&m("8"), &sales));
        assert!(!p.may_manage(&m("9"), &sales));
    }

    #[test]
    fn the_admin_and_the_operator_token_see_everything() {
        for p in [user(Role::Admin, None, None), Principal::operator()] {
            assert!(p.may_see(Some(&m("9")), &sales));
            assert!(p.may_see(None, &sales));
            assert!(p.may_manage(&m("9"), &sales));
            assert!(p.is_admin());
        }
    }

    #[test]
    fn roles_parse_and_print() {
        for r in [Role::Admin, Role::Head, Role::Manager] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
