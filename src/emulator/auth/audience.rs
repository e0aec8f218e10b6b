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
        .and_then(|raw| url::Url::parse(&format!("http://{raw}/")).ok())
        .and_then(|url| url.host_str().map(str::to_ascii_lowercase));
    from_header
        .or_else(|| uri.host().map(str::to_ascii_lowercase))
        .filter(|host| !host.is_empty())
        .ok_or(AuthError::NoHost)
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
        if ["api", "v1", "hubs", "client"].contains(&fixed.to_ascii_lowercase().as_str()) {
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
