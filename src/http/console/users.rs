//! Users (the admin's) and API tokens (everyone's own): a token acts with its user's role on
//! the operator API, and is shown once when made.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{csrf_field, page, role_name, ConsoleError, Session};
use crate::domain::{ManagerId, Role};
use crate::http::auth::{check_password, check_username, hash_password, token_hash};
use crate::http::AppState;
use crate::store::NewUser;

async fn render(state: &AppState, session: &Session, notice: Option<Markup>) -> Result<Markup, ConsoleError> {
    let users = if session.who.is_admin() {
        state.users.list_users().await?
    } else {
        vec![]
    };
    let tokens = state.users.api_tokens(session.user.id).await?;
    let csrf = &session.csrf;
    Ok(page(
        session,
        "Пользователи и токены",
        html! {
            @if let Some(n) = notice { (n) }
            @if session.who.is_admin() {
                h1 { "Пользователи" }
                table.users {
                    thead { tr { th { "Имя" } th { "Роль" } th { "Отдел" } th { "Менеджер" } } }
                    tbody {
                        @for u in &users {
                            tr { td { (u.username) } td { (role_name(u.role)) } td { (u.department.as_deref().unwrap_or("—")) } td { (u.manager_id.as_ref().map_or("—", |m| m.as_str())) } }
                        }
                    }
                }
                h2 { "Новый пользователь" }
                form.stack method="post" action="/console/users" {
                    (csrf_field(csrf))
                    label { "Имя" input name="username" required; }
                    label { "Пароль (не короче 10 символов)" input name="password" type="password" autocomplete="new-password" minlength="10" required; }
                    label { "Роль"
                        select name="role" {
                            option value="manager" { "менеджер" }
                            option value="head" { "руководитель отдела" }
                            option value="admin" { "администратор" }
                        }
                    }
                    label { "Отдел (группа маршрутизации, для руководителя)" input name="department"; }
                    label { "Id менеджера (для менеджера)" input name="manager_id"; }
                    button type="submit" { "Создать" }
                }
            }
            h2 { "Мои API-токены" }
            p { "Токен работает с правами вашей роли: " code { "Authorization: Bearer <токен>" } }
            ul.tokens {
                @for t in &tokens {
                    li {
                        (t.name) " · " (t.created_at.format("%Y-%m-%d"))
                        form.inline method="post" action={"/console/tokens/" (t.id) "/revoke"} {
                            (csrf_field(csrf))
                            button type="submit" { "Отозвать" }
                        }
                    }
                }
            }
            form.stack method="post" action="/console/tokens" {
                (csrf_field(csrf))
                label { "Название" input name="name" required placeholder="робот CRM"; }
                button type="submit" { "Выпустить токен" }
            }
        },
    ))
}

pub async fn show(State(state): State<AppState>, session: Session) -> Result<Markup, ConsoleError> {
    render(&state, &session, None).await
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    manager_id: String,
}

/// A new user's fields checked: the role's link (a head's department, a manager's id) is
/// required, and only that one is kept.
pub fn new_user_of(
    username: &str,
    password_hash: String,
    role: Role,
    department: &str,
    manager_id: &str,
) -> Result<NewUser, String> {
    check_username(username)?;
    let department = Some(department.trim().to_string()).filter(|d| !d.is_empty());
    let manager_id = match manager_id.trim() {
        "" => None,
        m => Some(ManagerId::parse(m)?),
    };
    let (department, manager_id) = match role {
        Role::Admin => (None, None),
        Role::Head => (
            Some(department.ok_or("a head of sales needs a department (a routing group)")?),
            None,
        ),
        Role::Manager => (
            None,
            Some(manager_id.ok_or("a manager needs their manager id (as in routing.toml)")?),
        ),
    };
    Ok(NewUser {
        username: username.to_string(),
        password_hash,
        role,
        department,
        manager_id,
    })
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(f): Form<UserForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    if !session.who.is_admin() {
        return Err(ConsoleError(StatusCode::FORBIDDEN, "only the admin makes users".into()));
    }
    let role = f
        .role
        .parse::<Role>()
        .map_err(|e| ConsoleError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    check_password(&f.password).map_err(|e| ConsoleError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    // Checked before the (slow) hash.
    new_user_of(&f.username, String::new(), role, &f.department, &f.manager_id)
        .map_err(|e| ConsoleError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let password = f.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ConsoleError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ConsoleError(StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let new = new_user_of(&f.username, hash, role, &f.department, &f.manager_id)
        .map_err(|e| ConsoleError(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    match state.users.create_user(&new).await? {
        Some(u) => {
            tracing::info!(user = %u.username, role = %u.role, by = %session.who.name(), "console user created");
            Ok(Redirect::to("/console/users").into_response())
        }
        None => Err(ConsoleError(
            StatusCode::CONFLICT,
            format!("the username `{}` is taken", f.username),
        )),
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    session: Session,
    Form(f): Form<TokenForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ConsoleError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a token's name is 1 to 100 characters".into(),
        ));
    }
    let token = crate::app::new_token();
    state
        .users
        .create_api_token(session.user.id, name, &token_hash(&token))
        .await?;
    tracing::info!(user = %session.user.username, token = %name, "API token issued");
    let notice = html! {
        div.notice role="status" {
            p { "Новый токен «" (name) "» (показан только сейчас):" }
            p { code #new-token { (token) } }
        }
    };
    Ok(render(&state, &session, Some(notice)).await?.into_response())
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn revoke_token(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    let mine = state
        .users
        .api_tokens(session.user.id)
        .await?
        .iter()
        .any(|t| t.id == id);
    if !mine {
        return Err(ConsoleError(StatusCode::NOT_FOUND, format!("no token {id} of yours")));
    }
    state.users.revoke_api_token(id).await?;
    Ok(Redirect::to("/console/users").into_response())
}
