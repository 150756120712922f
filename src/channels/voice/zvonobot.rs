//! Zvonobot: `POST {base}/apiCalls/create` with JSON `{apiKey, phone, outgoingPhone, record:
//! {text, gender}, ivrs: [{digit, webhookUrl, webhookParameters}]}`, answered
//! `{"status":"success","data":[{"id":…}]}`. A pressed key calls its `webhookUrl` (ours: the
//! secret in the path, the lead and the outbox row in the query). Shape from public
//! integrations (no official docs read): see ../shared/design/channels.md §4.5.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{classify_status, http, webhook_url, CallRequest, VoiceProvider};
use crate::config::VoiceSettings;
use crate::outbox::DeliveryError;

pub struct Zvonobot {
    http: reqwest::Client,
    settings: VoiceSettings,
}

impl Zvonobot {
    pub fn new(settings: &VoiceSettings) -> Result<Zvonobot, reqwest::Error> {
        Ok(Zvonobot {
            http: http()?,
            settings: settings.clone(),
        })
    }

    /// The create-call body (public for the request's shape test).
    pub fn body(&self, req: &CallRequest<'_>) -> Value {
        let s = &self.settings;
        let mut body = json!({
            "apiKey": s.api_key.clone().unwrap_or_default(),
            "phone": req.to.as_str().trim_start_matches('+'),
            "record": {"text": req.text, "gender": s.gender},
            "ivrs": [{
                "digit": s.manager_digit,
                "webhookUrl": webhook_url(s, req.lead, req.outbox_id),
                "webhookParameters": json!({"phone": "{phone}", "digit": s.manager_digit}).to_string(),
            }],
        });
        if let Some(from) = &s.from {
            body["outgoingPhone"] = json!(from.trim_start_matches('+'));
        }
        body
    }
}

#[async_trait]
impl VoiceProvider for Zvonobot {
    fn name(&self) -> &'static str {
        "zvonobot"
    }

    async fn call(&self, req: &CallRequest<'_>) -> Result<String, DeliveryError> {
        let url = format!("{}/apiCalls/create", self.settings.api_base().trim_end_matches('/'));
        let resp = self
            .http
            .post(url)
            .json(&self.body(req))
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("Zvonobot: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status != 200 {
            return Err(classify_status("Zvonobot", status, &text));
        }
        let v: Value =
            serde_json::from_str(&text).map_err(|e| DeliveryError::Retryable(format!("Zvonobot: not JSON ({e})")))?;
        if v["status"] != "success" {
            let why = v["data"]["message"]
                .as_str()
                .or(v["message"].as_str())
                .unwrap_or("error");
            return Err(DeliveryError::Permanent(format!("Zvonobot: {why}")));
        }
        let id = &v["data"][0]["id"];
        Ok(id
            .as_i64()
            .map(|i| i.to_string())
            .or(id.as_str().map(str::to_string))
            .unwrap_or_default())
    }
}
