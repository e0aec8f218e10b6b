//! Who is calling: OIDC bearer tokens against a real local issuer (keys generated here, tokens
//! signed here, every hostile token rejected with a reason) and App Service authentication headers.

use crate::identity_support;

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use serverless_signalr::app::identity::{
    Authenticator, EasyAuthUserId, IdentityError, IdentitySettings, IdentitySource, OidcSettings,
};

use identity_support::requests::{
    aad_principal, assert_rejected, authenticator, bearer, claim, oidc_settings, principal_headers,
};
use identity_support::{hs256_token, now, rsa_keys, unsigned_token, Issuer, TestKey, AUDIENCE};

#[tokio::test]
async fn rs256_token_gives_the_caller_from_sub_with_claims_and_roles() {
    let issuer = Issuer::start().await;
    let auth = authenticator(oidc_settings(&issuer));
    let mut claims = issuer.claims("user-1");
    claims["roles"] = json!(["admin", "reader"]);
    claims["role"] = json!("writer");
    claims["groups"] = json!(["g1", "g2"]);
    claims["tid"] = json!("tenant-a");
    let token = rsa_keys().main.sign(&claims);

    let caller = auth.authenticate(&bearer(&token)).await.expect("valid");
    assert_eq!(caller.source, IdentitySource::Bearer);
    assert_eq!(caller.user_id.as_deref(), Some("user-1"));
    assert_eq!(caller.roles, ["admin", "reader", "writer"]);
    assert_eq!(claim(&caller, "groups"), Some(&json!(["g1", "g2"])));
    assert_eq!(claim(&caller, "tid"), Some(&json!("tenant-a")));
    assert_eq!(claim(&caller, "aud"), Some(&json!(AUDIENCE)));

    // Keys are cached: more tokens, no more fetches.
    for _ in 0..3 {
        auth.authenticate(&bearer(&token)).await.expect("valid");
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn es256_token_with_user_id_from_a_configured_claim() {
    let issuer = Issuer::start().await;
    let mut settings = oidc_settings(&issuer);
    settings.user_id_claim = "oid".into();
    let auth = authenticator(settings);
    let mut claims = issuer.claims("pairwise-sub");
    claims["oid"] = json!("00000000-0000-0000-0000-000000000042");
    claims["aud"] = json!(["unrelated", AUDIENCE]);
    let token = issuer.es.sign(&claims);

    let caller = auth.authenticate(&bearer(&token)).await.expect("valid");
    assert_eq!(
        caller.user_id.as_deref(),
        Some("00000000-0000-0000-0000-000000000042")
    );
    assert_eq!(claim(&caller, "sub"), Some(&json!("pairwise-sub")));
    assert!(caller.roles.is_empty());
}

#[tokio::test]
async fn hostile_tokens_are_rejected_with_a_reason() {
    let issuer = Issuer::start().await;
    let auth = authenticator(oidc_settings(&issuer));
    let rsa = rsa_keys();
    let good = issuer.claims("mallory");
    let with = |patch: Value| {
        let mut claims = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let n = rsa.main.jwk["n"].as_str().expect("n");
    let tampered = {
        let token = rsa.main.sign(&good);
        let parts: Vec<&str> = token.split('.').collect();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(with(json!({"sub": "admin"})).to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "other key, same kid",
            rsa.other.sign(&good),
            "signature does not verify",
        ),
        ("payload changed", tampered, "signature does not verify"),
        (
            "expired",
            rsa.main.sign(&with(json!({"exp": now() - 120}))),
            "expired at",
        ),
        (
            "future nbf",
            rsa.main.sign(&with(json!({"nbf": now() + 600}))),
            "not valid before",
        ),
        (
            "no exp",
            rsa.main.sign(&with(json!({"exp": null}))),
            "claim exp: missing",
        ),
        (
            "exp not a number",
            rsa.main.sign(&with(json!({"exp": "soon"}))),
            "claim exp",
        ),
        (
            "other issuer",
            rsa.main.sign(&with(json!({"iss": "https://evil.example"}))),
            "issuer https://evil.example is not the configured issuer",
        ),
        (
            "no issuer",
            rsa.main.sign(&with(json!({"iss": null}))),
            "issuer (none)",
        ),
        (
            "other audience",
            rsa.main.sign(&with(json!({"aud": "api://else"}))),
            "audience \"api://else\" is not one of the configured audiences",
        ),
        (
            "no audience",
            rsa.main.sign(&with(json!({"aud": null}))),
            "audience (none)",
        ),
        (
            "alg none",
            unsigned_token(&good),
            "alg none is not accepted; use RS256 or ES256",
        ),
        (
            "HS256 with the PEM",
            hs256_token(rsa.public_pem.as_bytes(), &good),
            "alg HS256 is not accepted",
        ),
        (
            "HS256 with n",
            hs256_token(n.as_bytes(), &good),
            "alg HS256 is not accepted",
        ),
        (
            "ES256 naming the RSA key",
            issuer.es.sign_as("rsa-1", &good),
            "does not match the issuer's key rsa-1",
        ),
        (
            "no user id",
            rsa.main.sign(&with(json!({"sub": null}))),
            "claim sub: missing; it is configured as the user id",
        ),
        (
            "numeric user id",
            rsa.main.sign(&with(json!({"sub": 42}))),
            "claim sub",
        ),
        ("garbage", "not-a-jwt".into(), "malformed"),
        (
            "two parts",
            "eyJhbGciOiJSUzI1NiJ9.e30".into(),
            "three base64url parts",
        ),
        (
            "header not base64",
            "%%%.e30.sig".into(),
            "header is not base64url",
        ),
        (
            "header not JSON",
            "bm90anNvbg.e30.sig".into(),
            "header is not a JSON object",
        ),
        (
            "payload not JSON",
            format!(
                "{}.bm90anNvbg.c2ln",
                rsa.main.sign(&good).split('.').next().expect("header")
            ),
            "signature does not verify",
        ),
        ("empty", String::new(), "empty bearer token"),
        (
            "huge kid",
            rsa.main.sign_as(&"k".repeat(300), &good),
            "kid is longer than 256",
        ),
    ];
    for (name, token, why) in cases {
        eprintln!("case: {name}");
        assert_rejected(&auth, &token, why).await;
    }
    // Hostile tokens with known kids cost no extra fetches.
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn leeway_allows_small_clock_skew() {
    let issuer = Issuer::start().await;
    let mut settings = oidc_settings(&issuer);
    settings.leeway = Duration::from_secs(60);
    let auth = authenticator(settings);
    let mut claims = issuer.claims("skewed");
    claims["exp"] = json!(now() - 30);
    claims["nbf"] = json!(now() + 30);
    let token = rsa_keys().main.sign(&claims);
    auth.authenticate(&bearer(&token))
        .await
        .expect("within leeway");
}

#[tokio::test]
async fn unknown_kid_refetches_once_and_refetches_are_rate_limited() {
    let issuer = Issuer::start().await;
    let auth = authenticator(oidc_settings(&issuer));
    let stranger = TestKey::es256("stranger");
    let good = issuer.claims("u");
    auth.authenticate(&bearer(&issuer.es.sign(&good)))
        .await
        .expect("valid");
    assert_eq!(issuer.jwks_fetches(), 1);

    assert_rejected(
        &auth,
        &stranger.sign(&good),
        "no signing key with kid stranger",
    )
    .await;
    assert_eq!(issuer.jwks_fetches(), 2, "one refetch for an unknown kid");
    for i in 0..5 {
        let token = stranger.sign_as(&format!("hostile-{i}"), &good);
        assert_rejected(
            &auth,
            &token,
            &format!("no signing key with kid hostile-{i}"),
        )
        .await;
    }
    assert_eq!(issuer.jwks_fetches(), 2, "refetches are rate-limited");
}

#[tokio::test]
async fn rotated_key_is_accepted_after_a_single_flight_refetch() {
    let issuer = Issuer::start().await;
    let auth = authenticator(oidc_settings(&issuer));
    let good = issuer.claims("u");
    auth.authenticate(&bearer(&issuer.es.sign(&good)))
        .await
        .expect("valid");

    let rotated = TestKey::es256("ec-2");
    issuer.publish(&rotated);
    let token = rotated.sign(&good);
    let attempts = (0..20).map(|_| {
        let auth = auth.clone();
        let headers = bearer(&token);
        tokio::spawn(async move { auth.authenticate(&headers).await })
    });
    for attempt in attempts {
        let caller = attempt.await.expect("task").expect("rotated key accepted");
        assert_eq!(caller.user_id.as_deref(), Some("u"));
    }
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "concurrent misses share one fetch"
    );
}

#[tokio::test]
async fn issuer_down_is_a_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let auth = authenticator(OidcSettings::new(url.as_str(), vec![AUDIENCE.into()]));
    let token = rsa_keys()
        .main
        .sign(&json!({"iss": url, "aud": AUDIENCE, "sub": "u",
                                             "exp": now() + 60}));
    let err = auth.authenticate(&bearer(&token)).await.expect_err("down");
    assert_eq!(err.status(), 503, "{err}");
    assert!(err.to_string().contains("issuer is unreachable"), "{err}");
    // Fails fast afterwards, still 503.
    let again = auth.authenticate(&bearer(&token)).await.expect_err("down");
    assert_eq!(again.status(), 503);
}

#[tokio::test]
async fn metadata_for_another_issuer_is_refused() {
    let issuer = Issuer::start().await;
    issuer.set_metadata_issuer("https://login.example/other/");
    let auth = authenticator(oidc_settings(&issuer));
    let err = auth
        .authenticate(&bearer(&rsa_keys().main.sign(&issuer.claims("u"))))
        .await
        .expect_err("wrong metadata");
    assert_eq!(err.status(), 503);
    assert!(
        err.to_string().contains("not the configured issuer"),
        "{err}"
    );
}

#[tokio::test]
async fn symmetric_and_foreign_keys_in_the_jwks_are_never_used() {
    let issuer = Issuer::start().await;
    let secret = b"shared-secret-shared-secret-1234";
    issuer.set_jwks(vec![
        json!({"kty": "oct", "kid": "hmac", "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)}),
        json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_keys().main.jwk["n"], "e": "AQAB"}),
        json!({"kty": "weird"}),
        issuer.es.jwk.clone(),
    ]);
    let auth = authenticator(oidc_settings(&issuer));
    let good = issuer.claims("u");
    auth.authenticate(&bearer(&issuer.es.sign(&good)))
        .await
        .expect("the EC key still works");
    let enc = rsa_keys().main.sign_as("enc", &good);
    assert_rejected(&auth, &enc, "no signing key with kid enc").await;
}

#[tokio::test]
async fn a_bad_token_is_never_silently_anonymous_or_easy_auth() {
    let issuer = Issuer::start().await;
    let settings = IdentitySettings {
        easy_auth: true,
        oidc: Some(oidc_settings(&issuer)),
        ..IdentitySettings::default()
    };
    let auth = Authenticator::new(settings);
    let mut headers = bearer(&unsigned_token(&issuer.claims("u")));
    headers.insert("x-ms-client-principal-id", HeaderValue::from_static("easy"));
    let err = auth.authenticate(&headers).await.expect_err("bad token");
    assert_eq!(err.status(), 401);
}

#[tokio::test]
async fn bearer_tokens_are_ignored_without_oidc() {
    let auth = Authenticator::new(IdentitySettings::default());
    let caller = auth
        .authenticate(&bearer("whatever.this.is"))
        .await
        .expect("anonymous");
    assert_eq!(caller.source, IdentitySource::Anonymous);
    assert_eq!(caller.user_id, None);
}

// ---- App Service authentication (Easy Auth) ----

fn easy_auth(user_id: EasyAuthUserId, require: bool) -> Authenticator {
    let settings = IdentitySettings {
        easy_auth: true,
        easy_auth_user_id: user_id,
        require_authentication: require,
        ..IdentitySettings::default()
    };
    Authenticator::new(settings)
}

#[tokio::test]
async fn easy_auth_principal_id_and_claims() {
    let auth = easy_auth(EasyAuthUserId::PrincipalId, false);
    let caller = auth
        .authenticate(&principal_headers(&aad_principal()))
        .await
        .expect("easy auth");
    assert_eq!(caller.source, IdentitySource::EasyAuth);
    assert_eq!(caller.user_id.as_deref(), Some("aad-oid-7"));
    assert_eq!(caller.roles, ["admin", "reader"]);
    let groups: Vec<_> = caller
        .claims
        .iter()
        .filter(|(t, _)| t == "groups")
        .collect();
    assert_eq!(groups.len(), 2, "repeated claim types are kept");
}

#[tokio::test]
async fn easy_auth_principal_name_as_user_id() {
    let auth = easy_auth(EasyAuthUserId::PrincipalName, false);
    let caller = auth
        .authenticate(&principal_headers(&aad_principal()))
        .await
        .expect("easy auth");
    assert_eq!(caller.user_id.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn easy_auth_id_header_alone_is_enough() {
    let auth = easy_auth(EasyAuthUserId::PrincipalId, true);
    let mut headers = HeaderMap::new();
    headers.insert("x-ms-client-principal-id", HeaderValue::from_static("u-1"));
    let caller = auth.authenticate(&headers).await.expect("easy auth");
    assert_eq!(caller.user_id.as_deref(), Some("u-1"));
    assert!(caller.claims.is_empty());
}

#[tokio::test]
async fn static_web_apps_principal_shape() {
    let auth = easy_auth(EasyAuthUserId::PrincipalId, false);
    let principal = json!({"identityProvider": "github", "userId": "swa-1",
                           "userDetails": "ada", "userRoles": ["anonymous", "authenticated"]});
    let mut headers = HeaderMap::new();
    let encoded = STANDARD.encode(principal.to_string());
    headers.insert(
        "x-ms-client-principal",
        HeaderValue::from_str(&encoded).expect("h"),
    );
    let caller = auth.authenticate(&headers).await.expect("swa");
    assert_eq!(caller.user_id.as_deref(), Some("swa-1"));
    assert_eq!(caller.roles, ["anonymous", "authenticated"]);
}

#[tokio::test]
async fn malformed_principal_is_a_400_that_says_why() {
    let auth = easy_auth(EasyAuthUserId::PrincipalId, false);
    for (value, why) in [
        ("***not base64***", "is not base64"),
        (&*STANDARD.encode("not json"), "is not the principal JSON"),
        (
            &*STANDARD.encode(r#"{"claims":[{"typ":"a","val":1}]}"#),
            "is not the principal JSON",
        ),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-client-principal",
            HeaderValue::from_str(value).expect("h"),
        );
        let err: IdentityError = auth.authenticate(&headers).await.expect_err("malformed");
        assert_eq!(err.status(), 400, "{err}");
        assert!(err.to_string().contains(why), "{err}");
    }
}

#[tokio::test]
async fn easy_auth_headers_are_ignored_when_off() {
    let auth = Authenticator::new(IdentitySettings::default());
    let caller = auth
        .authenticate(&principal_headers(&aad_principal()))
        .await
        .expect("anonymous");
    assert_eq!(caller.source, IdentitySource::Anonymous);
    assert_eq!(caller.user_id, None);
    assert!(caller.claims.is_empty());
}

#[tokio::test]
async fn anonymous_is_a_401_when_authentication_is_required() {
    let auth = easy_auth(EasyAuthUserId::PrincipalId, true);
    let err = auth.authenticate(&HeaderMap::new()).await.expect_err("401");
    assert_eq!(err.status(), 401);
    assert!(
        err.to_string().starts_with("authentication required: "),
        "{err}"
    );
    // And without the requirement, anonymous callers get no user id.
    let open = easy_auth(EasyAuthUserId::PrincipalId, false);
    let caller = open
        .authenticate(&HeaderMap::new())
        .await
        .expect("anonymous");
    assert_eq!(caller.user_id, None);
}
