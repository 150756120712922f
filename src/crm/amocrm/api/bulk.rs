//! Lead updates coalesced into bulk requests: `PATCH /api/v4/leads` takes up to 50 leads at
//! once, and at 7 requests/s a burst of new leads would otherwise wait seconds for their "the
//! bot took it" status. Updates that arrive while one request is waiting or in flight go out
//! together in the next. A validation error names the element that failed (its `request_id`):
//! only that update fails; the others are sent again without it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::client::AmoClient;
use super::error::AmoError;

/// Most leads in one `PATCH /api/v4/leads` (amoCRM's limit).
pub const MAX_BULK: usize = 50;
/// How long the first update waits for others arriving at the same moment.
const GATHER: Duration = Duration::from_millis(10);

struct Item {
    patch: Value,
    reply: oneshot::Sender<Result<(), AmoError>>,
}

#[derive(Clone)]
pub struct LeadPatches {
    tx: mpsc::UnboundedSender<Item>,
}

impl LeadPatches {
    /// Starts the sender task (it ends when the last handle is dropped).
    pub fn start(client: Arc<AmoClient>) -> LeadPatches {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(client, rx));
        LeadPatches { tx }
    }

    /// Applies `patch` (an object with the lead's `id`) in the next bulk request.
    pub async fn patch(&self, patch: Value) -> Result<(), AmoError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Item { patch, reply })
            .map_err(|_| AmoError::OAuth("the bulk sender stopped".into()))?;
        answer
            .await
            .map_err(|_| AmoError::OAuth("the bulk sender stopped".into()))?
    }
}

async fn run(client: Arc<AmoClient>, mut rx: mpsc::UnboundedReceiver<Item>) {
    let mut carried: Vec<Item> = vec![];
    loop {
        if carried.is_empty() {
            match rx.recv().await {
                Some(first) => carried.push(first),
                None => return,
            }
            tokio::time::sleep(GATHER).await;
        }
        while carried.len() < MAX_BULK {
            match rx.try_recv() {
                Ok(item) => carried.push(item),
                Err(_) => break,
            }
        }
        let batch: Vec<Item> = std::mem::take(&mut carried);
        carried = send(&client, batch).await;
    }
}

/// Sends one bulk request; returns the items to send again (the others were answered).
async fn send(client: &AmoClient, batch: Vec<Item>) -> Vec<Item> {
    let body = Value::Array(
        batch
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut p = item.patch.clone();
                if let Some(obj) = p.as_object_mut() {
                    obj.insert("request_id".into(), Value::String(i.to_string()));
                }
                p
            })
            .collect(),
    );
    match client.patch("/api/v4/leads", &body).await {
        Ok(_) => {
            for item in batch {
                let _ = item.reply.send(Ok(()));
            }
            vec![]
        }
        Err(AmoError::Validation(errors)) => {
            let mut again = vec![];
            let named = errors
                .iter()
                .any(|e| e.request_id.parse::<usize>().is_ok_and(|i| i < batch.len()));
            for (i, item) in batch.into_iter().enumerate() {
                let mine: Vec<_> = errors
                    .iter()
                    .filter(|e| e.request_id == i.to_string())
                    .cloned()
                    .collect();
                if !mine.is_empty() || !named {
                    let errs = if mine.is_empty() { errors.clone() } else { mine };
                    let _ = item.reply.send(Err(AmoError::Validation(errs)));
                } else {
                    again.push(item);
                }
            }
            again
        }
        Err(e) => {
            for item in batch {
                let _ = item.reply.send(Err(e.clone()));
            }
            vec![]
        }
    }
}
