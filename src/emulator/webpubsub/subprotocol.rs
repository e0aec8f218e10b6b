//! The names of the JSON subprotocols a Web PubSub client asks for in `Sec-WebSocket-Protocol`.

/// The json subprotocol.
pub const JSON: &str = "json.webpubsub.azure.v1";
/// The reliable json subprotocol.
pub const RELIABLE: &str = "json.reliable.webpubsub.azure.v1";
