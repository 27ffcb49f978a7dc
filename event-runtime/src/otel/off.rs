//! Without the `otel` feature: the same names as `otel/mod.rs`, doing nothing, so the send path
//! reads the same either way and compiles to what it was.

use std::future::Future;

use crate::error::EmitError;
use crate::message::{Delivery, Message, MessageRef};
use crate::stats::DeliveryStats;
use crate::topic::TopicMap;

mod settled;

pub(crate) use settled::Settled;

pub(crate) struct Telemetry;

impl Telemetry {
    #[inline(always)]
    pub fn new(_client_id: &str, _brokers: &[String]) -> Telemetry {
        Telemetry
    }

    #[inline(always)]
    pub fn observe(&self, _stats: impl Fn() -> Option<DeliveryStats> + Send + Sync + 'static) {}

    #[inline(always)]
    pub fn acked<'h>(
        &self,
        _headers: impl FnOnce() -> Vec<(&'h str, &'h [u8])>,
        _partition: i32,
        _offset: i64,
        _seconds: Option<f64>,
    ) {
    }

    #[inline(always)]
    pub fn settled(&self, _headers: &[(&str, &[u8])], _settled: Settled<'_>) {}
}

#[inline(always)]
pub(crate) fn detached(
    _telemetry: &Telemetry,
    _topics: &TopicMap,
    message: MessageRef<'_>,
    send: impl FnOnce(MessageRef<'_>) -> Result<(), EmitError>,
) -> Result<(), EmitError> {
    send(message)
}

#[inline(always)]
pub(crate) fn awaited<F>(
    _telemetry: &Telemetry,
    _topics: &TopicMap,
    message: Message,
    send: impl FnOnce(Message) -> F,
) -> F
where
    F: Future<Output = Result<Delivery, EmitError>>,
{
    send(message)
}

/// A request's trace context: none without the feature.
#[derive(Clone, Debug)]
#[cfg_attr(not(feature = "middleware"), allow(dead_code))]
pub(crate) struct RequestTrace;

#[cfg_attr(not(feature = "middleware"), allow(dead_code))]
impl RequestTrace {
    #[inline(always)]
    pub fn start<'a>(_header: impl Fn(&str) -> Option<&'a str>) -> RequestTrace {
        RequestTrace
    }

    #[inline(always)]
    pub fn trace_id(&self) -> Option<String> {
        None
    }

    #[inline(always)]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}
