//! Every way a token can be wrong gets a 401 that says why, for REST calls and for the client
//! endpoint; the accepted variations (HS512, port, trailing slash, hub case, query token) pass.
//! Requests without a usable host and tokens whose user id or claims cannot travel in upstream
//! headers are handled too.

use crate::emulator_support;

use base64::Engine;
use emulator_support::recorder::Recorder;
use emulator_support::{now, raw_http, sign, sign_alg, spawn, spawn_with, Emu, WsClient};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use serverless_signalr::emulator::UpstreamTemplate;
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

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
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud, "exp": "tomorrow"}))), "`exp` claim must be a whole number of seconds since 1970-01-01 UTC (a JSON integer), got \"tomorrow\""),
        (bearer(sign(DEV_ACCESS_KEY, json!({"aud": aud, "exp": [now() + 60]}))), "`exp` claim must be a whole number"),
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
    // The port, other query parameters, a trailing slash and the hub's case do not matter.
    let variant = sign(
        DEV_ACCESS_KEY,
        json!({"aud": "http://127.0.0.1:8888/client?x=1&HUB=Chat"}),
    );
    assert_eq!(
        negotiate_with(&emu, "chat", Some(variant), false).await.0,
        200
    );

    let cases = [
        (None, "no access token"),
        (
            Some(good("other")),
            "expected http://127.0.0.1/client/?hub=chat",
        ),
        // The SDKs always name the hub: a token without `?hub=` would open every hub.
        (
            Some(sign(
                DEV_ACCESS_KEY,
                json!({"aud": "http://127.0.0.1/client/"}),
            )),
            "has no `hub` query parameter: it must be http://127.0.0.1/client/?hub=chat",
        ),
        (
            Some(sign(
                DEV_ACCESS_KEY,
                json!({"aud": "http://127.0.0.1/client/?x=chat"}),
            )),
            "has no `hub` query parameter",
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

/// A raw `POST <target>` of a broadcast with `token`, and `host_line` (e.g. `Host: x\r\n`) if any.
fn raw_send(target: &str, host_line: &str, token: &str) -> String {
    let body = r#"{"target":"t","arguments":[]}"#;
    format!(
        "POST {target} HTTP/1.1\r\n{host_line}Authorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn without_a_host_header_the_uri_host_is_checked_or_the_request_refused() {
    let emu = spawn().await;
    let port = emu.handle.local_addr().port();
    let token = |host: &str| {
        sign(
            DEV_ACCESS_KEY,
            json!({"aud": format!("http://{host}{PATH}")}),
        )
    };
    let origin_form = format!("{PATH}?api-version=2022-06-01");
    let absolute_form = format!("http://127.0.0.1:{port}{PATH}?api-version=2022-06-01");

    // No Host and no host in the URI: nothing to check `aud` against, so no token passes.
    for host_line in ["", "Host: not a host\r\n"] {
        let request = raw_send(&origin_form, host_line, &token("evil.example"));
        let (status, text) = raw_http(&emu, &request).await;
        assert_eq!(status, 401, "{host_line:?}: {text}");
        assert!(text.contains("the request names no host"), "{text}");
    }
    // An absolute-form request target names the host.
    let (status, text) = raw_http(&emu, &raw_send(&absolute_form, "", &token("127.0.0.1"))).await;
    assert_eq!(status, 202, "{text}");
    let (status, text) =
        raw_http(&emu, &raw_send(&absolute_form, "", &token("evil.example"))).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("audience is wrong"), "{text}");

    // The client endpoint too.
    let client = sign(
        DEV_ACCESS_KEY,
        json!({"aud": "http://evil.example/client/?hub=chat"}),
    );
    let request = format!(
        "POST /client/negotiate?hub=chat&negotiateVersion=1 HTTP/1.1\r\n\
         Authorization: Bearer {client}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, text) = raw_http(&emu, &request).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("the request names no host"), "{text}");
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn a_user_id_with_control_characters_is_refused_at_connect() {
    let emu = spawn().await;
    for claims in [
        json!({"aud": "http://127.0.0.1/client/?hub=chat", "asrs.s.uid": "ann\nsmith"}),
        json!({"aud": "http://127.0.0.1/client/?hub=chat", "nameid": "bob\u{7}"}),
    ] {
        let token = sign(DEV_ACCESS_KEY, claims);
        let (status, body) = negotiate_with(&emu, "chat", Some(token.clone()), false).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body.contains("user id") && body.contains("control characters are not allowed"),
            "{body}"
        );
        // Transport requests check the same token the same way.
        let r = emu
            .http
            .get(format!("{}/client/?hub=chat&id=whatever", emu.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    emu.handle.shutdown().await;
}

#[tokio::test]
async fn claims_that_cannot_be_headers_are_left_out_and_the_upstream_hears_everything() {
    let rec = Recorder::start().await;
    let emu = spawn_with(|c| {
        c.upstream = vec![UpstreamTemplate::all(format!("{}/up/{{event}}", rec.base))];
    })
    .await;
    let token = sign(
        DEV_ACCESS_KEY,
        json!({"aud": "http://127.0.0.1/client/?hub=chat", "asrs.s.uid": "ann",
               "note": "line 1\nline 2", "role": ["admin", "bad\r"]}),
    );
    let mut ws = WsClient::connect_with_token(&emu, "chat", &token).await;
    let connected = rec.wait_for("/up/connected").await;
    assert_eq!(connected.header("x-asrs-user-id"), "ann");
    let claims = connected.header("x-asrs-user-claims");
    assert!(claims.contains("role: admin"), "{claims}");
    assert!(
        !claims.contains("note") && !claims.contains("bad"),
        "{claims}"
    );

    // A target with control characters cannot be an X-ASRS-Event header: the caller is told.
    ws.send_raw(
        "{\"type\":1,\"invocationId\":\"1\",\"target\":\"a\\u0001b\",\"arguments\":[]}\u{1e}",
    )
    .await;
    let answer = ws.next().await.unwrap();
    assert_eq!(answer["invocationId"], "1");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("the target contains control characters"),
        "{answer}"
    );
    ws.send_raw("{\"type\":7}\u{1e}").await;
    let gone = rec.wait_for("/up/disconnected").await;
    assert_eq!(gone.header("x-asrs-user-id"), "ann");
    emu.handle.shutdown().await;
}

/// `?application=` changes the hub a REST call addresses (`{application}_{hub}`), so the token's
/// audience must name it as the SDK mints it: a token for `chat` cannot be retargeted to
/// `app_chat`, nor one for `app_chat` to `chat` or `other_chat`.
#[tokio::test]
async fn the_application_query_must_be_in_the_audience() {
    let emu = spawn().await;
    let send = |query: &'static str, aud: &'static str| {
        let request = emu
            .http
            .post(format!("{}{PATH}?api-version=2022-06-01{query}", emu.base))
            .bearer_auth(sign(DEV_ACCESS_KEY, json!({"aud": aud})))
            .json(&json!({"target": "t", "arguments": []}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["message"].as_str().unwrap_or("").to_string())
        }
    };
    let sdk = "http://127.0.0.1/api/hubs/chat/:send?application=app&api-version=2022-06-01";
    let v1_style = "http://127.0.0.1/api/hubs/App_Chat/:send";
    let plain = "http://127.0.0.1/api/hubs/chat/:send?api-version=2022-06-01";
    let other = "http://127.0.0.1/api/hubs/chat/:send?application=other";
    for (query, aud) in [
        ("&application=app", sdk),
        ("&application=APP", sdk),
        ("&application=app", v1_style),
        ("", plain),
    ] {
        let (status, message) = send(query, aud).await;
        assert_eq!(status, 202, "{query} {aud}: {message}");
    }
    for (query, aud) in [
        ("&application=app", plain),
        ("&application=app", other),
        ("", sdk),
        ("&application=other", sdk),
    ] {
        let (status, message) = send(query, aud).await;
        assert_eq!(status, 401, "{query} {aud}: {message}");
        assert!(message.contains("audience is wrong"), "{message}");
    }
    let (_, message) = send("&application=app", plain).await;
    assert!(
        message.contains("expected http://127.0.0.1/api/hubs/chat/:send?application=app"),
        "{message}"
    );
    emu.handle.shutdown().await;
}
