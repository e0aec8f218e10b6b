//! Identity sources through the real router: negotiate with OIDC bearer tokens from a local issuer
//! (keys generated in the test) — valid ones become the token's user id and claims, every hostile
//! one is a 401 whose message says why — and "authentication required" for anonymous callers.

use crate::identity_support;
use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::ServeArgs;

use identity_support::{hs256_token, now, rsa_keys, unsigned_token, Issuer, AUDIENCE};
use support::{spawn_app, verify, FakeService};

async fn negotiate(app: &support::TestApp, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.http.post(format!(
        "{}/api/hubs/chat/negotiate?negotiateVersion=1",
        app.url
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn oidc_bearer_tokens_through_negotiate() {
    let issuer = Issuer::start().await;
    let rec = FakeService::start().await;
    let args = ServeArgs {
        oidc_issuer: Some(issuer.url().to_string()),
        oidc_audience: Some(AUDIENCE.into()),
        oidc_user_id_claim: Some("oid".into()),
        require_auth: Some("true".into()),
        token_claims: Some("tid".into()),
        token_roles: Some("true".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    let mut claims = issuer.claims("subject-1");
    claims["oid"] = json!("object-1");
    claims["tid"] = json!("tenant-1");
    claims["roles"] = json!(["writer"]);
    for key in [&rsa_keys().main, &issuer.es] {
        let (status, body) = negotiate(&app, Some(&key.sign(&claims))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let minted = verify(body["accessToken"].as_str().unwrap());
        assert_eq!(minted["asrs.s.uid"], "object-1");
        assert_eq!(minted["tid"], "tenant-1");
        assert_eq!(minted["role"], "writer");
        assert_eq!(minted["aud"], "http://127.0.0.1/client/?hub=chat");
    }

    let (status, body) = negotiate(&app, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("authentication required"),
        "{body}"
    );
    assert_eq!(body["error"]["code"], "AuthenticationRequired");

    let t = now();
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let mut no_oid = claims.clone();
    no_oid.as_object_mut().unwrap().remove("oid");
    let hostile = [
        (
            "wrong signature",
            rsa_keys().other.sign_as("rsa-1", &claims),
        ),
        (
            "expired",
            rsa_keys().main.sign(&with(json!({"exp": t - 3600}))),
        ),
        (
            "not yet valid",
            rsa_keys().main.sign(&with(json!({"nbf": t + 3600}))),
        ),
        (
            "wrong issuer",
            rsa_keys()
                .main
                .sign(&with(json!({"iss": "https://evil.example"}))),
        ),
        (
            "wrong audience",
            rsa_keys().main.sign(&with(json!({"aud": "api://other"}))),
        ),
        ("alg none", unsigned_token(&claims)),
        (
            "HS256 with the public key",
            hs256_token(rsa_keys().public_pem.as_bytes(), &claims),
        ),
        (
            "unknown kid",
            rsa_keys().main.sign_as("nobody-knows", &claims),
        ),
        ("missing user id claim", rsa_keys().main.sign(&no_oid)),
        ("garbage", "not.a.token".to_string()),
    ];
    for (why, token) in hostile {
        let (status, body) = negotiate(&app, Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert_eq!(body["error"]["code"], "InvalidToken", "{why}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains(&token),
            "{why}: {message}"
        );
        assert!(body.get("accessToken").is_none());
    }
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn easy_auth_headers_are_ignored_unless_turned_on() {
    let rec = FakeService::start().await;
    let app = spawn_app(ServeArgs::default(), &rec.connection_string()).await;
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .header("x-ms-client-principal-id", "forged")
        .send()
        .await
        .unwrap();
    let minted = verify(
        r.json::<Value>().await.unwrap()["accessToken"]
            .as_str()
            .unwrap(),
    );
    assert!(
        minted.get("asrs.s.uid").is_none(),
        "a forged header must not become the user id"
    );
    let on = spawn_app(
        ServeArgs {
            easy_auth: Some("true".into()),
            ..Default::default()
        },
        &rec.connection_string(),
    )
    .await;
    let r = on
        .http
        .post(format!("{}/api/negotiate", on.url))
        .header("x-ms-client-principal", "%%%")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// With authentication required, an Easy Auth principal without the configured user id is not
/// enough: the token would name nobody. `principal-name` mode with only the -id header → 401.
#[tokio::test]
async fn required_authentication_means_an_identified_user() {
    let rec = FakeService::start().await;
    let app = spawn_app(
        ServeArgs {
            easy_auth: Some("true".into()),
            easy_auth_user_id: Some("principal-name".into()),
            require_auth: Some("true".into()),
            ..Default::default()
        },
        &rec.connection_string(),
    )
    .await;
    let negotiate = |headers: &[(&'static str, &'static str)]| {
        let mut request = app.http.post(format!("{}/api/negotiate", app.url));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        async move {
            let r = request.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    for headers in [
        &[("x-ms-client-principal-id", "u-1")][..],
        &[
            ("x-ms-client-principal-id", "u-1"),
            ("x-ms-client-principal-name", "  "),
        ][..],
    ] {
        let (status, body) = negotiate(headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], "AuthenticationRequired");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("x-ms-client-principal-name is missing")
                && message.contains("SIGNALR_EASY_AUTH_USER_ID=principal-id"),
            "{message}"
        );
        assert!(body.get("accessToken").is_none());
    }
    // With the name, the same settings identify the user.
    let (status, body) = negotiate(&[("x-ms-client-principal-name", "ada@example.com")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(claims["asrs.s.uid"], "ada@example.com");
}

/// The identity provider's values become the token's user id and claims, and the service passes
/// the claims to the upstream as `type: value, …` without escaping. Negotiate refuses what the
/// service would refuse (user ids against its name rules) and what the upstream would misread
/// (a `name` of "Eve, tid: t-victim" reads as a second `tid`), instead of minting such a token.
#[tokio::test]
async fn identities_the_service_cannot_carry_are_refused_at_negotiate() {
    let issuer = Issuer::start().await;
    let rec = FakeService::start().await;
    let args = ServeArgs {
        oidc_issuer: Some(issuer.url().to_string()),
        oidc_audience: Some(AUDIENCE.into()),
        token_claims: Some("name,tid".into()),
        token_roles: Some("true".into()),
        negotiate_groups: Some("tenant-{tid}".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    let token = |sub: &str, patch: Value| {
        let mut claims = issuer.claims(sub);
        claims["name"] = json!("Eve Example");
        claims["tid"] = json!("t-eve");
        for (k, v) in patch.as_object().unwrap() {
            claims[k] = v.clone();
        }
        rsa_keys().main.sign(&claims)
    };
    let long = "u".repeat(1025);
    let cases = [
        (
            token("eve", json!({"name": "Eve, tid: t-victim"})),
            "InvalidClaim",
            "claim \"name\"",
        ),
        (
            token("eve", json!({"name": "Eve: admin"})),
            "InvalidClaim",
            "contains \": \"",
        ),
        (
            token("eve", json!({"roles": ["reader,admin"]})),
            "InvalidClaim",
            "claim \"role\"",
        ),
        (
            token("eve", json!({"tid": ["t-eve", " t-victim"]})),
            "InvalidClaim",
            "whitespace",
        ),
        (
            token("a\tb", json!({})),
            "InvalidUserId",
            "control characters",
        ),
        (
            token(&long, json!({})),
            "InvalidUserId",
            "the limit is 1024",
        ),
        (token("..", json!({})), "InvalidUserId", "relative path"),
        (
            token("Doe, John", json!({})),
            "InvalidUserId",
            "contains ','",
        ),
    ];
    for (token, code, needle) in cases {
        let (status, body) = negotiate(&app, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{needle}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
        assert!(body.get("accessToken").is_none());
    }
    assert!(
        rec.take().is_empty(),
        "no group joined for a refused caller"
    );
    let (status, body) = negotiate(&app, Some(&token("eve", json!({})))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let minted = verify(body["accessToken"].as_str().unwrap());
    assert_eq!(
        (&minted["name"], &minted["tid"]),
        (&json!("Eve Example"), &json!("t-eve"))
    );
    let joined: Vec<String> = rec.take().into_iter().map(|r| r.path).collect();
    assert_eq!(joined, ["/api/hubs/chat/users/eve/groups/tenant-t-eve"]);
}

/// Easy Auth principals may repeat a claim type: a template over it has no one value, so it is
/// not filled (a user with two `tid`s joins neither tenant), and a principal id with a control
/// character is refused.
#[tokio::test]
async fn easy_auth_repeated_claims_fill_no_template_and_bad_ids_are_refused() {
    use base64::Engine;
    let rec = FakeService::start().await;
    let args = ServeArgs {
        easy_auth: Some("true".into()),
        negotiate_groups: Some("tenant-{tid},user-{userId}".into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    let principal = json!({"auth_typ": "aad", "name_typ": "name", "role_typ": "roles",
        "claims": [{"typ": "tid", "val": "t-victim"}, {"typ": "tid", "val": "t-eve"}]});
    let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
    let send = |id: &'static str| {
        app.http
            .post(format!("{}/api/negotiate", app.url))
            .header("x-ms-client-principal-id", id)
            .header("x-ms-client-principal", encoded.clone())
            .send()
    };
    let r = send("eve").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let joined: Vec<String> = rec.take().into_iter().map(|r| r.path).collect();
    assert_eq!(joined, ["/api/hubs/default/users/eve/groups/user-eve"]);
    let r = send("eve\tx").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidUserId", "{body}");
    assert!(rec.take().is_empty());
}

/// Issue #16 finding 7: a slow issuer used to hold negotiate for the sum of two 10 s request
/// timeouts. Now negotiate waits a bounded time for the keys, then answers 503 with a JSON error
/// and `Retry-After` while the fetch goes on.
#[tokio::test]
async fn negotiate_answers_a_fast_503_with_retry_after_while_a_slow_issuer_is_fetched() {
    let issuer = Issuer::start().await;
    issuer.set_delay(std::time::Duration::from_secs(30));
    let rec = FakeService::start().await;
    let args = ServeArgs {
        oidc_issuer: Some(issuer.url().to_string()),
        oidc_audience: Some(AUDIENCE.into()),
        ..Default::default()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    let token = rsa_keys().main.sign(&issuer.claims("u"));
    let start = std::time::Instant::now();
    let r = app
        .http
        .post(format!("{}/api/negotiate", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let waited = start.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(5),
        "waited {waited:?}"
    );
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "IssuerKeysPending", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("retry in"), "{message}");
    assert!(!message.contains(&token));
}
