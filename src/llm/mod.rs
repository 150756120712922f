//! An optional LLM classifier over an OpenAI-compatible chat-completions API: an outbound
//! adapter behind routing's [`Classifier`] port. Its answer must be strict JSON naming known
//! values; anything else (an error, a timeout, a made-up tag) makes the rules decide.
//!
//! One leniency: the JSON may come wrapped in a single Markdown code fence (```` ```json … ``` ````).
//! Models do this often, and servers that ignore `response_format` (many OpenAI-compatible
//! local servers) pass it through. The fence carries no meaning and what is inside is held to
//! the same rules (strict JSON, known kind, priority and tags), so unwrapping it costs no
//! safety; refusing it would only throw good answers away. Prose around the JSON is *not*
//! unwrapped: picking JSON out of free text is guesswork, so such an answer goes to the rules.

mod intent;

pub use intent::LlmIntents;

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
        let content = chat_json(&self.http, &self.config, &system, text).await?;
        let v: Verdict = serde_json::from_str(unfence(&content)).map_err(|e| LlmError::Answer(e.to_string()))?;
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

/// One chat-completions call asking for a JSON object (temperature 0): the answer's content,
/// as the model wrote it. Shared by every reader of the model (the classifier, the intents).
pub(super) async fn chat_json(
    http: &reqwest::Client,
    config: &LlmConfig,
    system: &str,
    text: &str,
) -> Result<String, LlmError> {
    let mut req = http
        .post(format!("{}/chat/completions", config.base_url.trim_end_matches('/')))
        .json(&json!({
            "model": config.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": text}],
        }));
    if let Some(key) = &config.api_key {
        req = req.bearer_auth(key);
    }
    // Without the URL: a proxy's URL may carry credentials.
    let resp = req
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(reqwest::Error::without_url)?;
    let body: serde_json::Value = resp.json().await.map_err(reqwest::Error::without_url)?;
    body.pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .ok_or_else(|| LlmError::Answer("no choices[0].message.content".into()))
}

/// The answer's JSON: the whole content, or the whole content inside exactly one Markdown code
/// fence whose info string is empty or `json`. Anything else is returned as it is (and then
/// fails to parse unless it is plain JSON).
pub(super) fn unfence(content: &str) -> &str {
    let t = content.trim();
    let Some(inner) = t.strip_prefix("```").and_then(|r| r.strip_suffix("```")) else {
        return t;
    };
    let (info, body) = match inner.split_once('\n') {
        Some((info, body)) => (info.trim(), body),
        None => ("", inner),
    };
    if !(info.is_empty() || info.eq_ignore_ascii_case("json")) || body.contains("```") {
        return t;
    }
    body.trim()
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

#[cfg(test)]
mod tests {
    //! The classifier against a local chat-completions server answering each shape models and
    //! servers are seen to produce: the rules decide whenever the answer is not a clean verdict.

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use axum::Router;
    use serde_json::{json, Value};

    use super::*;
    use crate::config::{ClassifierConfig, SpecializationRule};

    /// Each request: its `Authorization` header and JSON body.
    type Asked = Arc<Mutex<Vec<(Option<String>, Value)>>>;

    /// What the server answers and what it was asked.
    #[derive(Clone)]
    struct Server {
        answer: Arc<Mutex<(u16, String, Duration)>>,
        asked: Asked,
    }

    async fn completions(State(s): State<Server>, headers: HeaderMap, body: String) -> Response {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        s.asked
            .lock()
            .unwrap()
            .push((auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
        let (status, body, delay) = s.answer.lock().unwrap().clone();
        tokio::time::sleep(delay).await;
        (
            StatusCode::from_u16(status).unwrap(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }

    async fn server() -> (Server, String) {
        let s = Server {
            answer: Arc::new(Mutex::new((200, String::new(), Duration::ZERO))),
            asked: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(s.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (s, url)
    }

    fn rules() -> RulesClassifier {
        RulesClassifier::new(&ClassifierConfig {
            complaint: vec!["жалоба".into()],
            service: vec!["ремонт".into()],
            high_priority: vec!["срочно".into()],
            high_priority_segments: vec![],
            client_segments: Default::default(),
            specializations: vec![SpecializationRule {
                tag: "нефтегаз".into(),
                keywords: vec!["нефть".into()],
            }],
            complaint_group: None,
            service_group: None,
        })
    }

    /// A chat-completions answer whose message content is `content`.
    fn completion(content: Value) -> String {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1767225600, "model": "test-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 80, "completion_tokens": 20, "total_tokens": 100}
        })
        .to_string()
    }

    const VERDICT: &str = r#"{"kind": "complaint", "priority": "high", "tags": ["нефтегаз"]}"#;
    /// The rules see a plain new lead here; the model's verdict differs in every field.
    const TEXT: &str = "хочу купить насос";

    fn llm_verdict() -> Classification {
        Classification {
            kind: RequestKind::Complaint,
            priority: Priority::High,
            tags: vec!["нефтегаз".into()],
            segment: None,
        }
    }

    async fn classifier(url: &str, timeout: Duration) -> LlmClassifier {
        let config = LlmConfig {
            base_url: url.to_string(),
            model: "test-model".into(),
            timeout,
            api_key: Some("sk-test".into()),
        };
        LlmClassifier::new(config, rules()).unwrap()
    }

    #[tokio::test]
    async fn a_well_formed_answer_is_taken_and_the_request_is_the_documented_one() {
        let (s, url) = server().await;
        *s.answer.lock().unwrap() = (200, completion(json!(VERDICT)), Duration::ZERO);
        let c = classifier(&url, Duration::from_secs(5)).await;
        assert_ne!(rules().classify(TEXT), llm_verdict(), "the test tells the two apart");
        assert_eq!(c.classify(TEXT).await, llm_verdict());
        let asked = s.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        let (auth, body) = &asked[0];
        assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
        assert_eq!(body["model"], "test-model");
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        assert_eq!(body["messages"][0]["role"], "system");
        assert!(body["messages"][0]["content"].as_str().unwrap().contains("нефтегаз"));
        assert_eq!(body["messages"][1], json!({"role": "user", "content": TEXT}));
    }

    #[tokio::test]
    async fn json_in_one_code_fence_is_taken() {
        let (s, url) = server().await;
        let c = classifier(&url, Duration::from_secs(5)).await;
        for fenced in [
            format!("```json\n{VERDICT}\n```"),
            format!("```JSON\n{VERDICT}\n```\n"),
            format!("```\n{VERDICT}\n```"),
            format!("  ```json\n  {VERDICT}  \n```  "),
        ] {
            *s.answer.lock().unwrap() = (200, completion(json!(fenced)), Duration::ZERO);
            assert_eq!(c.classify(TEXT).await, llm_verdict(), "{fenced:?}");
        }
    }

    #[tokio::test]
    async fn every_malformed_answer_leaves_the_decision_to_the_rules() {
        let (s, url) = server().await;
        let c = classifier(&url, Duration::from_millis(500)).await;
        let by_rules = rules().classify(TEXT);
        let cases: Vec<(&str, u16, String)> = vec![
            (
                "prose around the JSON",
                200,
                completion(json!(format!("Sure! Here is the classification:\n{VERDICT}"))),
            ),
            (
                "prose after a fence",
                200,
                completion(json!(format!("```json\n{VERDICT}\n```\nHope this helps!"))),
            ),
            (
                "a fence of another language",
                200,
                completion(json!(format!("```python\n{VERDICT}\n```"))),
            ),
            (
                "two fences",
                200,
                completion(json!(format!("```json\n{VERDICT}\n```\n```json\n{VERDICT}\n```"))),
            ),
            (
                "invalid JSON in a fence",
                200,
                completion(json!("```json\n{\"kind\": \"complaint\",}\n```")),
            ),
            (
                "an unknown tag",
                200,
                completion(json!(
                    r#"{"kind": "complaint", "priority": "high", "tags": ["космос"]}"#
                )),
            ),
            (
                "an unknown kind",
                200,
                completion(json!(r#"{"kind": "spam", "priority": "high", "tags": []}"#)),
            ),
            (
                "an unknown priority",
                200,
                completion(json!(r#"{"kind": "complaint", "priority": "urgent", "tags": []}"#)),
            ),
            (
                "no priority",
                200,
                completion(json!(r#"{"kind": "complaint", "tags": []}"#)),
            ),
            (
                "tags not a list",
                200,
                completion(json!(
                    r#"{"kind": "complaint", "priority": "high", "tags": "нефтегаз"}"#
                )),
            ),
            ("a JSON array", 200, completion(json!(format!("[{VERDICT}]")))),
            ("an empty content", 200, completion(json!(""))),
            ("a null content (a refusal)", 200, completion(Value::Null)),
            (
                "the verdict as an object, not a string",
                200,
                completion(serde_json::from_str(VERDICT).unwrap()),
            ),
            (
                "no choices",
                200,
                json!({"id": "x", "object": "chat.completion"}).to_string(),
            ),
            ("empty choices", 200, json!({"choices": []}).to_string()),
            (
                "an error body with 200",
                200,
                json!({"error": {"message": "model overloaded", "type": "server_error"}}).to_string(),
            ),
            (
                "HTTP 500",
                500,
                json!({"error": {"message": "The server had an error", "type": "server_error"}}).to_string(),
            ),
            (
                "HTTP 429",
                429,
                json!({"error": {"message": "Rate limit reached", "type": "requests"}}).to_string(),
            ),
            (
                "HTTP 401",
                401,
                json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
                    .to_string(),
            ),
            ("an HTML page", 200, "<html><body>502 Bad Gateway</body></html>".into()),
            ("an empty body", 200, String::new()),
        ];
        for (what, status, body) in cases {
            *s.answer.lock().unwrap() = (status, body, Duration::ZERO);
            assert_eq!(c.classify(TEXT).await, by_rules, "{what}");
        }
        // Slower than the timeout.
        *s.answer.lock().unwrap() = (200, completion(json!(VERDICT)), Duration::from_secs(2));
        let started = std::time::Instant::now();
        assert_eq!(c.classify(TEXT).await, by_rules, "a timeout");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn no_server_at_all_leaves_the_decision_to_the_rules() {
        let c = classifier("http://127.0.0.1:1/v1", Duration::from_secs(1)).await;
        assert_eq!(c.classify(TEXT).await, rules().classify(TEXT));
    }

    #[test]
    fn unfence_unwraps_one_json_fence_only() {
        assert_eq!(unfence(" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(unfence("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(unfence("```\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(unfence("```{\"a\":1}```"), "{\"a\":1}");
        assert_eq!(unfence("```js\n{\"a\":1}\n```"), "```js\n{\"a\":1}\n```");
        assert_eq!(unfence("see ```json\n{}\n```"), "see ```json\n{}\n```");
    }
}
