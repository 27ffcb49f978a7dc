//! What the layers write: the [`AuditEntry`] and [`UsageEvent`] of a request that ended, and the
//! one place they hand an event over.

use uuid::Uuid;

use super::bounds::{MAX_ENDPOINT, MAX_METHOD, MAX_RESOURCE, MAX_URL, MAX_USER_AGENT, bound};
use super::common::Common;
use super::lifecycle::{RequestEnd, Started};
use crate::error::EmitError;
use crate::event::KafkaEvent;
use crate::models::{AuditEntry, UsageEvent, usage_metadata};
use crate::producer::Producer;

impl Started {
    /// The audit entry of the request, without its bodies. It takes the text it records (the
    /// URL, route, ids, addresses) out of `self`: the request's other events are made first.
    pub fn audit_entry(&mut self, common: &Common, end: RequestEnd) -> AuditEntry {
        let (identity, resource_id, correlation_id) = self.details();
        let (status_code, outcome) = end.kind.status_and_outcome();
        let anonymous = identity.is_none();
        let identity = identity.unwrap_or_default();
        // What the client controls is bounded, so the entry always fits a record.
        let mut truncated = Vec::new();
        let take = std::mem::take::<String>;
        AuditEntry {
            tenant_id: identity.tenant_id,
            subject: identity.subject,
            jti: identity.jti,
            http_method: bound(
                "http_method",
                self.method.as_str().to_owned(),
                MAX_METHOD,
                &mut truncated,
            ),
            resource: bound(
                "resource",
                resource(&self.endpoint),
                MAX_RESOURCE,
                &mut truncated,
            ),
            resource_id,
            payload: None,
            source_ip: take(&mut self.client_addr),
            user_agent: bound(
                "user_agent",
                take(&mut self.user_agent),
                MAX_USER_AGENT,
                &mut truncated,
            ),
            timestamp: self.started_at,
            service: common.service.clone(),
            endpoint: bound(
                "endpoint",
                take(&mut self.endpoint),
                MAX_ENDPOINT,
                &mut truncated,
            ),
            full_url: bound(
                "full_url",
                take(&mut self.full_url),
                MAX_URL,
                &mut truncated,
            ),
            id: Uuid::new_v4(),
            correlation_id,
            request_id: take(&mut self.request_id),
            status_code,
            duration_ms: self.duration(end).as_secs_f64() * 1000.0,
            response_payload: None,
            payload_truncated: false,
            outcome,
            anonymous,
            truncated,
            minimal: None,
            message: self.message.take(),
        }
    }

    /// The usage event of the request, as the Go middleware's `UsageEntry` plus this crate's
    /// fields.
    pub fn usage_event(&self, common: &Common, end: RequestEnd) -> UsageEvent {
        let (identity, _, _) = self.details();
        let identity = identity.unwrap_or_default();
        let (ended, end) = (end.kind, self.ended_at(end));
        let metadata = usage_metadata(&identity.subject, &common.service);
        let mut event = UsageEvent::made(&common.service, self.started_at, end, metadata, end);
        event.subject = identity.subject;
        event.tenant_id = identity.tenant_id;
        event.product_id = common.product_id;
        event.memory_mb = common.memory_mb;
        event.endpoint = bound(
            "endpoint",
            self.endpoint.clone(),
            MAX_ENDPOINT,
            &mut event.truncated,
        );
        event.owner_id = self.owner_id.clone();
        event.message = self.message.clone();
        event.outcome = ended.status_and_outcome().1;
        event
    }
}

/// The one place the layers hand an event over: detached, so no request waits for the broker;
/// a refusal is logged, never turned into an error for the request. Returns the refusal.
pub(crate) fn send<E: KafkaEvent>(producer: &dyn Producer, event: &E) -> Result<(), EmitError> {
    event.emit_detached(producer).inspect_err(|error| {
        tracing::error!(%error, topic = E::TOPIC, key = ?event.key(), "kafka-events: event not taken");
    })
}

/// Hands a request's audit entry over; if the producer refuses this entry for what it holds
/// (too large for the broker's limit, a header the spool can't hold, a payload that can't be
/// JSON), a minimal entry takes its place, so the request still leaves one: the method, route,
/// status and outcome, and why. A refusal of any record (a full queue, the spool's disk full,
/// an unknown topic, a closed producer) would refuse the minimal one too: it stands, counted
/// and logged.
pub(crate) fn send_entry(producer: &dyn Producer, entry: &AuditEntry) {
    let Err(error) = send(producer, entry) else {
        return;
    };
    if !matches!(
        error,
        EmitError::MessageTooLarge { .. }
            | EmitError::InvalidRecord { .. }
            | EmitError::Serialize(_)
    ) {
        return;
    }
    let minimal = AuditEntry {
        id: entry.id,
        http_method: entry.http_method.clone(),
        resource: entry.resource.clone(),
        endpoint: entry.endpoint.clone(),
        status_code: entry.status_code,
        outcome: entry.outcome,
        duration_ms: entry.duration_ms,
        timestamp: entry.timestamp,
        service: entry.service.clone(),
        subject: entry.subject.clone(),
        tenant_id: entry.tenant_id,
        request_id: entry.request_id.clone(),
        correlation_id: entry.correlation_id.clone(),
        anonymous: entry.anonymous,
        minimal: Some(format!("the full entry was refused: {error}")),
        ..AuditEntry::new()
    };
    let _ = send(producer, &minimal);
}

/// The first segment of a route: `/users/{id}` → `users`.
pub(crate) fn resource(endpoint: &str) -> String {
    let rest = endpoint.trim_start_matches('/');
    rest[..rest.find('/').unwrap_or(rest.len())].to_owned()
}

#[cfg(test)]
mod tests {
    use super::resource;

    #[test]
    fn resources() {
        assert_eq!(resource("/users/{id}"), "users");
        assert_eq!(resource("//v1/x"), "v1");
        assert_eq!(resource("/"), "");
        assert_eq!(resource(""), "");
        assert_eq!(resource("users"), "users");
        assert_eq!(resource("users/x"), "users");
    }
}
