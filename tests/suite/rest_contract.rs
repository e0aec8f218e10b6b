//! Contract tests of the REST client (`service::rest`) against a real HTTP server on 127.0.0.1:
//! every operation's method, path and query are checked against the service's swagger, bodies
//! exactly, tokens with an independent verifier; then names, 404s, retries, timeouts and errors.
//! The server and the checks live in `rest_support/`; the cases in `rest_contract/`.

mod names_and_answers;
mod newer;
mod operations;
mod retries;

use serde_json::json;
use serverless_signalr::service::rest::Payload;

fn payload() -> Payload {
    Payload::new("newMessage", vec![json!("hello"), json!({"n": 1})])
}

fn payload_json() -> serde_json::Value {
    json!({"target": "newMessage", "arguments": ["hello", {"n": 1}]})
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| (*s).to_string()).collect()
}

/// A port with nothing listening on it.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address").port()
}
