//! Token minting checked by an independent verifier (HMAC-SHA256 computed here with `hmac`,
//! payload decoded by hand), against literal expected audiences for plain, Port, ClientEndpoint
//! and ServerEndpoint connection strings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use serverless_signalr::service::token::{ClientClaims, TokenError, TokenMinter};
use serverless_signalr::service::ConnectionString;
use sha2::Sha256;

const KEY: &str = serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

/// Verifies the signature with the key's UTF-8 bytes and returns (header, payload).
fn verify(token: &str, key: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS compact token has three parts");
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    let expected = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(
        parts[2], expected,
        "signature must be HMAC-SHA256 over header.payload with the key bytes"
    );
    let decode =
        |p: &str| serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (decode(parts[0]), decode(parts[1]))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn minter(cs: &str) -> TokenMinter {
    TokenMinter::new(&ConnectionString::parse(cs).unwrap()).unwrap()
}

#[test]
fn client_token_for_a_plain_connection_string() {
    let m = minter(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY};Version=1.0;"
    ));
    assert_eq!(
        m.client_url("Chat"),
        "https://demo.service.signalr.net/client/?hub=chat"
    );
    let claims = ClientClaims {
        user_id: Some("alice".into()),
        ..Default::default()
    };
    let (header, payload) = verify(&m.client_token("Chat", &claims).unwrap(), KEY);
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let t = now();
    let iat = payload["iat"].as_u64().unwrap();
    assert!(iat.abs_diff(t) <= 2);
    assert_eq!(
        payload,
        json!({
            "asrs.s.uid": "alice", "nameid": "alice",
            "nbf": iat, "iat": iat, "exp": iat + 3600,
            "aud": "https://demo.service.signalr.net/client/?hub=chat"
        })
    );
}

#[test]
fn audiences_never_carry_port_client_or_server_endpoint() {
    let cases = [
        (format!("Endpoint=http://localhost;Port=8888;AccessKey={KEY};Version=1.0;"), "http://localhost:8888/client/?hub=chat"),
        (
            format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};ClientEndpoint=https://gw.example.com"),
            "https://gw.example.com/client/?hub=chat",
        ),
        (
            format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};ServerEndpoint=https://internal:4443"),
            "https://demo.service.signalr.net/client/?hub=chat",
        ),
    ];
    let expected_aud = [
        "http://localhost/client/?hub=chat",
        "https://demo.service.signalr.net/client/?hub=chat",
        "https://demo.service.signalr.net/client/?hub=chat",
    ];
    for ((cs, url), aud) in cases.iter().zip(expected_aud) {
        let m = minter(cs);
        assert_eq!(m.client_url("CHAT"), *url);
        let (_, payload) = verify(
            &m.client_token("CHAT", &ClientClaims::default()).unwrap(),
            KEY,
        );
        assert_eq!(payload["aud"], aud);
        assert!(
            payload.get("asrs.s.uid").is_none(),
            "anonymous tokens carry no user id"
        );
    }
}

#[test]
fn rest_token_audience_and_nameid() {
    let m = minter(&format!(
        "Endpoint=http://localhost;Port=8888;AccessKey={KEY};Version=1.0;"
    ));
    let aud = m.rest_audience("/api/hubs/chat/:send?api-version=2022-06-01");
    assert_eq!(
        aud,
        "http://localhost/api/hubs/chat/:send?api-version=2022-06-01"
    );
    let (_, payload) = verify(&m.rest_token(aud.clone()).unwrap(), KEY);
    assert_eq!(payload["aud"], aud);
    assert!(payload["nameid"]
        .as_str()
        .unwrap()
        .starts_with("serverless-signalr_"));
    let iat = payload["iat"].as_u64().unwrap();
    assert_eq!(payload["exp"].as_u64().unwrap(), iat + 600);
    let m = minter(&format!("Endpoint=https://demo.service.signalr.net;AccessKey={KEY};ServerEndpoint=https://internal:4443"));
    assert_eq!(
        m.rest_audience("api/health?api-version=2022-06-01"),
        "https://demo.service.signalr.net/api/health?api-version=2022-06-01"
    );
}

#[test]
fn custom_claims_roles_and_reserved_names() {
    let m = minter(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY}"
    ));
    let claims = ClientClaims {
        user_id: Some("u1".into()),
        claims: vec![
            ("tid".into(), json!("tenant-1")),
            ("aud".into(), json!("evil")),
            ("exp".into(), json!(1)),
            ("asrs.s.uid".into(), json!("mallory")),
            ("nameid".into(), json!("mallory")),
            ("sub".into(), json!("s1")),
            ("sub".into(), json!("s2")),
            ("email".into(), json!("a@example.com")),
            ("email".into(), json!("b@example.com")),
        ],
        roles: vec!["admin".into(), "reader".into()],
        lifetime: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    let (_, p) = verify(&m.client_token("chat", &claims).unwrap(), KEY);
    assert_eq!(p["tid"], "tenant-1");
    assert_eq!(p["asrs.u.aud"], "evil");
    assert_eq!(p["asrs.u.exp"], 1);
    assert_eq!(p["asrs.u.asrs.s.uid"], "mallory");
    assert_eq!(p["asrs.u.nameid"], "mallory");
    assert_eq!(p["asrs.s.uid"], "u1");
    assert_eq!(p["nameid"], "u1");
    assert_eq!(p["sub"], "s1");
    assert_eq!(p["asrs.u.sub"], "s2");
    assert_eq!(p["email"], json!(["a@example.com", "b@example.com"]));
    assert_eq!(p["role"], json!(["admin", "reader"]));
    assert_eq!(
        p["aud"],
        "https://demo.service.signalr.net/client/?hub=chat"
    );
    assert_eq!(p["exp"].as_u64().unwrap(), p["iat"].as_u64().unwrap() + 120);
}

#[test]
fn limits() {
    let m = minter(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY}"
    ));
    let big = ClientClaims {
        claims: vec![("big".into(), json!("x".repeat(5000)))],
        ..Default::default()
    };
    assert!(matches!(m.client_token("chat", &big), Err(TokenError::TooLong(n)) if n > 4096));
    let zero = ClientClaims {
        lifetime: Some(Duration::ZERO),
        ..Default::default()
    };
    assert_eq!(m.client_token("chat", &zero), Err(TokenError::ZeroLifetime));
    // A lifetime whose `exp` would overflow (u64::MAX from `handler token --lifetime`) is refused,
    // never wrapped into a token that is already expired.
    for secs in [u64::MAX, u64::MAX / 2, 100 * 365 * 24 * 3600 + 1] {
        let long = ClientClaims {
            lifetime: Some(Duration::from_secs(secs)),
            ..Default::default()
        };
        assert_eq!(
            m.client_token("chat", &long),
            Err(TokenError::LifetimeTooLong(secs))
        );
    }
    let century = ClientClaims {
        lifetime: Some(Duration::from_secs(100 * 365 * 24 * 3600)),
        ..Default::default()
    };
    let (_, p) = verify(&m.client_token("chat", &century).unwrap(), KEY);
    assert_eq!(
        p["exp"].as_u64().unwrap(),
        p["iat"].as_u64().unwrap() + 100 * 365 * 24 * 3600
    );
    let aad = ConnectionString::parse("Endpoint=https://x;AuthType=azure.msi").unwrap();
    assert_eq!(TokenMinter::new(&aad).unwrap_err(), TokenError::NoAccessKey);
}

/// A second, unrelated JWT implementation (`jsonwebtoken`, as a service-side validator would use)
/// accepts our tokens with strict HS256, audience and expiry checks, and rejects another key.
#[test]
fn a_strict_jwt_library_accepts_the_tokens() {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let m = minter(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY}"
    ));
    let token = m
        .client_token(
            "Chat",
            &ClientClaims {
                user_id: Some("alice".into()),
                claims: vec![("tid".into(), json!("t1"))],
                ..Default::default()
            },
        )
        .unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["https://demo.service.signalr.net/client/?hub=chat"]);
    validation.set_required_spec_claims(&["exp", "aud", "nbf"]);
    validation.validate_nbf = true;
    let data = decode::<Value>(
        &token,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .unwrap();
    assert_eq!(data.header.alg, Algorithm::HS256);
    assert_eq!(data.header.typ.as_deref(), Some("JWT"));
    assert_eq!(data.claims["asrs.s.uid"], "alice");
    assert_eq!(data.claims["tid"], "t1");
    assert!(decode::<Value>(
        &token,
        &DecodingKey::from_secret(b"another key"),
        &validation
    )
    .is_err());

    let rest = m
        .rest_token(m.rest_audience("api/hubs/chat/:send?api-version=2022-06-01"))
        .unwrap();
    validation.set_audience(&[
        "https://demo.service.signalr.net/api/hubs/chat/:send?api-version=2022-06-01",
    ]);
    let data = decode::<Value>(
        &rest,
        &DecodingKey::from_secret(KEY.as_bytes()),
        &validation,
    )
    .unwrap();
    assert!(data.claims["nameid"]
        .as_str()
        .unwrap()
        .starts_with("serverless-signalr_"));
}

/// Anonymous tokens are memoised per hub and second; the memo must never hand out a token of an
/// earlier second, of another hub or of another lifetime.
#[test]
fn anonymous_tokens_are_never_stale_or_shared_across_hubs() {
    let m = minter(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY}"
    ));
    let anonymous = |lifetime: u64| ClientClaims {
        lifetime: Some(Duration::from_secs(lifetime)),
        ..Default::default()
    };
    let first = m.client_token("Chat", &anonymous(3600)).unwrap();
    let (_, p1) = verify(&first, KEY);
    assert_eq!(
        p1["aud"],
        "https://demo.service.signalr.net/client/?hub=chat"
    );

    let (_, other_hub) = verify(&m.client_token("news", &anonymous(3600)).unwrap(), KEY);
    assert_eq!(
        other_hub["aud"],
        "https://demo.service.signalr.net/client/?hub=news"
    );
    let (_, other_life) = verify(&m.client_token("chat", &anonymous(60)).unwrap(), KEY);
    assert_eq!(
        other_life["exp"].as_u64().unwrap(),
        other_life["iat"].as_u64().unwrap() + 60
    );

    // Wait for the next second: the memoised token must not be served any more.
    let second = p1["iat"].as_u64().unwrap();
    while now() <= second {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, p2) = verify(&m.client_token("CHAT", &anonymous(3600)).unwrap(), KEY);
    assert!(p2["iat"].as_u64().unwrap() > second, "{p2}");
    assert_eq!(
        p2["exp"].as_u64().unwrap(),
        p2["iat"].as_u64().unwrap() + 3600
    );
    // An identified user's token is always signed for that user.
    let user = ClientClaims {
        user_id: Some("alice".into()),
        ..Default::default()
    };
    let (_, p3) = verify(&m.client_token("chat", &user).unwrap(), KEY);
    assert_eq!(p3["asrs.s.uid"], "alice");
}
