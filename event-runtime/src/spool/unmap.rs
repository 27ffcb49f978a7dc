//! The spool's unmapper thread: it takes sealed segments off the mapped ones as soon as they are
//! sealed, so that their pages leave the process while the worker waits on a disk. A burst
//! during an outage fills a segment in milliseconds; an `fsync` can take far longer, and every
//! segment filled meanwhile would stay in the process's memory until the worker came back.
//!
//! Unmapping is a system call (the page tables of 8 MiB go), so it runs on this thread of its
//! own, never on an emitting thread (the writer an emitter holds is let go while the segment's
//! flusher is still mapped, see `Inner::seal`); the worker takes them off too, so that the
//! spool's last rounds need no other thread. The worker syncs segments through their files, so
//! one sealed while its `fsync` runs leaves at once; only one whose file was closed stays mapped
//! until it is flushed through its mapping.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::{Inner, SegState, Segs, ToFlush};
use crate::flow::lock;

/// How long the thread waits for a ring before it looks again on its own (a safety net: every
/// seal and the spool's drop ring it).
const IDLE: Duration = Duration::from_secs(30);

pub(super) fn run(inner: Arc<Inner>) {
    loop {
        let seen = inner.unmap.rung();
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        if take_sealed(&inner) {
            inner.work.ring();
        }
        inner.unmap.wait(seen, IDLE);
    }
}

/// Takes the segments sealed since the last look off the mapped ones and queues them for the
/// worker to flush. Those whose file is open are unmapped here (the last handle dropped, after
/// the lock is let go): the page cache keeps their pages for the file's `fsync`. Returns whether
/// it took any.
pub(super) fn take_sealed(inner: &Inner) -> bool {
    let mut unmapped = Vec::new();
    let took = {
        let mut segs = lock(&inner.segs);
        let Segs {
            map,
            mapped,
            to_flush,
            ..
        } = &mut *segs;
        let before = mapped.len();
        mapped.retain(|(id, flusher)| {
            let seg = map.get(id);
            if seg.is_some_and(|s| s.state == SegState::Active) {
                return true;
            }
            match seg.map(|s| s.file.clone()) {
                // Finished and deleted meanwhile: nothing left to flush.
                None => unmapped.push(flusher.clone()),
                Some(Some(file)) => {
                    unmapped.push(flusher.clone());
                    to_flush.push_back((*id, ToFlush::File(file)));
                }
                Some(None) => to_flush.push_back((*id, ToFlush::Mapping(flusher.clone()))),
            }
            false
        });
        mapped.len() < before
    };
    drop(unmapped);
    took
}
