// `write_json_with` is `fast_json`'s: refused without it, on a redacted or skipped field, when
// it is not a path, and when its function returns something (an error it would drop).
use kafka_events::KafkaEvent;
use serde::Serialize;

fn write_u64(value: &u64, out: &mut Vec<u8>) {
    out.extend_from_slice(value.to_string().as_bytes());
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id")]
struct WithoutFastJson {
    id: u64,
    #[event(write_json_with = "write_u64")]
    amount: u64,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json)]
struct Redacted {
    id: u64,
    #[event(redact, write_json_with = "write_u64")]
    pin: u64,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json)]
struct NotAPath {
    id: u64,
    #[event(write_json_with = "not a path")]
    amount: u64,
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json)]
struct Skipped {
    id: u64,
    #[serde(skip)]
    #[event(write_json_with = "write_u64")]
    amount: u64,
}

fn write_or_fail(value: &u64, out: &mut Vec<u8>) -> Result<(), std::fmt::Error> {
    write_u64(value, out);
    Ok(())
}

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "id", fast_json)]
struct ReturnsAResult {
    id: u64,
    #[event(write_json_with = "write_or_fail")]
    amount: u64,
}

fn main() {}
