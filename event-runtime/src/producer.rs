//! The [`Producer`] trait: send one record, get its delivery or a typed error; close with a
//! deadline. It is object-safe, so `Arc<dyn Producer>` works.
//!
//! ```
//! use std::sync::Arc;
//! use kafka_events::{MemoryProducer, Message, Producer};
//!
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! # rt.block_on(async {
//! let producer: Arc<dyn Producer> = Arc::new(MemoryProducer::new());
//! let delivery = producer
//!     .send(Message::new("audit", b"key-1".to_vec(), br#"{"id":"key-1"}"#.to_vec()))
//!     .await?;
//! assert_eq!((delivery.topic.as_str(), delivery.offset), ("audit", 0));
//! producer.close(std::time::Duration::from_secs(1)).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::envelope::EnvelopeSettings;
use crate::error::{CloseError, CloseReport, EmitError};
use crate::message::{Delivery, Message, MessageRef};

/// The future [`Producer::send`] returns.
///
/// ```
/// use kafka_events::{MemoryProducer, Message, Producer, SendFuture};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// // Boxed, so sends can be kept together and awaited later.
/// let sends: Vec<SendFuture<'_>> = ["a", "b"]
///     .map(|key| producer.send(Message::new("audit", key.into(), b"{}".to_vec())))
///     .into();
/// for (offset, send) in sends.into_iter().enumerate() {
///     let delivery = send.await?;
///     assert_eq!((delivery.topic.as_str(), delivery.offset), ("audit", offset as i64));
/// }
/// # Ok(())
/// # }
/// ```
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Delivery, EmitError>> + Send + 'a>>;

/// The future [`Producer::close`] returns.
///
/// ```
/// use std::time::Duration;
/// use kafka_events::{CloseFuture, CloseReport, EmitError, MemoryProducer, Message, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let producer = MemoryProducer::new();
/// let closing: CloseFuture<'_> = producer.close(Duration::from_secs(1));
/// let report = closing.await?;
/// assert_eq!(report, CloseReport::default()); // nothing was left to spool
/// let late = producer.send(Message::new("audit", b"k".to_vec(), b"{}".to_vec()));
/// assert!(matches!(late.await, Err(EmitError::Closed)));
/// # Ok(())
/// # }
/// ```
pub type CloseFuture<'a> =
    Pin<Box<dyn Future<Output = Result<CloseReport, CloseError>> + Send + 'a>>;

/// Sends records to Kafka (or somewhere that behaves like it, such as
/// [`MemoryProducer`](crate::MemoryProducer)).
///
/// The typed form of the Go package's `Producer` (`Send(ctx, key, value)`, `Close()`): events call
/// it through [`KafkaEvent::emit`](crate::KafkaEvent::emit).
///
/// Take it as `&dyn Producer` or `Arc<dyn Producer>` where the concrete producer should not
/// matter, as code that runs against Kafka in production and a [`MemoryProducer`] in tests:
///
/// ```
/// use std::sync::Arc;
/// use kafka_events::{AuthEvent, KafkaEvent, MemoryProducer, Producer};
///
/// struct Accounts {
///     events: Arc<dyn Producer>,
/// }
///
/// impl Accounts {
///     fn login_failed(&self, user: &str) {
///         let event = AuthEvent::login_failure("accounts", user, "bad password");
///         // Never fails the login: a refused event is logged by the caller's choice.
///         if let Err(error) = event.emit_detached(&*self.events) {
///             eprintln!("auth event not sent: {error}");
///         }
///     }
/// }
///
/// let producer = MemoryProducer::new();
/// let accounts = Accounts { events: Arc::new(producer.clone()) };
/// accounts.login_failed("mallory");
/// assert_eq!(producer.events::<AuthEvent>().unwrap()[0].subject, "mallory");
/// ```
///
/// [`MemoryProducer`]: crate::MemoryProducer
pub trait Producer: Send + Sync {
    /// Sends one record and resolves with its delivery once the broker acknowledged it, or
    /// with an error once the delivery deadline has passed.
    fn send(&self, message: Message) -> SendFuture<'_>;

    /// Hands one record to the producer's bounded pipeline and returns at once. The outcome is
    /// handled in the background (logged, counted, and for [`KafkaProducer`](crate::KafkaProducer)
    /// spooled when it fails); an error here means the record was not taken.
    fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError>;

    /// Stops taking records and waits up to `timeout` for those in flight; what is still
    /// undelivered then is spooled or handed back in the error. Sending after `close` fails
    /// with [`EmitError::Closed`].
    fn close(&self, timeout: Duration) -> CloseFuture<'_>;

    /// The `EventJson` envelope's settings when this producer writes events of the logical
    /// `topic` in the envelope ([`WireFormat::Envelope`](crate::envelope::WireFormat)); `None`,
    /// the default, for the flat documents. [`KafkaEvent::emit`](crate::KafkaEvent::emit) asks
    /// before it encodes an event. A producer that wraps another forwards this call, or the
    /// events sent through it are written flat.
    fn envelope_for(&self, topic: &str) -> Option<&EnvelopeSettings> {
        let _ = topic;
        None
    }
}

macro_rules! forward_producer {
    ($($ptr:ty),*) => {$(
        impl<P: Producer + ?Sized> Producer for $ptr {
            fn send(&self, message: Message) -> SendFuture<'_> {
                (**self).send(message)
            }

            fn send_detached(&self, message: MessageRef<'_>) -> Result<(), EmitError> {
                (**self).send_detached(message)
            }

            fn close(&self, timeout: Duration) -> CloseFuture<'_> {
                (**self).close(timeout)
            }

            fn envelope_for(&self, topic: &str) -> Option<&EnvelopeSettings> {
                (**self).envelope_for(topic)
            }
        }
    )*};
}

forward_producer!(&P, Box<P>, Arc<P>);
