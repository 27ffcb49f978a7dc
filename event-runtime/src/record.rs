//! [`Record`]: a record as a broker stored it, read back by [`MemoryProducer`](crate::MemoryProducer)
//! or [`testing::read_topic`](crate::testing::read_topic).

use serde::de::DeserializeOwned;

use crate::producer::{Header, find_header};

/// A stored record: where it landed, its key, payload and headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The physical topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset within the partition.
    pub offset: i64,
    /// The key bytes (empty when the record had none).
    pub key: Vec<u8>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        find_header(&self.headers, name)
    }

    /// The value of the first header with this name, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The key as UTF-8 text.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }

    /// The payload as a JSON value.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }

    /// The payload decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}
