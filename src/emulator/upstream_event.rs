//! What the upstream hears about a connection: it connected, it invoked a hub method, it left.

/// One event of a connection, on its way to the upstream.
#[derive(Debug)]
pub enum UpstreamEvent {
    /// The handshake completed.
    Connected,
    /// A client invocation (type 1) as the client encoded it, without its framing.
    Invocation {
        /// The invocation as the client encoded it.
        raw: Vec<u8>,
        /// `application/json` or `application/x-msgpack`, after the client's protocol.
        content_type: &'static str,
        /// The method name.
        target: String,
        /// Present when the client waits for a completion.
        invocation_id: Option<String>,
    },
    /// The connection ended, with an error when it did not end cleanly.
    Disconnected {
        /// What went wrong, if anything.
        error: Option<String>,
    },
}
