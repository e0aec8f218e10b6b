//! Which browsers a server answers: the origins it grants CORS to ([`OriginPolicy`]: exact
//! origins, plus loopback origins on request) and the `Host` names that mean "this machine"
//! ([`is_loopback_host`], the guard against DNS rebinding). The app and both emulators decide
//! with these, so "loopback" means the same everywhere.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

/// The origins a server grants CORS to, with credentials: exact origins, plus every loopback
/// origin ([`is_loopback_origin`]) when `loopback` is set. Never `*`.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    exact: Arc<[HeaderValue]>,
    loopback: bool,
}

impl OriginPolicy {
    /// `origins` (each checked by [`check_origin`] beforehand; a trailing `/` is ignored, one
    /// that is not a header value is skipped) plus loopback origins when `loopback`.
    pub fn new(origins: &[String], loopback: bool) -> Self {
        let exact = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        Self { exact, loopback }
    }

    /// Whether no origin at all is allowed.
    pub fn is_off(&self) -> bool {
        self.exact.is_empty() && !self.loopback
    }

    /// Whether a page of `origin` may call the server.
    pub fn allows(&self, origin: &HeaderValue) -> bool {
        self.exact.contains(origin)
            || (self.loopback && origin.to_str().is_ok_and(is_loopback_origin))
    }

    /// A CORS layer granting exactly these origins, with credentials (the SignalR client
    /// negotiates `withCredentials`), for `GET`, `POST` and `DELETE` with whatever headers the
    /// preflight asks for; preflights are cached for 10 minutes.
    pub fn cors_layer(&self) -> CorsLayer {
        let policy = self.clone();
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                policy.allows(origin)
            }))
            .allow_credentials(true)
            .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(Duration::from_secs(600))
    }
}

/// Checks that `origin` is one exact origin, `scheme://host[:port]` without a path (a trailing
/// `/` is tolerated); `*` is refused, since credentials need exact origins.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Err("* cannot be used: the SignalR client sends credentials, which need exact origins (e.g. https://app.example.com)".into());
    }
    let parsed = url::Url::parse(origin)
        .map_err(|_| format!("{origin:?} is not an origin like https://app.example.com"))?;
    if parsed.origin().ascii_serialization() != origin.trim_end_matches('/') {
        return Err(format!(
            "{origin:?} must be scheme://host[:port] with no path"
        ));
    }
    Ok(())
}

/// `http(s)://localhost`, `127.0.0.1` or `[::1]` with any port and nothing else (an origin has
/// no path, user or query).
pub fn is_loopback_origin(origin: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| {
            matches!(
                without_port(authority),
                Some("localhost" | "127.0.0.1" | "[::1]")
            )
        })
}

/// Whether a `Host` header names this machine: `localhost` (any letter case), an IPv4 loopback
/// address (`127.0.0.1`, …) or `[::1]`, with or without a port. A name that merely resolves to
/// loopback (`rebind.example`) does not count: that is how DNS rebinding reaches local servers.
pub fn is_loopback_host(host: &str) -> bool {
    let Some(name) = without_port(host) else {
        return false;
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
    }
    // `IpAddr`'s parser takes only the dotted-quad form (no `127.1`, no octal).
    name.parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_ipv4() && ip.is_loopback())
}

/// `host[:port]` → `host`; `None` when the port is not 1 to 5 digits.
fn without_port(authority: &str) -> Option<&str> {
    let (host, port) = match authority.rsplit_once(':') {
        // `[::1]` alone: the colons are inside the brackets.
        Some((host, port)) if !authority.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    match port {
        Some(p) if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) => None,
        _ => Some(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_exactly_the_local_hosts() {
        for yes in [
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "https://localhost",
            "http://[::1]:3000",
            "http://[::1]",
        ] {
            assert!(is_loopback_origin(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "http://localhost.example.com:80",
            "http://127.0.0.1.nip.io",
            "http://evil.com#127.0.0.1",
            "http://127.0.0.1@evil.com",
            "file://",
            "null",
            "http://localhost:80/path",
            "http://[::1]:x",
            "http://localhost:",
            "http://localhost:123456",
        ] {
            assert!(!is_loopback_origin(no), "{no}");
        }
    }

    #[test]
    fn loopback_hosts_are_local_names_and_addresses_only() {
        for yes in [
            "127.0.0.1",
            "127.0.0.1:8888",
            "LOCALHOST:8888",
            "localhost",
            "[::1]",
            "[::1]:8080",
            "127.3.2.1:1",
        ] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in [
            "rebind.test:8888",
            "localhost.:8888",
            "localhost.rebind.test",
            "127.0.0.1.nip.io",
            "127.1:8888",
            "0.0.0.0:8888",
            "[::]:8888",
            "[::ffff:127.0.0.1]:8888",
            "::1",
            "192.168.1.2:8888",
            "127.0.0.1:",
            "127.0.0.1:88888888",
            "",
        ] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }

    #[test]
    fn the_policy_allows_exact_and_loopback_origins() {
        let value = |s: &'static str| HeaderValue::from_static(s);
        let exact = OriginPolicy::new(&["https://app.example.com/".into()], false);
        assert!(exact.allows(&value("https://app.example.com")));
        assert!(!exact.allows(&value("http://localhost:3000")));
        let local = OriginPolicy::new(&[], true);
        assert!(local.allows(&value("http://localhost:3000")));
        assert!(!local.allows(&value("https://evil.example")));
        assert!(OriginPolicy::new(&[], false).is_off());
        assert!(check_origin("*").is_err());
        assert!(check_origin("https://a.com/path").is_err());
        assert!(check_origin("https://a.com/").is_ok());
    }
}
