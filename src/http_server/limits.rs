//! The limits every HTTP listener of the binary (the app's and the emulator's) enforces on its
//! connections, so that slow or idle clients cannot hold sockets and memory for ever.

use std::time::Duration;

/// Connection limits of one listener. [`ServerLimits::default`] gives the production values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has to send a request's head (request line and headers), counted from
    /// its first byte (10 s). Then the connection is closed.
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's whole body, counted from the end of its head
    /// (30 s). Then the request is answered `408` and the connection closed.
    pub body_read_timeout: Duration,
    /// How long a keep-alive connection may stay open with no request on it (90 s). A request in
    /// progress (a long poll, a Server-Sent Events stream) is never idle, and an upgraded
    /// WebSocket follows its own keep-alive rules instead.
    pub idle_timeout: Duration,
    /// How many connections (WebSockets included) may be open at once (4096). Beyond it new
    /// connections wait in the listen backlog until one closes; this is logged once.
    pub max_connections: usize,
}

impl ServerLimits {
    /// Default [`Self::header_read_timeout`].
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`Self::body_read_timeout`].
    pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default [`Self::idle_timeout`].
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
    /// Default [`Self::max_connections`].
    pub const MAX_CONNECTIONS: usize = 4096;

    /// How often a connection checks its timeouts: a quarter of the shortest one, between 10 ms
    /// and 1 s.
    pub(super) fn check_interval(&self) -> Duration {
        (self.header_read_timeout.min(self.idle_timeout) / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::HEADER_READ_TIMEOUT,
            body_read_timeout: Self::BODY_READ_TIMEOUT,
            idle_timeout: Self::IDLE_TIMEOUT,
            max_connections: Self::MAX_CONNECTIONS,
        }
    }
}
