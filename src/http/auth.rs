//! Who is asking. The operator API takes a bearer token: `LEADBOT_OPERATOR_TOKEN` (or the
//! generated one) is the admin; an API token names its console user, whose role it has. The
//! console takes a server-side session (an HttpOnly, SameSite=Strict cookie, Secure when
//! configured), and every form it posts carries the session's CSRF token. Passwords are kept
//! as argon2 hashes, session and API tokens as SHA-256 hashes: nothing in the database opens a
//! session by itself. Nothing answers anonymously.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::domain::secret::constant_time_eq;
use crate::domain::{ManagerId, Principal};
use crate::store::UserStore;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "leadbot_session";
/// How long a console session lives.
pub const SESSION_HOURS: i64 = 12;
/// The generated secret holding the one-time setup token's hash (empty once used).
pub const SETUP_SECRET: &str = "console_setup";

/// An argon2id PHC string for a password (a fresh random salt each time).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

/// Whether `password` matches a stored PHC string (a malformed one matches nothing).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// What the database keeps of a random token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rules for passwords set from the console or the CLI.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < 10 {
        return Err("the password must have at least 10 characters".into());
    }
    if password.len() > 1024 {
        return Err("the password is longer than 1024 bytes".into());
    }
    Ok(())
}

/// The rules for usernames.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err("a username is 1 to 64 letters, digits or . _ - @".into())
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The principal a bearer token stands for, if any.
pub async fn principal_of_bearer(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let Some(given) = bearer(headers) else {
        return Ok(None);
    };
    if let Some(expected) = &state.operator_token {
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Ok(Some(Principal::operator()));
        }
    }
    if given.is_empty() || given.len() > 256 {
        return Ok(None);
    }
    Ok(state
        .users
        .user_by_api_token(&token_hash(given))
        .await?
        .map(Principal::of))
}

/// Guards the operator API: a bearer token (the operator token or an API token) is required;
/// the principal is handed to the handlers.
pub async fn require_operator(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match principal_of_bearer(&state, req.headers()).await? {
        Some(p) => {
            req.extensions_mut().insert(p);
            Ok(next.run(req).await)
        }
        None => Err(ApiError::Unauthorized("missing or wrong operator token".into())),
    }
}

/// Inside [`require_operator`]: only the admin passes.
pub async fn require_admin(req: Request, next: Next) -> Result<Response, ApiError> {
    match req.extensions().get::<Principal>() {
        Some(p) if p.is_admin() => Ok(next.run(req).await),
        Some(p) => Err(ApiError::Forbidden(format!(
            "this is the admin's ({} {} may not)",
            p.role,
            p.name()
        ))),
        None => Err(ApiError::Unauthorized("missing or wrong operator token".into())),
    }
}

/// The principal of an operator API request (put there by [`require_operator`]).
pub struct Operator(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Operator)
            .ok_or_else(|| ApiError::Unauthorized("missing or wrong operator token".into()))
    }
}

/// Which routing groups (departments) each manager is in, from the routing config.
#[derive(Debug, Default, Clone)]
pub struct Departments {
    groups: std::collections::HashMap<String, Vec<String>>,
}

impl Departments {
    pub fn new(managers: impl IntoIterator<Item = (String, Vec<String>)>) -> Departments {
        Departments {
            groups: managers.into_iter().collect(),
        }
    }

    pub fn contains(&self, manager: &ManagerId, department: &str) -> bool {
        self.groups
            .get(manager.as_str())
            .is_some_and(|g| g.iter().any(|d| d == department))
    }
}

impl AppState {
    /// The lead, or 403 when this principal may not see it.
    pub async fn visible_lead(
        &self,
        who: &Principal,
        id: crate::domain::LeadId,
    ) -> Result<crate::domain::LeadRecord, ApiError> {
        let lead = self.store.get_lead(id).await?;
        let deps = self.departments.clone();
        if who.may_see_lead(&lead, &|m, d| deps.contains(m, d)) {
            Ok(lead)
        } else {
            Err(ApiError::Forbidden(format!(
                "lead {id} is not yours to see ({} {})",
                who.role,
                who.name()
            )))
        }
    }

    pub fn may_manage(&self, who: &Principal, manager: &ManagerId) -> bool {
        let deps = self.departments.clone();
        who.may_manage(manager, &|m, d| deps.contains(m, d))
    }

    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a phc string"));
        // A fresh salt each time.
        assert_ne!(h, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn token_hashes_are_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; leadbot_session=xyz; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("olga.petrova").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pw").is_ok());
    }
}
