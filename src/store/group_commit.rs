//! Group commit: callers each wait for their own write, so while one batch is being written the
//! next writes queue up; the writer takes whatever is queued (up to `MAX_BATCH`) and hands it to
//! one batch function (one transaction). At low load a batch is one write and nothing waits for
//! a timer; under load one fsync serves hundreds of writes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

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
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        Self::spawn_pipelined(name, 1, distinct, commit)
    }

    /// [`spawn`](Self::spawn) with up to `in_flight` batches written at once (each its own
    /// transaction): while one waits for its fsync the next is already on its way, so the
    /// writer is not one round of statements and one fsync at a time. A key is in at most one
    /// batch in flight (a lead's next step waits for its previous one anyway; a dying
    /// incarnation's step still meets the version fence after the new one's). Only for an
    /// order-free writer: the inbox keeps one (its ids must commit in order).
    pub fn spawn_pipelined<K, F, Fut>(name: &'static str, in_flight: usize, distinct: K, commit: F) -> Self
    where
        K: Fn(&J) -> Option<i64> + Send + 'static,
        F: Fn(Vec<J>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<R>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<(J, oneshot::Sender<R>)>(QUEUE);
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        let busy: Arc<Mutex<HashSet<i64>>> = Arc::default();
        let finished = Arc::new(Notify::new());
        tokio::spawn(async move {
            let mut queued = Vec::with_capacity(MAX_BATCH);
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                if queued.is_empty() {
                    if rx.recv_many(&mut queued, MAX_BATCH).await == 0 {
                        return; // every sender is gone
                    }
                } else if queued.len() < MAX_BATCH {
                    // What queued while the slot was taken joins this batch.
                    while queued.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(job) => queued.push(job),
                            Err(_) => break,
                        }
                    }
                }
                let (batch, later): (Vec<_>, Vec<_>) = {
                    let busy = busy.lock().unwrap_or_else(|p| p.into_inner());
                    let mut seen = HashSet::new();
                    queued
                        .drain(..)
                        .partition(|(job, _)| distinct(job).is_none_or(|k| !busy.contains(&k) && seen.insert(k)))
                };
                queued = later;
                if batch.is_empty() {
                    // Everything queued waits for a batch in flight: until one finishes or
                    // something new comes.
                    drop(slot);
                    tokio::select! {
                        _ = finished.notified() => {}
                        job = rx.recv() => match job {
                            Some(job) => queued.push(job),
                            None if queued.is_empty() => return,
                            None => {}
                        },
                    }
                    continue;
                }
                metrics::histogram!(crate::telemetry::WRITE_BATCH_SIZE, "writer" => name).record(batch.len() as f64);
                let (jobs, replies): (Vec<J>, Vec<oneshot::Sender<R>>) = batch.into_iter().unzip();
                let keys: Vec<i64> = jobs.iter().filter_map(&distinct).collect();
                busy.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(keys.iter().copied());
                let write = commit(jobs);
                let (busy, finished) = (busy.clone(), finished.clone());
                let done = async move {
                    let results = write.await;
                    {
                        let mut busy = busy.lock().unwrap_or_else(|p| p.into_inner());
                        for k in &keys {
                            busy.remove(k);
                        }
                    }
                    drop(slot);
                    finished.notify_one();
                    for (reply, result) in replies.into_iter().zip(results) {
                        let _ = reply.send(result);
                    }
                };
                if in_flight <= 1 {
                    done.await;
                } else {
                    tokio::spawn(done);
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
