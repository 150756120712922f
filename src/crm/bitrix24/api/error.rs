use std::time::Duration;

/// What a Bitrix24 call can fail with, classified by the body's `error` field first (the portal
/// sometimes answers limits with HTTP 200), the HTTP status second.
#[derive(Debug, thiserror::Error)]
pub enum Bitrix24Error {
    #[error("QUERY_LIMIT_EXCEEDED: the portal's request rate limit")]
    QueryLimit,
    #[error("OPERATION_TIME_LIMIT for {method}; resets in {reset_in:?}")]
    OperationTimeLimit { method: String, reset_in: Duration },
    #[error("expired_token")]
    ExpiredToken,
    #[error("authorization failed: {code}: {description}")]
    Auth { code: String, description: String },
    #[error("server error {status}: {code}")]
    Server { status: u16, code: String },
    #[error("{method}: {code}: {description}")]
    Api {
        method: String,
        code: String,
        description: String,
    },
    #[error("{method}: unexpected answer (HTTP {status}): {detail}")]
    Decode {
        method: String,
        status: u16,
        detail: String,
    },
    #[error("too many redirects")]
    Redirects,
    #[error("transport: {0}")]
    Http(#[from] reqwest::Error),
    #[error("OAuth: {0}")]
    OAuth(String),
    #[error("token storage: {0}")]
    TokenStore(#[from] crate::store::StoreError),
}

impl Bitrix24Error {
    /// Worth another attempt later, unchanged.
    pub fn is_retryable(&self) -> bool {
        match self {
            Bitrix24Error::QueryLimit | Bitrix24Error::OperationTimeLimit { .. } | Bitrix24Error::Server { .. } => true,
            Bitrix24Error::TokenStore(e) => e.is_transient(),
            Bitrix24Error::Http(e) => e.is_timeout() || e.is_connect() || e.is_request(),
            Bitrix24Error::Decode { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The entity does not exist (any more): the portal answers `Not found` for a get.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Bitrix24Error::Api { code, description, .. }
            if code == "NOT_FOUND" || description.eq_ignore_ascii_case("not found"))
    }

    /// The metric label of the outcome.
    pub fn label(&self) -> &'static str {
        match self {
            Bitrix24Error::QueryLimit => "query_limit",
            Bitrix24Error::OperationTimeLimit { .. } => "operation_time_limit",
            Bitrix24Error::ExpiredToken => "expired_token",
            Bitrix24Error::Auth { .. } => "auth",
            Bitrix24Error::Server { .. } => "server_error",
            Bitrix24Error::Api { .. } => "api_error",
            Bitrix24Error::Decode { .. } => "decode",
            Bitrix24Error::Redirects => "redirects",
            Bitrix24Error::Http(_) => "transport",
            Bitrix24Error::OAuth(_) => "oauth",
            Bitrix24Error::TokenStore(_) => "token_store",
        }
    }

    /// From an error body `{"error": "...", "error_description": "..."}`.
    pub fn classify(method: &str, status: u16, code: &str, description: &str) -> Bitrix24Error {
        match code {
            "QUERY_LIMIT_EXCEEDED" => Bitrix24Error::QueryLimit,
            "OPERATION_TIME_LIMIT" => Bitrix24Error::OperationTimeLimit {
                method: method.to_string(),
                reset_in: Duration::from_secs(60),
            },
            "expired_token" => Bitrix24Error::ExpiredToken,
            "NO_AUTH_FOUND"
            | "INVALID_CREDENTIALS"
            | "invalid_token"
            | "insufficient_scope"
            | "ACCESS_DENIED"
            | "authorization_error"
            | "WRONG_AUTH_TYPE"
            | "user_access_error"
            | "PAYMENT_REQUIRED"
            | "PORTAL_DELETED" => Bitrix24Error::Auth {
                code: code.to_string(),
                description: description.to_string(),
            },
            "INTERNAL_SERVER_ERROR" | "ERROR_UNEXPECTED_ANSWER" | "OVERLOAD_LIMIT" => Bitrix24Error::Server {
                status,
                code: code.to_string(),
            },
            _ if status >= 500 && code.is_empty() => Bitrix24Error::Server {
                status,
                code: String::new(),
            },
            _ => Bitrix24Error::Api {
                method: method.to_string(),
                code: code.to_string(),
                description: description.to_string(),
            },
        }
    }
}
