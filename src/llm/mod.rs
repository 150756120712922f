//! An optional LLM classifier over an OpenAI-compatible chat-completions API: an outbound
//! adapter behind routing's [`Classifier`] port. Its answer must be strict JSON naming known
//! values; anything else (an error, a timeout, a made-up tag) makes the rules decide.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use crate::config::LlmConfig;
use crate::routing::{Classification, Classifier, Priority, RequestKind, RulesClassifier};

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("request: {0}")]
    Http(#[from] reqwest::Error),
    #[error("answer: {0}")]
    Answer(String),
}

pub struct LlmClassifier {
    http: reqwest::Client,
    config: LlmConfig,
    /// Decide when the model cannot.
    rules: RulesClassifier,
}

#[derive(Deserialize)]
struct Verdict {
    kind: RequestKind,
    priority: Priority,
    #[serde(default)]
    tags: Vec<String>,
}

impl LlmClassifier {
    pub fn new(config: LlmConfig, rules: RulesClassifier) -> Result<LlmClassifier, reqwest::Error> {
        Ok(LlmClassifier {
            http: reqwest::Client::builder().timeout(config.timeout).build()?,
            config,
            rules,
        })
    }

    async fn ask(&self, rules: &RulesClassifier, text: &str) -> Result<Classification, LlmError> {
        let known = rules.known_tags();
        let system = format!(
            "Classify a customer's request to a company. Answer only JSON: \
             {{\"kind\": \"new_lead\"|\"complaint\"|\"service_request\"|\"other\", \
             \"priority\": \"normal\"|\"high\", \"tags\": [...]}} where tags are chosen from {known:?}."
        );
        let mut req = self
            .http
            .post(format!(
                "{}/chat/completions",
                self.config.base_url.trim_end_matches('/')
            ))
            .json(&json!({
                "model": self.config.model,
                "temperature": 0,
                "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
            }));
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        // Without the URL: a proxy's URL may carry credentials.
        let resp = req
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(reqwest::Error::without_url)?;
        let body: serde_json::Value = resp.json().await.map_err(reqwest::Error::without_url)?;
        let content = body
            .pointer("/choices/0/message/content")
            .and_then(|c| c.as_str())
            .ok_or_else(|| LlmError::Answer("no choices[0].message.content".into()))?;
        let v: Verdict = serde_json::from_str(content).map_err(|e| LlmError::Answer(e.to_string()))?;
        if let Some(t) = v.tags.iter().find(|t| !known.contains(t)) {
            return Err(LlmError::Answer(format!("unknown tag `{t}`")));
        }
        Ok(Classification {
            kind: v.kind,
            priority: v.priority,
            tags: v.tags,
            segment: None,
        })
    }
}

#[async_trait]
impl Classifier for LlmClassifier {
    /// The LLM's classification, or the rules' when it fails.
    async fn classify(&self, text: &str) -> Classification {
        match self.ask(&self.rules, text).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "LLM classifier failed; rules decide");
                self.rules.classify(text)
            }
        }
    }
}
