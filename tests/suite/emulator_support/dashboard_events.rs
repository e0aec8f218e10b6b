//! Reads the emulator dashboard's event stream (`/dashboard/events`, Server-Sent Events).

use std::time::Duration;

use serde_json::Value;

/// The open stream: named events with parsed JSON data.
pub struct Events {
    body: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens `{base}/dashboard/events` and checks it is an event stream.
    pub async fn open(base: &str) -> Self {
        let r = reqwest::get(format!("{base}/dashboard/events"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        Self {
            body: r,
            buffer: String::new(),
        }
    }

    /// The next event (`event:` name, parsed `data:`), skipping keep-alive comments; panics when
    /// none comes within 10 s or the stream ends.
    pub async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        name = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return (name, serde_json::from_str(&data).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.chunk())
                .await
                .expect("no dashboard event within 10 s")
                .unwrap()
                .expect("the event stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next change of `kind` (`connected`, `groups`, `send`, `upstream`, …), skipping others;
    /// a snapshot in between (the reader lagged) fails the test.
    pub async fn next_change(&mut self, kind: &str) -> Value {
        loop {
            let (name, data) = self.next().await;
            assert_eq!(name, "change", "expected changes, got a {name}");
            if data["type"] == kind {
                return data;
            }
        }
    }
}
