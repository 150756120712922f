//! Notifications to people: the lead hand-over notice (always a log line, and a JSON POST to a
//! configured URL), and the SLA robots' notices — each outbox row one way to reach one person:
//! a private chat with leadbot's Telegram bot, an e-mail (SMTP), or the webhook.

mod mail;

use std::sync::Arc;
use std::time::Duration;

use crate::channels::telegram::api::BotApi;
use crate::config::NotifySettings;
pub use crate::outbox::Notification;
use crate::outbox::{DeliveryError, NoticeVia, ReportDelivery, SlaNotice};
pub use mail::Mailer;

#[derive(Clone)]
pub struct Notifier {
    http: reqwest::Client,
    webhook_url: Option<String>,
    telegram: Option<Arc<BotApi>>,
    mail: Option<Arc<Mailer>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("webhook", &self.webhook_url.is_some())
            .field("telegram", &self.telegram.is_some())
            .field("mail", &self.mail.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("SMTP: {0}")]
    Mail(String),
}

impl Notifier {
    pub fn new(settings: &NotifySettings) -> Result<Notifier, NotifierError> {
        Ok(Notifier {
            http: reqwest::Client::builder()
                .timeout(settings.timeout)
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            webhook_url: settings.webhook_url.clone(),
            telegram: None,
            mail: settings
                .smtp
                .as_ref()
                .map(|s| Mailer::new(s, settings.timeout).map(Arc::new))
                .transpose()
                .map_err(NotifierError::Mail)?,
        })
    }

    /// Notices to a private chat go through this bot.
    pub fn with_telegram(mut self, api: Arc<BotApi>) -> Notifier {
        self.telegram = Some(api);
        self
    }

    pub async fn send(&self, n: &Notification, idempotency_key: &str) -> Result<(), DeliveryError> {
        tracing::info!(
            lead_id = ?n.lead_id,
            deal_id = ?n.deal_id,
            manager_id = %n.manager_id,
            phone = %n.phone.as_ref().map(|p| p.masked()).unwrap_or_default(),
            "manager notified: new lead with a contact"
        );
        match &self.webhook_url {
            Some(url) => self.post(url, n, idempotency_key).await,
            None => Ok(()),
        }
    }

    /// One SLA notice, the way its row says.
    pub async fn send_notice(&self, n: &SlaNotice, idempotency_key: &str) -> Result<(), DeliveryError> {
        tracing::info!(crm = %n.crm, deal_id = %n.deal_id, robot = %n.robot, recipient = %n.recipient, via = ?n.via, "SLA notice");
        match &n.via {
            NoticeVia::Telegram { chat_id } => {
                let api = self.telegram.as_ref().ok_or_else(|| {
                    DeliveryError::Permanent("a Telegram notice, but no Telegram bot is configured".into())
                })?;
                let text = format!("{}\n\n{} · сделка {}", n.text, n.crm, n.deal_id);
                api.send_message_once(*chat_id, &text, None)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_delivery())
            }
            NoticeVia::Email { to } => {
                let mail = self.mail.as_ref().ok_or_else(|| {
                    DeliveryError::Permanent("an e-mail notice, but [notify.smtp] is not configured".into())
                })?;
                let subject = match n.deal_title.trim() {
                    "" => format!("leadbot: сделка {}", n.deal_id),
                    t => format!("leadbot: {t}"),
                };
                let body = format!("{}\n\n{} · сделка {}\n", n.text, n.crm, n.deal_id);
                mail.send_text(to, &n.recipient_name, &subject, &body, idempotency_key)
                    .await
            }
            NoticeVia::Webhook => match &self.webhook_url {
                Some(url) => self.post(url, n, idempotency_key).await,
                None => Err(DeliveryError::Permanent(
                    "a webhook notice, but notify.webhook_url is not set".into(),
                )),
            },
        }
    }

    /// One scheduled report, the way its row says.
    pub async fn send_report(&self, r: &ReportDelivery, idempotency_key: &str) -> Result<(), DeliveryError> {
        use base64::Engine as _;
        tracing::info!(report = %r.report, period = %r.period, recipient = %r.recipient, via = ?r.via, "report");
        let file = base64::engine::general_purpose::STANDARD
            .decode(&r.file)
            .map_err(|e| DeliveryError::Permanent(format!("report file: {e}")))?;
        match &r.via {
            NoticeVia::Telegram { chat_id } => {
                let api = self.telegram.as_ref().ok_or_else(|| {
                    DeliveryError::Permanent("a Telegram report, but no Telegram bot is configured".into())
                })?;
                // The file goes with the text as its caption (one message, so a retry after a
                // lost answer repeats at most this one); a caption is at most 1024 characters.
                let caption: String = r.text.chars().take(1000).collect();
                api.send_document_once(*chat_id, &r.file_name, &r.content_type, &file, &caption)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.into_delivery())
            }
            NoticeVia::Email { to } => {
                let mail = self.mail.as_ref().ok_or_else(|| {
                    DeliveryError::Permanent("an e-mail report, but [notify.smtp] is not configured".into())
                })?;
                mail.send_with_attachment(
                    to,
                    &r.recipient_name,
                    &r.subject,
                    &r.html,
                    &r.file_name,
                    &r.content_type,
                    file,
                    idempotency_key,
                )
                .await
            }
            NoticeVia::Webhook => match &self.webhook_url {
                Some(url) => self.post(url, r, idempotency_key).await,
                None => Err(DeliveryError::Permanent(
                    "a webhook report, but notify.webhook_url is not set".into(),
                )),
            },
        }
    }

    async fn post<T: serde::Serialize>(&self, url: &str, body: &T, idempotency_key: &str) -> Result<(), DeliveryError> {
        let resp = self
            .http
            .post(url)
            .header("Idempotency-Key", idempotency_key)
            .json(body)
            .send()
            .await
            // Without the URL: it may carry a secret (a token in the path or the query).
            .map_err(|e| DeliveryError::Retryable(format!("notify webhook: {}", e.without_url())))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(DeliveryError::Retryable(format!("notify webhook answered {status}")))
        } else {
            Err(DeliveryError::Permanent(format!("notify webhook answered {status}")))
        }
    }
}
