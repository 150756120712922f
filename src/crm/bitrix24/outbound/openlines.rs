//! The client's Open Lines chat inside Bitrix24 (Telegram, VK, WhatsApp or the site's chat
//! connected to the portal): leadbot answers there as the line's chat bot.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::channels::{Buttons, Capabilities, Channel, Initiate, PhoneShare};
use crate::crm::bitrix24::api::as_u64;
use crate::crm::bitrix24::card::OPENLINES_CHANNEL;
use crate::crm::bitrix24::inbound::CRM;
use crate::crm::bitrix24::{Bitrix24, Bitrix24Error};
use crate::domain::{LeadId, LeadRecord};
use crate::outbox::{DeliveryError, OutboundMessage};

pub struct OpenLines {
    pub bx: Arc<Bitrix24>,
}

/// Finds the lead's open-line chat (`imopenlines.crm.chat.getLastId`) and remembers it.
pub async fn link_chat(bx: &Bitrix24, lead: LeadId, crm_id: &str) -> Result<String, Bitrix24Error> {
    if let Some(chat) = bx.store.chat_of(lead).await? {
        return Ok(chat);
    }
    let result = bx
        .client
        .call(
            "imopenlines.crm.chat.getLastId",
            json!({"CRM_ENTITY_TYPE": "LEAD", "CRM_ENTITY": crm_id}),
        )
        .await?;
    let chat = as_u64(&result)
        .filter(|id| *id > 0)
        .ok_or_else(|| Bitrix24Error::Api {
            method: "imopenlines.crm.chat.getLastId".into(),
            code: "NO_CHAT".into(),
            description: format!("lead {crm_id} has no open-line chat"),
        })?
        .to_string();
    bx.store.link_chat(CRM, lead, &chat).await?;
    Ok(chat)
}

pub(super) fn delivery_error(e: Bitrix24Error) -> DeliveryError {
    if e.is_retryable() {
        DeliveryError::Retryable(e.to_string())
    } else {
        DeliveryError::Permanent(e.to_string())
    }
}

impl OpenLines {
    fn bot_params(&self, mut params: Value) -> Value {
        if let Some(obj) = params.as_object_mut() {
            if let Some(bot) = self.bx.settings.openlines.bot_id {
                obj.insert("BOT_ID".into(), json!(bot));
            }
            if let Some(client) = &self.bx.settings.openlines.client_id {
                obj.insert("CLIENT_ID".into(), json!(client));
            }
        }
        params
    }

    /// Hands the chat to the manager once the phone is known.
    pub async fn transfer(&self, lead: &LeadRecord, manager_id: &str) -> Result<(), Bitrix24Error> {
        let chat = link_chat(&self.bx, lead.id, &lead.external_id).await?;
        self.bx
            .client
            .call(
                "imopenlines.bot.session.transfer",
                self.bot_params(json!({"CHAT_ID": chat, "USER_ID": manager_id, "LEAVE": "N"})),
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Channel for OpenLines {
    fn name(&self) -> &'static str {
        OPENLINES_CHANNEL
    }

    fn capabilities(&self) -> Capabilities {
        // The lead's open-line chat exists (the lead came from it), so the bot may write into
        // it at once; messages are plain text here (whatever messenger is behind the line).
        Capabilities {
            realtime: true,
            can_initiate: Initiate::Always,
            free_form_window: None,
            phone_share: PhoneShare::Text,
            buttons: Buttons::None,
            max_buttons: 0,
            max_button_label: 0,
            max_text_len: 4000,
        }
    }

    async fn send(
        &self,
        lead: &LeadRecord,
        msg: &OutboundMessage,
        _key: &str,
        _outbox_id: i64,
    ) -> Result<(), DeliveryError> {
        let text = msg.text.as_str();
        let chat = link_chat(&self.bx, lead.id, &lead.external_id)
            .await
            .map_err(delivery_error)?;
        self.bx
            .client
            .call(
                "imopenlines.bot.session.message.send",
                self.bot_params(json!({"CHAT_ID": chat, "MESSAGE": text})),
            )
            .await
            .map_err(delivery_error)?;
        Ok(())
    }
}
