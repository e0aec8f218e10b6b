//! Criterion micro-benchmarks of the per-request hot paths: client and REST token minting,
//! connection string parsing, JSON hub protocol framing (encode and decode) and the upstream
//! `X-ASRS-Signature` (HMAC-SHA256 of a connection id, hex). Run with `cargo bench`; the figures
//! are summarised in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use serverless_signalr::emulator::outgoing;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::hub_protocol::{json, Protocol};
use serverless_signalr::service::signature;
use serverless_signalr::service::token::{ClientClaims, TokenMinter};
use serverless_signalr::service::{ConnectionString, Secret};

/// The emulator-style connection string a local stack uses.
fn connection_string() -> String {
    format!("Endpoint=http://127.0.0.1;Port=8888;AccessKey={DEV_ACCESS_KEY};Version=1.0;")
}

fn tokens(c: &mut Criterion) {
    let connection =
        ConnectionString::parse(&connection_string()).expect("valid connection string");
    let minter = TokenMinter::new(&connection).expect("has an access key");
    let anonymous = ClientClaims::default();
    let user = ClientClaims {
        user_id: Some("user-0123456789".into()),
        claims: vec![("tid".into(), json!("tenant-1"))],
        roles: vec!["reader".into()],
        lifetime: None,
        ..ClientClaims::default()
    };
    let just_user = ClientClaims {
        user_id: Some("user-0123456789".into()),
        ..ClientClaims::default()
    };
    let mut group = c.benchmark_group("token");
    // Anonymous tokens are memoised per hub and second, so this is (almost always) a memo hit.
    group.bench_function("client_anonymous_memoised", |b| {
        b.iter(|| minter.client_token(black_box("default"), black_box(&anonymous)))
    });
    // Signed every time: the cost of a negotiate for an identified user.
    group.bench_function("client_user", |b| {
        b.iter(|| minter.client_token(black_box("default"), black_box(&just_user)))
    });
    group.bench_function("client_user_claims_role", |b| {
        b.iter(|| minter.client_token(black_box("default"), black_box(&user)))
    });
    group.bench_function("rest_send", |b| {
        b.iter(|| {
            let audience =
                minter.rest_audience(black_box("/api/hubs/default/:send?api-version=2022-06-01"));
            minter.rest_token(audience)
        })
    });
    group.finish();
}

fn connection_strings(c: &mut Criterion) {
    let text = connection_string();
    let full = format!(
        "Endpoint=https://contoso.service.signalr.net;AccessKey={DEV_ACCESS_KEY};Version=1.0;ClientEndpoint=https://edge.contoso.com;ServerEndpoint=https://internal.contoso.com;"
    );
    let mut group = c.benchmark_group("connection_string");
    group.bench_function("parse_emulator", |b| {
        b.iter(|| ConnectionString::parse(black_box(&text)))
    });
    group.bench_function("parse_client_server_endpoints", |b| {
        b.iter(|| ConnectionString::parse(black_box(&full)))
    });
    group.finish();
}

fn hub_protocol(c: &mut Criterion) {
    let arguments = json!(["alice", "hello, world", {"ts": 1_700_000_000_000u64, "seq": 42}]);
    let handshake = "{\"protocol\":\"json\",\"version\":1}";
    let invocation = "{\"type\":1,\"invocationId\":\"7\",\"target\":\"broadcast\",\"arguments\":[\"alice\",\"hello, world\"]}";
    let mut chunk = invocation.as_bytes().to_vec();
    chunk.push(json::RECORD_SEPARATOR);
    let mut group = c.benchmark_group("hub_protocol");
    group.bench_function("encode_invocation", |b| {
        b.iter(|| {
            outgoing::invocation(black_box("newMessage"), black_box(&arguments))
                .encode(Protocol::Json)
        })
    });
    group.bench_function("encode_ping", |b| {
        b.iter(|| outgoing::ping().encode(Protocol::Json))
    });
    group.bench_function("decode_handshake", |b| {
        b.iter(|| json::check_handshake(black_box(handshake), true))
    });
    group.bench_function("decode_invocation_record", |b| {
        b.iter(|| {
            // As the session does: feed the transport's bytes, then take records one by one.
            let mut records = json::Records::new(32 * 1024);
            records.feed(black_box(&chunk));
            let record = records.next_record().expect("one record").expect("valid");
            json::parse(&record)
        })
    });
    group.finish();
}

fn upstream_signature(c: &mut Criterion) {
    // Signing is the emulator's side (and the forward webhook's); checking is the app's
    // `/api/upstream` gate (HMAC per key,
    // hex decode of each entry, constant-time compare), here with a primary and a secondary key.
    let key = Secret::new(DEV_ACCESS_KEY);
    let keys = [
        Secret::new("secondary-key-0123456789abcdefghijklmnop"),
        key.clone(),
    ];
    let connection_id = "bR3xvJ8aQ0yHq5bYt1wZ2g";
    let header = signature::sign(&key, connection_id.as_bytes());
    let mut group = c.benchmark_group("upstream");
    group.bench_function("signature_sign", |b| {
        b.iter(|| signature::sign(black_box(&key), black_box(connection_id.as_bytes())))
    });
    group.bench_function("signature_check_two_keys", |b| {
        b.iter(|| {
            signature::is_valid(
                black_box(Some(header.as_bytes())),
                black_box(connection_id.as_bytes()),
                black_box(&keys),
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    tokens,
    connection_strings,
    hub_protocol,
    upstream_signature
);
criterion_main!(benches);
