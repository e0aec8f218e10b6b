//! The HTTP transports a client may use, as the flags of ASP.NET Core's `HttpTransportType`
//! (WebSockets = 1, ServerSentEvents = 2, LongPolling = 4) that travel in the client token's
//! `asrs.s.htt` claim as a decimal string (`docs/protocol.md` §2). The app writes the claim from
//! `SIGNALR_ALLOWED_TRANSPORTS`; the emulator enforces it at negotiate and at connect.

/// One of the three transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// WebSockets (flag 1).
    WebSockets,
    /// Server-Sent Events (flag 2).
    ServerSentEvents,
    /// Long polling (flag 4).
    LongPolling,
}

impl Transport {
    /// Every transport, in the order negotiate lists them.
    pub const ALL: [Transport; 3] = [
        Transport::WebSockets,
        Transport::ServerSentEvents,
        Transport::LongPolling,
    ];

    /// The `HttpTransportType` flag.
    pub fn flag(self) -> u8 {
        match self {
            Transport::WebSockets => 1,
            Transport::ServerSentEvents => 2,
            Transport::LongPolling => 4,
        }
    }

    /// The name negotiate and the clients use.
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSockets => "WebSockets",
            Transport::ServerSentEvents => "ServerSentEvents",
            Transport::LongPolling => "LongPolling",
        }
    }
}

/// The claim type that carries the allowed transports.
pub const CLAIM: &str = "asrs.s.htt";

/// A set of allowed transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transports(u8);

impl Default for Transports {
    /// All three, as when the token has no `asrs.s.htt`.
    fn default() -> Self {
        Self(7)
    }
}

impl Transports {
    /// Parses a comma-separated list of transport names (case-insensitive), e.g.
    /// `WebSockets,LongPolling`; refuses unknown names and an empty list.
    pub fn parse_names(list: &str) -> Result<Self, String> {
        let mut bits = 0;
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let transport = Transport::ALL
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!("{name:?} is not a transport; use WebSockets, ServerSentEvents or LongPolling, comma-separated")
                })?;
            bits |= transport.flag();
        }
        if bits == 0 {
            return Err(
                "names no transport; list one or more of WebSockets, ServerSentEvents, LongPolling"
                    .into(),
            );
        }
        Ok(Self(bits))
    }

    /// Parses the claim's value: the decimal flags from 0 to 7.
    pub fn parse_claim(value: &str) -> Option<Self> {
        value
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|bits| *bits <= 7)
            .map(Self)
    }

    /// The claim's value.
    pub fn claim_value(self) -> String {
        self.0.to_string()
    }

    /// Whether `transport` is allowed.
    pub fn allows(self, transport: Transport) -> bool {
        self.0 & transport.flag() != 0
    }

    /// The allowed transports, in negotiate order.
    pub fn iter(self) -> impl Iterator<Item = Transport> {
        Transport::ALL.into_iter().filter(move |t| self.allows(*t))
    }

    /// The allowed transports' names, comma-separated (`none` when there are none).
    pub fn names(self) -> String {
        let names: Vec<&str> = self.iter().map(Transport::name).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_the_sdk_flags() {
        let t = Transports::parse_names("longpolling, ServerSentEvents").unwrap();
        assert_eq!(t.claim_value(), "6");
        assert!(!t.allows(Transport::WebSockets));
        assert_eq!(t.names(), "ServerSentEvents, LongPolling");
        assert_eq!(
            Transports::parse_names("WebSockets").unwrap().claim_value(),
            "1"
        );
        assert!(Transports::parse_names("WebSocket")
            .unwrap_err()
            .contains("\"WebSocket\" is not a transport"));
        assert!(Transports::parse_names(" , ").is_err());
    }

    #[test]
    fn claim_values_are_flags_up_to_seven() {
        assert_eq!(
            Transports::parse_claim("5").unwrap().names(),
            "WebSockets, LongPolling"
        );
        assert_eq!(Transports::parse_claim("0").unwrap().names(), "none");
        assert!(Transports::parse_claim("8").is_none());
        assert!(Transports::parse_claim("WebSockets").is_none());
    }
}
