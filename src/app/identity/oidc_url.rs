//! Which URLs an OIDC fetch may be sent to: `https`, or plain `http` to loopback only.

use url::{Host, Url};

use super::error::IdentityError;

/// Only `https` URLs, except plain `http` to a loopback host written as `localhost`,
/// `127.x.x.x` (any form the URL parser normalises to it, e.g. `2130706433`) or `[::1]`, for
/// local development and tests. Other spellings of "this machine" (`0.0.0.0`, `[::]`,
/// `[::ffff:127.0.0.1]`) are not loopback here and need `https` like any other host.
pub fn check_url(what: &str, url: &str) -> Result<(), IdentityError> {
    let problem = match Url::parse(url) {
        Ok(parsed) => url_problem(&parsed),
        Err(_) => Some("not a URL"),
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(IdentityError::Misconfigured(format!("{what} {url}: {why}"))),
    }
}

/// Why `url` may not be fetched, if it may not.
pub fn url_problem(url: &Url) -> Option<&'static str> {
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        // Only `::1`: `Ipv6Addr::is_loopback` is false for `::ffff:127.0.0.1` and `::`.
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => None,
        "http" if loopback => None,
        _ => Some("must be https (http only for localhost, 127.0.0.1 or [::1])"),
    }
}
