//! Twilio Voice: `POST {base}/2010-04-01/Accounts/{sid}/Calls.json` (Basic auth sid:token)
//! with `To`, `From` and inline `Twiml`: `<Gather input="dtmf" numDigits="1" action=…>` around a
//! `<Say>`. The keypress comes as a form POST to `action` signed with `X-Twilio-Signature`:
//! base64(HMAC-SHA1(auth token, URL + every param sorted by name as name+value)).

use async_trait::async_trait;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{classify_status, http, webhook_url, CallRequest, VoiceProvider};
use crate::config::VoiceSettings;
use crate::domain::secret::constant_time_eq;
use crate::outbox::DeliveryError;

pub struct Twilio {
    http: reqwest::Client,
    settings: VoiceSettings,
}

impl Twilio {
    pub fn new(settings: &VoiceSettings) -> Result<Twilio, reqwest::Error> {
        Ok(Twilio {
            http: http()?,
            settings: settings.clone(),
        })
    }

    /// The call's TwiML: the text inside a one-key `<Gather>`, posting the key to our webhook.
    pub fn twiml(&self, req: &CallRequest<'_>) -> String {
        let s = &self.settings;
        let action = webhook_url(s, req.lead, req.outbox_id);
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Gather input=\"dtmf\" numDigits=\"1\" timeout=\"8\" action=\"{}\" method=\"POST\"><Say language=\"{}\">{}</Say></Gather></Response>",
            xml_escape(&action),
            xml_escape(&s.language),
            xml_escape(req.text)
        )
    }
}

#[async_trait]
impl VoiceProvider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn call(&self, req: &CallRequest<'_>) -> Result<String, DeliveryError> {
        let s = &self.settings;
        let sid = s.account_sid.clone().unwrap_or_default();
        let url = format!(
            "{}/2010-04-01/Accounts/{sid}/Calls.json",
            s.api_base().trim_end_matches('/')
        );
        let form = [
            ("To", req.to.as_str().to_string()),
            ("From", s.from.clone().unwrap_or_default()),
            ("Twiml", self.twiml(req)),
        ];
        let resp = self
            .http
            .post(url)
            .basic_auth(&sid, s.auth_token.as_deref())
            .form(&form)
            .send()
            .await
            .map_err(|e| DeliveryError::Retryable(format!("Twilio: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status == 400 {
            // 21211 invalid 'To', 21214 not reachable, 21215 geo permissions: not this number.
            let code = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["code"].as_i64())
                .unwrap_or(0);
            if matches!(code, 21211 | 21214 | 21215 | 21216 | 21217) {
                return Err(DeliveryError::CannotInitiate(format!("Twilio {code}")));
            }
        }
        if status != 200 && status != 201 {
            return Err(classify_status("Twilio", status, &text));
        }
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| DeliveryError::Retryable(format!("Twilio: not JSON ({e})")))?;
        Ok(v["sid"].as_str().unwrap_or_default().to_string())
    }
}

/// `X-Twilio-Signature` of a form webhook: the URL exactly as Twilio requested it, then every
/// POST parameter sorted by name, as name followed by value; HMAC-SHA1 with the auth token,
/// base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the signature of this request (constant time).
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    !auth_token.is_empty()
        && !given.is_empty()
        && constant_time_eq(signature(auth_token, url, params).as_bytes(), given.as_bytes())
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// twilio-python's request validator vectors (../shared/fixtures/channels/sms/).
    #[test]
    fn the_signature_matches_twilios_own_test_vector() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(verify("12345", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify("12346", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!verify("", url, &params, ""));
        // A repeated parameter: each value, sorted.
        let dup: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(signature("12345", url, &dup), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }
}
