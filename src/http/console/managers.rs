//! Managers: load against capacity, working hours, pause and absence toggles, the queue.
//! A manager sees and toggles themselves, the head their department, the admin everyone.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;

use super::{csrf_field, page, ConsoleError, Session};
use crate::domain::ManagerId;
use crate::http::managers::{set_absence, set_paused, status_for};
use crate::http::AppState;

/// The job board's newest jobs with who took each and who revealed the client's phone (the
/// admin's and the heads' view; a manager has no jobs of their own here).
async fn job_board(state: &AppState, session: &Session) -> Result<Markup, ConsoleError> {
    if state.jobs.is_none() || session.who.role == crate::domain::Role::Manager {
        return Ok(html! {});
    }
    let jobs = state.job_store.recent_jobs(50).await?;
    let mut rows = Vec::with_capacity(jobs.len());
    for j in jobs {
        let reveals = state.job_store.reveals(j.id).await?;
        rows.push((j, reveals));
    }
    Ok(html! {
        h2 { "Биржа заказов" }
        @if rows.is_empty() { p { "заказов нет" } }
        @else {
            table.jobs {
                thead { tr { th { "Сделка" } th { "Заказ" } th { "Состояние" } th { "Кто открыл телефон" } } }
                tbody {
                    @for (j, reveals) in &rows {
                        tr data-job=(j.id) {
                            td { (j.deal_id) }
                            td { (j.deal.as_ref().map_or("—", |d| d.title.as_str())) }
                            td {
                                @if let Some(name) = &j.taken_by_name { "взят: " (name) }
                                @else if j.taken_by.is_some() { "взят" }
                                @else if j.message_id.is_some() { "открыт, опубликован" }
                                @else { "открыт, ждёт публикации" }
                            }
                            td {
                                @for r in reveals {
                                    (r.user_name.as_deref().or(r.login.as_deref()).unwrap_or("?")) " (" (r.via) ", " (r.at.format("%Y-%m-%d %H:%M")) ")" br;
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

async fn render(state: &AppState, session: &Session) -> Result<Markup, ConsoleError> {
    let status = status_for(state, &session.who).await?;
    let board = job_board(state, session).await?;
    let csrf = &session.csrf;
    Ok(page(
        session,
        "Менеджеры",
        html! {
            h1 { "Менеджеры" }
            p { "В очереди ждут менеджера: " (status.queue_length) }
            table.managers {
                thead { tr { th { "Менеджер" } th { "Группы" } th { "Нагрузка" } th { "Часы" } th { "Сейчас" } th { "Действия" } } }
                tbody {
                    @for m in &status.managers {
                        tr data-manager=(m.id) {
                            td { (m.name) br; small { "id " (m.id) } }
                            td { (m.groups.join(", ")) }
                            td.load.over[m.capacity.is_some_and(|c| m.active >= c)] {
                                (m.active) " / " (m.capacity.map_or("∞".to_string(), |c| c.to_string()))
                            }
                            td { (state.console.hours.get(&m.id).map_or("круглосуточно", String::as_str)) }
                            td {
                                @if m.paused { span.badge { "пауза" } " " }
                                @if m.absent { span.badge { "отсутствует" } " " }
                                @if !m.in_hours { "вне часов " }
                                @if m.eligible { "принимает лиды" } @else { "не принимает" }
                            }
                            td.actions {
                                form method="post" action={"/console/managers/" (m.id) "/" (if m.paused { "unpause" } else { "pause" })} {
                                    (csrf_field(csrf))
                                    button type="submit" { @if m.paused { "Снять паузу" } @else { "Пауза" } }
                                }
                                form method="post" action={"/console/managers/" (m.id) "/absence"} {
                                    (csrf_field(csrf))
                                    input type="date" name="until" aria-label="Отсутствует до";
                                    button type="submit" { "Отсутствует до" }
                                }
                                @if m.absent {
                                    form method="post" action={"/console/managers/" (m.id) "/absence"} {
                                        (csrf_field(csrf))
                                        input type="hidden" name="until" value="";
                                        button type="submit" { "На месте" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (board)
        },
    ))
}

pub async fn show(State(state): State<AppState>, session: Session) -> Result<Markup, ConsoleError> {
    render(&state, &session).await
}

#[derive(Debug, Deserialize)]
pub struct ManagerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    until: String,
}

pub async fn action(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ManagerForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    let mid = ManagerId::parse(&id).map_err(|e| ConsoleError(StatusCode::BAD_REQUEST, e))?;
    if !state.may_manage(&session.who, &mid) {
        return Err(ConsoleError(
            StatusCode::FORBIDDEN,
            format!("менеджер {id} не в вашем ведении"),
        ));
    }
    match action.as_str() {
        "pause" => {
            let _ = set_paused(&state, id.clone(), true).await?;
        }
        "unpause" => {
            let _ = set_paused(&state, id.clone(), false).await?;
        }
        "absence" => {
            let until = match f.until.trim() {
                "" => None,
                d => Some(
                    NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_err(|_| ConsoleError(StatusCode::UNPROCESSABLE_ENTITY, format!("`{d}` is not a date")))?,
                ),
            };
            let _ = set_absence(&state, id.clone(), until).await?;
        }
        other => return Err(ConsoleError(StatusCode::NOT_FOUND, format!("no such action: {other}"))),
    }
    tracing::info!(manager = %id, action = %action, user = %session.who.name(), "console manager action");
    Ok(Redirect::to("/console/managers").into_response())
}
