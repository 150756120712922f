//! The executor job board: a deal that needs an executor is posted to the executors' Telegram
//! group with two buttons. "Получить номер клиента" reveals the client's contact privately (every
//! reveal is recorded); "Забрать заказ" is won by exactly one executor — a compare-and-set in the
//! store, whatever the number of simultaneous clicks or redelivered callbacks.
//!
//! The board owns its buttons (Telegram hands presses over through [`ButtonPresses`]) and its
//! side effects go through the outbox: the manager's notification and the deal's responsible in
//! the CRM are stored in the same transaction as the win, then delivered and retried.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::channels::telegram::update::User;
use crate::channels::telegram::{BotApi, ButtonPress, ButtonPresses, TgError};
use crate::config::{Executor, JobBoardSettings, TelegramTexts};
use crate::domain::{Claim, JobTaker};
use crate::outbox::{DealUpdate, Notification, KIND_DEAL, KIND_NOTIFICATION};
use crate::store::{ChatStore, JobRow, JobStore, NewOutbox, StoreError};

pub use crate::domain::DealJob;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("telegram: {0}")]
    Telegram(#[from] TgError),
    /// The group's backlog of posts is full (its pace is the messenger's): come back later.
    #[error("{pending} jobs are waiting to be posted to the group; try again in {retry_after:?}")]
    Busy { pending: i64, retry_after: Duration },
}

/// Jobs waiting to be posted per group before new ones are refused (429): at 20 posts a minute
/// per group this is five minutes of posting.
const MAX_UNPOSTED: i64 = 100;

pub struct JobBoard {
    pub settings: JobBoardSettings,
    texts: TelegramTexts,
    executors: Vec<Executor>,
    jobs: Arc<dyn JobStore>,
    chats: Arc<dyn ChatStore>,
    bot: String,
    api: Arc<BotApi>,
    /// The CRM whose deals these are (their responsible is set there), if one is connected.
    /// Its deals are keyed by their plain id.
    deals_crm: Option<String>,
    /// Other CRMs that send deals; theirs are keyed `{crm}:{id}`.
    other_deal_crms: Vec<String>,
    /// Wakes the poster when a job was stored.
    wake: Notify,
    /// The messenger's pace for group posts (for `Retry-After`).
    group_per_min: f64,
}

/// What the board is built from.
pub struct JobBoardParts {
    pub settings: JobBoardSettings,
    pub texts: TelegramTexts,
    pub executors: Vec<Executor>,
    pub jobs: Arc<dyn JobStore>,
    pub chats: Arc<dyn ChatStore>,
    /// The bot that posts (its username: whom executors have started).
    pub bot: String,
    pub api: Arc<BotApi>,
    pub deals_crm: Option<String>,
    pub other_deal_crms: Vec<String>,
    /// Posts per minute the messenger allows into one group.
    pub group_per_min: f64,
}

impl JobBoard {
    pub fn new(p: JobBoardParts) -> JobBoard {
        JobBoard {
            settings: p.settings,
            texts: p.texts,
            executors: p.executors,
            jobs: p.jobs,
            chats: p.chats,
            bot: p.bot,
            api: p.api,
            deals_crm: p.deals_crm,
            other_deal_crms: p.other_deal_crms,
            wake: Notify::new(),
            group_per_min: p.group_per_min,
        }
    }

    /// The job key of a CRM's deal: the main deal CRM's ids as they are (as they always were
    /// stored), another CRM's prefixed with its name.
    pub fn deal_key(&self, crm: &str, deal_id: &str) -> String {
        if self.deals_crm.as_deref() == Some(crm) || self.deals_crm.is_none() && crm.is_empty() {
            deal_id.to_string()
        } else {
            format!("{crm}:{deal_id}")
        }
    }

    /// The CRM and its deal id of a job key.
    fn split_key<'a>(&'a self, key: &'a str) -> (Option<&'a str>, &'a str) {
        if let Some((crm, id)) = key.split_once(':') {
            if self.other_deal_crms.iter().any(|c| c == crm) {
                return (Some(crm), id);
            }
        }
        (self.deals_crm.as_deref(), key)
    }

    /// The executor's user in `crm`.
    fn crm_user(&self, crm: &str, telegram_id: i64) -> Option<String> {
        let e = self.executors.iter().find(|e| e.telegram_id == telegram_id)?;
        match crm {
            "amocrm" => e.amocrm_user_id.clone().or_else(|| {
                (self.deals_crm.as_deref() == Some(crm))
                    .then(|| e.crm_user_id.clone())
                    .flatten()
            }),
            _ if self.deals_crm.as_deref() == Some(crm) => e.crm_user_id.clone(),
            _ => None,
        }
    }

    fn render(&self, deal_key: &str, d: &DealJob) -> String {
        let deal_id = self.split_key(deal_key).1;
        self.settings
            .template
            .replace("{deal_id}", deal_id)
            .replace("{title}", &d.title)
            .replace("{conditions}", &d.conditions)
            .replace("{dates}", &d.dates)
            .replace("{pay}", &d.pay)
            .replace("{skills}", &d.skills)
    }

    /// Stores the deal's job (once: the same deal again returns the existing job) and wakes
    /// the poster, which posts jobs in order at the group's pace: no request waits for the
    /// messenger. A full backlog is refused with [`JobError::Busy`]. Returns the job id.
    pub async fn post(&self, deal_id: &str, deal: &DealJob) -> Result<i64, JobError> {
        if let Some(job) = self.jobs.job_of_deal(deal_id).await? {
            return Ok(job.id);
        }
        let pending = self.jobs.unposted_jobs(self.settings.group_chat_id).await?;
        if pending >= MAX_UNPOSTED {
            let per_post = Duration::from_secs_f64(60.0 / self.group_per_min());
            return Err(JobError::Busy {
                pending,
                retry_after: per_post
                    .saturating_mul((pending - MAX_UNPOSTED + 1) as u32)
                    .max(Duration::from_secs(1)),
            });
        }
        let job = self.jobs.upsert_job(deal_id, deal, self.settings.group_chat_id).await?;
        self.wake.notify_one();
        Ok(job.id)
    }

    fn group_per_min(&self) -> f64 {
        self.group_per_min.max(1.0)
    }

    async fn send_post(&self, id: i64, deal_id: &str, deal: &DealJob) -> Result<(), JobError> {
        // callback_data must fit 64 bytes: short ASCII ids.
        let markup = json!({"inline_keyboard": [[
            {"text": self.texts.phone_button, "callback_data": format!("ph:{id}")},
            {"text": self.texts.take_button, "callback_data": format!("tk:{id}")},
        ]]});
        let msg = self
            .api
            .send_message(self.settings.group_chat_id, &self.render(deal_id, deal), Some(markup))
            .await?;
        self.jobs
            .job_posted(id, msg.get("message_id").and_then(Value::as_i64))
            .await?;
        tracing::info!(job_id = id, deal_id, "job posted to the executors' group");
        Ok(())
    }

    /// The poster: posts new jobs (and those whose post failed) in order, and re-posts
    /// unclaimed jobs older than `repost_after` (the manager is told nobody has taken it yet).
    /// Runs until aborted.
    pub async fn run_poster(self: Arc<Self>, every: Duration) {
        loop {
            if let Err(e) = self.repost_due().await {
                tracing::warn!(error = %e, "job posting pass failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    async fn repost_due(&self) -> Result<(), JobError> {
        let stale_secs = self.settings.repost_after.map_or(-1.0, |d| d.as_secs_f64());
        for job in self.jobs.jobs_to_repost(stale_secs, 50).await? {
            let never_posted = job.message_id.is_none();
            let Some(deal) = &job.deal else { continue };
            self.send_post(job.id, &job.deal_id, deal).await?;
            if !never_posted {
                tracing::warn!(job_id = job.id, deal_id = %job.deal_id, "no executor yet: job posted again");
                if let Some(manager) = &deal.manager_id {
                    let note = self.notification(
                        &job.deal_id,
                        manager,
                        format!(
                            "Сделку {} пока никто не взял — опубликовал заново",
                            self.split_key(&job.deal_id).1
                        ),
                        format!("job:{}:repost:{}", job.id, chrono::Utc::now().timestamp()),
                    );
                    self.jobs.enqueue_effects(&[note]).await?;
                }
            }
        }
        Ok(())
    }

    fn notification(&self, deal_id: &str, manager: &str, text: String, key: String) -> NewOutbox {
        NewOutbox {
            kind: KIND_NOTIFICATION.into(),
            payload: serde_json::to_value(Notification {
                lead_id: None,
                deal_id: Some(deal_id.to_string()),
                manager_id: manager.to_string(),
                manager_name: String::new(),
                text,
                phone: None,
            })
            .unwrap_or(Value::Null),
            idempotency_key: key,
            delivered: false,
        }
    }

    fn taker(&self, who: &User) -> JobTaker {
        let executor = self.executors.iter().find(|e| e.telegram_id == who.id);
        JobTaker {
            user_id: who.id,
            name: executor.map_or(who.name.clone(), |e| e.name.clone()),
            login: who.username.clone(),
            crm_user_id: self
                .deals_crm
                .as_deref()
                .and_then(|crm| self.crm_user(crm, who.id))
                .or_else(|| executor.and_then(|e| e.crm_user_id.clone())),
        }
    }

    /// Exactly one executor wins: the store's compare-and-set decides, not memory. The win's
    /// effects (the deal's responsible, the manager told) are committed with it.
    pub async fn claim(&self, job_id: i64, who: &User) -> Result<Claim, JobError> {
        let taker = self.taker(who);
        let executor = match &taker.login {
            Some(login) => format!("{} (@{login})", taker.name),
            None => taker.name.clone(),
        };
        let effects = |job: &JobRow| {
            let mut rows = vec![];
            let (crm, deal_id) = self.split_key(&job.deal_id);
            if let Some(crm) = crm {
                rows.push(NewOutbox {
                    kind: KIND_DEAL.into(),
                    payload: serde_json::to_value(DealUpdate {
                        crm: crm.to_string(),
                        deal_id: deal_id.to_string(),
                        crm_user_id: self.crm_user(crm, taker.user_id),
                        executor: executor.clone(),
                        manager_id: job.deal.as_ref().and_then(|d| d.manager_id.clone()),
                    })
                    .unwrap_or(Value::Null),
                    idempotency_key: format!("job:{job_id}:responsible"),
                    delivered: false,
                });
            }
            if let Some(manager) = job.deal.as_ref().and_then(|d| d.manager_id.as_deref()) {
                rows.push(self.notification(
                    &job.deal_id,
                    manager,
                    format!("Исполнитель найден для сделки {deal_id}: {executor}"),
                    format!("job:{job_id}:taken"),
                ));
            }
            rows
        };
        Ok(self.jobs.claim_job(job_id, &taker, &executor, &effects).await?)
    }

    /// A button press in the group. The callback is answered first (Telegram shows a spinner
    /// until then), slower work follows.
    pub async fn handle_press(&self, press: &ButtonPress) -> Result<(), JobError> {
        let (id, from) = (&press.callback_id, &press.from);
        let Some((action, job)) = press.data.split_once(':') else {
            return Ok(self.api.answer_callback(id, &self.texts.job_gone, false).await?);
        };
        let Ok(job_id) = job.parse::<i64>() else {
            return Ok(self.api.answer_callback(id, &self.texts.job_gone, false).await?);
        };
        match action {
            "tk" => match self.claim(job_id, from).await? {
                Claim::Won { deal_id } => {
                    // The post is closed even if the click can no longer be answered.
                    let answered = self.api.answer_callback(id, &self.texts.you_won, false).await;
                    self.after_win(job_id, &deal_id, from).await?;
                    answered?;
                }
                Claim::AlreadyYours => self.api.answer_callback(id, &self.texts.you_won, false).await?,
                Claim::Taken => self.api.answer_callback(id, &self.texts.taken_alert, true).await?,
                Claim::NoSuchJob => self.api.answer_callback(id, &self.texts.job_gone, true).await?,
            },
            "ph" => self.reveal(id, job_id, from).await?,
            _ => self.api.answer_callback(id, &self.texts.job_gone, false).await?,
        }
        Ok(())
    }

    /// The post becomes "executor found" without buttons (the effects are in the outbox already).
    async fn after_win(&self, job_id: i64, deal_id: &str, who: &User) -> Result<(), JobError> {
        if let Some(job) = self.jobs.job(job_id).await? {
            if let Some(message) = job.message_id {
                let name = job.taken_by_name.unwrap_or_default();
                let text = self.texts.found.replace("{name}", &name);
                self.api
                    .edit_message(job.chat_id, message, &text, json!({"inline_keyboard": []}))
                    .await?;
            }
        }
        tracing::info!(job_id, deal_id, executor_id = who.id, "job taken");
        Ok(())
    }

    /// The client's contact, privately: a DM when the executor has started the bot, otherwise an
    /// alert only they see. Every reveal is recorded.
    async fn reveal(&self, callback_id: &str, job_id: i64, who: &User) -> Result<(), JobError> {
        let Some(job) = self.jobs.job(job_id).await? else {
            return Ok(self
                .api
                .answer_callback(callback_id, &self.texts.job_gone, true)
                .await?);
        };
        // Once taken, the client's contact is for the winner only.
        if job.taken_by.is_some_and(|w| w != who.id) {
            return Ok(self
                .api
                .answer_callback(callback_id, &self.texts.taken_alert, true)
                .await?);
        }
        let Some(deal) = job.deal else {
            return Ok(self
                .api
                .answer_callback(callback_id, &self.texts.job_gone, true)
                .await?);
        };
        let text = self
            .texts
            .phone_alert
            .replace("{name}", &deal.client_name)
            .replace("{phone}", &deal.client_phone);
        let dm = self.chats.has_started(&self.bot, who.id).await?
            && self.api.send_message(who.id, &text, None).await.is_ok();
        let via = if dm {
            self.api
                .answer_callback(callback_id, &self.texts.phone_sent, false)
                .await?;
            "dm"
        } else {
            self.api.answer_callback(callback_id, &text, true).await?;
            "alert"
        };
        let taker = JobTaker {
            user_id: who.id,
            name: who.name.clone(),
            login: who.username.clone(),
            crm_user_id: None,
        };
        self.jobs.record_reveal(job_id, &taker, via).await?;
        tracing::info!(job_id, user_id = who.id, via, phone = %leadbot_phone::mask_e164(&deal.client_phone), "client contact revealed");
        Ok(())
    }
}

#[async_trait]
impl ButtonPresses for JobBoard {
    async fn pressed(&self, press: &ButtonPress) -> Result<(), String> {
        match self.handle_press(press).await {
            Ok(()) => Ok(()),
            // Telegram refused for good (a query too old to answer, a message gone): the press
            // is handled as far as it can be; a redelivery would be refused the same way.
            Err(JobError::Telegram(e)) if !e.is_retryable() => {
                tracing::warn!(error = %e, "a button press could not be answered");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

#[async_trait]
impl crate::crm::DealDispatch for JobBoard {
    async fn dispatch(&self, crm: &str, deal_id: &str, deal: &DealJob) -> Result<i64, String> {
        self.post(&self.deal_key(crm, deal_id), deal)
            .await
            .map_err(|e| e.to_string())
    }
}
