//! Group commit: callers each wait for their own write, so while one batch is being written the
//! next writes queue up; the writer takes whatever is queued (up to `MAX_BATCH`) and hands it to
//! one batch function (one transaction). At low load a batch is one write and nothing waits for
//! a timer; under load one fsync serves hundreds of writes.

use std::collections::HashSet;
use std::future::Future;

use tokio::sync::{mpsc, oneshot};

const MAX_BATCH: usize = 512;
const QUEUE: usize = 8192;

#[derive(Debug)]
pub struct GroupCommit<J, R> {
    tx: mpsc::Sender<(J, oneshot::Sender<R>)>,
}

impl<J, R> Clone for GroupCommit<J, R> {
    fn clone(&self) -> Self {
        GroupCommit { tx: self.tx.clone() }
    }
}

/// The writer stopped (shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

impl<J: Send + 'static, R: Send + 'static> GroupCommit<J, R> {
    /// `distinct`: jobs with the same key never share a batch (later ones wait for the next).
    /// `commit`: writes a batch and returns one result per job, in order.
    pub fn spawn<K, F, Fut>(name: &'static str, distinct: K, commit: F) -> Self
    where
        K: Fn(&J) -> Option<i64> + Send + 'static,
        F: Fn(Vec<J>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(J, oneshot::Sender<R>)>(QUEUE);
        tokio::spawn(async move {
            let mut queued = Vec::with_capacity(MAX_BATCH);
            loop {
                if queued.is_empty() && rx.recv_many(&mut queued, MAX_BATCH).await == 0 {
                    return; // every sender is gone
                }
                let mut seen = HashSet::new();
                let (batch, later): (Vec<_>, Vec<_>) = queued
                    .drain(..)
                    .partition(|(job, _)| distinct(job).is_none_or(|k| seen.insert(k)));
                queued = later;
                metrics::histogram!(crate::telemetry::WRITE_BATCH_SIZE, "writer" => name).record(batch.len() as f64);
                let (jobs, replies): (Vec<J>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
                let results = commit(jobs).await;
                for (reply, result) in replies.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
        });
        GroupCommit { tx }
    }

    pub async fn submit(&self, job: J) -> Result<R, Stopped> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((job, reply)).await.map_err(|_| Stopped)?;
        wait.await.map_err(|_| Stopped)
    }
}
