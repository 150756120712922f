use std::time::Duration;

/// One failed element of a request, from a problem+json `validation-errors` answer; `request_id`
/// is the index (or the `request_id`) of the element sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    pub request_id: String,
    pub code: String,
    pub path: String,
    pub detail: String,
}

impl std::fmt::Display for ElementError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "element {}: {} at {}: {}",
            self.request_id, self.code, self.path, self.detail
        )
    }
}

/// What an amoCRM call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AmoError {
    /// 429 after the in-call retries.
    #[error("rate limited (HTTP 429)")]
    RateLimited,
    /// A 403 HTML page: amoCRM blocked the account for exceeding its limits. Nothing is called
    /// until `retry_in` has passed; the operator is alerted.
    #[error("the account is blocked by amoCRM (HTTP 403 page); calls paused for {retry_in:?}")]
    Blocked { retry_in: Duration },
    /// 401 that a refresh did not cure (or a long-lived token that is no longer valid).
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403 problem+json: the token's user may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("validation failed: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Validation(Vec<ElementError>),
    #[error("{method} {path}: HTTP {status}: {detail}")]
    Api {
        method: String,
        path: String,
        status: u16,
        detail: String,
    },
    #[error("server error (HTTP {0})")]
    Server(u16),
    #[error("{0}: unexpected answer: {1}")]
    Decode(String, String),
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
    #[error("OAuth: {0}")]
    OAuth(String),
    #[error("token storage: {0}")]
    TokenStore(#[from] crate::store::StoreError),
}

impl AmoError {
    /// Worth another attempt later, unchanged.
    pub fn is_retryable(&self) -> bool {
        match self {
            AmoError::RateLimited | AmoError::Blocked { .. } | AmoError::Server(_) => true,
            // A token that is being fixed (re-authorised) should not lose the queued work.
            AmoError::Unauthorized(_) => true,
            AmoError::TokenStore(e) => e.is_transient(),
            AmoError::Http(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            _ => false,
        }
    }

    /// The metric label of the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            AmoError::RateLimited => "rate_limited",
            AmoError::Blocked { .. } => "blocked",
            AmoError::Unauthorized(_) => "unauthorized",
            AmoError::Forbidden(_) => "forbidden",
            AmoError::Validation(_) => "validation",
            AmoError::Api { .. } => "api_error",
            AmoError::Server(_) => "server_error",
            AmoError::Decode(..) => "decode",
            AmoError::Http(_) => "transport",
            AmoError::OAuth(_) => "oauth",
            AmoError::TokenStore(_) => "token_store",
        }
    }
}

impl Clone for AmoError {
    /// One bulk request's failure is every element's failure; the transport error itself cannot
    /// be cloned, its text is kept.
    fn clone(&self) -> Self {
        match self {
            AmoError::RateLimited => AmoError::RateLimited,
            AmoError::Blocked { retry_in } => AmoError::Blocked { retry_in: *retry_in },
            AmoError::Unauthorized(s) => AmoError::Unauthorized(s.clone()),
            AmoError::Forbidden(s) => AmoError::Forbidden(s.clone()),
            AmoError::Validation(v) => AmoError::Validation(v.clone()),
            AmoError::Api {
                method,
                path,
                status,
                detail,
            } => AmoError::Api {
                method: method.clone(),
                path: path.clone(),
                status: *status,
                detail: detail.clone(),
            },
            AmoError::Server(s) => AmoError::Server(*s),
            AmoError::Decode(a, b) => AmoError::Decode(a.clone(), b.clone()),
            // Retryable like the original (a transport failure).
            AmoError::Http(e) => AmoError::Server(e.status().map_or(599, |s| s.as_u16())),
            AmoError::OAuth(s) => AmoError::OAuth(s.clone()),
            AmoError::TokenStore(e) => AmoError::OAuth(format!("token storage: {e}")),
        }
    }
}

/// Reads a problem+json body: validation errors by element, else its title/detail.
pub fn problem(method: &str, path: &str, status: u16, body: &serde_json::Value) -> AmoError {
    if let Some(groups) = body.get("validation-errors").and_then(|v| v.as_array()) {
        let mut out = vec![];
        for g in groups {
            let request_id = match g.get("request_id") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            for e in g.get("errors").and_then(|e| e.as_array()).into_iter().flatten() {
                let f = |k: &str| e.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                out.push(ElementError {
                    request_id: request_id.clone(),
                    code: f("code"),
                    path: f("path"),
                    detail: f("detail"),
                });
            }
        }
        if !out.is_empty() {
            return AmoError::Validation(out);
        }
    }
    let f = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let detail = [f("title"), f("detail"), f("hint")]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    match status {
        401 => AmoError::Unauthorized(detail),
        403 => AmoError::Forbidden(detail),
        s if s >= 500 => AmoError::Server(s),
        _ => AmoError::Api {
            method: method.to_string(),
            path: path.to_string(),
            status,
            detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_name_the_element() {
        let body: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/amocrm/error-400-validation.json"
        ))
        .unwrap();
        match problem("PATCH", "/api/v4/leads", 400, &body) {
            AmoError::Validation(errors) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].request_id, "0");
                assert_eq!(errors[0].code, "NotSupportedChoice");
                assert_eq!(errors[0].path, "custom_fields_values.0.field_id");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_revoked_refresh_token_is_unauthorized() {
        let body: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/amocrm/error-401-oauth-refresh-token-revoked.json"
        ))
        .unwrap();
        let e = problem("POST", "/oauth2/access_token", 401, &body);
        assert!(
            matches!(&e, AmoError::Unauthorized(d) if d.contains("Token has been revoked")),
            "{e:?}"
        );
    }
}
