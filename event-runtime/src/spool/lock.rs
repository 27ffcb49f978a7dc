//! One producer at a time on a spool directory: the `spool.lock` file it holds, and the
//! process-wide list of spools dropped but still finishing, so that a producer opened on the
//! same directory right after waits for the old one to let go instead of finding it locked.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::store;
use crate::error::SpoolError;
use crate::flow::lock;

/// Spools of this process that were dropped, and whether their threads have let go of the
/// directory yet.
static OPEN: Mutex<Vec<(PathBuf, Arc<AtomicBool>)>> = Mutex::new(Vec::new());
static RELEASED: Condvar = Condvar::new();

/// The lock on a spool directory, released when this is dropped.
pub(super) struct DirLock {
    /// The directory, canonical: what [`OPEN`] lists.
    key: PathBuf,
    file: Mutex<File>,
    /// Set once the directory is unlocked.
    released: Arc<AtomicBool>,
}

impl DirLock {
    /// Locks `dir`, whose canonical path is `key`; first waits (bounded: 30 s) while a spool on
    /// it dropped earlier in this process is still finishing.
    pub fn take(dir: &Path, key: PathBuf) -> Result<DirLock, SpoolError> {
        wait_for_release(&key);
        Ok(DirLock {
            file: Mutex::new(take_lock(dir)?),
            released: Arc::new(AtomicBool::new(false)),
            key,
        })
    }

    /// Whether `dir/spool.lock` is still the lock file this holds.
    pub fn holds(&self, dir: &Path) -> bool {
        store::same_file(&dir.join("spool.lock"), &lock(&self.file))
    }

    /// Takes the lock again on a directory that was removed and recreated; nothing to do while
    /// the lock file it holds is still there (only segment files went).
    pub fn retake(&self, dir: &Path) -> Result<(), SpoolError> {
        let mut file = lock(&self.file);
        if !store::same_file(&dir.join("spool.lock"), &file) {
            *file = take_lock(dir)?;
        }
        Ok(())
    }

    /// Announces that this spool is going away, so that a producer opened on the same directory
    /// in this process waits for it to let go instead of finding it locked.
    pub fn going_away(&self) {
        let mut open = lock(&OPEN);
        if !open.iter().any(|(_, r)| Arc::ptr_eq(r, &self.released)) {
            open.push((self.key.clone(), self.released.clone()));
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Let go of the directory first; then a producer waiting to open it may go.
        let _ = lock(&self.file).unlock();
        self.released.store(true, Ordering::Release);
        let _guard = lock(&OPEN);
        RELEASED.notify_all();
    }
}

/// Waits while a spool on `dir` dropped earlier in this process is still finishing, so that a
/// new producer on the same directory can open it (bounded: after 30 s the lock is reported as
/// held). Only `KafkaProducer::new` waits here, and only right after dropping a producer.
pub(super) fn wait_for_release(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut open = lock(&OPEN);
    loop {
        open.retain(|(_, released)| !released.load(Ordering::Acquire));
        let busy = open.iter().any(|(path, _)| path == dir);
        let left = deadline.saturating_duration_since(Instant::now());
        if !busy || left.is_zero() {
            return;
        }
        open = RELEASED
            .wait_timeout(open, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

fn take_lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join("spool.lock");
    let io = |source| SpoolError::Io {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(store::FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .map_err(io)?;
    store::secure_file(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(SpoolError::Locked(dir.to_owned())),
        Err(fs::TryLockError::Error(source)) => Err(SpoolError::Io { path, source }),
    }
}
