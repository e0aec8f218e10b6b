//! Fetching the OIDC issuer's keys against a real local issuer: every URL and redirect hop is
//! checked (issue #16 finding 6), and a slow issuer costs a bounded wait and a 503 with a retry
//! time, never the sum of two request timeouts, while cached keys keep working (finding 7).

use crate::identity_support;

use std::time::{Duration, Instant};

use serverless_signalr::app::identity::KeyRefresh;
use serverless_signalr::app::identity::{Authenticator, IdentityError, OidcSettings};

use identity_support::requests::{authenticator, bearer, oidc_settings};
use identity_support::{rsa_keys, Issuer, TestKey, AUDIENCE};

/// Settings for `issuer` whose key refresh has these deadlines (and the defaults otherwise).
fn with_refresh(issuer: &Issuer, refresh: KeyRefresh) -> OidcSettings {
    let mut settings = oidc_settings(issuer);
    settings.refresh = refresh;
    settings
}

/// The issuer's port.
fn port(issuer: &Issuer) -> &str {
    issuer.url().rsplit(':').next().expect("port")
}

async fn authenticate(auth: &Authenticator, issuer: &Issuer) -> Result<(), IdentityError> {
    let token = rsa_keys().main.sign(&issuer.claims("u"));
    auth.authenticate(&bearer(&token)).await.map(drop)
}

/// Polls until a token validates (the background refresh has finished), for at most `within`.
async fn until_valid(auth: &Authenticator, issuer: &Issuer, within: Duration) {
    let start = Instant::now();
    while authenticate(auth, issuer).await.is_err() {
        assert!(start.elapsed() < within, "keys never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn plain_http_issuers_are_refused_except_on_loopback() {
    let check = |url: &str| OidcSettings::new(url, vec![AUDIENCE.into()]).check();
    assert!(check("https://login.microsoftonline.com/t/v2.0").is_ok());
    assert!(check("http://127.0.0.1:8080").is_ok());
    assert!(check("http://localhost:8080/").is_ok());
    assert!(check("http://[::1]:8080").is_ok());
    let err = check("http://login.example").expect_err("http");
    assert_eq!(err.status(), 500);
    assert!(err.to_string().contains("must be https"), "{err}");
    // Numeric spellings the URL parser normalises to 127.0.0.1 are loopback …
    for url in [
        "http://2130706433:8080",
        "http://0x7f.1:8080",
        "http://0177.0.0.1:8080",
    ] {
        assert!(check(url).is_ok(), "{url}");
    }
    // … other spellings of "this machine", and look-alike names, are not.
    for url in [
        "http://0.0.0.0:8080",
        "http://[::]:8080",
        "http://[::ffff:127.0.0.1]:8080",
        "http://[::ffff:7f00:1]:8080",
        "http://localhost.login.example",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
    ] {
        let err = check(url).expect_err(url);
        assert!(err.to_string().contains("must be https"), "{url}: {err}");
    }
    let none = OidcSettings::new("https://login.example", vec![]).check();
    assert!(none
        .expect_err("no audience")
        .to_string()
        .contains("audience"));
}

#[tokio::test]
async fn a_redirect_to_a_disguised_loopback_http_url_is_not_followed() {
    let issuer = Issuer::start().await;
    let disguised = format!("http://[::ffff:127.0.0.1]:{}/discovery/keys", port(&issuer));
    issuer.set_jwks_uri(&issuer.redirect_to(&disguised));
    let auth = authenticator(oidc_settings(&issuer));
    let err = authenticate(&auth, &issuer)
        .await
        .expect_err("keys behind a refused redirect");
    assert_eq!(err.status(), 503, "{err}");
    let message = err.to_string();
    assert!(
        // The URL parser writes the address as `[::ffff:7f00:1]`.
        message.contains("refused a redirect to http://[::ffff:7f00:1]")
            && message.contains("must be https"),
        "{message}"
    );
    assert_eq!(issuer.jwks_fetches(), 0, "the redirect was followed");
}

#[tokio::test]
async fn a_redirected_metadata_url_is_checked_at_every_hop() {
    let issuer = Issuer::start().await;
    let mut settings = oidc_settings(&issuer);
    // First hop fine (loopback http), second hop to an address that only looks local.
    let metadata = format!(
        "http://0.0.0.0:{}/.well-known/openid-configuration",
        port(&issuer)
    );
    settings.metadata_url = Some(issuer.redirect_to(&metadata));
    let auth = authenticator(settings);
    let err = authenticate(&auth, &issuer)
        .await
        .expect_err("metadata behind a refused redirect");
    assert!(
        err.to_string()
            .contains("refused a redirect to http://0.0.0.0"),
        "{err}"
    );
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn redirects_between_allowed_urls_are_still_followed() {
    let issuer = Issuer::start().await;
    let keys = format!("http://127.0.0.1:{}/discovery/keys", port(&issuer));
    issuer.set_jwks_uri(&issuer.redirect_to(&keys));
    let auth = authenticator(oidc_settings(&issuer));
    authenticate(&auth, &issuer).await.expect("valid");
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_slow_issuer_gets_a_fast_503_with_a_retry_time_then_the_keys() {
    let issuer = Issuer::start().await;
    issuer.set_delay(Duration::from_millis(1500));
    let refresh = KeyRefresh {
        wait: Duration::from_millis(200),
        ..KeyRefresh::default()
    };
    let auth = authenticator(with_refresh(&issuer, refresh));
    // The first request starts the refresh, the others join it; none waits for the issuer.
    for _ in 0..3 {
        let start = Instant::now();
        let err = authenticate(&auth, &issuer).await.expect_err("no keys yet");
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "waited {:?}",
            start.elapsed()
        );
        assert_eq!(err.status(), 503, "{err}");
        assert_eq!(err.code(), "IssuerKeysPending");
        assert!(
            err.to_string()
                .contains("has not handed out its signing keys yet"),
            "{err}"
        );
        let retry = err.retry_after().expect("a retry time");
        assert!((1..=10).contains(&retry), "{retry}");
    }
    until_valid(&auth, &issuer, Duration::from_secs(10)).await;
    assert_eq!(issuer.jwks_fetches(), 1, "one refresh for all of them");
}

#[tokio::test]
async fn the_whole_refresh_has_one_deadline() {
    let issuer = Issuer::start().await;
    // Each document alone is well within the deadline; both together are not.
    issuer.set_delay(Duration::from_millis(800));
    let refresh = KeyRefresh {
        deadline: Duration::from_millis(1000),
        wait: Duration::from_secs(5),
        ..KeyRefresh::default()
    };
    let auth = authenticator(with_refresh(&issuer, refresh));
    let start = Instant::now();
    let err = authenticate(&auth, &issuer)
        .await
        .expect_err("past the deadline");
    assert!(
        start.elapsed() < Duration::from_millis(1550),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(err.status(), 503, "{err}");
    assert_eq!(err.code(), "IssuerUnreachable");
    assert!(
        err.to_string().contains("did not arrive within 1s"),
        "{err}"
    );
    assert!(err.retry_after().is_some());
}

#[tokio::test]
async fn cached_keys_are_served_while_a_slow_refresh_runs() {
    let issuer = Issuer::start().await;
    let refresh = KeyRefresh {
        max_age: Duration::from_millis(300),
        ..KeyRefresh::default()
    };
    let auth = authenticator(with_refresh(&issuer, refresh));
    authenticate(&auth, &issuer).await.expect("valid");
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The keys are past their age and the issuer has become slow: the known key still answers
    // at once, and the refresh runs in the background.
    issuer.set_delay(Duration::from_secs(2));
    let rotated = TestKey::es256("ec-2");
    issuer.publish(&rotated);
    for _ in 0..3 {
        let start = Instant::now();
        authenticate(&auth, &issuer).await.expect("cached key");
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "waited {:?}",
            start.elapsed()
        );
    }
    // The refresh lands: the rotated key works, after one more fetch.
    let token = rotated.sign(&issuer.claims("u"));
    let start = Instant::now();
    while auth.authenticate(&bearer(&token)).await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "rotated key never arrived"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn an_unknown_kid_while_the_issuer_is_slow_is_a_fast_503() {
    let issuer = Issuer::start().await;
    let refresh = KeyRefresh {
        wait: Duration::from_millis(200),
        ..KeyRefresh::default()
    };
    let auth = authenticator(with_refresh(&issuer, refresh));
    authenticate(&auth, &issuer).await.expect("valid");
    issuer.set_delay(Duration::from_secs(2));
    let token = TestKey::es256("ec-new").sign(&issuer.claims("u"));
    let start = Instant::now();
    let err = auth
        .authenticate(&bearer(&token))
        .await
        .expect_err("still fetching");
    assert!(
        start.elapsed() < Duration::from_millis(1000),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(err.status(), 503, "{err}");
    // Meanwhile the cached key answers at once.
    let start = Instant::now();
    authenticate(&auth, &issuer).await.expect("cached key");
    assert!(start.elapsed() < Duration::from_millis(500));
}
