//! Writes the AsyncAPI 3.0 document of the three ready-made models: the `audit` and `usage`
//! channels with their Kafka bindings, and the `AuditEntry`, `AuthEvent` and `UsageEvent`
//! messages with their payload, key and header schemas.
//!
//! ```text
//! cargo run --example asyncapi                        # YAML on standard output
//! cargo run --example asyncapi -- --json              # JSON
//! cargo run --example asyncapi -- --out asyncapi.yaml # to a file (.yaml, .yml or .json)
//! ```

use kafka_events::contract::AsyncApi;
use kafka_events::{AuditEntry, AuthEvent, UsageEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let document = AsyncApi::new("kafka-events request events", env!("CARGO_PKG_VERSION"))
        .description(
            "The events kafka-events' HTTP middleware writes for every request, in the Go \
             services' wire format: an audit entry, an auth event for each login and \
             authorization decision, and a usage record.",
        )
        .event::<AuditEntry>()
        .event::<AuthEvent>()
        .event::<UsageEvent>();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => print!("{}", document.to_yaml()?),
        ["--json"] => print!("{}", document.to_json()?),
        ["--out", path] => document.write(path)?,
        _ => return Err("usage: asyncapi [--json | --out FILE]".into()),
    }
    Ok(())
}
