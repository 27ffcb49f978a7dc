//! [`KafkaConfig`]: what a [`KafkaProducer`](crate::KafkaProducer) is built from: its fields and
//! builders ([`fields`]), the overflow and partitioning policies ([`policy`]), reading it from
//! the environment ([`env`]), and turning it into librdkafka's configuration ([`client`]).

mod client;
mod env;
mod fields;
mod policy;

pub use fields::KafkaConfig;
pub use policy::{OverflowPolicy, Partitioner};
