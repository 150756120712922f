//! The booking dialog's optional intent reader over the same OpenAI-compatible API as the
//! classifier: strict JSON `{"intent": …, "confidence": 0..1}` naming a known intent, within the
//! configured timeout. Anything else is no verdict, and the dialog's rules decide.

use async_trait::async_trait;
use serde::Deserialize;

use super::{chat_json, unfence, LlmError};
use crate::booking::{Hint, Intent, IntentReader};
use crate::config::LlmConfig;

pub struct LlmIntents {
    http: reqwest::Client,
    config: LlmConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    intent: String,
    confidence: f32,
}

impl LlmIntents {
    pub fn new(config: LlmConfig) -> Result<LlmIntents, reqwest::Error> {
        Ok(LlmIntents {
            http: reqwest::Client::builder().timeout(config.timeout).build()?,
            config,
        })
    }

    async fn ask(&self, text: &str) -> Result<Hint, LlmError> {
        let names: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
        let system = format!(
            "A client writes to a salon or clinic. Say what the message is for. Answer only JSON: \
             {{\"intent\": one of {names:?}, \"confidence\": a number from 0 to 1}}. \
             booking = wants to book a visit; question = asks about prices, address, hours or services; \
             cancel = cancels a visit; reschedule = moves a visit; confirm = confirms a visit; \
             human = wants a person; other = anything else."
        );
        let content = chat_json(&self.http, &self.config, &system, text).await?;
        let v: Verdict = serde_json::from_str(unfence(&content)).map_err(|e| LlmError::Answer(e.to_string()))?;
        let intent =
            Intent::parse(&v.intent).ok_or_else(|| LlmError::Answer(format!("unknown intent `{}`", v.intent)))?;
        if !(0.0..=1.0).contains(&v.confidence) {
            return Err(LlmError::Answer(format!("confidence {} out of 0..1", v.confidence)));
        }
        Ok(Hint {
            intent,
            confidence: v.confidence,
        })
    }
}

#[async_trait]
impl IntentReader for LlmIntents {
    async fn read(&self, text: &str) -> Option<Hint> {
        match self.ask(text).await {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "LLM intent reader failed; rules decide");
                None
            }
        }
    }
}
