//! Keeping each key's order around librdkafka: the detached records it holds (counted, each
//! with its place in the hand-over order), the records that came back from it bound for the
//! spool (sorted back into that order before they leave), the records emitted meanwhile that
//! wait behind them, the taking back after a purge, and the gate a purge waits at.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;
use crate::gate::Pass;
use crate::message::Message;

impl Shared {
    /// A detached record from `emit_detached` is being handed to librdkafka: returns its
    /// place in the order (the low 32 bits: [`Tag::Detached`](super::super::record::Tag::Detached)). Follow with
    /// [`direct_reported`](Self::direct_reported) if librdkafka refuses it.
    pub fn direct_sending(&self) -> u32 {
        self.sent.fetch_add(1, Ordering::AcqRel) as u32
    }

    /// The report of a record [`direct_sending`](Self::direct_sending) counted came, or
    /// librdkafka refused the record.
    pub fn direct_reported(&self) {
        let reported = self.reported.fetch_add(1, Ordering::AcqRel) + 1;
        // `sent` last: emitters change its line, and this runs at every report.
        if (self.behind_len() > 0 || self.taking_back())
            && reported == self.sent.load(Ordering::Acquire)
        {
            self.wake_watch();
        }
    }

    /// Detached records librdkafka holds that went to it straight from `emit_detached`.
    pub fn direct_pending(&self) -> u64 {
        // `reported` first: it never passes `sent`.
        let reported = self.reported.load(Ordering::Acquire);
        self.sent.load(Ordering::Acquire).saturating_sub(reported)
    }

    /// Whether a record bound for the spool must wait behind records librdkafka holds (or
    /// records already waiting) to keep its key's order.
    pub fn must_wait_behind(&self) -> bool {
        self.direct_pending() > 0 || self.behind_len() > 0
    }

    /// A detached record that came back from librdkafka, bound for the spool: it waits with
    /// the others that did until every detached record's report is in, and then they go to the
    /// spool in the order they were handed over (`seq`, from its tag), ahead of the records
    /// waiting behind.
    pub fn take_back(&self, seq: u32, message: Message) {
        self.taken.push_back(message, seq);
    }

    /// Keeps a caller's record bound for the spool behind the records librdkafka holds (they
    /// reach the spool, or the broker, first), unless the records waiting behind fill their
    /// memory ([`MAX_HELD_BYTES`](super::super::held::MAX_HELD_BYTES)).
    pub fn hold_behind(&self, message: Message) -> Result<(), Message> {
        self.behind.admit(message, ())?;
        self.wake_watch();
        Ok(())
    }

    /// Places the records waiting behind, oldest first, one drainer at a time: all those taken
    /// back from librdkafka first (bounded by its queue), in the order they were handed over,
    /// then up to `most` of those emitted since. For when every detached record's report is
    /// in; at close, whatever is there (reports that come after a close gave up are spooled as
    /// they come).
    pub fn drain_behind(&self, most: usize, mut place: impl FnMut(&Message)) {
        self.drain_taken_now(true, usize::MAX, &mut place);
        if self.taken.len() == 0 {
            self.behind.drain(most, |message, ()| {
                place(message);
                true
            });
        }
    }

    /// Places the records taken back from librdkafka, in the order they were handed over,
    /// once every detached record's report is in (else it leaves them), unless another thread
    /// is at it. For librdkafka's thread, at the last report: they reach the spool at once,
    /// not at the watch thread's next look (which may be seconds away, in an outage).
    pub fn drain_taken(&self, mut place: impl FnMut(&Message)) {
        if self.taken.len() == 0 || self.direct_pending() > 0 {
            return;
        }
        self.drain_taken_now(false, usize::MAX, &mut place);
    }

    /// Sorts what was taken back and places up to
    /// `most`: both under the queue's drain lock (waiting for it with `wait`), so no drainer
    /// ever takes a record out before the sort. A record taken back while this drains (it
    /// left librdkafka after every report was in, so it was handed over after all those
    /// here: an emit that read the state just before they were taken back) comes out after
    /// them, unsorted; it is one per emitting thread at most, since that thread's next emit
    /// finds records held and goes behind them.
    fn drain_taken_now(&self, wait: bool, most: usize, place: &mut impl FnMut(&Message)) {
        // Stable, and linear on a queue already in order (the usual case after a first sort).
        let sort = || {
            let next = self.sent.load(Ordering::Acquire) as u32;
            self.taken.sort_by_key(|seq| age_order(seq, next));
        };
        let place = |message: &Message, _| {
            place(message);
            true
        };
        if wait {
            self.taken.drain_after(most, sort, place);
        } else {
            self.taken.try_drain_after(most, sort, place);
        }
    }

    /// Once librdkafka's records are reported, a caller moves up to `most` of those waiting
    /// behind to the spool itself (unless another thread is at it), as far as the spool takes
    /// them without waiting; returns whether none is left waiting. Records taken back are left
    /// to librdkafka's thread and the watch thread (their sort is not for a caller's thread).
    pub fn help_drain_behind(&self, most: usize, mut place: impl FnMut(&Message) -> bool) -> bool {
        if self.direct_pending() == 0 && self.taken.len() == 0 {
            self.behind.try_drain(most, |message, ()| place(message));
        }
        !self.must_wait_behind()
    }

    /// The watch thread is about to take back what librdkafka holds: from now on no record is
    /// handed over ahead of those (see [`ProducerState::taking_back`](super::super::fate::ProducerState::taking_back)).
    pub fn start_taking_back(&self) {
        self.taking_back.store(true, Ordering::Release);
    }

    /// Ends the taking back once the reports of what was taken back are in: no detached record
    /// from `emit_detached`, and none from the spool, is with librdkafka any more (none was
    /// handed over since it began). Returns whether it is over. For the watch thread, which
    /// started it.
    pub fn finish_taking_back(&self) -> bool {
        if !self.taking_back.load(Ordering::Acquire) {
            return true;
        }
        let over =
            self.direct_pending() == 0 && self.spool.as_ref().is_none_or(|s| s.in_flight() == 0);
        if over {
            self.taking_back.store(false, Ordering::Release);
        }
        over
    }

    /// Ends the taking back whether or not its reports are in (see the watch thread's
    /// `TAKE_BACK_MAX`).
    pub fn end_taking_back(&self) {
        self.taking_back.store(false, Ordering::Release);
    }

    /// Whether records taken back are on their way to the spool.
    pub fn taking_back(&self) -> bool {
        self.taking_back.load(Ordering::Acquire)
    }

    /// Starts a detached record's hand-over: read the state after this, and drop the pass once
    /// the record is with librdkafka (or went elsewhere). Never held across a wait.
    pub fn hand_over(&self) -> Pass<'_> {
        self.handovers.pass()
    }

    /// Waits for the hand-overs under way to finish, before a purge: each read the state
    /// before the change that asked for the purge, and its record is with librdkafka once this
    /// returns (or went elsewhere). Blocks: for the watch thread. Returns false when one took
    /// longer than `timeout` (its thread stalled); the purge goes ahead.
    pub fn wait_for_hand_overs(&self, timeout: Duration) -> bool {
        self.handovers.wait_passed(timeout)
    }

    /// How many records wait behind: taken back from librdkafka, or emitted since.
    pub fn behind_len(&self) -> usize {
        self.taken.len() + self.behind.len()
    }
}

/// Orders places in the order records were handed over, oldest first, counted back from
/// `next` (the place the next record gets): correct across the 32 bits wrapping, for places
/// less than 2^31 apart.
fn age_order(seq: u32, next: u32) -> i32 {
    seq.wrapping_sub(next) as i32
}

#[cfg(test)]
mod tests {
    use super::super::tests::shared;
    use super::*;

    fn record(seq: u8) -> Message {
        Message {
            topic: "ledger".into(),
            key: b"acct-1".to_vec(),
            payload: vec![seq],
            headers: Vec::new(),
        }
    }

    /// librdkafka reports what a purge took back out of order (a queued batch ahead of older
    /// records waiting for a retry): they wait until every report is in, then leave in the
    /// order they were handed over, ahead of the records emitted meanwhile.
    #[test]
    fn records_taken_back_leave_in_the_order_they_were_handed_over() {
        let shared = shared();
        let seqs: Vec<u32> = (0..4).map(|_| shared.direct_sending()).collect();
        assert_eq!(shared.direct_pending(), 4);
        for &seq in &[seqs[2], seqs[3], seqs[0]] {
            shared.take_back(seq, record(seq as u8));
            shared.direct_reported();
        }
        shared.hold_behind(record(9)).unwrap();
        // A new record goes behind them all, not to librdkafka.
        assert!(shared.state().spool_backlog && shared.must_wait_behind());
        let mut placed = Vec::new();
        shared.drain_taken(|m| placed.push(m.payload[0]));
        assert!(placed.is_empty(), "a report is still to come");
        shared.take_back(seqs[1], record(seqs[1] as u8));
        shared.direct_reported();
        shared.drain_behind(usize::MAX, |m| placed.push(m.payload[0]));
        assert_eq!(placed, [0, 1, 2, 3, 9]);
        assert!(!shared.state().spool_backlog && !shared.must_wait_behind());
    }

    #[test]
    fn taking_back_lasts_until_every_detached_records_report_is_in() {
        let shared = shared();
        let _seq = shared.direct_sending();
        shared.start_taking_back();
        assert!(!shared.finish_taking_back());
        assert!(shared.state().taking_back);
        shared.direct_reported();
        assert!(shared.finish_taking_back());
        assert!(!shared.state().taking_back);
    }

    #[test]
    fn places_keep_their_order_across_the_32_bits_wrapping() {
        let mut seqs = [1u32, u32::MAX - 1, 0, u32::MAX];
        seqs.sort_by_key(|&seq| age_order(seq, 2));
        assert_eq!(seqs, [u32::MAX - 1, u32::MAX, 0, 1]);
        let mut seqs = [7u32, 5, 6];
        seqs.sort_by_key(|&seq| age_order(seq, 8));
        assert_eq!(seqs, [5, 6, 7]);
    }
}
