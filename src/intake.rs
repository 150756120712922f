//! The intake port: the one way anything from outside reaches a lead. An adapter (web chat,
//! Telegram, Bitrix24 events and Open Lines, reconciliation), the operator API and the manager
//! pool's hand-overs all do the same two things through it: store the item durably under the
//! provider's own id (so a redelivery is a no-op), then wake the lead's owner.
//!
//! The owner is woken through [`LeadWaker`], which the runtime implements: adapters never see
//! the actor runtime, and the runtime could be replaced without touching them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::domain::{Created, EventKey, InboxPayload, LeadId, LeadStatus, NewLead};
use crate::store::{InboxItem, Store, StoreError, StoredInbox, TranscriptEntry};
use crate::telemetry;

/// Wakes the owner of a lead after something was stored in its inbox.
pub trait LeadWaker: Send + Sync + 'static {
    /// `applied` is answered once the lead applied everything stored so far; dropped unanswered
    /// if the runtime is stopping (the row is durable and applied after the next start).
    fn wake(&self, lead: LeadId, applied: Option<Waiter>);
}

/// Someone waiting for a lead to apply what it stored; answered by the lead's owner from
/// memory (its state and the lines its step just stored), so nothing is read back.
#[derive(Debug)]
pub struct Waiter {
    /// The inbox row waited for (`None`: everything stored so far, e.g. a duplicate).
    pub inbox_id: Option<i64>,
    pub reply: oneshot::Sender<Applied>,
    /// The row itself, handed over so the owner need not read it back (it still reads the
    /// inbox when the row's predecessor is not one it has applied).
    pub row: Option<Handed>,
}

/// An inbox row as stored, with the lead's row before it (see [`crate::store::StoredInbox::prev`]).
#[derive(Debug)]
pub struct Handed {
    pub item: InboxItem,
    pub prev: Option<i64>,
}

/// The owner's answer to a [`Waiter`].
#[derive(Debug, Clone)]
pub struct Applied {
    pub status: LeadStatus,
    /// The transcript lines of the step that applied the row waited for, as stored (the
    /// inbound line first); `None` when the owner does not have them at hand (no row was
    /// named, or it was applied long before): the caller reads the store if it needs them.
    pub transcript: Option<Vec<TranscriptEntry>>,
}

/// What happened to a pushed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// The same provider id was stored before: nothing new (the lead is woken anyway, in case
    /// the first wake-up was lost).
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The item can never be stored as it is (the caller answers 4xx); nothing was stored.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntakeError {
    /// Worth the provider's retry: the store was away, nothing was written.
    pub fn is_transient(&self) -> bool {
        matches!(self, IntakeError::Store(e) if e.is_transient())
    }
}

#[derive(Clone)]
pub struct Intake {
    store: Arc<dyn Store>,
    waker: Arc<dyn LeadWaker>,
    /// How long `*_and_wait` waits for the lead to apply what was stored.
    apply_wait: Duration,
    /// Lead sources that are adapters of ours (metric labels); any other is the public API's.
    adapters: Arc<HashSet<String>>,
}

impl Intake {
    pub fn new(store: Arc<dyn Store>, waker: Arc<dyn LeadWaker>, apply_wait: Duration) -> Intake {
        Intake {
            store,
            waker,
            apply_wait,
            adapters: Arc::default(),
        }
    }

    /// Names the sources that are adapters (`bitrix24`, `telegram`): leads from any other
    /// source came through the public API and are counted as `api`.
    pub fn with_adapters(mut self, sources: impl IntoIterator<Item = String>) -> Intake {
        self.adapters = Arc::new(sources.into_iter().collect());
        self
    }

    fn source_label(&self, source: &str) -> String {
        if self.adapters.contains(source) {
            source.to_string()
        } else {
            "api".to_string()
        }
    }

    /// Creates the lead with its first inbox row (keyed by `new.first_event`) and wakes it; the
    /// same `(source, external_id)` again returns the stored lead with `created == false`.
    pub async fn create_lead(&self, new: &NewLead) -> Result<Created, IntakeError> {
        let created = self.store_lead(new).await?;
        // Also for a repeat: if the first attempt's wake was lost, this one delivers it.
        self.waker.wake(created.lead.id, None);
        Ok(created)
    }

    /// [`create_lead`](Self::create_lead), then waits (bounded) until the lead took its first step.
    pub async fn create_lead_and_wait(&self, new: &NewLead) -> Result<Created, IntakeError> {
        let created = self.store_lead(new).await?;
        self.wake_and_wait(created.lead.id, None).await;
        Ok(created)
    }

    /// Stores an inbound item under the provider's id and wakes the lead.
    pub async fn push(&self, lead: LeadId, key: &EventKey, payload: &InboxPayload) -> Result<Pushed, IntakeError> {
        let pushed = self.store_item(lead, key, payload).await?;
        self.waker.wake(lead, None);
        Ok(pushed)
    }

    /// [`push`](Self::push), then waits (bounded) until the lead applied it; the lead's answer
    /// (`None`: not within the wait, or its actor stopped; the row is durable either way).
    pub async fn push_and_wait(
        &self,
        lead: LeadId,
        key: &EventKey,
        payload: &InboxPayload,
    ) -> Result<(Pushed, Option<Applied>), IntakeError> {
        let stored = self.store_row(lead, key, payload).await?;
        let id = stored.map(|r| r.id);
        let row = stored.map(|r| Handed {
            item: InboxItem {
                id: r.id,
                payload: payload.clone(),
                received_at: r.received_at,
            },
            prev: r.prev,
        });
        let applied = self.wait_for(lead, id, row).await;
        Ok((pushed_of(id), applied))
    }

    /// The provider reported, after the send, that an outbox row never reached the client
    /// (a delivery status): the row is marked failed with the provider's reason.
    pub async fn delivery_failed(&self, outbox_id: i64, reason: &str) -> Result<(), IntakeError> {
        no_nul("reason", reason)?;
        self.store.outbox_failed(outbox_id, reason).await?;
        Ok(())
    }

    async fn store_lead(&self, new: &NewLead) -> Result<Created, IntakeError> {
        validate_lead(new)?;
        let created = self.store.create_lead(new).await?;
        if created.created {
            metrics::counter!(telemetry::LEADS_CREATED, "source" => self.source_label(&new.source), "channel" => new.channel.to_string())
                .increment(1);
            tracing::info!(lead_id = %created.lead.id, source = %new.source, channel = %new.channel, "lead accepted");
        }
        Ok(created)
    }

    async fn store_item(&self, lead: LeadId, key: &EventKey, payload: &InboxPayload) -> Result<Pushed, IntakeError> {
        Ok(pushed_of(self.store_row(lead, key, payload).await?.map(|r| r.id)))
    }

    /// The stored row's id; `None`: a duplicate.
    async fn store_row(
        &self,
        lead: LeadId,
        key: &EventKey,
        payload: &InboxPayload,
    ) -> Result<Option<StoredInbox>, IntakeError> {
        no_nul("dedupe key", &key.key)?;
        validate_payload(payload)?;
        Ok(self
            .store
            .enqueue_inbox_row(lead, &key.source, &key.key, payload)
            .await?)
    }

    async fn wake_and_wait(&self, lead: LeadId, inbox_id: Option<i64>) -> Option<Applied> {
        self.wait_for(lead, inbox_id, None).await
    }

    async fn wait_for(&self, lead: LeadId, inbox_id: Option<i64>, row: Option<Handed>) -> Option<Applied> {
        let (reply, rx) = oneshot::channel();
        self.waker.wake(lead, Some(Waiter { inbox_id, reply, row }));
        tokio::time::timeout(self.apply_wait, rx).await.ok()?.ok()
    }
}

fn pushed_of(stored: Option<i64>) -> Pushed {
    if stored.is_some() {
        Pushed::Stored
    } else {
        Pushed::Duplicate
    }
}

/// PostgreSQL (and most stores) refuse NUL in text: refused here, for this item alone, with a
/// reason, rather than failing a group-committed batch for everyone in it.
fn no_nul(field: &str, v: &str) -> Result<(), IntakeError> {
    if v.contains('\0') {
        return Err(IntakeError::Invalid(format!("`{field}` contains a NUL character")));
    }
    Ok(())
}

fn validate_lead(new: &NewLead) -> Result<(), IntakeError> {
    no_nul("source", &new.source)?;
    no_nul("external_id", &new.external_id)?;
    for (field, v) in [
        ("name", &new.name),
        ("phone", &new.phone),
        ("text", &new.text),
        ("segment", &new.segment),
    ] {
        if let Some(v) = v {
            no_nul(field, v)?;
        }
    }
    if let Some(k) = &new.first_event {
        no_nul("dedupe key", &k.key)?;
    }
    Ok(())
}

fn validate_payload(p: &InboxPayload) -> Result<(), IntakeError> {
    match p {
        InboxPayload::Intake { phone, text } => {
            for v in [phone, text].into_iter().flatten() {
                no_nul("text", v)?;
            }
        }
        InboxPayload::Message { text } => no_nul("text", text)?,
        InboxPayload::CallAnswered { digits, .. } => no_nul("digits", digits)?,
        InboxPayload::Contact { phone, .. } => no_nul("phone", phone)?,
        InboxPayload::ChannelLost { reason, .. } => no_nul("reason", reason)?,
        InboxPayload::Assigned { manager_name, .. } => no_nul("manager_name", manager_name)?,
        InboxPayload::TakeOver { by } => no_nul("by", by)?,
        InboxPayload::ManagerMessage { author, text } => {
            no_nul("author", author)?;
            no_nul("text", text)?;
        }
        InboxPayload::Accepted
        | InboxPayload::Closed
        | InboxPayload::ChannelJoined { .. }
        | InboxPayload::MarkLowQuality
        | InboxPayload::Reassign => {}
    }
    Ok(())
}

// ---- deals (SLA robots) -------------------------------------------------------------------------

/// Wakes the owner of a tracked deal after something was stored in its inbox.
pub trait DealWaker: Send + Sync + 'static {
    fn wake_deal(&self, deal: crate::store::DealRef);
}

/// The intake port for the SLA robots: CRM adapters hand over what they learn about a deal (its
/// current card, a call, a message) under the CRM's own id for it; the deal's owner applies it.
#[derive(Clone)]
pub struct DealIntake {
    store: Arc<dyn crate::store::DealStore>,
    waker: Arc<dyn DealWaker>,
    /// CRM sources whose deals are tracked (mapped in robots.toml).
    tracked: Arc<HashSet<String>>,
}

impl DealIntake {
    pub fn new(
        store: Arc<dyn crate::store::DealStore>,
        waker: Arc<dyn DealWaker>,
        tracked: impl IntoIterator<Item = String>,
    ) -> DealIntake {
        DealIntake {
            store,
            waker,
            tracked: Arc::new(tracked.into_iter().collect()),
        }
    }

    /// Whether the robots track this CRM's deals.
    pub fn tracks(&self, crm: &str) -> bool {
        self.tracked.contains(crm)
    }

    /// What the robots last applied about this deal (reconciliation asks before reading the
    /// CRM again); `None` for a deal they never saw.
    pub async fn facts(&self, crm: &str, deal_id: &str) -> Result<Option<crate::sla::DealFacts>, IntakeError> {
        let deal = crate::store::DealRef::new(crm, deal_id);
        let Some(snap) = self.store.load_deal(&deal).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_value::<crate::sla::DealState>(snap.state)
            .ok()
            .and_then(|s| s.facts))
    }

    /// Stores `event` for the deal under `dedupe_key` (a redelivery is a no-op) and wakes it.
    pub async fn push(
        &self,
        crm: &str,
        deal_id: &str,
        dedupe_key: &str,
        event: &crate::sla::DealEvent,
    ) -> Result<Pushed, IntakeError> {
        let deal = crate::store::DealRef::new(crm, deal_id);
        let value = serde_json::to_value(event).map_err(|e| IntakeError::Invalid(e.to_string()))?;
        let stored = self.store.enqueue_deal_event(&deal, dedupe_key, &value).await?;
        self.waker.wake_deal(deal);
        Ok(if stored.is_some() {
            Pushed::Stored
        } else {
            Pushed::Duplicate
        })
    }
}
