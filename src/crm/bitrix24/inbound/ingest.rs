//! Processes stored Bitrix24 events: new leads are read with `crm.lead.get` (a burst in one
//! `batch`) and handed to the bot; open-line messages go to their lead's inbox; the install
//! event brings OAuth tokens. Our own card updates echo back as ONCRMLEADUPDATE: a lead leadbot
//! already has is skipped without an API call, so there is no update loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use super::failure::Failure;
use super::{Bitrix24Inbound, CRM};
use crate::crm::bitrix24::card::{Card, OPENLINES_CHANNEL, SOURCE};
use crate::crm::bitrix24::outbound::link_chat;
use crate::crm::bitrix24::{Bitrix24, Bitrix24Error};
use crate::domain::{EventKey, InboxPayload};
use crate::store::{OAuthTokens as Tokens, StoreError, StoredEvent};

const BATCH: i64 = 50;
const LEASE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_secs(2);

pub async fn run(inb: Arc<Bitrix24Inbound>) {
    loop {
        match process_due(&inb).await {
            Ok(n) if n as i64 == BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Bitrix24 event processing failed"),
        }
        tokio::select! {
            _ = inb.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn process_due(inb: &Bitrix24Inbound) -> Result<usize, StoreError> {
    let bx = &inb.bx;
    let store = &bx.store;
    let now = Utc::now();
    let lease = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let events = store.claim_events(CRM, now, lease, BATCH).await?;
    let n = events.len();

    // New leads of the whole burst are read in one batch request.
    let mut new_ids: Vec<&StoredEvent> = vec![];
    for ev in &events {
        if matches!(ev.event.as_str(), "ONCRMLEADADD" | "ONCRMLEADUPDATE") {
            match inb.leads.find_lead(SOURCE, &ev.entity_id).await {
                Ok(Some(_)) => store.event_done(ev.id).await?, // ours already (or our own echo)
                Ok(None) => new_ids.push(ev),
                Err(e) => {
                    store
                        .event_retry(ev.id, &e.to_string(), crate::crm::failure::retry_at(ev.attempts))
                        .await?
                }
            }
        }
    }
    let cards = fetch_cards(bx, &new_ids).await;
    for ev in &new_ids {
        let result = match cards.get(&ev.entity_id) {
            Some(Ok(card)) => take_card(inb, card).await.map(|_| ()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(Failure::Retry("lead not in the batch answer".into())),
        };
        finish(inb, ev, result).await?;
    }

    for ev in &events {
        let result = match ev.event.as_str() {
            "ONCRMLEADADD" | "ONCRMLEADUPDATE" => continue,
            // The tokens were taken when the event was received (and not stored).
            "ONAPPINSTALL" => Ok(()),
            "ONIMBOTV2MESSAGEADD" | "ONIMBOTMESSAGEADD" => chat_message(inb, ev).await,
            "ONCRMDEALADD" | "ONCRMDEALUPDATE" | "ONCRMDEALMOVETOCATEGORY" => {
                deal_event(inb, &ev.entity_id, &format!("ev:{}", ev.id)).await
            }
            "ONCRMACTIVITYADD" | "ONCRMACTIVITYUPDATE" => match &inb.robots {
                Some(feed) => {
                    let added = ev.event == "ONCRMACTIVITYADD";
                    super::robots::activity(inb, feed, &ev.entity_id, added, &format!("ev:{}", ev.id)).await
                }
                None => Ok(()),
            },
            other => {
                tracing::debug!(event = other, "Bitrix24 event not used");
                Ok(())
            }
        };
        finish(inb, ev, result).await?;
    }
    Ok(n)
}

/// A deal event: the card is read once, for the job board and the robots alike.
async fn deal_event(inb: &Bitrix24Inbound, deal_id: &str, key: &str) -> Result<(), Failure> {
    if !super::deals::dispatching(inb) && inb.robots.is_none() {
        return Ok(());
    }
    let deal = inb.bx.client.call("crm.deal.get", json!({ "id": deal_id })).await?;
    super::deals::deal_changed(inb, deal_id, &deal).await?;
    match &inb.robots {
        Some(feed) => super::robots::card_seen(inb, feed, deal_id, &deal, key).await,
        None => Ok(()),
    }
}

async fn finish(inb: &Bitrix24Inbound, ev: &StoredEvent, result: Result<(), Failure>) -> Result<(), StoreError> {
    crate::crm::failure::finish(inb.bx.store.as_ref(), CRM, ev, result).await
}

async fn fetch_cards(bx: &Bitrix24, events: &[&StoredEvent]) -> HashMap<String, Result<Card, Failure>> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.entity_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    let parse = |v: &Value| Card::from_json(v).ok_or_else(|| Failure::GiveUp("unreadable lead card".into()));
    match ids.as_slice() {
        [] => {}
        [one] => {
            let r = bx.client.call("crm.lead.get", json!({ "id": one })).await;
            out.insert(one.to_string(), r.map_err(Failure::from).and_then(|v| parse(&v)));
        }
        many => {
            let commands: Vec<(String, String)> = many
                .iter()
                .map(|id| (format!("l{id}"), format!("crm.lead.get?id={id}")))
                .collect();
            match bx.client.batch(&commands).await {
                Ok(results) => {
                    for id in many {
                        let r = match results.get(&format!("l{id}")) {
                            Some(Ok(v)) => parse(v),
                            Some(Err(e)) => Err(Failure::GiveUp(e.clone())),
                            None => Err(Failure::Retry("missing in batch".into())),
                        };
                        out.insert(id.to_string(), r);
                    }
                }
                Err(e) => {
                    let f = Failure::from(e);
                    for id in many {
                        out.insert(id.to_string(), Err(f.clone()));
                    }
                }
            }
        }
    }
    out
}

/// Hands a card to the bot if it should have it; `true` when a new lead was created.
pub(super) async fn take_card(inb: &Bitrix24Inbound, card: &Card) -> Result<bool, Failure> {
    let bx = &inb.bx;
    let Some(new) = card.to_new_lead(&bx.settings, bx.openlines_bot()) else {
        return Ok(false);
    };
    let created = inb.intake.create_lead(&new).await?;
    if created.created {
        tracing::info!(lead_id = %created.lead.id, crm_id = card.id, channel = %new.channel, "Bitrix24 lead taken");
        if new.channel == OPENLINES_CHANNEL {
            // Best effort now; the channel links lazily before its first message otherwise.
            if let Err(e) = link_chat(bx, created.lead.id, &created.lead.external_id).await {
                tracing::warn!(lead_id = %created.lead.id, error = %e, "open-line chat not linked yet");
            }
        }
    }
    Ok(created.created)
}

/// The install event's tokens, taken when the event is received (they are never stored with it).
pub(super) async fn install(bx: &Bitrix24, ev: &super::Event) -> Result<(), Bitrix24Error> {
    let Some(tokens) = &bx.tokens else {
        return Ok(()); // webhook auth: nothing to install
    };
    let f = |k: &str| ev.get(k).map(str::to_string);
    let (Some(access), Some(refresh), Some(endpoint)) = (
        f("auth[access_token]"),
        f("auth[refresh_token]"),
        f("auth[client_endpoint]"),
    ) else {
        return Err(Bitrix24Error::OAuth("install event without tokens".into()));
    };
    let expires_in: i64 = f("auth[expires_in]").and_then(|s| s.parse().ok()).unwrap_or(3600);
    tokens
        .install(&Tokens {
            access_token: access,
            refresh_token: refresh,
            client_endpoint: endpoint,
            expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
        })
        .await?;
    tracing::info!(portal = %bx.settings.portal, "Bitrix24 application installed: tokens stored");
    Ok(())
}

/// A client's message in an open line, for the bot.
async fn chat_message(inb: &Bitrix24Inbound, ev: &StoredEvent) -> Result<(), Failure> {
    let f = |k: &str| ev.payload.get(k).and_then(Value::as_str);
    if f("data[chat][entityType]").is_some_and(|t| t != "LINES") {
        return Ok(()); // not an open-line chat
    }
    let chat = f("data[chat][id]").or_else(|| f("data[message][chatId]"));
    let text = f("data[message][text]").map(str::trim).filter(|t| !t.is_empty());
    let (Some(chat), Some(text)) = (chat, text) else {
        return Err(Failure::GiveUp("open-line message without chat id or text".into()));
    };
    let Some(lead) = inb.bx.store.lead_of_chat(CRM, chat).await? else {
        // The lead's event may not have been processed yet.
        return Err(Failure::Retry(format!("no lead linked to chat {chat} yet")));
    };
    let message_id = f("data[message][id]").unwrap_or("-");
    let key = EventKey::new("bitrix24-openlines", format!("{chat}:{message_id}"));
    inb.intake
        .push(lead, &key, &InboxPayload::Message { text: text.to_string() })
        .await?;
    Ok(())
}
