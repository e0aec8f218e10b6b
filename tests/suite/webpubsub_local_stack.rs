//! The local stack's Web PubSub side on the real binary: the banner's curl, pasted as printed,
//! reaches a client that negotiated through the app, as a new user would try it.

use crate::support;

use futures_util::StreamExt;
use serde_json::Value;
use support::binary;
use tokio_tungstenite::tungstenite::Message;

/// The URL and the `-d` body of the banner's Web PubSub curl line.
fn printed_curl(banner: &str) -> (String, String) {
    let line = banner
        .lines()
        .find(|l| l.contains("Web PubSub try:"))
        .unwrap_or_else(|| panic!("no Web PubSub curl in the banner:\n{banner}"));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let body = line.split(" -d '").nth(1).unwrap().trim_end_matches('\'');
    (url, body.to_string())
}

#[tokio::test]
async fn the_printed_curl_reaches_a_client_that_negotiated_through_the_app() {
    let handler = binary::spawn(false, &[]).await;
    handler.stdout.wait_for("Web PubSub try:").await;
    let (url, body) = printed_curl(&handler.stdout.text());
    assert_eq!(url, format!("{}/api/webpubsub/actions", handler.base));
    let http = reqwest::Client::new();
    let negotiated: Value = http
        .post(format!("{}/api/webpubsub/negotiate", handler.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_url = negotiated["url"].as_str().unwrap();
    let (mut socket, _) = tokio_tungstenite::connect_async(client_url).await.unwrap();
    let sent = http
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(sent.status().is_success(), "{}", sent.text().await.unwrap());
    let received = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the message never arrived");
    assert_eq!(received, "hello");
}
