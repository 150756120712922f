//! The executor job board: a deal that needs an executor is posted to the executors' Telegram
//! group with two buttons. "Получить номер клиента" reveals the client's contact privately (every
//! reveal is recorded); "Забрать заказ" is won by exactly one executor — a compare-and-set in
//! PostgreSQL, whatever the number of simultaneous clicks or redelivered callbacks.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgPool, Row};

use crate::channels::telegram::update::{Update, User};
use crate::channels::telegram::{BotApi, TgError, TgRepo};
use crate::config::{Executor, JobBoardSettings, TelegramTexts};
use crate::notify::{Notification, Notifier};

/// What the CRM (or the local intake API) says about a deal that needs an executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DealJob {
    pub title: String,
    #[serde(default)]
    pub conditions: String,
    #[serde(default)]
    pub dates: String,
    #[serde(default)]
    pub pay: String,
    #[serde(default)]
    pub skills: String,
    #[serde(default)]
    pub client_name: String,
    pub client_phone: String,
    /// The manager told when an executor takes it.
    #[serde(default)]
    pub manager_id: Option<String>,
}

/// Sets a deal's responsible person in the CRM.
#[async_trait]
pub trait DealResponsible: Send + Sync + 'static {
    async fn set_responsible(&self, deal_id: &str, crm_user_id: Option<&str>, executor: &str) -> Result<(), String>;
}

/// Records the responsible person in leadbot's own table (the CRM adapters mirror it).
pub struct LocalDeals {
    pub pool: PgPool,
}

#[async_trait]
impl DealResponsible for LocalDeals {
    async fn set_responsible(&self, deal_id: &str, crm_user_id: Option<&str>, executor: &str) -> Result<(), String> {
        sqlx::query(
            "INSERT INTO deal_assignments (deal_id, crm_user_id, executor) VALUES ($1, $2, $3)
             ON CONFLICT (deal_id) DO UPDATE SET crm_user_id = EXCLUDED.crm_user_id, executor = EXCLUDED.executor, at = now()",
        )
        .bind(deal_id)
        .bind(crm_user_id)
        .bind(executor)
        .execute(&self.pool)
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// The outcome of one "take the order" click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Won {
        deal_id: String,
    },
    /// The same executor clicked again (or Telegram redelivered the click).
    AlreadyYours,
    Taken,
    NoSuchJob,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("telegram: {0}")]
    Telegram(#[from] TgError),
}

pub struct JobBoard {
    pub settings: JobBoardSettings,
    texts: TelegramTexts,
    executors: Vec<Executor>,
    pool: PgPool,
    api: Arc<BotApi>,
    repo: TgRepo,
    notifier: Notifier,
    deals: Arc<dyn DealResponsible>,
}

impl JobBoard {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: JobBoardSettings,
        texts: TelegramTexts,
        executors: Vec<Executor>,
        pool: PgPool,
        api: Arc<BotApi>,
        repo: TgRepo,
        notifier: Notifier,
        deals: Arc<dyn DealResponsible>,
    ) -> JobBoard {
        JobBoard {
            settings,
            texts,
            executors,
            pool,
            api,
            repo,
            notifier,
            deals,
        }
    }

    fn render(&self, deal_id: &str, d: &DealJob) -> String {
        self.settings
            .template
            .replace("{deal_id}", deal_id)
            .replace("{title}", &d.title)
            .replace("{conditions}", &d.conditions)
            .replace("{dates}", &d.dates)
            .replace("{pay}", &d.pay)
            .replace("{skills}", &d.skills)
    }

    /// Posts the deal (once: the same deal again returns the existing job). Returns the job id.
    pub async fn post(&self, deal_id: &str, deal: &DealJob) -> Result<i64, JobError> {
        let row = sqlx::query(
            "INSERT INTO jobs (deal_id, details, chat_id) VALUES ($1, $2, $3)
             ON CONFLICT (deal_id) DO UPDATE SET deal_id = EXCLUDED.deal_id
             RETURNING id, message_id",
        )
        .bind(deal_id)
        .bind(serde_json::to_value(deal).unwrap_or(Value::Null))
        .bind(self.settings.group_chat_id)
        .fetch_one(&self.pool)
        .await?;
        let id: i64 = row.get(0);
        let posted: Option<i64> = row.get(1);
        if posted.is_none() {
            self.send_post(id, deal_id, deal).await?;
        }
        Ok(id)
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
        let message_id = msg.get("message_id").and_then(Value::as_i64);
        sqlx::query("UPDATE jobs SET message_id = $2, posted_at = now() WHERE id = $1")
            .bind(id)
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        tracing::info!(job_id = id, deal_id, "job posted to the executors' group");
        Ok(())
    }

    /// Re-posts what needs it: jobs whose post failed, and unclaimed jobs older than
    /// `repost_after` (the manager is told nobody has taken it yet). Runs until aborted.
    pub async fn run_reposts(self: Arc<Self>, every: std::time::Duration) {
        loop {
            if let Err(e) = self.repost_due().await {
                tracing::warn!(error = %e, "job re-post pass failed");
            }
            tokio::time::sleep(every).await;
        }
    }

    async fn repost_due(&self) -> Result<(), JobError> {
        let stale_secs = self.settings.repost_after.map_or(-1.0, |d| d.as_secs_f64());
        let rows = sqlx::query(
            "SELECT id, deal_id, details, message_id IS NULL FROM jobs
             WHERE taken_by IS NULL
               AND (message_id IS NULL OR ($1 >= 0 AND posted_at < now() - make_interval(secs => $1)))
             ORDER BY id LIMIT 50",
        )
        .bind(stale_secs)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let (id, deal_id): (i64, String) = (row.get(0), row.get(1));
            let never_posted: bool = row.get(3);
            let Ok(deal) = serde_json::from_value::<DealJob>(row.get(2)) else {
                continue;
            };
            self.send_post(id, &deal_id, &deal).await?;
            if !never_posted {
                tracing::warn!(job_id = id, deal_id, "no executor yet: job posted again");
                if let Some(manager) = &deal.manager_id {
                    let n = Notification {
                        lead_id: None,
                        deal_id: Some(deal_id.clone()),
                        manager_id: manager.clone(),
                        manager_name: String::new(),
                        text: format!("Сделку {deal_id} пока никто не взял — опубликовал заново"),
                        phone: None,
                    };
                    let key = format!("job:{id}:repost:{}", chrono::Utc::now().timestamp());
                    if let Err(e) = self.notifier.send(&n, &key).await {
                        tracing::warn!(deal_id, error = %e, "manager not told about the re-post");
                    }
                }
            }
        }
        Ok(())
    }

    /// Exactly one executor wins: `UPDATE … WHERE taken_by IS NULL` decides, not memory.
    pub async fn claim(&self, job_id: i64, who: &User) -> Result<Claim, sqlx::Error> {
        let executor = self.executors.iter().find(|e| e.telegram_id == who.id);
        let won = sqlx::query(
            "UPDATE jobs SET taken_by = $2, taken_by_name = $3, taken_by_login = $4, crm_user_id = $5, taken_at = now()
             WHERE id = $1 AND taken_by IS NULL
             RETURNING deal_id",
        )
        .bind(job_id)
        .bind(who.id)
        .bind(executor.map_or(who.name.as_str(), |e| e.name.as_str()))
        .bind(&who.username)
        .bind(executor.map(|e| e.crm_user_id.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = won {
            return Ok(Claim::Won { deal_id: row.get(0) });
        }
        let current = sqlx::query("SELECT taken_by FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match current {
            None => Claim::NoSuchJob,
            Some(r) if r.get::<Option<i64>, _>(0) == Some(who.id) => Claim::AlreadyYours,
            Some(_) => Claim::Taken,
        })
    }

    /// A button press in the group. The callback is answered first (Telegram shows a spinner
    /// until then), slower work follows.
    pub async fn handle_callback(&self, update: &Update) -> Result<(), JobError> {
        let Update::Callback { id, from, data, .. } = update else {
            return Ok(());
        };
        let Some((action, job)) = data.split_once(':') else {
            return Ok(self.api.answer_callback(id, &self.texts.job_gone, false).await?);
        };
        let Ok(job_id) = job.parse::<i64>() else {
            return Ok(self.api.answer_callback(id, &self.texts.job_gone, false).await?);
        };
        match action {
            "tk" => match self.claim(job_id, from).await? {
                Claim::Won { deal_id } => {
                    self.api.answer_callback(id, &self.texts.you_won, false).await?;
                    self.after_win(job_id, &deal_id, from).await?;
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

    async fn after_win(&self, job_id: i64, deal_id: &str, who: &User) -> Result<(), JobError> {
        let row =
            sqlx::query("SELECT chat_id, message_id, details, taken_by_name, crm_user_id FROM jobs WHERE id = $1")
                .bind(job_id)
                .fetch_one(&self.pool)
                .await?;
        let (chat, message): (i64, Option<i64>) = (row.get(0), row.get(1));
        let deal: Option<DealJob> = serde_json::from_value(row.get(2)).ok();
        let name: String = row.get(3);
        let crm_user: Option<String> = row.get(4);
        if let Some(message) = message {
            let text = self.texts.found.replace("{name}", &name);
            self.api
                .edit_message(chat, message, &text, json!({"inline_keyboard": []}))
                .await?;
        }
        let executor = match &who.username {
            Some(login) => format!("{name} (@{login})"),
            None => name.clone(),
        };
        if let Err(e) = self
            .deals
            .set_responsible(deal_id, crm_user.as_deref(), &executor)
            .await
        {
            tracing::error!(deal_id, error = %e, "could not set the deal's responsible person");
        }
        if let Some(manager) = deal.and_then(|d| d.manager_id) {
            let n = Notification {
                lead_id: None,
                deal_id: Some(deal_id.to_string()),
                manager_id: manager,
                manager_name: String::new(),
                text: format!("Исполнитель найден для сделки {deal_id}: {executor}"),
                phone: None,
            };
            if let Err(e) = self.notifier.send(&n, &format!("job:{job_id}:taken")).await {
                tracing::warn!(deal_id, error = %e, "manager not notified about the executor");
            }
        }
        tracing::info!(job_id, deal_id, executor_id = who.id, "job taken");
        Ok(())
    }

    /// The client's contact, privately: a DM when the executor has started the bot, otherwise an
    /// alert only they see. Every reveal is recorded.
    async fn reveal(&self, callback_id: &str, job_id: i64, who: &User) -> Result<(), JobError> {
        let row = sqlx::query("SELECT details, taken_by FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(self
                .api
                .answer_callback(callback_id, &self.texts.job_gone, true)
                .await?);
        };
        // Once taken, the client's contact is for the winner only.
        let taken_by: Option<i64> = row.get(1);
        if taken_by.is_some_and(|w| w != who.id) {
            return Ok(self
                .api
                .answer_callback(callback_id, &self.texts.taken_alert, true)
                .await?);
        }
        let Ok(deal) = serde_json::from_value::<DealJob>(row.get(0)) else {
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
        let dm = self.repo.has_started(who.id).await? && self.api.send_message(who.id, &text, None).await.is_ok();
        let via = if dm {
            self.api
                .answer_callback(callback_id, &self.texts.phone_sent, false)
                .await?;
            "dm"
        } else {
            self.api.answer_callback(callback_id, &text, true).await?;
            "alert"
        };
        sqlx::query("INSERT INTO job_reveals (job_id, user_id, user_name, login, via) VALUES ($1, $2, $3, $4, $5)")
            .bind(job_id)
            .bind(who.id)
            .bind(&who.name)
            .bind(&who.username)
            .bind(via)
            .execute(&self.pool)
            .await?;
        tracing::info!(job_id, user_id = who.id, via, phone = %leadbot_phone::mask_e164(&deal.client_phone), "client contact revealed");
        Ok(())
    }
}
