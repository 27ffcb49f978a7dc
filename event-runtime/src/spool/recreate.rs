//! The spool directory that went, or was taken: the worker's check every second (and when a
//! segment's file was not found) that the directory, its lock file and the active segment's
//! file are still this spool's; if not, the directory is recreated, locked again and the
//! segments this process holds are written back, and until then nothing is written in it and
//! records that need a new segment are refused ([`Blocked::Directory`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::{Blocked, Inner};
use super::store;
use super::unreadable;
use crate::flow::lock;

/// How often the worker checks that the spool directory still exists.
const DIR_CHECK: Duration = Duration::from_secs(1);

/// The directory's state between the worker's checks.
pub(super) struct DirWatch {
    /// When the next check is due.
    pub check_at: Instant,
    /// The directory went and is not whole again: nothing is written in it.
    pub gone: bool,
}

impl Default for DirWatch {
    fn default() -> Self {
        DirWatch {
            check_at: Instant::now() + DIR_CHECK,
            gone: false,
        }
    }
}

impl DirWatch {
    /// Checks the directory if a check is due or `missing`; returns whether it made the
    /// directory whole again just now.
    pub fn check_if_due(&mut self, inner: &Inner, missing: bool) -> bool {
        if !missing && Instant::now() < self.check_at {
            return false;
        }
        let whole_again = self.check(inner, missing);
        self.check_at = Instant::now() + DIR_CHECK;
        whole_again
    }

    /// Recreates the spool directory if it disappeared (and the segments with it): every
    /// segment this process still has open is written back; the records of segments it had
    /// closed are lost with the directory, counted and logged. With `missing` (a segment's file
    /// was not found where it should be), the same for segment files gone from a directory
    /// still there. Returns whether it made the directory whole again just now.
    fn check(&mut self, inner: &Inner, missing: bool) -> bool {
        let active_id = lock(&inner.active).current.as_ref().map(|c| c.id);
        let active_file = active_id.and_then(|id| {
            let file = lock(&inner.segs).map.get(&id)?.file.clone()?;
            Some((id, file))
        });
        // Looked at without holding a lock: these are system calls.
        let dir_there = inner.dir.is_dir();
        // Still its directory: the lock file it holds is there (another producer may have
        // recreated and locked it while this one's active segment was sealed).
        let healthy = dir_there
            && inner.lock.holds(&inner.dir)
            && active_file.is_none_or(|(id, file)| {
                store::same_file(&store::segment_path(&inner.dir, id), &file)
            });
        // Once the directory went, it is made whole (recreated, locked, written back) before
        // anything else is written in it, however it looks in between.
        if healthy && !self.gone {
            if missing {
                match write_back_or_forget(inner, false) {
                    // What was written back is in the directory for good.
                    Ok(n) if n > 0 => {
                        if let Err(error) = store::sync_dir(&inner.dir) {
                            tracing::warn!(%error, "spool: could not fsync the directory after writing segments back");
                        }
                    }
                    Ok(_) => {}
                    Err(reason) => {
                        tracing::error!(%reason, "kafka-events: a spool segment could not be written back; retrying");
                    }
                }
                inner.bell.ring();
            }
            return false;
        }
        if !self.gone {
            tracing::error!(
                dir = %inner.dir.display(),
                "kafka-events: the spool directory or its active segment disappeared; recreating it and writing the records this process holds back"
            );
            self.gone = true;
        }
        {
            let _one = lock(&inner.preparing);
            let mut active = lock(&inner.active);
            if let Some(current) = active.current.take() {
                inner.seal(current);
            }
            active.spare.clear();
            if !matches!(active.blocked, Some(Blocked::Directory(_))) {
                active.blocked = Some(Blocked::Directory(
                    "the spool directory was removed; it is being recreated".into(),
                ));
            }
        }
        if let Err(error) = store::secure_dir(&inner.dir) {
            refuse_until_whole(inner, format!("it could not be recreated: {error}"));
            return false;
        }
        if let Err(error) = inner.lock.retake(&inner.dir) {
            refuse_until_whole(inner, format!("after it was recreated: {error}"));
            return false;
        }
        // Another producer may have held the directory meanwhile: segments made from now on
        // take ids past any on disk, so that none is made over (or wipes the index of) its files.
        if let Some(last) = store::list_segments(&inner.dir)
            .ok()
            .and_then(|ids| ids.into_iter().max())
        {
            let mut segs = lock(&inner.segs);
            segs.next_id = segs.next_id.max(last.saturating_add(1));
        }
        // Segments this process had closed went with the directory, not with the active file.
        let restored = match write_back_or_forget(inner, !dir_there) {
            Ok(restored) => restored,
            Err(reason) => {
                refuse_until_whole(inner, reason);
                return false;
            }
        };
        if let Err(error) = store::sync_dir(&inner.dir) {
            tracing::warn!(%error, "spool: could not fsync the recreated directory");
        }
        lock(&inner.active).blocked = None;
        self.gone = false;
        tracing::warn!(
            dir = %inner.dir.display(),
            segments = restored,
            "kafka-events: recreated the spool directory"
        );
        inner.bell.ring();
        true
    }
}

/// The recreated directory can't be used yet (retried at the next check): records that need a
/// new segment are refused with `reason`, logged when it changes.
fn refuse_until_whole(inner: &Inner, reason: String) {
    let mut active = lock(&inner.active);
    if !matches!(&active.blocked, Some(Blocked::Directory(now)) if *now == reason) {
        tracing::error!(%reason, dir = %inner.dir.display(), "kafka-events: the spool directory can't be used; records that need the spool are refused, and it is tried again every second");
        active.blocked = Some(Blocked::Directory(reason));
    }
    drop(active);
    // An emitter waiting for a segment hears at once that it won't come.
    inner.bell.ring();
}

/// Writes back every segment file gone from the directory that this process still has open,
/// and forgets the others that [`unreadable::gone`] takes for gone (`with_directory`: they went
/// with it). Returns how many it wrote back, or why one could not be (it is tried again at the
/// next check).
fn write_back_or_forget(inner: &Inner, with_directory: bool) -> Result<usize, String> {
    let now = Instant::now();
    let segments: Vec<(u64, Option<Arc<std::fs::File>>, bool)> = lock(&inner.segs)
        .map
        .iter()
        .map(|(id, s)| {
            (
                *id,
                s.file.clone(),
                unreadable::gone(s, with_directory, now),
            )
        })
        .collect();
    let mut restored = 0;
    for (id, file, gone) in segments {
        let path = store::segment_path(&inner.dir, id);
        match file {
            Some(file) if store::same_file(&path, &file) => {}
            // Another producer's, made while this one did not hold the directory: not replaced
            // (a copy of this one's, as a directory copied away and back holds, is).
            Some(file) if store::holds_a_segment(&path) && !store::same_bytes(&path, &file) => {
                return Err(format!(
                    "{} is another producer's segment where this one's was (two producers on one \
                     spool directory?); move it away and this producer writes its own back",
                    path.display()
                ));
            }
            Some(file) => match store::restore(&path, &file) {
                Ok(new) => {
                    if let Some(seg) = lock(&inner.segs).map.get_mut(&id) {
                        seg.file = Some(Arc::new(new));
                        seg.acks_dirty = true;
                        seg.indexed = false;
                    }
                    restored += 1;
                }
                Err(error) => {
                    return Err(format!("could not write {} back: {error}", path.display()));
                }
            },
            None if gone && !store::is_there(&path) => {
                unreadable::forget(inner, id, with_directory)
            }
            None => {}
        }
    }
    Ok(restored)
}
