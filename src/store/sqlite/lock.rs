//! One process per database file. The embedded store's claims (timers, outbox rows) carry the
//! claiming process's epoch like PostgreSQL's do, but where PostgreSQL asks an advisory lock
//! whether an epoch's owner is alive, here the answer is simpler: an exclusive lock on
//! `<file>.lock` is held for the store's lifetime, so while we run no other process uses the
//! file — every claim not tagged with our own epoch belongs to a process that is gone.
//!
//! The lock is `flock(2)` on a separate file, never on the database itself: closing any other
//! descriptor of the database file would drop SQLite's own POSIX locks on it. The kernel drops
//! the lock when the process dies (`kill -9` included), so a crash never leaves it behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::{StoreError, StoreResult};

#[derive(Debug)]
pub struct FileLock {
    /// `None` once released (the store was closed).
    file: Mutex<Option<File>>,
}

/// How long a start waits for a previous process on the same file to finish exiting (a restart
/// by systemd, a test restarting in-process) before it says another process holds the file.
const WAIT: Duration = Duration::from_secs(5);

impl FileLock {
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    pub async fn acquire(db: &Path) -> StoreResult<FileLock> {
        let path = Self::path_for(db);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| super::file_error(&path, "cannot create the lock file", &e))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable(format!(
                        "another leadbot process is using the database file {} (it holds {}); \
                         stop it first, or give this one its own database.path",
                        db.display(),
                        path.display()
                    )))
                }
                Err(TryLockError::Error(e)) => {
                    return Err(super::file_error(&path, "cannot lock", &e));
                }
            }
        }
        Ok(FileLock {
            file: Mutex::new(Some(file)),
        })
    }

    /// Lets the next process (or an in-process restart) have the file.
    pub fn release(&self) {
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.take() {
            let _ = f.unlock();
        }
    }
}
