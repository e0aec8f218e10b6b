//! What a token's `aud` must name, and how an `aud` value is compared with it after the
//! normalisation of `docs/protocol.md` §6: scheme and host without port, percent-decoded path
//! without empty segments, the hub ignoring case; a REST call's `application` folded into its
//! hub, a client's `?hub=` required.

use axum::http::{header, HeaderMap, Uri};
use percent_encoding::percent_decode_str;

use super::AuthError;

/// What the token's `aud` must name: the endpoint the request reached.
#[derive(Debug, Clone)]
pub struct Audience {
    scheme: String,
    host: String,
    segments: Vec<String>,
    hub: Option<String>,
    /// A REST call's `?application=`, lowercased.
    application: Option<String>,
}

/// How one `aud` value compares with the expected audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fit {
    Matches,
    /// Right endpoint, but a client audience without `?hub=`.
    NoHub,
    Wrong,
}

impl Audience {
    /// The audience of a REST request: this request's scheme, host and path, and the
    /// `application` the request names (which makes its hub `{application}_{hub}`).
    pub fn rest(
        headers: &HeaderMap,
        uri: &Uri,
        application: Option<&str>,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            scheme: request_scheme(headers),
            host: request_host(headers, uri)?,
            segments: normalise_path(uri.path()),
            hub: None,
            application: application.map(str::to_ascii_lowercase),
        })
    }

    /// The audience of a client connection to `hub`: `/client` with a `?hub=` equal to `hub`
    /// ignoring case (the SDKs always put it there).
    pub fn client(headers: &HeaderMap, uri: &Uri, hub: &str) -> Result<Self, AuthError> {
        Ok(Self {
            scheme: request_scheme(headers),
            host: request_host(headers, uri)?,
            segments: vec!["client".into()],
            hub: Some(hub.to_ascii_lowercase()),
            application: None,
        })
    }

    /// How `aud` compares with this audience.
    pub(super) fn fit(&self, aud: &str) -> Fit {
        if self.plain_rest_match(aud) {
            return Fit::Matches;
        }
        self.fit_parsed(aud)
    }

    /// [`Self::fit`] with `aud` parsed as a URL: every form, as `docs/protocol.md` §6 says.
    fn fit_parsed(&self, aud: &str) -> Fit {
        let Ok(url) = url::Url::parse(aud) else {
            return Fit::Wrong;
        };
        let host_ok = url.scheme().eq_ignore_ascii_case(&self.scheme)
            && url
                .host_str()
                .is_some_and(|got| got.eq_ignore_ascii_case(&self.host));
        if !host_ok {
            return Fit::Wrong;
        }
        let Some(hub) = &self.hub else {
            // REST: the hub the token names, its `application` applied, is the request's.
            let application = url
                .query_pairs()
                .find(|(k, v)| k.eq_ignore_ascii_case("application") && !v.is_empty())
                .map(|(_, v)| v.to_ascii_lowercase());
            let named = with_application(normalise_path(url.path()), application.as_deref());
            let wanted = with_application(self.segments.clone(), self.application.as_deref());
            return if named == wanted {
                Fit::Matches
            } else {
                Fit::Wrong
            };
        };
        if normalise_path(url.path()) != self.segments {
            return Fit::Wrong;
        }
        let hubs: Vec<_> = url
            .query_pairs()
            .filter(|(k, _)| k.eq_ignore_ascii_case("hub"))
            .map(|(_, v)| v)
            .collect();
        if hubs.is_empty() {
            Fit::NoHub
        } else if hubs.iter().all(|v| v.eq_ignore_ascii_case(hub)) {
            Fit::Matches
        } else {
            Fit::Wrong
        }
    }

    /// Whether `aud` is a REST audience in the plain form the SDKs mint
    /// (`http[s]://{host}[:port]/{path}[?query]`) that names this endpoint. Such an `aud` is what
    /// a URL parser leaves unchanged (canonical host, no `%`, `.` segments, `#`, `\\`, spaces or
    /// `application`), so this compares it as the full check below would, without parsing a URL
    /// per request; `false` means "not plain, or not equal": the full check decides.
    fn plain_rest_match(&self, aud: &str) -> bool {
        if self.hub.is_some() || self.application.is_some() {
            return false;
        }
        let Some((scheme, rest)) = aud.split_once("://") else {
            return false;
        };
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some(slash) = before_query.find('/') else {
            return false;
        };
        let (authority, path) = before_query.split_at(slash);
        let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
        scheme.eq_ignore_ascii_case(&self.scheme)
            && host.eq_ignore_ascii_case(&self.host)
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && plain_port(port)
            && path.bytes().all(plain_path_byte)
            && query.bytes().all(|b| plain_path_byte(b) || b == b'?')
            && !contains_ignoring_case(query, "application")
            && same_segments(path, &self.segments)
    }

    #[cfg(test)]
    pub(super) fn matches(&self, aud: &str) -> bool {
        self.fit(aud) == Fit::Matches
    }
}

impl std::fmt::Display for Audience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}/{}",
            self.scheme,
            self.host,
            self.segments.join("/")
        )?;
        if let Some(hub) = &self.hub {
            write!(f, "/?hub={hub}")?;
        }
        if let Some(application) = &self.application {
            write!(f, "?application={application}")?;
        }
        Ok(())
    }
}

/// The path with the hub segment (the one after `hubs`) replaced by `{application}_{hub}`.
fn with_application(mut segments: Vec<String>, application: Option<&str>) -> Vec<String> {
    let Some(application) = application else {
        return segments;
    };
    if let Some(i) = segments.iter().position(|s| s == "hubs") {
        if let Some(hub) = segments.get_mut(i + 1) {
            *hub = format!("{application}_{hub}");
        }
    }
    segments
}

/// A byte a URL parser keeps as it is in a path (RFC 3986 `pchar` without `%`, and `/`).
fn plain_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

/// 1 to 5 decimal digits naming a port (0..=65535).
fn plain_port(port: &str) -> bool {
    (1..=5).contains(&port.len())
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok()
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Whether a plain `path` (only [`plain_path_byte`]s) normalises to `expected` as
/// [`normalise_path`] would, without allocating; `.` and `..` segments are not plain.
fn same_segments(path: &str, expected: &[String]) -> bool {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let mut previous: Option<&str> = None;
    for (i, wanted) in expected.iter().enumerate() {
        let Some(got) = segments.next() else {
            return false;
        };
        if got == "." || got == ".." {
            return false;
        }
        let folded = previous.is_some_and(|p| p.eq_ignore_ascii_case("hubs"))
            || (i < 3 && FIXED.iter().any(|f| got.eq_ignore_ascii_case(f)));
        let equal = if folded {
            got.eq_ignore_ascii_case(wanted)
        } else {
            got == wanted
        };
        if !equal {
            return false;
        }
        previous = Some(got);
    }
    segments.next().is_none()
}

/// The leading segments [`normalise_path`] lowercases.
const FIXED: [&str; 4] = ["api", "v1", "hubs", "client"];

fn request_scheme(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| v == "http" || v == "https")
        .unwrap_or_else(|| "http".to_string())
}

/// The host the request reached: the `Host` header, else the request URI's authority (HTTP/2
/// `:authority`, or an absolute-form request target); without either, `aud` cannot be checked.
fn request_host(headers: &HeaderMap, uri: &Uri) -> Result<String, AuthError> {
    let from_header = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(|raw| {
            plain_host(raw).map(str::to_ascii_lowercase).or_else(|| {
                url::Url::parse(&format!("http://{raw}/"))
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_ascii_lowercase))
            })
        });
    from_header
        .or_else(|| uri.host().map(str::to_ascii_lowercase))
        .filter(|host| !host.is_empty())
        .ok_or(AuthError::NoHost)
}

/// The host of a `Host` value a URL parser would keep as it is (but for letter case): a domain of
/// letters, digits and `-` (no IDNA `xn--` label) or a dotted-quad IPv4 address in decimal, with
/// an optional port. Anything else (IPv6, other number forms, `%`) is left to the parser.
fn plain_host(raw: &str) -> Option<&str> {
    let (host, port) = raw.split_once(':').unwrap_or((raw, "80"));
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && !label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let last = host.rsplit('.').next().unwrap_or("");
    let number_ok = !last.starts_with(|c: char| c.is_ascii_digit())
        || (host.split('.').count() == 4
            && host.split('.').all(|part| {
                part.len() <= 3
                    && part.bytes().all(|b| b.is_ascii_digit())
                    && (part == "0" || !part.starts_with('0'))
                    && part.parse::<u8>().is_ok()
            }));
    (labels_ok && number_ok && plain_port(port)).then_some(host)
}

/// Percent-decoded path segments without empty ones; the segment after `hubs` is lowercased.
pub(super) fn normalise_path(path: &str) -> Vec<String> {
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    for i in 1..segments.len() {
        if segments[i - 1].eq_ignore_ascii_case("hubs") {
            segments[i] = segments[i].to_ascii_lowercase();
        }
    }
    for fixed in segments.iter_mut().take(3) {
        if FIXED.contains(&fixed.to_ascii_lowercase().as_str()) {
            *fixed = fixed.to_ascii_lowercase();
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        h
    }

    #[test]
    fn rest_audience_ignores_port_query_slash_and_hub_case() {
        let uri: Uri = "/api/hubs/Chat/:send?api-version=2022-06-01"
            .parse()
            .unwrap();
        let aud = Audience::rest(&headers("127.0.0.1:8888"), &uri, None).unwrap();
        assert!(aud.matches("http://127.0.0.1/api/hubs/chat/:send?api-version=2022-06-01"));
        assert!(aud.matches("http://127.0.0.1:9/api/hubs/CHAT/:send/"));
        assert!(!aud.matches("http://localhost/api/hubs/chat/:send"));
        assert!(!aud.matches("https://127.0.0.1/api/hubs/chat/:send"));
        assert!(!aud.matches("http://127.0.0.1/api/hubs/chat"));
    }

    #[test]
    fn client_audience_checks_path_and_hub() {
        let uri: Uri = "/client/negotiate?hub=Chat".parse().unwrap();
        let aud = Audience::client(&headers("localhost:1"), &uri, "Chat").unwrap();
        assert!(aud.matches("http://localhost/client/?hub=chat"));
        assert!(aud.matches("http://LOCALHOST:9/client?x=1&HUB=CHAT"));
        assert_eq!(aud.fit("http://localhost/client"), Fit::NoHub);
        assert_eq!(aud.fit("http://localhost/client/?x=chat"), Fit::NoHub);
        assert_eq!(aud.fit("http://localhost/client/?hub=other"), Fit::Wrong);
        assert_eq!(
            aud.fit("http://localhost/client/?hub=chat&hub=other"),
            Fit::Wrong
        );
        assert_eq!(aud.fit("http://elsewhere/client"), Fit::Wrong);
        assert!(!aud.matches("http://localhost/api/hubs/chat"));
    }

    /// The plain forms skip the URL parser: whenever they say "matches", the parser agrees, and
    /// the SDKs' own forms take the plain path.
    #[test]
    fn plain_audiences_match_only_where_the_parser_agrees() {
        let uri: Uri = "/api/hubs/Chat/groups/g/:send?api-version=2022-06-01"
            .parse()
            .unwrap();
        let expected = Audience::rest(&headers("127.0.0.1:8888"), &uri, None).unwrap();
        let sdk = "http://127.0.0.1/api/hubs/chat/groups/g/:send?api-version=2022-06-01";
        assert!(expected.plain_rest_match(sdk));
        assert!(expected.plain_rest_match("HTTP://127.0.0.1:9/API/hubs/CHAT/groups/g/:send/"));
        let auds = [
            sdk,
            "http://127.0.0.1:65536/api/hubs/chat/groups/g/:send",
            "http://127.0.0.1:+80/api/hubs/chat/groups/g/:send",
            "http://127.0.0.1/api/hubs/chat/groups/G/:send",
            "http://127.0.0.1/api/hubs/chat/groups/x/../g/:send",
            "http://127.0.0.1/api/hubs/chat/groups/%67/:send",
            "http://127.0.0.1/api/hubs/chat/groups/g/:send#x",
            "http://127.0.0.1/api/hubs/chat/groups/g/:send?application=a",
            "http://127.0.0.1/api/hubs/chat/groups/g/:send?x=%61pplication",
            "http://127.0.0.1/api/hubs/chat/groups/g\\:send",
            "http://127.0.0.1/api/hubs/chat/groups/g/:send/extra",
            "http://127.0.0.1/api/hubs/chat/groups",
            "http://0x7f.0.0.1/api/hubs/chat/groups/g/:send",
            "http://u:p@127.0.0.1/api/hubs/chat/groups/g/:send",
            "https://127.0.0.1/api/hubs/chat/groups/g/:send",
            " http://127.0.0.1/api/hubs/chat/groups/g/:send",
            "http://127.0.0.1/api/hubs/chat/groups/g/:send ",
            "http://127.0.0.1/api/Hubs/chat/groups/g/:send",
            "http://127.0.0.1/Api/hubs/chat/groups/g/:send",
        ];
        for aud in auds {
            let plain = expected.plain_rest_match(aud);
            assert!(!plain || expected.fit_parsed(aud) == Fit::Matches, "{aud}");
            assert_eq!(expected.fit(aud), expected.fit_parsed(aud), "{aud}");
        }
        let client = Audience::client(
            &headers("localhost"),
            &"/client?hub=chat".parse().unwrap(),
            "chat",
        )
        .unwrap();
        assert!(!client.plain_rest_match("http://localhost/client/?hub=chat"));
    }

    #[test]
    fn plain_hosts_are_what_the_parser_keeps() {
        let parsed = |raw: &str| {
            url::Url::parse(&format!("http://{raw}/"))
                .ok()
                .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        };
        assert_eq!(plain_host("127.0.0.1:8888"), Some("127.0.0.1"));
        assert_eq!(plain_host("Example.COM"), Some("Example.COM"));
        for raw in [
            "127.0.0.1:8888",
            "localhost",
            "a-b.example:443",
            "Example.COM",
            "127.1",
            "0x7f.0.0.1",
            "127.000.0.1",
            "256.0.0.1",
            "1.2.3.4.5",
            "a.1",
            "xn--nxasmq6b.example",
            "[::1]:80",
            "a..b",
            "a.",
            "host:",
            "host:+80",
            "host:99999",
            "a_b",
            "bad host",
            "h%41st",
            "例え.jp",
        ] {
            if let Some(host) = plain_host(raw) {
                assert_eq!(Some(host.to_ascii_lowercase()), parsed(raw), "{raw}");
            }
        }
    }

    #[test]
    fn the_host_comes_from_the_header_else_the_uri_else_nowhere() {
        let origin_form: Uri = "/api/hubs/chat/:send".parse().unwrap();
        let absolute: Uri = "http://Example.COM:81/api/hubs/chat/:send".parse().unwrap();
        let none = HeaderMap::new();
        let host = |h: &HeaderMap, u: &Uri| Audience::rest(h, u, None).map(|a| a.host);
        assert_eq!(
            host(&headers("a.example:1"), &absolute).unwrap(),
            "a.example"
        );
        assert_eq!(host(&none, &absolute).unwrap(), "example.com");
        assert_eq!(
            host(&headers("bad host"), &absolute).unwrap(),
            "example.com"
        );
        assert_eq!(host(&none, &origin_form).unwrap_err(), AuthError::NoHost);
        assert_eq!(
            host(&headers("bad host"), &origin_form).unwrap_err(),
            AuthError::NoHost
        );
    }
}
