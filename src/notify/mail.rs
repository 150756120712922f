//! E-mail over SMTP (lettre: a maintained client with STARTTLS/TLS and pooling, rather than a
//! hand-written protocol). A message's `Message-ID` comes from its outbox row, so a resend after
//! a lost answer is recognisably the same mail.

use std::time::Duration;

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpSecurity, SmtpSettings};
use crate::outbox::DeliveryError;

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl Mailer {
    pub fn new(s: &SmtpSettings, timeout: Duration) -> Result<Mailer, String> {
        let from: Mailbox = s.from.parse().map_err(|e| format!("sender `{}`: {e}", s.from))?;
        let builder = match s.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host).map_err(|e| format!("{}: {e}", s.host))?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host).map_err(|e| format!("{}: {e}", s.host))?
            }
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        };
        let mut builder = builder.port(s.port()).timeout(Some(timeout));
        if let (Some(user), Some(pass)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            domain: from.email.domain().to_string(),
            from,
        })
    }

    /// A plain-text message.
    pub async fn send_text(
        &self,
        to: &str,
        to_name: &str,
        subject: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<(), DeliveryError> {
        let message = self
            .builder(to, to_name, subject, idempotency_key)?
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_string())
            .map_err(|e| DeliveryError::Permanent(format!("e-mail: {e}")))?;
        self.deliver(message).await
    }

    /// An HTML message with one attached file (a report).
    #[allow(clippy::too_many_arguments)]
    pub async fn send_with_attachment(
        &self,
        to: &str,
        to_name: &str,
        subject: &str,
        html: &str,
        file_name: &str,
        content_type: &str,
        bytes: Vec<u8>,
        idempotency_key: &str,
    ) -> Result<(), DeliveryError> {
        let ct = ContentType::parse(content_type)
            .map_err(|e| DeliveryError::Permanent(format!("content type `{content_type}`: {e}")))?;
        let body = MultiPart::mixed()
            .singlepart(SinglePart::html(html.to_string()))
            .singlepart(Attachment::new(file_name.to_string()).body(bytes, ct));
        let message = self
            .builder(to, to_name, subject, idempotency_key)?
            .multipart(body)
            .map_err(|e| DeliveryError::Permanent(format!("e-mail: {e}")))?;
        self.deliver(message).await
    }

    pub fn builder(
        &self,
        to: &str,
        to_name: &str,
        subject: &str,
        idempotency_key: &str,
    ) -> Result<lettre::message::MessageBuilder, DeliveryError> {
        let address = to
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("e-mail address `{to}`: {e}")))?;
        let name = (!to_name.is_empty()).then(|| to_name.to_string());
        // The key is ours (robot and deal ids): keep it to characters a Message-ID allows.
        let id: String = idempotency_key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._".contains(c) {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        Ok(Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(name, address))
            .subject(subject)
            .message_id(Some(format!("<{id}@{}>", self.domain))))
    }

    pub async fn deliver(&self, message: Message) -> Result<(), DeliveryError> {
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx: the server refuses this message for good; 4xx and connection trouble: later.
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(DeliveryError::Retryable(format!("SMTP: {e}"))),
        }
    }
}
