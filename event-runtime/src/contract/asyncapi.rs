//! [`AsyncApi`]: an AsyncAPI 3.0 document for a set of events, as JSON or YAML.
//!
//! Each topic is a channel with its Kafka binding; each event is a message with its payload
//! schema (the same as its contract's, in the draft-07 form AsyncAPI schemas extend, nested types
//! under `components.schemas`), its key schema (the Kafka message binding's `key`) and its
//! headers: `content-type` and `event-type` as the producer writes them, the W3C trace context
//! (`traceparent`, `tracestate`) when one is propagated, and any header added with
//! [`AsyncApi::optional_header`]. The application's operations send them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::error::{AsyncApiError, SchemaError};
use super::schema::{components_generator, definitions, payload_schema};
use super::shape::{Kind, Shape};
use crate::event::KafkaEvent;
use crate::message::headers;

/// The Kafka bindings' version this document follows.
const KAFKA_BINDING: &str = "0.5.0";

/// An AsyncAPI 3.0 document for a set of events.
///
/// ```
/// use kafka_events::contract::AsyncApi;
/// use kafka_events::{AuditEntry, AuthEvent, UsageEvent};
///
/// let document = AsyncApi::new("Request events", "1.0.0")
///     .description("What every HTTP service writes")
///     .server("production", "kafka-1.internal:9092")
///     .address("audit", "prod.audit.v1")
///     .event::<AuditEntry>()
///     .event::<AuthEvent>()
///     .event::<UsageEvent>();
///
/// let yaml = document.to_yaml()?;
/// assert!(yaml.contains("address: prod.audit.v1"));
/// let json = document.to_value()?;
/// assert_eq!(json["channels"]["audit"]["address"], "prod.audit.v1");
/// let message = &json["components"]["messages"]["AuditEntry"];
/// assert_eq!(message["bindings"]["kafka"]["key"]["format"], "uuid");
/// assert_eq!(message["headers"]["properties"]["event-type"]["enum"][0], "audit.log");
/// # Ok::<(), kafka_events::contract::AsyncApiError>(())
/// ```
#[derive(Clone, Debug)]
pub struct AsyncApi {
    title: String,
    version: String,
    description: Option<String>,
    servers: Vec<(String, String)>,
    addresses: BTreeMap<String, String>,
    headers: Vec<(String, Value)>,
    events: Vec<Result<Event, SchemaError>>,
    generator: SchemaGenerator,
}

/// One event, as a message.
#[derive(Clone, Debug)]
struct Event {
    title: String,
    topic: &'static str,
    event_types: Vec<&'static str>,
    key_field: Option<&'static str>,
    payload: Value,
}

impl AsyncApi {
    /// A document for the application `title`, at `version` (the document's, not AsyncAPI's).
    pub fn new(title: &str, version: &str) -> Self {
        AsyncApi {
            title: title.to_owned(),
            version: version.to_owned(),
            description: None,
            servers: Vec::new(),
            addresses: BTreeMap::new(),
            headers: Vec::new(),
            events: Vec::new(),
            generator: components_generator(),
        }
    }

    /// What the application is (Markdown).
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    /// A Kafka broker (`host:port`), under a name such as `production`.
    pub fn server(mut self, name: &str, host: &str) -> Self {
        self.servers.push((name.to_owned(), host.to_owned()));
        self
    }

    /// The physical topic of a logical one, as the producer's
    /// [`KafkaConfig::topics`](crate::KafkaConfig::topics) maps it; by default a channel's
    /// address is the logical topic.
    pub fn address(mut self, topic: &str, physical: &str) -> Self {
        self.addresses.insert(topic.to_owned(), physical.to_owned());
        self
    }

    /// A header that some records carry, described by a JSON Schema, listed on every message
    /// as optional (for example CloudEvents' `ce_id`).
    ///
    /// ```
    /// use kafka_events::contract::AsyncApi;
    /// use kafka_events::AuditEntry;
    ///
    /// let document = AsyncApi::new("Audit", "1.0.0")
    ///     .optional_header("ce_id", serde_json::json!({"type": "string"}))
    ///     .event::<AuditEntry>()
    ///     .to_value()?;
    /// let headers = &document["components"]["messages"]["AuditEntry"]["headers"];
    /// assert_eq!(headers["properties"]["ce_id"]["type"], "string");
    /// assert!(!headers["required"].as_array().unwrap().contains(&"ce_id".into()));
    /// # Ok::<(), kafka_events::contract::SchemaError>(())
    /// ```
    pub fn optional_header(mut self, name: &str, schema: Value) -> Self {
        self.headers.push((name.to_owned(), schema));
        self
    }

    /// Adds the event `E`: a message on its topic's channel.
    pub fn event<E: KafkaEvent + JsonSchema>(mut self) -> Self {
        let event = payload_schema::<E>(&mut self.generator).map(|payload| Event {
            title: E::schema_name().into_owned(),
            topic: E::TOPIC,
            event_types: E::EVENT_TYPE.map_or_else(|| E::EVENT_TYPES.to_vec(), |t| vec![t]),
            key_field: E::KEY_FIELD,
            payload,
        });
        self.events.push(event);
        self
    }

    /// The document as a JSON value.
    pub fn to_value(&self) -> Result<Value, SchemaError> {
        let schemas = definitions(&self.generator);
        let root = json!({"components": {"schemas": schemas}});
        let mut channels = Map::new();
        let mut operations = Map::new();
        let mut messages = Map::new();
        for event in &self.events {
            let event = event.clone()?;
            let id = unique_id(&event.title, &messages);
            let address = self
                .addresses
                .get(event.topic)
                .map_or(event.topic, String::as_str);
            let channel = channels.entry(event.topic).or_insert_with(|| {
                json!({
                    "address": address,
                    "messages": {},
                    "bindings": {"kafka": {"topic": address, "bindingVersion": KAFKA_BINDING}},
                })
            });
            channel["messages"][&id] = json!({"$ref": format!("#/components/messages/{id}")});
            let operation = operations
                .entry(format!("send.{}", event.topic))
                .or_insert_with(|| {
                    json!({
                        "action": "send",
                        "channel": {"$ref": format!("#/channels/{}", event.topic)},
                        "messages": [],
                    })
                });
            if let Some(refs) = operation["messages"].as_array_mut() {
                refs.push(json!({"$ref": format!("#/channels/{}/messages/{id}", event.topic)}));
            }
            messages.insert(id, self.message(&event, &root));
        }
        let mut info = json!({"title": self.title, "version": self.version});
        if let Some(description) = &self.description {
            info["description"] = json!(description);
        }
        let mut document = json!({
            "asyncapi": "3.0.0",
            "info": info,
            "defaultContentType": headers::APPLICATION_JSON,
            "channels": channels,
            "operations": operations,
            "components": {"messages": messages, "schemas": root["components"]["schemas"]},
        });
        if !self.servers.is_empty() {
            let servers: Map<String, Value> = self
                .servers
                .iter()
                .map(|(name, host)| (name.clone(), json!({"host": host, "protocol": "kafka"})))
                .collect();
            document["servers"] = Value::Object(servers);
        }
        Ok(document)
    }

    /// The document as JSON text (pretty, its sections in the specification's order, ending in
    /// a newline).
    pub fn to_json(&self) -> Result<String, SchemaError> {
        let document = self.to_value()?;
        let mut text =
            serde_json::to_string_pretty(&Sections::of(&document)).expect("a Value serializes");
        text.push('\n');
        Ok(text)
    }

    /// The document as YAML text, its sections in the specification's order.
    ///
    /// ```
    /// use kafka_events::contract::AsyncApi;
    /// use kafka_events::UsageEvent;
    ///
    /// let yaml = AsyncApi::new("Usage", "1.0.0").event::<UsageEvent>().to_yaml()?;
    /// assert!(yaml.starts_with("asyncapi: \"3.0.0\"\ninfo:\n"));
    /// # Ok::<(), kafka_events::contract::AsyncApiError>(())
    /// ```
    pub fn to_yaml(&self) -> Result<String, AsyncApiError> {
        let document = self.to_value()?;
        serde_saphyr::to_string(&Sections::of(&document))
            .map_err(|e| AsyncApiError::Yaml(e.to_string()))
    }

    /// Writes the document to `path`, as YAML (`.yaml`, `.yml`) or JSON (`.json`).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), AsyncApiError> {
        let path = path.as_ref();
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => self.to_json()?,
            Some("yaml" | "yml") => self.to_yaml()?,
            _ => {
                return Err(AsyncApiError::Extension {
                    path: path.to_owned(),
                });
            }
        };
        std::fs::write(path, text).map_err(|source| AsyncApiError::Io {
            path: path.to_owned(),
            source,
        })
    }

    fn message(&self, event: &Event, root: &Value) -> Value {
        let mut message = json!({
            "name": match event.event_types.as_slice() {
                [only] => *only,
                _ => &event.title,
            },
            "title": event.title,
            "contentType": headers::APPLICATION_JSON,
            "headers": self.headers_schema(&event.event_types),
            "payload": event.payload,
            "bindings": {"kafka": {
                "key": key_schema(&event.payload, event.key_field, root),
                "bindingVersion": KAFKA_BINDING,
            }},
        });
        if let Some(description) = event.payload.get("description").and_then(Value::as_str) {
            let summary = description.lines().next().unwrap_or_default();
            message["summary"] = json!(summary);
        }
        message
    }

    fn headers_schema(&self, event_types: &[&str]) -> Value {
        let mut properties = Map::new();
        let mut required = vec![headers::CONTENT_TYPE];
        properties.insert(
            headers::CONTENT_TYPE.into(),
            json!({"type": "string", "const": headers::APPLICATION_JSON, "description": "The payload's media type."}),
        );
        let event_type = if event_types.is_empty() {
            json!({"type": "string", "description": "The event type, when the event has one."})
        } else {
            required.push(headers::EVENT_TYPE);
            json!({"type": "string", "enum": event_types, "description": "The event type, which consumers route on."})
        };
        properties.insert(headers::EVENT_TYPE.into(), event_type);
        properties.insert(
            "traceparent".into(),
            json!({
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C Trace Context: the trace the event belongs to, when the producer propagates one.",
            }),
        );
        properties.insert(
            "tracestate".into(),
            json!({"type": "string", "description": "W3C Trace Context: vendor trace state, with `traceparent`."}),
        );
        for (name, schema) in &self.headers {
            properties.insert(name.clone(), schema.clone());
        }
        json!({"type": "object", "properties": properties, "required": required})
    }
}

/// The document's top level in the order the specification lists it (a `Value` sorts its keys).
#[derive(serde::Serialize)]
struct Sections<'a> {
    asyncapi: &'a Value,
    info: &'a Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    servers: &'a Value,
    #[serde(rename = "defaultContentType")]
    default_content_type: &'a Value,
    channels: &'a Value,
    operations: &'a Value,
    components: &'a Value,
}

impl<'a> Sections<'a> {
    fn of(document: &'a Value) -> Self {
        Sections {
            asyncapi: &document["asyncapi"],
            info: &document["info"],
            servers: &document["servers"],
            default_content_type: &document["defaultContentType"],
            channels: &document["channels"],
            operations: &document["operations"],
            components: &document["components"],
        }
    }
}

/// `title`, or `title_2`, `title_3`, ... when a message has it already.
fn unique_id(title: &str, messages: &Map<String, Value>) -> String {
    let taken: BTreeSet<&str> = messages.keys().map(String::as_str).collect();
    std::iter::once(title.to_owned())
        .chain((2..).map(|n| format!("{title}_{n}")))
        .find(|id| !taken.contains(id.as_str()))
        .expect("an unused id")
}

/// The record key: the key field written as text (an integer as its digits).
fn key_schema(payload: &Value, key_field: Option<&str>, root: &Value) -> Value {
    let Some((name, field)) =
        key_field.and_then(|name| Some((name, payload["properties"].get(name)?)))
    else {
        return json!({"type": "string"});
    };
    let shape = Shape::read(field, root);
    let kinds = shape.all_kinds();
    let mut key = json!({"type": "string", "description": format!("The `{name}` field, as text.")});
    if kinds == BTreeSet::from([Kind::String]) {
        if let Some(format) = &shape.format {
            key["format"] = json!(format);
        }
    } else if kinds == BTreeSet::from([Kind::Integer]) {
        key["pattern"] = json!("^-?[0-9]+$");
    }
    key
}
