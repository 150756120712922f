//! The leads list (filters, sorting, the stuck ones first) and a lead's page (transcript,
//! timers, the actor's state, the CRM card, actions), scoped by role; live over SSE.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use futures_util::Stream;
use maud::{html, Markup};
use serde::Deserialize;

use super::{csrf_field, page, ConsoleError, Session};
use crate::actors::ActorState;
use crate::domain::{InboxPayload, LeadId, LeadRecord, LeadStatus, Principal};
use crate::http::leads::{lead_view, operator_event, restart_lead, LeadView};
use crate::http::AppState;

/// Most leads one list reads (newest kept when there are more).
const MAX_LEADS: usize = 20_000;

#[derive(Debug, Default, Deserialize, Clone)]
pub struct Filter {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub manager: String,
    /// Older than this many minutes.
    #[serde(default)]
    pub age: String,
    /// Digits the phone contains.
    #[serde(default)]
    pub phone: String,
    /// `stuck` (default), `newest`, `oldest`, `updated`.
    #[serde(default)]
    pub sort: String,
}

/// Why a lead needs a person now, if it does.
pub fn stuck_reason(lead: &LeadRecord, window: Duration, now: DateTime<Utc>) -> Option<String> {
    match lead.status {
        LeadStatus::NeedsReview => Some(format!(
            "нужна проверка{}",
            lead.reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        )),
        LeadStatus::New | LeadStatus::BotProcessing => {
            let idle = (now - lead.updated_at).to_std().unwrap_or_default();
            (idle > window).then(|| format!("бот ведёт {} без ответа", humantime::format_duration(round_min(idle))))
        }
        _ => None,
    }
}

fn round_min(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs() / 60 * 60)
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The leads this principal may see that pass the filter, sorted.
pub async fn visible_leads(
    state: &AppState,
    who: &Principal,
    f: &Filter,
    now: DateTime<Utc>,
) -> Result<Vec<(LeadRecord, Option<String>)>, ConsoleError> {
    let status = match f.status.as_str() {
        "" | "open" | "stuck" => None,
        s => Some(
            s.parse::<LeadStatus>()
                .map_err(|e| ConsoleError(StatusCode::BAD_REQUEST, e))?,
        ),
    };
    let age = match f.age.trim() {
        "" => None,
        a => Some(
            a.parse::<i64>()
                .map_err(|_| ConsoleError(StatusCode::BAD_REQUEST, "`age` is a number of minutes".into()))?,
        ),
    };
    let phone = digits(&f.phone);
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = state.store.list_leads(status, after, 1000).await?;
        let n = page.len();
        after = page.last().map_or(after, |l| l.id.0);
        all.extend(page);
        if n < 1000 {
            break;
        }
        if all.len() > MAX_LEADS {
            let drop = all.len() - MAX_LEADS;
            all.drain(..drop);
        }
    }
    let deps = state.departments.clone();
    let window = state.console.no_answer_window;
    let mut out: Vec<(LeadRecord, Option<String>)> = all
        .into_iter()
        .filter(|l| who.may_see_lead(l, &|m, d| deps.contains(m, d)))
        .filter(|l| f.status != "open" || !matches!(l.status, LeadStatus::Closed | LeadStatus::LowQuality))
        .filter(|l| f.channel.is_empty() || l.channel.as_str() == f.channel)
        .filter(|l| f.source.is_empty() || l.source == f.source)
        .filter(|l| match f.manager.as_str() {
            "" => true,
            "-" => l.manager_id.is_none(),
            m => l.manager_id.as_ref().is_some_and(|id| id.as_str() == m),
        })
        .filter(|l| age.is_none_or(|a| (now - l.created_at).num_minutes() >= a))
        .filter(|l| phone.is_empty() || l.phone.as_ref().is_some_and(|p| p.as_str().contains(&phone)))
        .map(|l| {
            let stuck = stuck_reason(&l, window, now);
            (l, stuck)
        })
        .filter(|(_, s)| f.status != "stuck" || s.is_some())
        .collect();
    match f.sort.as_str() {
        "oldest" => out.sort_by_key(|(l, _)| l.created_at),
        "newest" => out.sort_by_key(|(l, _)| std::cmp::Reverse(l.created_at)),
        "updated" => out.sort_by_key(|(l, _)| std::cmp::Reverse(l.updated_at)),
        // The stuck first (the longest stuck on top), then the newest.
        _ => out.sort_by(|(a, sa), (b, sb)| match (sa.is_some(), sb.is_some()) {
            (true, true) => a.updated_at.cmp(&b.updated_at),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => b.created_at.cmp(&a.created_at),
        }),
    }
    Ok(out)
}

pub fn status_name(s: LeadStatus) -> &'static str {
    match s {
        LeadStatus::New => "новый",
        LeadStatus::BotProcessing => "ведёт бот",
        LeadStatus::Queued => "в очереди",
        LeadStatus::Assigned => "у менеджера",
        LeadStatus::Closed => "закрыт",
        LeadStatus::LowQuality => "некачественный",
        LeadStatus::NeedsReview => "нужна проверка",
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn filters(f: &Filter) -> Markup {
    let sel = |v: &str, cur: &str| v == cur;
    html! {
        form.filters method="get" action="/console" {
            label { "Статус"
                select name="status" {
                    option value="" selected[sel("", &f.status)] { "все" }
                    option value="open" selected[sel("open", &f.status)] { "открытые" }
                    option value="stuck" selected[sel("stuck", &f.status)] { "застрявшие" }
                    @for s in LeadStatus::ALL {
                        option value=(s.as_str()) selected[sel(s.as_str(), &f.status)] { (status_name(s)) }
                    }
                }
            }
            label { "Канал" input name="channel" value=(f.channel) placeholder="webchat"; }
            label { "Источник" input name="source" value=(f.source) placeholder="bitrix24"; }
            label { "Менеджер" input name="manager" value=(f.manager) placeholder="id или -"; }
            label { "Старше, мин" input name="age" value=(f.age) inputmode="numeric"; }
            label { "Телефон" input name="phone" value=(f.phone) inputmode="tel"; }
            label { "Сортировка"
                select name="sort" {
                    option value="stuck" selected[sel("stuck", &f.sort) || f.sort.is_empty()] { "застрявшие сверху" }
                    option value="newest" selected[sel("newest", &f.sort)] { "новые сверху" }
                    option value="oldest" selected[sel("oldest", &f.sort)] { "старые сверху" }
                    option value="updated" selected[sel("updated", &f.sort)] { "по изменению" }
                }
            }
            button type="submit" { "Показать" }
        }
    }
}

fn query_of(f: &Filter) -> String {
    serde_urlencoded::to_string([
        ("status", &f.status),
        ("channel", &f.channel),
        ("source", &f.source),
        ("manager", &f.manager),
        ("age", &f.age),
        ("phone", &f.phone),
        ("sort", &f.sort),
    ])
    .unwrap_or_default()
}

fn table(leads: &[(LeadRecord, Option<String>)], f: &Filter) -> Markup {
    let q = query_of(f);
    html! {
        div #leads hx-get={"/console/leads-fragment?" (q)} hx-trigger="leadbot-update from:body" hx-swap="outerHTML" {
            p.count { "Лидов: " (leads.len()) }
            table.leads {
                thead { tr { th { "№" } th { "Статус" } th { "Клиент" } th { "Телефон" } th { "Канал" } th { "Источник" } th { "Менеджер" } th { "Создан" } } }
                tbody {
                    @for (l, stuck) in leads {
                        tr.stuck[stuck.is_some()] data-lead=(l.id.0) {
                            td { a href={"/console/leads/" (l.id.0)} { (l.id.0) } }
                            td {
                                (status_name(l.status))
                                @if let Some(s) = stuck { br; span.badge { (s) } }
                            }
                            td { (l.name.as_deref().unwrap_or("—")) }
                            td { (l.phone.as_ref().map_or("—", |p| p.as_str())) }
                            td { (l.channel.as_str()) }
                            td { (l.source) }
                            td { (l.manager_id.as_ref().map_or("—", |m| m.as_str())) }
                            td { (when(l.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filter>,
) -> Result<Markup, ConsoleError> {
    let leads = visible_leads(&state, &session.who, &f, Utc::now()).await?;
    Ok(page(
        &session,
        "Лиды",
        html! {
            h1 { "Лиды" }
            (filters(&f))
            div data-live="/console/events" {}
            (table(&leads, &f))
        },
    ))
}

pub async fn list_fragment(
    State(state): State<AppState>,
    session: Session,
    Query(f): Query<Filter>,
) -> Result<Markup, ConsoleError> {
    let leads = visible_leads(&state, &session.who, &f, Utc::now()).await?;
    Ok(table(&leads, &f))
}

fn actor_name(a: Option<ActorState>) -> &'static str {
    match a {
        Some(ActorState::Running) => "работает",
        Some(ActorState::Passivated) => "спит (проснётся на событие)",
        Some(ActorState::Restarting) => "упал, перезапускается",
        None => "не ответил",
    }
}

/// Whether a person took this lead's conversation over (its snapshot says so).
pub async fn taken_over(state: &AppState, id: LeadId) -> Result<bool, ConsoleError> {
    Ok(taken_over_by(state, id).await?.is_some())
}

pub async fn taken_over_by(state: &AppState, id: LeadId) -> Result<Option<String>, ConsoleError> {
    let (_, snapshot) = state.store.load_lead(id).await?;
    Ok(snapshot.and_then(|s| {
        s.state
            .get("taken_over_by")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }))
}

fn live(state: &AppState, v: &LeadView, csrf: &str, taken_by: Option<&str>) -> Markup {
    let l = &v.lead;
    let id = l.id.0;
    let stuck = stuck_reason(l, state.console.no_answer_window, Utc::now());
    let open = !matches!(l.status, LeadStatus::Closed | LeadStatus::LowQuality);
    html! {
        div #live hx-get={"/console/leads/" (id) "/fragment"} hx-trigger="leadbot-update from:body" hx-swap="outerHTML" {
            dl.facts {
                dt { "Статус" } dd #status { (status_name(l.status)) @if let Some(r) = &l.reason { " (" (r) ")" } }
                @if let Some(s) = &stuck { dt { "Застрял" } dd.badge { (s) } }
                dt { "Актор" } dd #actor { (actor_name(v.actor)) }
                dt { "Клиент" } dd { (l.name.as_deref().unwrap_or("—")) }
                dt { "Телефон" } dd { (l.phone.as_ref().map_or("—", |p| p.as_str())) }
                dt { "Канал" } dd { (l.channel.as_str()) }
                dt { "Источник" } dd { (l.source) " · " (l.external_id)
                    @if let Some(url) = state.console.card_url(&l.source, &l.external_id) {
                        " · " a href=(url) target="_blank" rel="noopener" { "карточка в CRM" }
                    }
                }
                dt { "Менеджер" } dd { (l.manager_id.as_ref().map_or("—", |m| m.as_str())) }
                dt { "Создан" } dd { (when(l.created_at)) }
                dt { "Изменён" } dd { (when(l.updated_at)) }
            }
            section.actions {
                form method="post" action={"/console/leads/" (id) "/restart"} {
                    (csrf_field(csrf))
                    button type="submit" { "Перезапустить актор" }
                }
                @if l.status == LeadStatus::Assigned {
                    form method="post" action={"/console/leads/" (id) "/accept"} {
                        (csrf_field(csrf))
                        button type="submit" { "Принять" }
                    }
                }
                @if open && taken_by.is_none() {
                    form method="post" action={"/console/leads/" (id) "/takeover"} {
                        (csrf_field(csrf))
                        button type="submit" { "Взять разговор на себя" }
                    }
                }
                @if l.status == LeadStatus::Assigned {
                    form method="post" action={"/console/leads/" (id) "/reassign"} {
                        (csrf_field(csrf))
                        button type="submit" { "Передать другому" }
                    }
                }
                @if open {
                    form method="post" action={"/console/leads/" (id) "/low-quality"} {
                        (csrf_field(csrf))
                        button type="submit" { "Некачественный" }
                    }
                    form method="post" action={"/console/leads/" (id) "/close"} {
                        (csrf_field(csrf))
                        button type="submit" { "Закрыть" }
                    }
                }
            }
            @if let Some(by) = taken_by {
                p.notice #taken { "Разговор ведёт " (by) ": бот молчит." }
            }
            h2 { "Таймеры" }
            @if v.timers.is_empty() { p { "нет" } }
            ul.timers { @for t in &v.timers { li { (t.kind) " — " (when(t.due_at)) } } }
            h2 { "Переписка" }
            ol.transcript {
                @for e in &v.transcript {
                    li class=(if e.author.is_some() { format!("{} person", e.direction) } else { e.direction.clone() }) {
                        span.who {
                            @if e.direction == "in" { "клиент" }
                            @else if let Some(a) = &e.author { (a) }
                            @else { "бот" }
                        }
                        span.at { (when(e.at)) }
                        p { (e.text) }
                    }
                }
            }
        }
    }
}

pub async fn page_of(state: &AppState, session: &Session, id: i64) -> Result<Markup, ConsoleError> {
    let v = lead_view(state, &session.who, LeadId(id)).await?;
    let taken_by = taken_over_by(state, v.lead.id).await?;
    let open = !matches!(v.lead.status, LeadStatus::Closed | LeadStatus::LowQuality);
    Ok(page(
        session,
        &format!("Лид {id}"),
        html! {
            p { a href="/console" { "← все лиды" } }
            h1 { "Лид " (id) }
            div data-live={"/console/events?lead=" (id)} {}
            (live(state, &v, &session.csrf, taken_by.as_deref()))
            @if taken_by.is_some() && open {
                form.reply method="post" action={"/console/leads/" (id) "/reply"} {
                    (csrf_field(&session.csrf))
                    label { "Ответ клиенту (уйдёт в его канал: " (v.lead.channel.as_str()) ")"
                        textarea name="text" rows="3" required {}
                    }
                    button type="submit" { "Отправить" }
                }
            }
        },
    ))
}

pub async fn lead_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Markup, ConsoleError> {
    page_of(&state, &session, id).await
}

pub async fn fragment(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Markup, ConsoleError> {
    let v = lead_view(&state, &session.who, LeadId(id)).await?;
    let taken_by = taken_over_by(&state, v.lead.id).await?;
    Ok(live(&state, &v, &session.csrf, taken_by.as_deref()))
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// The reply's text (`reply`).
    #[serde(default)]
    text: String,
}

pub async fn action(
    State(state): State<AppState>,
    session: Session,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<ActionForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&f.csrf)?;
    let who = &session.who;
    match action.as_str() {
        "restart" => {
            let _ = restart_lead(&state, who, LeadId(id)).await?;
        }
        "close" => {
            let _ = operator_event(&state, who, id, "close", InboxPayload::Closed).await?;
        }
        "takeover" => {
            let by = who.name().to_string();
            let _ = operator_event(&state, who, id, "takeover", InboxPayload::TakeOver { by }).await?;
        }
        "reply" => {
            let text = f.text.trim();
            if text.is_empty() {
                return Err(ConsoleError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "пустое сообщение".into(),
                ));
            }
            if text.chars().count() > state.max_text_chars {
                return Err(ConsoleError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("не длиннее {} символов", state.max_text_chars),
                ));
            }
            let lead = state.visible_lead(who, LeadId(id)).await?;
            if !taken_over(&state, lead.id).await? {
                return Err(ConsoleError(
                    StatusCode::CONFLICT,
                    "сначала возьмите разговор на себя: пока его ведёт бот".into(),
                ));
            }
            let payload = InboxPayload::ManagerMessage {
                author: who.name().to_string(),
                text: text.to_string(),
            };
            let _ = operator_event(&state, who, id, "reply", payload).await?;
        }
        "low-quality" => {
            let _ = operator_event(&state, who, id, "low-quality", InboxPayload::MarkLowQuality).await?;
        }
        "reassign" => {
            let lead = state.visible_lead(who, LeadId(id)).await?;
            if lead.status != LeadStatus::Assigned {
                return Err(ConsoleError(
                    StatusCode::CONFLICT,
                    format!("лид {id} не у менеджера: передавать некого"),
                ));
            }
            let _ = operator_event(&state, who, id, "reassign", InboxPayload::Reassign).await?;
        }
        "accept" => {
            let lead = state.visible_lead(who, LeadId(id)).await?;
            if lead.status != LeadStatus::Assigned {
                return Err(ConsoleError(
                    StatusCode::CONFLICT,
                    format!("лид {id} не у менеджера: принять нечего"),
                ));
            }
            let _ = operator_event(&state, who, id, "accept", InboxPayload::Accepted).await?;
        }
        other => {
            return Err(ConsoleError(StatusCode::NOT_FOUND, format!("no such action: {other}")));
        }
    }
    tracing::info!(lead = id, action = %action, user = %who.name(), "console action");
    Ok(Redirect::to(&format!("/console/leads/{id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    lead: Option<i64>,
}

/// Server-sent events: `update` whenever what the page shows changed (a new message, a new
/// status); the page then reloads its live part. The server looks once a second.
pub async fn events(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    if let Some(id) = q.lead {
        state.visible_lead(&session.who, LeadId(id)).await?;
    }
    let who = session.who.clone();
    let stream = futures_util::stream::unfold(
        (state, who, q.lead, None::<String>),
        |(state, who, lead, last)| async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = fingerprint(&state, &who, lead).await;
                match (&last, now) {
                    (_, None) => continue,
                    (None, Some(fp)) => {
                        // The first look is what the page already shows.
                        return Some((None, (state, who, lead, Some(fp))));
                    }
                    (Some(prev), Some(fp)) if *prev == fp => continue,
                    (Some(_), Some(fp)) => {
                        let ev = Event::default().event("update").data(fp.clone());
                        return Some((Some(ev), (state, who, lead, Some(fp))));
                    }
                }
            }
        },
    );
    let stream = futures_util::StreamExt::filter_map(stream, |e| async move { e.map(Ok) });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn fingerprint(state: &AppState, who: &Principal, lead: Option<i64>) -> Option<String> {
    match lead {
        Some(id) => {
            let l = state.visible_lead(who, LeadId(id)).await.ok()?;
            let last = state.store.transcript(l.id, 0).await.ok()?.last().map_or(0, |e| e.id);
            Some(format!("{}:{}:{}", l.status, l.updated_at.timestamp_micros(), last))
        }
        None => {
            let leads = visible_leads(state, who, &Filter::default(), Utc::now()).await.ok()?;
            let newest = leads.iter().map(|(l, _)| l.updated_at).max();
            Some(format!(
                "{}:{}",
                leads.len(),
                newest.map_or(0, |t| t.timestamp_micros())
            ))
        }
    }
}
