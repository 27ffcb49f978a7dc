//! The transactional outbox in an axum service: `POST /orders` writes the order and stages an
//! `OrderPlaced` event in one PostgreSQL transaction; an `OutboxRelay` task publishes the
//! committed event to Kafka. An order the handler refuses after writing (a non-positive total)
//! rolls back, and its staged event with it: nothing is sent.
//!
//! ```text
//! cargo run --example outbox --features outbox-postgres -- --smoke   # two requests, prints what reached Kafka, exits
//! cargo run --example outbox --features outbox-postgres              # listens on 127.0.0.1:3001
//! DATABASE_URL=postgres://app@localhost/app KAFKA_BROKERS=127.0.0.1:9092 cargo run --example outbox --features outbox-postgres
//! ```
//!
//! Without `DATABASE_URL` it starts a throwaway PostgreSQL cluster from the system's binaries
//! (Debian: `postgresql`); without `KAFKA_BROKERS`, the embedded broker. Then:
//!
//! ```text
//! curl -s localhost:3001/orders -H 'content-type: application/json' -d '{"order_id":42,"total_cents":1999}'
//! curl -s localhost:3001/orders -H 'content-type: application/json' -d '{"order_id":43,"total_cents":0}'
//! ```

#[path = "../tests/support/postgres.rs"]
mod postgres;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use kafka_events::outbox::sqlx::{self, PgPool};
use kafka_events::outbox::{self, OutboxError, OutboxRelay, Stage};
use kafka_events::testing::{EmbeddedKafka, read_topic_idle};
use kafka_events::{KafkaConfig, KafkaEvent, KafkaProducer};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

#[derive(Serialize, KafkaEvent)]
#[event(topic = "orders", key = "order_id", type = "order.placed")]
struct OrderPlaced {
    order_id: i64,
    total_cents: i64,
}

#[derive(Deserialize)]
struct NewOrder {
    order_id: i64,
    total_cents: i64,
}

/// The handler's errors, as responses.
struct Failed(StatusCode, String);

impl From<sqlx::Error> for Failed {
    fn from(error: sqlx::Error) -> Self {
        Failed(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl From<OutboxError> for Failed {
    fn from(error: OutboxError) -> Self {
        Failed(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl axum::response::IntoResponse for Failed {
    fn into_response(self) -> axum::response::Response {
        (self.0, self.1).into_response()
    }
}

async fn place_order(
    State(pool): State<PgPool>,
    Json(order): Json<NewOrder>,
) -> Result<StatusCode, Failed> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO orders (id, total_cents) VALUES ($1, $2)")
        .bind(order.order_id)
        .bind(order.total_cents)
        .execute(&mut *tx)
        .await?;
    OrderPlaced {
        order_id: order.order_id,
        total_cents: order.total_cents,
    }
    .stage(&mut tx)
    .await?;
    if order.total_cents <= 0 {
        // Returning drops `tx`: it rolls back, and the order and its event are gone.
        return Err(Failed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the total must be positive".into(),
        ));
    }
    tx.commit().await?;
    Ok(StatusCode::CREATED)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let smoke = std::env::args().any(|a| a == "--smoke");

    // PostgreSQL: DATABASE_URL, or a throwaway cluster.
    let (url, _cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let cluster = postgres::Postgres::start().ok_or("no PostgreSQL: set DATABASE_URL")?;
            (cluster.url(), Some(cluster))
        }
    };
    let pool = PgPool::connect(&url).await?;
    outbox::postgres::migrate(&pool).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, total_cents bigint NOT NULL)",
    )
    .execute(&pool)
    .await?;

    // Kafka: KAFKA_BROKERS, or the embedded broker.
    let (bootstrap, _kafka) = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => (brokers, None),
        Err(_) => {
            let kafka = EmbeddedKafka::start()?;
            kafka.create_topic("orders", 3)?;
            (kafka.bootstrap_servers().to_owned(), Some(kafka))
        }
    };
    let producer = Arc::new(KafkaProducer::new(&KafkaConfig::new([bootstrap.clone()]))?);

    // The relay: a task of this service (or a process of its own).
    let relay = OutboxRelay::postgres(pool.clone(), producer).spawn();

    let app = Router::new()
        .route("/orders", post(place_order))
        .with_state(pool);

    if !smoke {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
        eprintln!("listening on 127.0.0.1:3001; Ctrl-C to stop");
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        relay.shutdown().await;
        return Ok(());
    }

    let order_id = std::process::id() as i64 * 10;
    for (id, total) in [(order_id, 1999), (order_id + 1, 0)] {
        let request = Request::post("/orders")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(format!(
                r#"{{"order_id":{id},"total_cents":{total}}}"#
            )))?;
        let response = app.clone().oneshot(request).await?;
        eprintln!(
            "POST /orders {{order_id: {id}, total_cents: {total}}} -> {}",
            response.status()
        );
    }
    // The committed order's event is published; the refused one's was rolled back.
    if !relay
        .wait_until(Duration::from_secs(20), |s| s.published >= 1)
        .await
    {
        return Err(format!("the relay published nothing: {:?}", relay.stats()).into());
    }
    relay.shutdown().await;
    let records = tokio::task::spawn_blocking(move || {
        read_topic_idle(
            &bootstrap,
            "orders",
            Duration::from_secs(1),
            Duration::from_secs(20),
        )
    })
    .await??;
    let keys: Vec<&str> = records.iter().filter_map(|r| r.key_str()).collect();
    for record in &records {
        println!(
            "{} (id {})",
            String::from_utf8_lossy(&record.payload),
            record.header_str(outbox::ID_HEADER).unwrap_or("-")
        );
    }
    let (placed, refused) = (order_id.to_string(), (order_id + 1).to_string());
    if !keys.contains(&placed.as_str()) || keys.contains(&refused.as_str()) {
        return Err(format!(
            "expected order {placed} and not {refused} on the topic, got {keys:?}"
        )
        .into());
    }
    eprintln!("order {placed} was published; order {refused} was rolled back and never sent");
    Ok(())
}
