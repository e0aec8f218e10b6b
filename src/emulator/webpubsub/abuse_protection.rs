//! The abuse-protection handshake before events go to a URL (`docs/webpubsub.md` §5.1): `OPTIONS`
//! (then `GET` when `OPTIONS` is 404/405) with `WebHook-Request-Origin` = the emulator's endpoint
//! host and port, as a handler configured with that endpoint expects; the answer must be 2xx with
//! a `WebHook-Allowed-Origin` that is `*` or that host, with or without the port, in any case, on
//! one header line or several, or comma-separated. A success is trusted for a minute; a failure
//! is remembered for a pause that grows from 1 s to a minute, and logged at warn.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// How long a successful handshake is trusted.
const TRUSTED_FOR: Duration = Duration::from_secs(60);
/// The first pause after a failed handshake; it doubles up to [`TRUSTED_FOR`].
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// Why a URL may not be called.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the event handler at {url} failed the abuse-protection handshake: {why}; it must answer OPTIONS with 2xx and `WebHook-Allowed-Origin: *` or `WebHook-Allowed-Origin: {origin}` (the WebHook-Request-Origin it was sent)")]
pub struct NotValidated {
    /// The handler's URL without its query.
    pub url: String,
    /// The `WebHook-Request-Origin` sent.
    pub origin: String,
    /// What went wrong.
    pub why: String,
}

/// The last handshake with one origin (scheme, host and port) of handler URLs.
#[derive(Debug)]
struct Outcome {
    at: Instant,
    result: Result<(), NotValidated>,
    /// How long a failure stands.
    pause: Duration,
}

/// The handshakes done, per handler origin.
#[derive(Debug, Default)]
pub struct AbuseProtection {
    outcomes: Mutex<HashMap<String, Outcome>>,
}

impl AbuseProtection {
    /// Whether events may go to `url`: the remembered outcome while it stands, else a new
    /// handshake through `client` with `origin` (and `bearer`, the emulator's identity token in
    /// Entra ID mode, as on its events).
    pub async fn check(
        &self,
        client: &reqwest::Client,
        url: &str,
        origin: &str,
        bearer: &HeaderMap,
    ) -> Result<(), NotValidated> {
        let key = url::Url::parse(url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let last_pause = {
            let outcomes = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
            match outcomes.get(&key) {
                Some(o) if o.result.is_ok() && o.at.elapsed() < TRUSTED_FOR => return Ok(()),
                Some(o) if o.result.is_err() && o.at.elapsed() < o.pause => {
                    return o.result.clone()
                }
                Some(o) if o.result.is_err() => Some(o.pause),
                _ => None,
            }
        };
        let result = handshake(client, url, origin, bearer).await;
        if let Err(e) = &result {
            let url = &e.url;
            tracing::warn!(
                url,
                origin,
                "Web PubSub abuse protection refused the event handler: {}",
                e.why
            );
        }
        let pause = last_pause.map_or(FIRST_PAUSE, |p| (p * 2).min(TRUSTED_FOR));
        let outcome = Outcome {
            at: Instant::now(),
            result: result.clone(),
            pause,
        };
        self.outcomes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, outcome);
        result
    }
}

/// One handshake: `OPTIONS`, then `GET` when `OPTIONS` is 404/405.
async fn handshake(
    client: &reqwest::Client,
    url: &str,
    origin: &str,
    bearer: &HeaderMap,
) -> Result<(), NotValidated> {
    // Without the query, which may hold a function key (`?code=`): the error reaches clients.
    let shown = url.split('?').next().unwrap_or(url);
    let refused = |why: String| NotValidated {
        url: shown.into(),
        origin: origin.into(),
        why,
    };
    for method in [reqwest::Method::OPTIONS, reqwest::Method::GET] {
        let response = client
            .request(method.clone(), url)
            .headers(bearer.clone())
            .header("WebHook-Request-Origin", origin)
            .header("ce-awpsversion", "1.0")
            .send()
            .await
            .map_err(|e| refused(format!("{method} failed: {}", e.without_url())))?;
        let status = response.status();
        if method == reqwest::Method::OPTIONS
            && matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            )
        {
            continue;
        }
        let got: Vec<String> = response
            .headers()
            .get_all("WebHook-Allowed-Origin")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if !status.is_success() {
            return Err(refused(format!("{method} answered {status}")));
        }
        if allows(&got, origin) {
            return Ok(());
        }
        let shown: String = format!("{got:?}").chars().take(200).collect();
        return Err(refused(format!(
            "{method} answered WebHook-Allowed-Origin {shown}"
        )));
    }
    Err(refused("OPTIONS and GET both answered 404 or 405".into()))
}

/// Whether `WebHook-Allowed-Origin` (its header lines, each maybe a comma-separated list) allows
/// `origin` (`host:port`): `*`, or the host with or without the port, ignoring case (a scheme or
/// a trailing `/` around an entry is ignored too).
pub fn allows(values: &[String], origin: &str) -> bool {
    let host = match origin.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => origin,
    };
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|entry| {
            let entry = entry.trim();
            let entry = ["https://", "http://"]
                .iter()
                .find_map(|scheme| {
                    entry
                        .get(..scheme.len())
                        .filter(|s| s.eq_ignore_ascii_case(scheme))
                        .map(|_| &entry[scheme.len()..])
                })
                .unwrap_or(entry);
            entry.trim_end_matches('/')
        })
        .any(|entry| {
            entry == "*" || entry.eq_ignore_ascii_case(origin) || entry.eq_ignore_ascii_case(host)
        })
}

#[cfg(test)]
mod tests {
    use super::allows;

    fn lines(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn allowed_origins_in_the_forms_handlers_send() {
        let origin = "127.0.0.1:8080";
        for ok in [
            &["*"][..],
            &["127.0.0.1:8080"],
            &["127.0.0.1"],
            &["other.example", "127.0.0.1:8080"],
            &["a.example, 127.0.0.1:8080"],
            &["http://127.0.0.1:8080/"],
        ] {
            assert!(allows(&lines(ok), origin), "{ok:?}");
        }
        assert!(allows(&lines(&["LOCALHOST:8080"]), "localhost:8080"));
        assert!(allows(&lines(&["[::1]"]), "[::1]:8080"));
        for refused in [
            &[][..],
            &[""],
            &["127.0.0.1:9090"],
            &["127.0.0.2"],
            &["127.0.0.1:8080.evil"],
        ] {
            assert!(!allows(&lines(refused), origin), "{refused:?}");
        }
    }
}
