use serde_json::Value;

/// Bitrix24 sends numbers as strings or numbers.
pub fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}
