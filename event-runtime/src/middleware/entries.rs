//! What the layers write: the [`AuditEntry`] and [`UsageEvent`] of a request that ended, and the
//! one place they hand an event over.

use uuid::Uuid;

use super::common::Common;
use super::lifecycle::{RequestEnd, Started};
use super::redact;
use crate::event::KafkaEvent;
use crate::models::{AuditEntry, UsageEvent, usage_metadata};
use crate::producer::Producer;

impl Started {
    /// The audit entry of the request, without its bodies.
    pub fn audit_entry(&self, common: &Common, end: RequestEnd) -> AuditEntry {
        let (identity, resource_id, correlation_id) = self.details();
        let (status_code, outcome) = end.kind.status_and_outcome();
        let anonymous = identity.is_none();
        let identity = identity.unwrap_or_default();
        AuditEntry {
            tenant_id: identity.tenant_id,
            subject: identity.subject,
            jti: identity.jti,
            http_method: self.method.to_string(),
            resource: resource(&self.endpoint),
            resource_id,
            payload: None,
            source_ip: self.client_addr.clone(),
            user_agent: self
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            timestamp: self.started_at,
            service: common.service.clone(),
            endpoint: self.endpoint.clone(),
            full_url: redact::redact_url(&self.uri, &common.masker.matcher),
            id: Uuid::new_v4(),
            correlation_id,
            request_id: self.request_id.clone(),
            status_code,
            duration_ms: end.at.saturating_duration_since(self.started).as_secs_f64() * 1000.0,
            response_payload: None,
            payload_truncated: false,
            outcome,
            anonymous,
        }
    }

    /// The usage event of the request, as the Go middleware's `UsageEntry` plus this crate's
    /// fields.
    pub fn usage_event(&self, common: &Common, end: RequestEnd) -> UsageEvent {
        let (identity, _, _) = self.details();
        let identity = identity.unwrap_or_default();
        let (ended, end) = (end.kind, end.at_utc);
        let mut event = UsageEvent::new(&common.service, self.started_at, end);
        event.metadata = Some(usage_metadata(&identity.subject, &common.service));
        event.subject = identity.subject;
        event.tenant_id = identity.tenant_id;
        event.product_id = common.product_id;
        event.memory_mb = common.memory_mb;
        event.endpoint = self.endpoint.clone();
        event.owner_id = self.owner_id.clone();
        event.message = self.message.clone();
        event.outcome = ended.status_and_outcome().1;
        event.timestamp = end;
        event
    }
}

/// The one place the layers hand an event over: detached, so no request waits for the broker;
/// a refusal is logged, never turned into an error for the request.
pub(crate) fn send<E: KafkaEvent>(producer: &dyn Producer, event: &E) {
    if let Err(error) = event.emit_detached(producer) {
        tracing::error!(%error, topic = E::TOPIC, key = ?event.key(), "kafka-events: event not taken");
    }
}

/// The first segment of a route: `/users/{id}` → `users`.
pub(crate) fn resource(endpoint: &str) -> String {
    endpoint
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::resource;

    #[test]
    fn resources() {
        assert_eq!(resource("/users/{id}"), "users");
        assert_eq!(resource("//v1/x"), "v1");
        assert_eq!(resource("/"), "");
    }
}
