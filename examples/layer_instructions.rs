//! What the audit layer costs in instructions, which callgrind counts the same on any run
//! (unlike time on a shared machine): `N` requests of `examples/audit_overhead.rs` (a `POST`
//! with a 189 B JSON body holding a field to mask) go through an axum router in one thread,
//! without a network, plain or behind `AuditLayer` with a producer that drops every record
//! (entries are still built, masked and serialized). The layer's instructions per request are
//! the difference of the two slopes:
//!
//! ```text
//! cargo build --release --example layer_instructions
//! for mode in plain audited; do for n in 1000 3000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/layer_instructions $mode $n 2>&1 | grep Collected
//! done; done
//! # per request: (count at 3000 - count at 1000) / 2000, audited minus plain
//! ```
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::post;
use http_body_util::BodyExt;
use kafka_events::middleware::AuditLayer;
use tower::ServiceExt;

#[allow(dead_code)] // Its handler, body and dropping producer; not its `main`.
#[path = "audit_overhead.rs"]
mod audit_overhead;

use audit_overhead::{BODY, Null, create_order};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(Ok(n))) = (args.next(), args.next().map(|n| n.parse::<usize>())) else {
        eprintln!("usage: layer_instructions plain|audited REQUESTS");
        std::process::exit(2);
    };
    let audited = mode == "audited";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut app = Router::new().route("/orders", post(create_order));
        if audited {
            app = app.layer(AuditLayer::new(Null).service_name("bench"));
        }
        // As `axum::serve` does (`into_make_service` calls it): handlers made into services
        // once, not again at every request (which would count axum's work as the layer's).
        let app: Router = app.with_state(());
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        for _ in 0..n {
            let mut request = http::Request::post("/orders")
                .header("host", "bench")
                .header("content-type", "application/json")
                .header("user-agent", "audit-overhead")
                .header("content-length", BODY.len())
                .body(Body::from(BODY))
                .unwrap();
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = app.clone().oneshot(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            std::hint::black_box(body);
        }
    });
}
