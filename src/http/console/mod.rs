//! The operator console at `/console`: server-rendered pages (maud) with htmx, both served by
//! leadbot itself (htmx is vendored under `assets/`, no CDN, no front-end build). Signing in
//! makes a server-side session; every form carries the session's CSRF token; what a page
//! shows is scoped by the user's role (spec 004).

mod leads;
mod managers;
mod users;

pub use users::new_user_of;

use std::time::Duration;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::auth::{
    check_password, check_username, cookie, hash_password, token_hash, verify_password, SESSION_COOKIE, SESSION_HOURS,
    SETUP_SECRET,
};
use super::{ApiError, AppState};
use crate::domain::secret::constant_time_eq;
use crate::domain::{Principal, Role, User};
use crate::store::NewUser;

const HTMX: &str = include_str!("assets/htmx.min.js");
const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// What the console needs from the config beyond the state.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSettings {
    /// A lead the bot holds longer than this without a phone is stuck (the dialog's
    /// no-answer window).
    pub no_answer_window: Duration,
    /// CRM card addresses by lead source: the template's `{id}` is the lead's external id.
    pub crm_cards: Vec<(String, String)>,
    /// Working hours by manager id, as the routing config gives them.
    pub hours: std::collections::HashMap<String, String>,
}

impl ConsoleSettings {
    pub fn card_url(&self, source: &str, external_id: &str) -> Option<String> {
        self.crm_cards
            .iter()
            .find(|(s, _)| s == source)
            .map(|(_, t)| t.replace("{id}", external_id))
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(leads::list))
        .route("/console/", get(|| async { Redirect::to("/console") }))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/setup", get(setup_page).post(setup))
        .route("/console/leads/{id}", get(leads::lead_page))
        .route("/console/leads/{id}/fragment", get(leads::fragment))
        .route("/console/leads/{id}/{action}", post(leads::action))
        .route("/console/leads-fragment", get(leads::list_fragment))
        .route("/console/events", get(leads::events))
        .route("/console/managers", get(managers::show))
        .route("/console/managers/{id}/{action}", post(managers::action))
        .route("/console/users", get(users::show).post(users::create))
        .route("/console/tokens", post(users::create_token))
        .route("/console/tokens/{id}/revoke", post(users::revoke_token))
        .route("/console/assets/htmx.min.js", get(|| asset(HTMX, "text/javascript")))
        .route("/console/assets/console.js", get(|| asset(JS, "text/javascript")))
        .route("/console/assets/console.css", get(|| asset(CSS, "text/css")))
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// A signed-in console user: the session's principal and its CSRF token.
pub struct Session {
    pub who: Principal,
    pub user: User,
    pub csrf: String,
    token_hash: String,
}

impl Session {
    /// The form's CSRF token must be the session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        if !given.is_empty() && constant_time_eq(given.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(ConsoleError(
                StatusCode::FORBIDDEN,
                "the form's security token is missing or stale: reload the page and try again".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let hash = token_hash(token);
        match state.users.session(&hash, Utc::now()).await {
            Ok(Some(row)) => Ok(Session {
                who: Principal::of(row.user.clone()),
                user: row.user,
                csrf: row.csrf,
                token_hash: hash,
            }),
            Ok(None) => Err(to_login()),
            Err(e) => Err(ConsoleError::from(ApiError::from(e)).into_response()),
        }
    }
}

/// A console error: an HTML page with the status and the reason.
#[derive(Debug)]
pub struct ConsoleError(pub StatusCode, pub String);

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        let message = e.to_string();
        // The API's answer decides the status (and logs an internal error once).
        let status = e.into_response().status();
        ConsoleError(status, message)
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let body = bare_page(
            "Ошибка",
            html! {
                main.narrow {
                    h1 { (self.0.as_u16()) " " (self.0.canonical_reason().unwrap_or("")) }
                    p.error { (self.1) }
                    p { a href="/console" { "К списку лидов" } }
                }
            },
        );
        (self.0, body).into_response()
    }
}

/// A page without the navigation (login, setup, errors).
fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — leadbot" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body { (body) }
        }
    }
}

/// A console page: navigation by role, the CSRF token for htmx requests, live updates.
pub fn page(session: &Session, title: &str, body: Markup) -> Markup {
    let hx_headers = serde_json::json!({ "X-CSRF-Token": session.csrf }).to_string();
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — leadbot" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body hx-headers=(hx_headers) {
                header.top {
                    a.brand href="/console" { "leadbot" }
                    nav {
                        a href="/console" { "Лиды" }
                        @if session.who.role != Role::Manager || session.who.manager_id.is_some() {
                            a href="/console/managers" { "Менеджеры" }
                        }
                        a href="/console/users" { @if session.who.is_admin() { "Пользователи" } @else { "Токены" } }
                    }
                    span.who { (session.user.username) " · " (role_name(session.who.role)) }
                    form method="post" action="/console/logout" {
                        (csrf_field(&session.csrf))
                        button.link type="submit" { "Выйти" }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "администратор",
        Role::Head => "руководитель отдела",
        Role::Manager => "менеджер",
    }
}

fn session_cookie(state: &AppState, token: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if state.secure_cookies { "; Secure" } else { "" }
    )
}

/// Opens a session for `user` and sends the browser to the console with its cookie.
async fn open_session(state: &AppState, user: &User) -> Result<Response, ConsoleError> {
    let token = crate::app::new_token();
    let csrf = crate::app::new_token();
    let expires = Utc::now() + chrono::Duration::hours(SESSION_HOURS);
    state.users.purge_sessions(Utc::now()).await?;
    state
        .users
        .create_session(&token_hash(&token), user.id, &csrf, expires)
        .await?;
    tracing::info!(user = %user.username, role = %user.role, "console sign-in");
    let mut resp = Redirect::to("/console").into_response();
    let cookie = session_cookie(state, &token, SESSION_HOURS * 3600);
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

fn login_form(error: Option<&str>) -> Markup {
    bare_page(
        "Вход",
        html! {
            main.narrow {
                h1 { "Вход в консоль leadbot" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/console/login" {
                    label { "Имя пользователя" input name="username" autocomplete="username" required autofocus; }
                    label { "Пароль" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "Войти" }
                }
            }
        },
    )
}

async fn login_page() -> Markup {
    login_form(None)
}

async fn login(State(state): State<AppState>, Form(f): Form<LoginForm>) -> Result<Response, ConsoleError> {
    let found = if f.username.len() <= 64 && f.password.len() <= 1024 {
        state.users.user_by_name(&f.username).await?
    } else {
        None
    };
    // The hash is checked off the async threads (argon2 is deliberately slow).
    let ok = match found {
        Some((user, phc)) => {
            let password = f.password.clone();
            let verified = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
                .await
                .unwrap_or(false);
            verified.then_some(user)
        }
        None => None,
    };
    match ok {
        Some(user) => open_session(&state, &user).await,
        None => {
            tracing::info!("console sign-in refused");
            Ok((
                StatusCode::UNAUTHORIZED,
                login_form(Some("Неверное имя пользователя или пароль")),
            )
                .into_response())
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    state.users.delete_session(&session.token_hash).await?;
    let mut resp = Redirect::to("/console/login").into_response();
    if let Ok(v) = session_cookie(&state, "", 0).parse() {
        resp.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct SetupQuery {
    #[serde(default)]
    token: String,
}

fn setup_form(token: &str, error: Option<&str>) -> Markup {
    bare_page(
        "Первый запуск",
        html! {
            main.narrow {
                h1 { "Первый администратор" }
                p { "Эта ссылка работает один раз: задайте имя и пароль администратора консоли." }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form method="post" action="/console/setup" {
                    input type="hidden" name="token" value=(token);
                    label { "Имя пользователя" input name="username" autocomplete="username" required; }
                    label { "Пароль (не короче 10 символов)" input name="password" type="password" autocomplete="new-password" minlength="10" required; }
                    button type="submit" { "Создать администратора" }
                }
            }
        },
    )
}

/// Whether `token` is the live one-time setup token.
async fn setup_token_ok(state: &AppState, token: &str) -> Result<bool, ConsoleError> {
    if token.is_empty() || token.len() > 256 {
        return Ok(false);
    }
    // "-" is stored only when no setup token was ever made, and no token hashes to it.
    let (stored, _) = state.store.generated_secret(SETUP_SECRET, "-").await?;
    Ok(!stored.is_empty() && constant_time_eq(token_hash(token).as_bytes(), stored.as_bytes()))
}

async fn setup_page(State(state): State<AppState>, Query(q): Query<SetupQuery>) -> Result<Response, ConsoleError> {
    if !setup_token_ok(&state, &q.token).await? || state.users.count_users().await? > 0 {
        return Err(ConsoleError(
            StatusCode::FORBIDDEN,
            "this setup link is used or wrong: sign in, or run `leadbot user add`".into(),
        ));
    }
    Ok(setup_form(&q.token, None).into_response())
}

#[derive(Debug, Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn setup(State(state): State<AppState>, Form(f): Form<SetupForm>) -> Result<Response, ConsoleError> {
    if !setup_token_ok(&state, &f.token).await? {
        return Err(ConsoleError(
            StatusCode::FORBIDDEN,
            "this setup link is used or wrong: sign in, or run `leadbot user add`".into(),
        ));
    }
    if let Err(e) = check_username(&f.username).and_then(|()| check_password(&f.password)) {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, setup_form(&f.token, Some(&e))).into_response());
    }
    let password = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ConsoleError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ConsoleError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let made = state
        .users
        .create_first_user(&NewUser {
            username: f.username.clone(),
            password_hash: hash,
            role: Role::Admin,
            department: None,
            manager_id: None,
        })
        .await?;
    let Some(user) = made else {
        return Err(ConsoleError(
            StatusCode::FORBIDDEN,
            "a console user exists already: sign in".into(),
        ));
    };
    state.store.replace_generated_secret(SETUP_SECRET, "").await?;
    tracing::info!(user = %user.username, "console: first admin created through the setup link");
    open_session(&state, &user).await
}
