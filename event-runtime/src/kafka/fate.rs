//! The one decision about a record: where it goes when it arrives, and what happens to it after
//! each thing librdkafka says. A pure function of where the record came from, what happened,
//! and the producer's state; [`super::delivery`] and the send paths only carry it out.

use super::classify::Class;
use super::config::OverflowPolicy;
use crate::spool::Durability;

/// Where a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// An awaited `emit`; `waiting` is false once the caller stopped waiting (its future was
    /// dropped, or it was told the brokers refuse the client), and the record is then treated
    /// as detached.
    Awaited { waiting: bool },
    /// `emit_detached`, held in memory only.
    Detached,
    /// In the spool: written ahead, or spooled after a failure and now replayed.
    Spooled,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// The record arrives, before librdkafka sees it.
    Admit,
    /// librdkafka refused to take it.
    Refused(Class),
    /// The broker acknowledged it.
    Acked,
    /// Its delivery failed.
    Failed(Class),
}

/// What the decision needs to know about the producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ProducerState {
    /// The spool, if there is one, and what goes through it.
    pub spool: Option<Durability>,
    /// librdkafka reported every broker down, and none has answered since.
    pub brokers_down: bool,
    /// `close` was called or the producer dropped: no new records.
    pub closing: bool,
    /// A `close` call waits to hand undelivered records back (not when the producer is
    /// dropped).
    pub close_waits: bool,
    pub overflow: OverflowPolicy,
    /// The caller may block: it is not on an async runtime's thread.
    pub may_block: bool,
    /// The caller has already waited as long as it may.
    pub out_of_time: bool,
    /// The record's topic has been missing for longer than `missing_topic_timeout_ms`.
    pub topic_gone: bool,
    /// The brokers refused this client (authentication or TLS), and none has accepted it since.
    pub refused_client: bool,
    /// Records wait in the spool to be replayed, or in memory to reach it: a new record goes
    /// behind them, so that the records of a key reach their partition in the order they were
    /// emitted.
    pub spool_backlog: bool,
    /// librdkafka raised a fatal error and its producer is being replaced: records wait for the
    /// new one (in the spool, or in memory without one).
    pub replacing: bool,
    /// Records were taken back from librdkafka (purged) and are on their way to the spool, or
    /// back to it: a new record goes behind them, not to librdkafka ahead of them.
    pub taking_back: bool,
}

/// What happens to the record. Each is carried out in one place and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fate {
    /// Hand it to librdkafka.
    Enqueue,
    /// Append it to the spool, then hand it to librdkafka.
    WriteAhead,
    /// Append it to the spool; replay sends it when a broker takes records.
    Spool,
    /// Wait for room in librdkafka's queue, then try again.
    WaitForRoom,
    /// It was delivered.
    Deliver,
    /// The caller gets the outcome as an error; the record is not the producer's any more.
    Reply,
    /// It stays in the spool, to be replayed again after a pause.
    Retry,
    /// The broker will never take it: keep it with its reason in the quarantine.
    Quarantine,
    /// `close` hands it back to the caller (no spool).
    HandBack,
    /// Keep it in memory, in order, for the librdkafka producer that replaces one that failed
    /// for good (no spool, or a caller waiting for it).
    Resend,
    /// It is given up: counted as dropped and logged.
    Drop,
}

/// What happens to the records waiting in librdkafka's memory when every broker goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outage {
    /// Take them back from librdkafka: their delivery reports (purged) spool them, or tell the
    /// callers awaiting them. Records waiting for brokers that are gone are safer on disk.
    Purge,
    /// Leave them with librdkafka, which sends them when a broker answers (no spool to keep
    /// them, or write-ahead: they are on disk already).
    Keep,
}

/// Whether the records behind a failed one must be taken back from librdkafka (purged) so
/// that none of its key reaches the partition before it: a record that failed after librdkafka
/// took it, and goes (back) to the spool, has records behind it in librdkafka's queue that
/// could be delivered first. (A record refused at once is the newest: nothing is behind it, and
/// later ones queue behind it in the spool. One taken back on purpose is part of a purge
/// already.)
pub(super) fn keeps_order_by_purging(event: Event, fate: Fate) -> bool {
    matches!(event, Event::Failed(class) if class != Class::Purged)
        && matches!(fate, Fate::Spool | Fate::Retry)
}

/// The decision for the records in memory when every broker goes down.
pub(super) fn outage(state: &ProducerState) -> Outage {
    match state.spool {
        Some(Durability::OnFailure) => Outage::Purge,
        Some(Durability::WriteAhead) | None => Outage::Keep,
    }
}

/// Whether a record failed because its librdkafka producer failed for good: refused with the
/// fatal error, or taken back when it was raised.
fn lost_with_the_producer(class: Class, state: &ProducerState) -> bool {
    class == Class::Fatal || (class == Class::Purged && state.replacing)
}

pub(super) fn fate(origin: Origin, event: Event, state: &ProducerState) -> Fate {
    use Fate::*;
    let never =
        |class: Class| class.is_permanent() || (class == Class::TopicMissing && state.topic_gone);
    match (origin, event) {
        (_, Event::Acked) => Deliver,

        (Origin::Awaited { .. } | Origin::Detached, Event::Admit) if state.closing => Reply,
        // Its caller hears at once, rather than after the delivery timeout.
        (Origin::Awaited { .. }, Event::Admit) if state.refused_client => Reply,
        (Origin::Awaited { .. }, Event::Admit) => Enqueue,
        (Origin::Detached, Event::Admit) => match state.spool {
            // Nothing is sent into an outage, nor into a producer being replaced: straight to
            // disk, safe from a crash. Nor past records still waiting in the spool: behind
            // them, in order.
            Some(_)
                if state.brokers_down
                    || state.spool_backlog
                    || state.replacing
                    || state.taking_back =>
            {
                Spool
            }
            Some(Durability::WriteAhead) => WriteAhead,
            // Behind the records waiting for the new producer.
            None if state.replacing => Resend,
            _ => Enqueue,
        },
        // A record written ahead, about to be handed over, while records are taken back: it
        // stays in the spool, and replay sends it behind them.
        (Origin::Spooled, Event::Admit) if state.taking_back => Retry,
        (Origin::Spooled, Event::Admit) => Enqueue,

        // Room comes back as reports arrive; a new producer replaces one that failed for good.
        (Origin::Awaited { .. }, Event::Refused(Class::QueueFull | Class::Fatal))
            if !state.out_of_time =>
        {
            WaitForRoom
        }
        (Origin::Awaited { .. }, Event::Refused(_)) => Reply,
        (Origin::Detached, Event::Refused(Class::Fatal))
            if state.spool.is_none() && !state.closing =>
        {
            Resend
        }
        (Origin::Detached, Event::Refused(Class::QueueFull)) => match state.overflow {
            OverflowPolicy::Spool if state.spool.is_some() => Spool,
            OverflowPolicy::Block { .. } if state.may_block && !state.out_of_time => WaitForRoom,
            // `block` on an async runtime's thread would stall every task of that thread.
            _ => Drop,
        },
        (Origin::Detached, Event::Refused(class))
            if never(class) || class == Class::TopicMissing =>
        {
            Reply
        }
        (Origin::Detached, Event::Refused(_)) if state.spool.is_some() => Spool,
        (Origin::Detached, Event::Refused(_)) => Reply,

        (Origin::Spooled, Event::Refused(Class::QueueFull))
            if state.may_block && !state.out_of_time =>
        {
            WaitForRoom
        }
        (Origin::Spooled, Event::Refused(class) | Event::Failed(class)) => {
            if never(class) {
                Quarantine
            } else {
                Retry
            }
        }

        // The librdkafka producer failed for good (and took back what it held): a new one
        // sends it, for the caller still waiting.
        (Origin::Awaited { waiting: true }, Event::Failed(class))
            if lost_with_the_producer(class, state) && !state.out_of_time && !state.closing =>
        {
            Resend
        }
        (Origin::Awaited { waiting: true }, Event::Failed(_)) => Reply,
        (Origin::Awaited { waiting: false } | Origin::Detached, Event::Failed(class))
            if lost_with_the_producer(class, state) && state.spool.is_none() && !state.closing =>
        {
            Resend
        }
        (Origin::Awaited { waiting: false } | Origin::Detached, Event::Failed(class)) => {
            if never(class) {
                if state.spool.is_some() {
                    Quarantine
                } else {
                    Drop
                }
            } else if state.spool.is_some() {
                Spool
            } else if state.closing && state.close_waits {
                HandBack
            } else {
                Drop
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fate::*;
    use super::*;

    const CLASSES: [Class; 11] = [
        Class::QueueFull,
        Class::TooLarge,
        Class::Rejected,
        Class::TopicMissing,
        Class::TimedOut,
        Class::Purged,
        Class::Unreachable,
        Class::Fatal,
        Class::Transient,
        Class::Authentication,
        Class::Tls,
    ];

    fn base() -> ProducerState {
        ProducerState {
            spool: None,
            brokers_down: false,
            closing: false,
            close_waits: false,
            overflow: OverflowPolicy::DropNewest,
            may_block: false,
            out_of_time: false,
            topic_gone: false,
            refused_client: false,
            spool_backlog: false,
            replacing: false,
            taking_back: false,
        }
    }

    fn spool(durability: Durability) -> ProducerState {
        ProducerState {
            spool: Some(durability),
            overflow: OverflowPolicy::Spool,
            ..base()
        }
    }

    const WAITING: Origin = Origin::Awaited { waiting: true };
    const CANCELLED: Origin = Origin::Awaited { waiting: false };
    const ON_FAILURE: Durability = Durability::OnFailure;
    const WRITE_AHEAD: Durability = Durability::WriteAhead;

    /// Every row of the decision, by name.
    #[test]
    fn table() {
        let block = |may_block, out_of_time| ProducerState {
            overflow: OverflowPolicy::Block { timeout_ms: 50 },
            may_block,
            out_of_time,
            ..base()
        };
        let rows: &[(&str, Origin, Event, ProducerState, Fate)] = &[
            ("acked", WAITING, Event::Acked, base(), Deliver),
            (
                "acked spooled",
                Origin::Spooled,
                Event::Acked,
                spool(ON_FAILURE),
                Deliver,
            ),
            (
                "closing refuses emit",
                WAITING,
                Event::Admit,
                ProducerState {
                    closing: true,
                    ..base()
                },
                Reply,
            ),
            (
                "closing refuses detached",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    closing: true,
                    ..spool(ON_FAILURE)
                },
                Reply,
            ),
            (
                "emit enqueues",
                WAITING,
                Event::Admit,
                spool(WRITE_AHEAD),
                Enqueue,
            ),
            (
                "emit to brokers that refused this client",
                WAITING,
                Event::Admit,
                ProducerState {
                    refused_client: true,
                    brokers_down: true,
                    ..base()
                },
                Reply,
            ),
            (
                "emit enqueues into an outage",
                WAITING,
                Event::Admit,
                ProducerState {
                    brokers_down: true,
                    ..spool(ON_FAILURE)
                },
                Enqueue,
            ),
            (
                "detached enqueues",
                Origin::Detached,
                Event::Admit,
                spool(ON_FAILURE),
                Enqueue,
            ),
            (
                "detached without spool enqueues into an outage",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    brokers_down: true,
                    ..base()
                },
                Enqueue,
            ),
            (
                "outage: straight to the spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    brokers_down: true,
                    ..spool(ON_FAILURE)
                },
                Spool,
            ),
            (
                "outage, write-ahead: spool only",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    brokers_down: true,
                    ..spool(WRITE_AHEAD)
                },
                Spool,
            ),
            (
                "write-ahead",
                Origin::Detached,
                Event::Admit,
                spool(WRITE_AHEAD),
                WriteAhead,
            ),
            (
                "behind records waiting in the spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    spool_backlog: true,
                    ..spool(ON_FAILURE)
                },
                Spool,
            ),
            (
                "write-ahead behind records waiting in the spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    spool_backlog: true,
                    ..spool(WRITE_AHEAD)
                },
                Spool,
            ),
            (
                "emit does not wait behind the spool",
                WAITING,
                Event::Admit,
                ProducerState {
                    spool_backlog: true,
                    ..spool(ON_FAILURE)
                },
                Enqueue,
            ),
            (
                "records taken back: behind them in the spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    taking_back: true,
                    ..spool(ON_FAILURE)
                },
                Spool,
            ),
            (
                "write-ahead while records are taken back: spool only",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    taking_back: true,
                    ..spool(WRITE_AHEAD)
                },
                Spool,
            ),
            (
                "replay sends",
                Origin::Spooled,
                Event::Admit,
                spool(ON_FAILURE),
                Enqueue,
            ),
            (
                "written ahead while records are taken back: replay sends it",
                Origin::Spooled,
                Event::Admit,
                ProducerState {
                    taking_back: true,
                    ..spool(WRITE_AHEAD)
                },
                Retry,
            ),
            (
                "emit waits for room",
                WAITING,
                Event::Refused(Class::QueueFull),
                base(),
                WaitForRoom,
            ),
            (
                "emit out of time",
                WAITING,
                Event::Refused(Class::QueueFull),
                ProducerState {
                    out_of_time: true,
                    ..base()
                },
                Reply,
            ),
            (
                "emit refused",
                WAITING,
                Event::Refused(Class::TooLarge),
                base(),
                Reply,
            ),
            (
                "overflow to the spool",
                Origin::Detached,
                Event::Refused(Class::QueueFull),
                spool(ON_FAILURE),
                Spool,
            ),
            (
                "overflow drop_newest",
                Origin::Detached,
                Event::Refused(Class::QueueFull),
                base(),
                Drop,
            ),
            (
                "overflow block off the runtime",
                Origin::Detached,
                Event::Refused(Class::QueueFull),
                block(true, false),
                WaitForRoom,
            ),
            (
                "overflow block, waited out",
                Origin::Detached,
                Event::Refused(Class::QueueFull),
                block(true, true),
                Drop,
            ),
            (
                "overflow block on a runtime thread",
                Origin::Detached,
                Event::Refused(Class::QueueFull),
                block(false, false),
                Drop,
            ),
            (
                "detached too large",
                Origin::Detached,
                Event::Refused(Class::TooLarge),
                spool(ON_FAILURE),
                Reply,
            ),
            (
                "detached topic missing",
                Origin::Detached,
                Event::Refused(Class::TopicMissing),
                spool(ON_FAILURE),
                Reply,
            ),
            (
                "detached refused, spool",
                Origin::Detached,
                Event::Refused(Class::Unreachable),
                spool(ON_FAILURE),
                Spool,
            ),
            (
                "detached refused, no spool",
                Origin::Detached,
                Event::Refused(Class::Transient),
                base(),
                Reply,
            ),
            (
                "replay waits for room",
                Origin::Spooled,
                Event::Refused(Class::QueueFull),
                ProducerState {
                    may_block: true,
                    ..spool(ON_FAILURE)
                },
                WaitForRoom,
            ),
            (
                "replay stopping",
                Origin::Spooled,
                Event::Refused(Class::QueueFull),
                ProducerState {
                    may_block: true,
                    out_of_time: true,
                    ..spool(ON_FAILURE)
                },
                Retry,
            ),
            (
                "spooled refused: queue full",
                Origin::Spooled,
                Event::Refused(Class::QueueFull),
                spool(WRITE_AHEAD),
                Retry,
            ),
            (
                "spooled refused for good",
                Origin::Spooled,
                Event::Refused(Class::Rejected),
                spool(ON_FAILURE),
                Quarantine,
            ),
            (
                "spooled failed",
                Origin::Spooled,
                Event::Failed(Class::TimedOut),
                spool(ON_FAILURE),
                Retry,
            ),
            (
                "spooled topic missing a while",
                Origin::Spooled,
                Event::Failed(Class::TopicMissing),
                spool(ON_FAILURE),
                Retry,
            ),
            (
                "spooled topic gone",
                Origin::Spooled,
                Event::Failed(Class::TopicMissing),
                ProducerState {
                    topic_gone: true,
                    ..spool(ON_FAILURE)
                },
                Quarantine,
            ),
            (
                "spooled poison",
                Origin::Spooled,
                Event::Failed(Class::TooLarge),
                spool(WRITE_AHEAD),
                Quarantine,
            ),
            (
                "emit failed",
                WAITING,
                Event::Failed(Class::TimedOut),
                spool(ON_FAILURE),
                Reply,
            ),
            (
                "emit poison",
                WAITING,
                Event::Failed(Class::TooLarge),
                spool(ON_FAILURE),
                Reply,
            ),
            (
                "cancelled emit failed",
                CANCELLED,
                Event::Failed(Class::TimedOut),
                spool(ON_FAILURE),
                Spool,
            ),
            (
                "cancelled emit failed, no spool",
                CANCELLED,
                Event::Failed(Class::Purged),
                base(),
                Drop,
            ),
            (
                "detached failed",
                Origin::Detached,
                Event::Failed(Class::TimedOut),
                spool(ON_FAILURE),
                Spool,
            ),
            (
                "detached purged at close, spool",
                Origin::Detached,
                Event::Failed(Class::Purged),
                ProducerState {
                    closing: true,
                    ..spool(ON_FAILURE)
                },
                Spool,
            ),
            (
                "detached purged at close, no spool",
                Origin::Detached,
                Event::Failed(Class::Purged),
                ProducerState {
                    closing: true,
                    close_waits: true,
                    ..base()
                },
                HandBack,
            ),
            (
                "detached purged when dropped, no spool",
                Origin::Detached,
                Event::Failed(Class::Purged),
                ProducerState {
                    closing: true,
                    ..base()
                },
                Drop,
            ),
            (
                "detached failed, no spool",
                Origin::Detached,
                Event::Failed(Class::Unreachable),
                base(),
                Drop,
            ),
            (
                "detached poison",
                Origin::Detached,
                Event::Failed(Class::Rejected),
                spool(ON_FAILURE),
                Quarantine,
            ),
            (
                "detached poison, no spool",
                Origin::Detached,
                Event::Failed(Class::TooLarge),
                base(),
                Drop,
            ),
            (
                "detached topic gone, no spool",
                Origin::Detached,
                Event::Failed(Class::TopicMissing),
                ProducerState {
                    topic_gone: true,
                    closing: true,
                    ..base()
                },
                Drop,
            ),
            (
                "detached fatal",
                Origin::Detached,
                Event::Failed(Class::Fatal),
                spool(ON_FAILURE),
                Spool,
            ),
            (
                "detached fatal, no spool: to the new producer",
                Origin::Detached,
                Event::Failed(Class::Fatal),
                base(),
                Resend,
            ),
            (
                "detached taken back while replacing, no spool",
                Origin::Detached,
                Event::Failed(Class::Purged),
                ProducerState {
                    replacing: true,
                    ..base()
                },
                Resend,
            ),
            (
                "detached taken back while replacing, spool",
                Origin::Detached,
                Event::Failed(Class::Purged),
                ProducerState {
                    replacing: true,
                    ..spool(ON_FAILURE)
                },
                Spool,
            ),
            (
                "detached refused fatal, no spool",
                Origin::Detached,
                Event::Refused(Class::Fatal),
                base(),
                Resend,
            ),
            (
                "detached while replacing, no spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    replacing: true,
                    ..base()
                },
                Resend,
            ),
            (
                "detached while replacing, spool",
                Origin::Detached,
                Event::Admit,
                ProducerState {
                    replacing: true,
                    ..spool(WRITE_AHEAD)
                },
                Spool,
            ),
            (
                "emit refused fatal: waits for the new producer",
                WAITING,
                Event::Refused(Class::Fatal),
                base(),
                WaitForRoom,
            ),
            (
                "emit in flight when the producer failed: sent by the new one",
                WAITING,
                Event::Failed(Class::Fatal),
                spool(ON_FAILURE),
                Resend,
            ),
            (
                "emit fatal out of time",
                WAITING,
                Event::Failed(Class::Fatal),
                ProducerState {
                    out_of_time: true,
                    ..base()
                },
                Reply,
            ),
            (
                "detached fatal at close, no spool: handed back",
                Origin::Detached,
                Event::Failed(Class::Fatal),
                ProducerState {
                    closing: true,
                    close_waits: true,
                    ..base()
                },
                HandBack,
            ),
        ];
        for (name, origin, event, state, expected) in rows {
            assert_eq!(fate(*origin, *event, state), *expected, "{name}");
        }
    }

    #[test]
    fn what_is_behind_a_failed_record_follows_it() {
        let failed = |class| Event::Failed(class);
        assert!(keeps_order_by_purging(failed(Class::TimedOut), Spool));
        assert!(keeps_order_by_purging(failed(Class::Transient), Retry));
        assert!(!keeps_order_by_purging(failed(Class::Purged), Spool));
        assert!(!keeps_order_by_purging(failed(Class::TimedOut), Reply));
        assert!(!keeps_order_by_purging(failed(Class::TooLarge), Quarantine));
        assert!(!keeps_order_by_purging(
            Event::Refused(Class::QueueFull),
            Spool
        ));
    }

    #[test]
    fn an_outage_moves_what_is_in_memory_to_the_spool_only_when_it_is_not_there_yet() {
        assert_eq!(outage(&spool(ON_FAILURE)), Outage::Purge);
        assert_eq!(outage(&spool(WRITE_AHEAD)), Outage::Keep);
        assert_eq!(outage(&base()), Outage::Keep);
    }

    /// Rules that hold in every combination.
    #[test]
    fn invariants() {
        let mut states = Vec::new();
        for spool in [None, Some(ON_FAILURE), Some(WRITE_AHEAD)] {
            for overflow in [
                OverflowPolicy::Spool,
                OverflowPolicy::DropNewest,
                OverflowPolicy::Block { timeout_ms: 1 },
            ] {
                if overflow == OverflowPolicy::Spool && spool.is_none() {
                    continue; // refused by the configuration
                }
                for bits in 0..1024u16 {
                    let bit = |i: u16| bits & (1u16 << i) != 0;
                    states.push(ProducerState {
                        spool,
                        overflow,
                        brokers_down: bit(0),
                        closing: bit(1),
                        may_block: bit(2),
                        out_of_time: bit(3),
                        topic_gone: bit(4),
                        close_waits: bit(5),
                        refused_client: bit(6),
                        spool_backlog: bit(7),
                        replacing: bit(8),
                        taking_back: bit(9),
                    });
                }
            }
        }
        let mut events = vec![Event::Admit, Event::Acked];
        for class in CLASSES {
            events.push(Event::Refused(class));
            events.push(Event::Failed(class));
        }
        for state in &states {
            for origin in [WAITING, CANCELLED, Origin::Detached, Origin::Spooled] {
                if origin == Origin::Spooled && state.spool.is_none() {
                    continue; // nothing is spooled without a spool
                }
                for event in &events {
                    let fate = fate(origin, *event, state);
                    let case = format!("{origin:?} {event:?} {state:?} -> {fate:?}");
                    if *event == Event::Acked {
                        assert_eq!(fate, Deliver, "{case}");
                    }
                    if state.spool.is_none() {
                        assert!(
                            !matches!(fate, Spool | WriteAhead | Retry | Quarantine),
                            "no spool: {case}"
                        );
                    }
                    if origin == Origin::Spooled {
                        // A spooled record is never given up: it is done only when delivered
                        // or quarantined.
                        assert!(
                            matches!(fate, Enqueue | Deliver | Retry | Quarantine | WaitForRoom),
                            "{case}"
                        );
                    }
                    if let Event::Failed(class) | Event::Refused(class) = event
                        && class.is_permanent()
                    {
                        assert!(
                            !matches!(fate, Spool | Retry | Enqueue | WaitForRoom),
                            "poison: {case}"
                        );
                    }
                    if fate == WaitForRoom {
                        assert!(
                            matches!(origin, Origin::Awaited { .. }) || state.may_block,
                            "blocks a runtime thread: {case}"
                        );
                        assert!(!state.out_of_time, "{case}");
                    }
                    if let Event::Failed(_) = event {
                        // What a delivery report can lead to (delivery.rs handles these only).
                        assert!(
                            matches!(
                                fate,
                                Reply | Spool | Retry | Quarantine | HandBack | Drop | Resend
                            ),
                            "{case}"
                        );
                    }
                    if fate == Resend {
                        assert!(
                            !state.closing,
                            "nothing waits for a new producer at close: {case}"
                        );
                        assert!(
                            state.spool.is_none() || origin == WAITING,
                            "with a spool, it waits there: {case}"
                        );
                    }
                    if state.taking_back && state.spool.is_some() && *event == Event::Admit {
                        assert!(
                            !matches!(fate, Enqueue | WriteAhead)
                                || matches!(origin, Origin::Awaited { .. }),
                            "nothing detached goes to librdkafka ahead of what is taken back: {case}"
                        );
                    }
                    if fate == HandBack {
                        assert!(
                            state.closing && state.close_waits && state.spool.is_none(),
                            "{case}"
                        );
                    }
                }
            }
        }
    }
}
