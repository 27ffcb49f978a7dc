//! Shutting down: [`close`] (stop intake, flush until the deadline, spool or hand back what is
//! left) and what a producer dropped without `close` does on a thread of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::producer::{Producer as _, PurgeConfig};
use rdkafka::util::Timeout;

use super::apply;
use super::clients::Client;
use super::pipeline::Pipeline;
use super::shared::Shared;
use super::watch::Watch;
use crate::error::{CloseError, CloseReport};
use crate::message::Message;
use crate::otel::Settled;
use crate::producer::CloseFuture;
use crate::spool::Caller;

/// How long a dropped producer (not closed) keeps flushing before what is left goes to the
/// spool; and how long `close` gives the purged records' reports and the last `fsync` after
/// its deadline.
const DROP_FLUSH: Duration = Duration::from_secs(5);
const GRACE: Duration = Duration::from_secs(1);

/// [`Producer::close`](crate::Producer::close): the work runs on a thread of its own; the future
/// only waits for it.
pub(super) fn close(
    pipeline: &Pipeline,
    watch: Option<Watch>,
    timeout: Duration,
) -> CloseFuture<'_> {
    pipeline.shared.start_closing(true);
    let shutdown = Shutdown::new(pipeline, watch);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shared = pipeline.shared.clone();
    let spawned = std::thread::Builder::new()
        .name("kafka-events-close".into())
        .spawn(move || {
            let handed_back = shutdown.run(timeout);
            if let Err(lost) = tx.send(handed_back) {
                // The `close` future was dropped: nobody takes these back.
                apply::lost_at_shutdown(&shared, &lost);
            }
        });
    Box::pin(async move {
        if let Err(error) = spawned {
            tracing::error!(%error, "kafka-events: could not start a thread to close the producer");
        }
        let handed_back = rx.await.unwrap_or_default();
        if !handed_back.is_empty() {
            return Err(CloseError::Undelivered {
                messages: handed_back,
                timeout,
            });
        }
        Ok(CloseReport {
            spooled: pipeline.shared.spool().map_or(0, |s| s.counts().pending),
            fatal_errors: pipeline.shared.fatal_errors(),
        })
    })
}

/// A producer dropped without `close`: flushes for a while, spools what is left (or counts it as
/// dropped without a spool), and tears the librdkafka producers down, never on an async worker.
pub(super) fn dropped(pipeline: Pipeline, watch: Option<Watch>) {
    let shared = pipeline.shared.clone();
    let first = shared.start_closing(false);
    if let Some(spool) = shared.spool() {
        spool.going_away();
    }
    let at_risk = pipeline.in_flight();
    if first && at_risk > 0 {
        tracing::warn!(
            at_risk,
            "KafkaProducer dropped without close(): flushing in the background; what is not delivered within {DROP_FLUSH:?} goes to the spool, or is dropped without one"
        );
    }
    let flush = if first { DROP_FLUSH } else { Duration::ZERO };
    let finish = move || {
        let shutdown = Shutdown::new(&pipeline, None);
        if let Some(watch) = &watch {
            watch.stop();
        }
        let mut lost = shutdown.run(flush);
        if let Some(watch) = watch {
            watch.join();
        }
        // Destroying the librdkafka handles joins their threads and fails what they still hold;
        // those reports run before it returns.
        drop(pipeline);
        lost.extend(shared.take_handed_back());
        apply::lost_at_shutdown(&shared, &lost);
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        // Never on an async worker: the flush and the teardown can take seconds.
        let spawned = std::thread::Builder::new()
            .name("kafka-events-drop".into())
            .spawn(finish);
        if let Err(error) = spawned {
            tracing::error!(%error, "kafka-events: could not start a thread to finish the dropped producer");
        }
    } else {
        finish();
    }
}

/// What `close` and `Drop` do, on a thread of their own: stop the watch thread, flush until the
/// deadline, fail what is left on purpose so its delivery reports spool it (or hand it back),
/// `fsync` the spool and put its files away for the next start.
struct Shutdown {
    /// The awaited producer first: it holds few records, each with a caller waiting.
    producers: Vec<Arc<Client>>,
    shared: Arc<Shared>,
    watch: Option<Watch>,
}

impl Shutdown {
    fn new(pipeline: &Pipeline, watch: Option<Watch>) -> Self {
        Shutdown {
            producers: pipeline.clients.all(),
            shared: pipeline.shared.clone(),
            watch,
        }
    }

    /// Returns within `timeout` plus two [`GRACE`]s: the watch thread is asked to stop, not
    /// waited for (it sends nothing more; what it had sent stays in the spool until delivered).
    fn run(self, timeout: Duration) -> Vec<Message> {
        if let Some(watch) = &self.watch {
            watch.stop();
        }
        let deadline = Instant::now() + timeout;
        let mut flushed = true;
        for producer in &self.producers {
            let left = deadline.saturating_duration_since(Instant::now());
            flushed &= producer.flush(Timeout::After(left)).is_ok();
        }
        if !flushed {
            for producer in &self.producers {
                producer.purge(PurgeConfig::default().queue().inflight());
            }
            // Serves the purged records' reports, within one grace for both.
            let grace = Instant::now() + GRACE;
            for producer in &self.producers {
                let left = grace.saturating_duration_since(Instant::now());
                let _ = producer.flush(Timeout::After(left));
            }
        }
        // Records that waited behind librdkafka's, whose reports are in by now.
        self.shared.drain_behind(usize::MAX, |message| {
            let caller = Caller::MayWaitUntil(Instant::now() + GRACE);
            let _ = message.with_ref(|m| apply::spool(&self.shared, m, caller));
        });
        if let Some(spool) = self.shared.spool() {
            let grace = Instant::now() + GRACE;
            spool.sync(GRACE);
            // Within the same grace: the next start then reads the segments' indexes, not the
            // segments.
            if !spool.put_away(grace.saturating_duration_since(Instant::now())) {
                tracing::debug!(
                    "kafka-events: the spool's files were not all sealed and indexed within the \
                     grace; the next start reads the rest through"
                );
            }
        }
        // Records that waited for a producer to replace one that failed for good: handed back,
        // their spans (if still open) say so.
        let mut handed_back = self.shared.take_resends();
        for message in &handed_back {
            message.with_ref(|m| {
                self.shared
                    .telemetry()
                    .settled(m.headers, Settled::HandedBack)
            });
        }
        handed_back.extend(self.shared.take_handed_back());
        handed_back
    }
}
