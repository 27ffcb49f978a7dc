//! How a record left librdkafka other than by an acknowledgement: what its span says. One
//! file for both `otel/mod.rs` and `otel/off.rs`, which name it the same.

/// How a record left librdkafka other than by an acknowledgement.
#[derive(Clone, Copy, Debug)]
// Without the feature nothing reads the errors.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) enum Settled<'a> {
    /// Written to the spool, to be replayed (with the same headers) later.
    Spooled,
    /// Refused for good and moved to the spool's quarantine; the `error.type`.
    Quarantined(&'a str),
    /// Returned to the caller of `close`.
    HandedBack,
    /// Given up; the `error.type`.
    Dropped(&'a str),
}
