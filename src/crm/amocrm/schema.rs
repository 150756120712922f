//! The account's own structure, as `check-config --online` and the SLA robots need it: its lead
//! pipelines with their statuses, and its lead fields with the statuses each is required in.
//! One reader of each endpoint, so the paging and the HAL shape are handled in one place.

use serde_json::Value;

use super::api::{as_u64, AmoClient, AmoError};

/// amoCRM's largest page.
const PAGE: usize = 250;

/// A lead pipeline: its id and its statuses' ids (142 and 143, won and lost, are in every one).
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: u64,
    pub statuses: Vec<u64>,
}

/// A lead field: its id, its name, and the (pipeline, status) pairs where amoCRM requires it.
#[derive(Debug, Clone)]
pub struct LeadField {
    pub id: u64,
    pub name: String,
    pub required_in: Vec<(u64, u64)>,
}

fn items(answer: Option<&Value>, name: &str) -> Vec<Value> {
    answer
        .and_then(|a| a.get("_embedded"))
        .and_then(|e| e.get(name))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `GET /api/v4/leads/pipelines` (one page: an account has at most 50 pipelines).
pub async fn pipelines(client: &AmoClient) -> Result<Vec<Pipeline>, AmoError> {
    let answer = client.get("/api/v4/leads/pipelines", &[]).await?;
    Ok(items(answer.as_ref(), "pipelines")
        .iter()
        .filter_map(|p| {
            let id = p.get("id").and_then(as_u64)?;
            let statuses = items(Some(p), "statuses")
                .iter()
                .filter_map(|s| s.get("id").and_then(as_u64))
                .collect();
            Some(Pipeline { id, statuses })
        })
        .collect())
}

/// Every page of `GET /api/v4/leads/custom_fields`.
pub async fn lead_fields(client: &AmoClient) -> Result<Vec<LeadField>, AmoError> {
    let mut out = Vec::new();
    for page in 1.. {
        let q = vec![
            ("limit".to_string(), PAGE.to_string()),
            ("page".to_string(), page.to_string()),
        ];
        let answer = client.get("/api/v4/leads/custom_fields", &q).await?;
        let fields = items(answer.as_ref(), "custom_fields");
        out.extend(fields.iter().filter_map(|f| {
            let id = f.get("id").and_then(as_u64)?;
            let name = f.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let required_in = f
                .get("required_statuses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| {
                    Some((
                        r.get("pipeline_id").and_then(as_u64)?,
                        r.get("status_id").and_then(as_u64)?,
                    ))
                })
                .collect();
            Some(LeadField { id, name, required_in })
        }));
        if fields.len() < PAGE {
            break;
        }
    }
    Ok(out)
}
