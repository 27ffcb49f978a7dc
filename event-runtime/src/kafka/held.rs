//! Records the producer holds in memory, in order, for a short while: those bound for the
//! spool that wait behind the detached records librdkafka still holds, those taken back from
//! librdkafka (sorted into the order they were handed over before they leave), and those
//! waiting for the librdkafka producer that replaces one that failed for good. What a caller
//! hands over is bounded ([`MAX_HELD_BYTES`]); what comes back from librdkafka was bounded by
//! its queue.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::flow::lock;
use crate::message::Message;

/// The most bytes of records a queue takes from callers (`emit_detached`) before it refuses
/// them: an outage's first seconds, or a producer's replacement, under load.
pub(super) const MAX_HELD_BYTES: usize = 64 << 20;

/// Past this many bytes waiting behind librdkafka's records, those are taken back (a broker
/// that stalls reports them only at their timeout, and the queue would fill before).
pub(super) const PILING_UP_BYTES: usize = MAX_HELD_BYTES / 8;

/// A queue of records with what each needs (`T`), drained by one thread at a time.
pub(super) struct HeldQueue<T> {
    queue: Mutex<VecDeque<(Message, T)>>,
    len: AtomicUsize,
    bytes: AtomicUsize,
    /// Held by whoever drains the queue, across taking a record out and placing it, so that
    /// two threads never place the same record (or skip one).
    drain: Mutex<()>,
}

impl<T: Copy> HeldQueue<T> {
    pub fn new() -> Self {
        HeldQueue {
            queue: Mutex::new(VecDeque::new()),
            len: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            drain: Mutex::new(()),
        }
    }

    /// Takes a caller's record, unless the queue holds [`MAX_HELD_BYTES`] already.
    pub fn admit(&self, message: Message, with: T) -> Result<(), Message> {
        if self.bytes.load(Ordering::Acquire) + size(&message) > MAX_HELD_BYTES {
            return Err(message);
        }
        self.push_back(message, with);
        Ok(())
    }

    /// Queues a record that was accepted already (it came back from librdkafka).
    pub fn push_back(&self, message: Message, with: T) {
        let bytes = size(&message);
        lock(&self.queue).push_back((message, with));
        self.counted(1, bytes);
    }

    /// Puts a record that could not be placed yet back at the front.
    pub fn push_front(&self, message: Message, with: T) {
        let bytes = size(&message);
        lock(&self.queue).push_front((message, with));
        self.counted(1, bytes);
    }

    /// The first record, taken out; `on_empty` runs under the queue's lock when there is none
    /// (so nothing is queued between the last look and it).
    pub fn pop_front_or(&self, on_empty: impl FnOnce()) -> Option<(Message, T)> {
        let mut queue = lock(&self.queue);
        let next = queue.pop_front();
        match &next {
            Some((message, _)) => self.uncounted(size(message)),
            None => on_empty(),
        }
        next
    }

    /// Places up to `most` records, oldest first, each with `place`, one drainer at a time: a
    /// record leaves the count only once placed, so one coming meanwhile still queues behind it.
    /// A record `place` could not place (it returned false) stays first, and draining stops.
    pub fn drain(&self, most: usize, place: impl FnMut(&Message, T) -> bool) {
        self.drain_after(most, || {}, place);
    }

    /// Like [`drain`](Self::drain), unless another thread is draining: then it returns at once.
    pub fn try_drain(&self, most: usize, place: impl FnMut(&Message, T) -> bool) {
        self.try_drain_after(most, || {}, place);
    }

    /// Like [`drain`](Self::drain), running `first` once it is the drainer (to reorder the
    /// queue: [`sort_by_key`](Self::sort_by_key)).
    pub fn drain_after(
        &self,
        most: usize,
        first: impl FnOnce(),
        place: impl FnMut(&Message, T) -> bool,
    ) {
        let draining = lock(&self.drain);
        first();
        self.drain_holding(&draining, most, place);
    }

    /// Like [`try_drain`](Self::try_drain), running `first` once it is the drainer.
    pub fn try_drain_after(
        &self,
        most: usize,
        first: impl FnOnce(),
        place: impl FnMut(&Message, T) -> bool,
    ) {
        if let Ok(draining) = self.drain.try_lock() {
            first();
            self.drain_holding(&draining, most, place);
        }
    }

    fn drain_holding(
        &self,
        _draining: &std::sync::MutexGuard<'_, ()>,
        most: usize,
        mut place: impl FnMut(&Message, T) -> bool,
    ) {
        for _ in 0..most {
            // Taken out, but counted until placed: `len` still says a record waits, so one
            // coming meanwhile queues behind it.
            let Some((message, with)) = lock(&self.queue).pop_front() else {
                return;
            };
            if !place(&message, with) {
                lock(&self.queue).push_front((message, with));
                return;
            }
            self.uncounted(size(&message));
        }
    }

    /// Puts the queued records in the order of `key` (stable: records of equal keys keep
    /// theirs). Call it as the drainer (`drain_after`), so that no record is being taken out
    /// meanwhile.
    pub fn sort_by_key<K: Ord>(&self, mut key: impl FnMut(T) -> K) {
        lock(&self.queue)
            .make_contiguous()
            .sort_by_key(|(_, with)| key(*with));
    }

    /// Every record, taken out.
    pub fn take_all(&self) -> Vec<(Message, T)> {
        let taken: Vec<_> = lock(&self.queue).drain(..).collect();
        for (message, _) in &taken {
            self.uncounted(size(message));
        }
        taken
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// The bytes of the records queued.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    fn counted(&self, records: usize, bytes: usize) {
        self.len.fetch_add(records, Ordering::AcqRel);
        self.bytes.fetch_add(bytes, Ordering::AcqRel);
    }

    fn uncounted(&self, bytes: usize) {
        self.len.fetch_sub(1, Ordering::AcqRel);
        self.bytes.fetch_sub(bytes, Ordering::AcqRel);
    }
}

fn size(message: &Message) -> usize {
    message.topic.len()
        + message.key.len()
        + message.payload.len()
        + message
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> Message {
        Message {
            topic: "audit".to_owned().into(),
            key: Vec::new(),
            payload: vec![0; bytes],
            headers: Vec::new(),
        }
    }

    #[test]
    fn callers_are_refused_past_the_bound_and_records_back_from_librdkafka_are_not() {
        let queue = HeldQueue::<()>::new();
        assert!(queue.admit(message(MAX_HELD_BYTES / 2), ()).is_ok());
        assert!(queue.admit(message(MAX_HELD_BYTES / 2), ()).is_err());
        queue.push_back(message(MAX_HELD_BYTES / 2), ());
        assert_eq!(queue.len(), 2);
        queue.drain(1, |_, ()| true);
        assert_eq!(queue.len(), 1);
        assert!(
            queue.admit(message(MAX_HELD_BYTES / 2), ()).is_err(),
            "still full"
        );
        queue.drain(usize::MAX, |_, ()| true);
        assert!(queue.admit(message(1000), ()).is_ok());
    }

    #[test]
    fn two_drainers_place_each_record_once_in_order() {
        let queue = std::sync::Arc::new(HeldQueue::<u32>::new());
        for i in 0..10_000 {
            queue.push_back(message(1), i);
        }
        let placed = std::sync::Arc::new(Mutex::new(Vec::new()));
        let drainers: Vec<_> = (0..2)
            .map(|_| {
                let (queue, placed) = (queue.clone(), placed.clone());
                std::thread::spawn(move || {
                    queue.drain(usize::MAX, |_, i| {
                        lock(&placed).push(i);
                        true
                    });
                })
            })
            .collect();
        for drainer in drainers {
            drainer.join().unwrap();
        }
        assert_eq!(*lock(&placed), (0..10_000).collect::<Vec<_>>());
    }
}
