//! Every way a token can be wrong gets a 401 that says why, for REST calls and for the client
//! endpoint; the accepted variations (HS512, port, trailing slash, hub case, query token) pass.

mod emulator_support;

use base64::Engine;
use emulator_support::{now, sign, sign_alg, spawn, Emu};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use serverless_signalr::emulator::DEV_ACCESS_KEY;

const PATH: &str = "/api/hubs/chat/:send";

async fn rest_with(emu: &Emu, auth: Option<String>) -> (u16, String) {
    let mut request = emu
        .http
        .post(format!("{}{PATH}?api-version=2022-06-01", emu.base))
        .json(&json!({"target": "t", "arguments": []}));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert_eq!(
            response.headers()["x-ms-error-code"],
            "Error.Auth.Unauthorized"
        );
        assert!(response.headers().contains_key("www-authenticate"));
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["message"].as_str().unwrap_or("").to_string())
}

fn bearer(token: String) -> Option<String> {
    Some(format!("Bearer {token}"))
}

fn unsigned(header: Value, claims: Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&header), b64(&claims))
}

#[tokio::test]
async fn rest_token_rejections_say_why() {
    let emu = spawn().await;
    let aud = "http://127.0.0.1/api/hubs/chat/:send";
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no access token"),
        (Some("Basic abc".into()), "Bearer"),
        (bearer("not-a-jwt".into()), "not a valid JWT"),
        (bearer(sign("another-key-another-key-another-key-0000", json!({"aud": aud}))), "signature is invalid"),
        (bearer(unsigned(json!({"alg": "none", "typ": "JWT"}), json!({"aud": aud, "exp": now() + 60}))), "not a valid JWT"),
        (bearer(sign_alg(Algorithm::HS384, DEV_ACCESS_KEY, json!({"aud": aud}))), "HS256 or HS512"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud, "exp": now() - 60}))), "expired"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud, "nbf": now() + 600}))), "not valid yet"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud, "exp": null}))), "no `exp` claim"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"nameid": "x"}))), "no `aud` claim"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": "http://127.0.0.1/api/hubs/chat/users/u/:send"}))), "expected http://127.0.0.1/api/hubs/chat/:send, got http://127.0.0.1/api/hubs/chat/users/u/:send"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": "http://localhost/api/hubs/chat/:send"}))), "audience is wrong"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": "https://127.0.0.1/api/hubs/chat/:send"}))), "audience is wrong"),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": "http://127.0.0.1/api/hubs/other/:send"}))), "audience is wrong"),
    ];
    for (auth, needle) in cases {
        let (status, message) = rest_with(&emu, auth.clone()).await;
        assert_eq!(status, 401, "{auth:?}");
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
        assert!(!message.contains(DEV_ACCESS_KEY));
    }
    // alg none with a signature-less token must never pass, even with the right claims.
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn accepted_rest_audience_forms() {
    let emu = spawn().await;
    for aud in [
        "http://127.0.0.1/api/hubs/chat/:send?api-version=2022-06-01",
        "http://127.0.0.1:1234/api/hubs/CHAT/:send/",
        "HTTP://127.0.0.1/api/hubs/Chat/:send",
    ] {
        let (status, message) =
            rest_with(&emu, bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud})))).await;
        assert_eq!(status, 202, "{aud}: {message}");
    }
    let hs512 = sign_alg(
        Algorithm::HS512,
        DEV_ACCESS_KEY,
        json!({"aud": "http://127.0.0.1/api/hubs/chat/:send"}),
    );
    assert_eq!(rest_with(&emu, bearer(hs512)).await.0, 202);
    let list = sign(
        DEV_ACCESS_KEY,
        json!({"aud": ["http://x/y", "http://127.0.0.1/api/hubs/chat/:send"]}),
    );
    assert_eq!(rest_with(&emu, bearer(list)).await.0, 202);
    emu.handle.shutdown().await;
}

async fn negotiate_with(
    emu: &Emu,
    hub: &str,
    token: Option<String>,
    in_query: bool,
) -> (u16, String) {
    let mut url = format!("{}/client/negotiate?hub={hub}&negotiateVersion=1", emu.base);
    let mut request = emu.http.post(&url);
    if let Some(token) = token {
        if in_query {
            url.push_str(&format!("&access_token={token}"));
            request = emu.http.post(&url);
        } else {
            request = request.bearer_auth(token);
        }
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, text)
}

#[tokio::test]
async fn client_token_checks() {
    let emu = spawn().await;
    let good = |hub: &str| {
        sign(
            DEV_ACCESS_KEY,
            json!({"aud": format!("http://127.0.0.1/client/?hub={hub}"), "sub": "s"}),
        )
    };
    let (status, body) = negotiate_with(&emu, "Chat", Some(good("chat")), false).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["negotiateVersion"], 1);
    assert_ne!(body["connectionId"], body["connectionToken"]);
    assert!(body.get("useStatefulReconnect").is_none());
    let transports: Vec<&str> = body["availableTransports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transport"].as_str().unwrap())
        .collect();
    assert_eq!(
        transports,
        ["WebSockets", "ServerSentEvents", "LongPolling"]
    );
    assert_eq!(
        negotiate_with(&emu, "chat", Some(good("chat")), true)
            .await
            .0,
        200
    );
    let no_hub_query = sign(DEV_ACCESS_KEY, json!({"aud": "http://127.0.0.1/client/"}));
    assert_eq!(
        negotiate_with(&emu, "chat", Some(no_hub_query), false)
            .await
            .0,
        200
    );

    let cases = [
        (None, "no access token"),
        (
            Some(good("other")),
            "expected http://127.0.0.1/client/?hub=chat",
        ),
        (
            Some(sign(
                DEV_ACCESS_KEY,
                json!({"aud": "http://127.0.0.1/api/hubs/chat"}),
            )),
            "audience is wrong",
        ),
        (
            Some(sign(
                DEV_ACCESS_KEY,
                json!({"aud": "http://127.0.0.1/client/?hub=chat", "exp": now() - 30}),
            )),
            "expired",
        ),
        (
            Some(sign(
                "wrong-key-wrong-key-wrong-key-wrong-key-0",
                json!({"aud": "http://127.0.0.1/client/?hub=chat"}),
            )),
            "signature",
        ),
    ];
    for (token, needle) in cases {
        let (status, body) = negotiate_with(&emu, "chat", token, false).await;
        assert_eq!(status, 401);
        assert!(body.contains(needle), "{needle:?} not in {body}");
    }
    let (status, body) = negotiate_with(&emu, "bad hub", Some(good("chat")), false).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = negotiate_with(&emu, "", Some(good("chat")), false).await;
    assert_eq!(status, 400);

    // Transport requests check the token too.
    let (_, token) = emu.negotiate("chat", None).await;
    let r = emu
        .http
        .get(format!("{}/client/?hub=chat&id={token}", emu.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    emu.handle.shutdown().await;
}
