//! `ping`: answered with a `pong`.

use crate::emulator::outbox::Frame;
use crate::emulator::webpubsub::connected::Connected;

/// `{"type":"ping"}`.
#[derive(Debug)]
pub struct Ping;

impl Ping {
    /// Answers `{"type":"pong"}`.
    pub fn apply(self, client: &Connected) {
        client.outbox.push(Frame::text(r#"{"type":"pong"}"#));
    }
}
