//! Management routes over HTTP against a recording service: existence checks, closing
//! connections (query and body options, repeated and comma-joined `excluded`), health, names
//! refused before any call and service failures reported as 502.

use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{keyed, spawn_app, FakeService, Reply};

async fn setup() -> (support::TestApp, FakeService) {
    let recorder = FakeService::start().await;
    let app = spawn_app(keyed(), &recorder.connection_string()).await;
    (app, recorder)
}

#[tokio::test]
async fn management_routes() {
    let (app, rec) = setup().await;
    let get = |path: &str| {
        let url = format!("{}{path}", app.url);
        let http = app.http.clone();
        async move {
            http.get(url)
                .header("x-functions-key", "test-key")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        get("/api/hubs/chat/users/u1").await,
        json!({"hub": "chat", "exists": true})
    );
    rec.answer(|_| Reply::status(404));
    assert_eq!(get("/api/hubs/chat/groups/g1").await["exists"], false);
    assert_eq!(get("/api/hubs/chat/connections/c1").await["exists"], false);
    assert_eq!(
        get("/api/hubs/chat/users/u1/groups/g1").await["exists"],
        false
    );
    let got: Vec<(String, String)> = rec
        .take()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    assert_eq!(got[0], ("HEAD".into(), "/api/hubs/chat/users/u1".into()));
    assert_eq!(got[1], ("HEAD".into(), "/api/hubs/chat/groups/g1".into()));
    assert_eq!(
        got[2],
        ("HEAD".into(), "/api/hubs/chat/connections/c1".into())
    );
    assert_eq!(got[3].1, "/api/hubs/chat/users/u1/groups/g1");
    rec.answer(|r| Reply::status(if r.method == "DELETE" { 200 } else { 204 }));
    let r = app
        .http
        .delete(format!(
            "{}/api/hubs/chat/connections/c1?reason=bye",
            app.url
        ))
        .header("x-functions-key", "test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .post(format!(
            "{}/api/hubs/chat/close?reason=maintenance&excluded=a,b",
            app.url
        ))
        .header("x-functions-key", "test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
    let r = app
        .http
        .post(format!("{}/api/hubs/chat/groups/g1/close", app.url))
        .header("x-functions-key", "test-key")
        .json(&json!({"reason": "r", "excluded": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .post(format!("{}/api/hubs/chat/users/u1/close", app.url))
        .header("x-functions-key", "test-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let got = rec.take();
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("DELETE", "/api/hubs/chat/connections/c1")
    );
    assert!(got[0].query.contains(&("reason".into(), "bye".into())));
    assert_eq!(
        (got[1].method.as_str(), got[1].path.as_str()),
        ("POST", "/api/hubs/chat/:closeConnections")
    );
    assert!(
        got[1].query.contains(&("excluded".into(), "a".into()))
            && got[1].query.contains(&("excluded".into(), "b".into()))
    );
    assert!(got[1]
        .query
        .contains(&("reason".into(), "maintenance".into())));
    assert_eq!(got[2].path, "/api/hubs/chat/groups/g1/:closeConnections");
    assert_eq!(got[3].path, "/api/hubs/chat/users/u1/:closeConnections");
}

#[tokio::test]
async fn health_reflects_the_service() {
    /// `GET /api/health` of `app`: status and body without the endpoint list (`app_endpoints`
    /// checks that), which is the answer's shape from before there were several endpoints.
    async fn health(app: &support::TestApp) -> (StatusCode, Value) {
        let r = app
            .http
            .get(format!("{}/api/health", app.url))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let mut body: Value = r.json().await.unwrap();
        body.as_object_mut().unwrap().remove("endpoints");
        (status, body)
    }
    let unavailable = |service: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "service": service }),
        )
    };

    let rec = FakeService::start().await;
    let args = serverless_signalr::app::settings::ServeArgs {
        // Health answers show each change at once (no reuse window).
        health_cache_seconds: Some("0".into()),
        ..keyed()
    };
    let app = spawn_app(args, &rec.connection_string()).await;
    assert_eq!(
        health(&app).await,
        (StatusCode::OK, json!({"service": "healthy"}))
    );
    let got = rec.take();
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("HEAD", "/api/health")
    );
    rec.answer(|_| Reply::status(503));
    assert_eq!(health(&app).await, unavailable("unhealthy"));
    // The service refuses the key: not an outage, a configuration problem of this app.
    rec.answer(|_| Reply::status(401));
    assert_eq!(health(&app).await, unavailable("unauthorized"));
    // Nothing listening at all.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = spawn_app(
        keyed(),
        &format!(
            "Endpoint=http://127.0.0.1;Port={port};AccessKey={};",
            support::KEY
        ),
    )
    .await;
    assert_eq!(health(&dead).await, unavailable("unreachable"));
}

/// Standalone callers repeat `excluded`; the Functions host joins repeated keys with commas.
/// Both reach the service as one `excluded` per connection id.
#[tokio::test]
async fn close_accepts_repeated_and_comma_joined_excluded() {
    let (app, rec) = setup().await;
    for query in [
        "excluded=a&excluded=b&reason=r",
        "excluded=a,b&reason=r",
        "excluded=a&code=test-key&excluded=b&reason=r",
    ] {
        let r = app
            .http
            .post(format!("{}/api/hubs/chat/users/u1/close?{query}", app.url))
            .header("x-functions-key", "test-key")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{query}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"hub": "chat", "closed": {"userId": "u1"}, "excluded": ["a", "b"]})
        );
        let got = rec.take();
        assert_eq!(got[0].path, "/api/hubs/chat/users/u1/:closeConnections");
        let excluded: Vec<&str> = got[0]
            .query
            .iter()
            .filter(|(k, _)| k == "excluded")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(excluded, ["a", "b"], "{query}");
        assert!(got[0].query.contains(&("reason".into(), "r".into())));
    }
}

/// The close routes' body takes PascalCase like every other request body, and a wrong type
/// names the field.
#[tokio::test]
async fn close_bodies_accept_pascal_case_and_name_bad_fields() {
    let (app, rec) = setup().await;
    let close = |body: Value| {
        let request = app
            .http
            .post(format!("{}/api/hubs/chat/groups/g1/close", app.url))
            .header("x-functions-key", "test-key")
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, answer) = close(json!({"Reason": "room closed", "Excluded": ["x"]})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["excluded"], json!(["x"]));
    let got = rec.take();
    assert!(got[0]
        .query
        .contains(&("reason".into(), "room closed".into())));
    assert!(got[0].query.contains(&("excluded".into(), "x".into())));
    for (body, says) in [
        (
            json!({"excluded": "x"}),
            "excluded: invalid type: string \"x\", expected a sequence",
        ),
        (json!({"Reason": 5}), "reason: invalid type: integer `5`"),
        (json!({"reasons": "typo"}), "unknown field `reasons`"),
        (json!(["x"]), "must be a JSON object"),
    ] {
        let (status, answer) = close(body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["code"], "InvalidBody");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    assert!(rec.take().is_empty());
}

/// Management routes check names before any call (a JSON 400 that names the rule broken), and
/// a service failure is a 502 carrying the service's status.
#[tokio::test]
async fn management_routes_refuse_bad_names_and_report_service_failures() {
    use reqwest::Method;
    let (app, rec) = setup().await;
    let call = |method: Method, path: String, body: Option<Value>| {
        let mut request = app
            .http
            .request(method, format!("{}{path}", app.url))
            .header("x-functions-key", "test-key");
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let r = request.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let long = "x".repeat(1025);
    let cases = [
        (
            Method::GET,
            "/api/hubs/1chat/users/u1".to_string(),
            None,
            "hub \"1chat\" is not valid",
        ),
        (
            Method::GET,
            "/api/hubs/chat/users/%20".into(),
            None,
            "user id must not be empty",
        ),
        // (A ".." path segment is collapsed by the HTTP client itself, so it goes in the body.)
        (
            Method::POST,
            "/api/hubs/chat/close".into(),
            Some(json!({"excluded": [".."]})),
            "connection id \"..\" is not valid",
        ),
        (
            Method::GET,
            format!("/api/hubs/chat/users/{long}"),
            None,
            "user id is 1025 characters long; the limit is 1024",
        ),
        (
            Method::GET,
            "/api/hubs/chat/groups/a%01b".into(),
            None,
            "control characters are not allowed",
        ),
        (
            Method::GET,
            "/api/hubs/chat/connections/%20".into(),
            None,
            "connection id must not be empty",
        ),
        (
            Method::GET,
            "/api/hubs/chat/users/u/groups/%20".into(),
            None,
            "group name must not be empty",
        ),
        (
            Method::DELETE,
            "/api/hubs/chat/connections/%20".into(),
            None,
            "connection id must not be empty",
        ),
        (
            Method::POST,
            "/api/hubs/9/close".into(),
            None,
            "hub \"9\" is not valid",
        ),
        (
            Method::POST,
            "/api/hubs/chat/groups/%20/close".into(),
            None,
            "group name must not be empty",
        ),
        (
            Method::POST,
            "/api/hubs/chat/users/%20/close".into(),
            None,
            "user id must not be empty",
        ),
        (
            Method::POST,
            "/api/hubs/chat/close".into(),
            Some(json!({"excluded": [" "]})),
            "connection id must not be empty",
        ),
    ];
    for (method, path, body, says) in cases {
        let (status, answer) = call(method.clone(), path.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "InvalidName", "{path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{path}: {message:?} should say {says:?}"
        );
    }
    assert!(rec.take().is_empty(), "bad names never reach the service");

    rec.answer(|_| Reply::status(403).header("x-ms-error-code", "Error.Auth.Forbidden"));
    for (method, path) in [
        (Method::GET, "/api/hubs/chat/users/u1"),
        (Method::GET, "/api/hubs/chat/groups/g1"),
        (Method::GET, "/api/hubs/chat/connections/c1"),
        (Method::GET, "/api/hubs/chat/users/u1/groups/g1"),
        (Method::DELETE, "/api/hubs/chat/connections/c1"),
        (Method::POST, "/api/hubs/chat/close"),
        (Method::POST, "/api/hubs/chat/groups/g1/close"),
        (Method::POST, "/api/hubs/chat/users/u1/close"),
    ] {
        let (status, answer) = call(method.clone(), path.into(), None).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "ServiceError");
        assert_eq!(answer["error"]["serviceStatus"], 403);
        assert_eq!(answer["error"]["serviceCode"], "Error.Auth.Forbidden");
    }
    rec.answer(|_| Reply::status(500));
    let (status, answer) = call(Method::POST, "/api/hubs/chat/close".into(), None).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["error"]["serviceStatus"], 500);
}

/// The service takes `excluded` ids only in the URL, which has a size limit: a longer list is
/// refused up front with a 400 that names the limit, and nothing reaches the service.
#[tokio::test]
async fn close_with_too_many_excluded_ids_is_refused_before_any_call() {
    let (app, rec) = setup().await;
    let ids: Vec<String> = (0..6000).map(|i| format!("conn-{i:016}")).collect();
    let r = app
        .http
        .post(format!("{}/api/hubs/chat/close", app.url))
        .header("x-functions-key", "test-key")
        .json(&json!({ "excluded": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the limit is 4096"), "{body}");
    assert!(rec.take().is_empty(), "the service was called");

    // A send to everyone but too many connections is refused the same way.
    let r = app
        .http
        .post(format!("{}/api/messages", app.url))
        .header("x-functions-key", "test-key")
        .json(&json!({ "target": "t", "arguments": [], "excluded": ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(rec.take().is_empty(), "the service was called");

    // A list that fits still goes through.
    let r = app
        .http
        .post(format!("{}/api/hubs/chat/close", app.url))
        .header("x-functions-key", "test-key")
        .json(&json!({ "excluded": ids[..100] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(rec.take().len(), 1);
}
