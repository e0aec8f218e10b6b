//! The topic hub methods: the exact REST call each one makes (path and body
//! `{"target":"message","arguments":[topic, payload, sender]}`), the framed completion it answers,
//! and every refusal (arguments, publish policy, topic allow-list, service failure) with its text.

use crate::support::Reply;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::upstream_support::{error, invoke, result, send, setup, Call};

async fn answer(app: &crate::support::TestApp, call: Call) -> String {
    let (status, body) = call.send(app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn subscribe_and_unsubscribe_manage_the_topic_group() {
    let (app, rec) = setup(|_| {}).await;
    let body = answer(&app, invoke("subscribe", json!(["orders"]))).await;
    assert_eq!(body, result(json!("orders")));
    let body = answer(&app, invoke("UnSubscribe", json!(["orders"]))).await;
    assert_eq!(body, result(json!("orders")));
    let got = rec.take();
    let calls: Vec<_> = got
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            (
                "PUT",
                "/api/hubs/chat/groups/topic%3Aorders/connections/conn-1"
            ),
            (
                "DELETE",
                "/api/hubs/chat/groups/topic%3Aorders/connections/conn-1"
            ),
        ]
    );

    // The service does not know the connection.
    rec.answer(|_| Reply::status(404));
    let body = answer(&app, invoke("subscribe", json!(["orders"]))).await;
    assert_eq!(
        body,
        error("subscribe to \"orders\" failed: the service does not know this connection")
    );
    // Any other failure: a generic text for the client, the details only in the log.
    rec.answer(|_| Reply::status(400).body("secret internals"));
    let body = answer(&app, invoke("subscribe", json!(["orders"]))).await;
    assert_eq!(
        body,
        error("subscribe failed: SignalR Service did not accept the request; try again later")
    );
}

#[tokio::test]
async fn publishing_sends_topic_payload_and_sender() {
    let (app, rec) = setup(|_| {}).await;
    let payload = json!({"id": 7, "items": ["a"]});
    let body = answer(&app, invoke("publishToTopic", json!(["orders", payload]))).await;
    assert_eq!(body, result(json!(true)));
    let body = answer(&app, invoke("PUBLISH", json!([payload])).user("alice")).await;
    assert_eq!(body, result(json!(true)));
    let got = rec.take();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/api/hubs/chat/groups/topic%3Aorders/:send");
    assert_eq!(
        got[0].json,
        json!({"target": "message", "arguments": ["orders", payload, "conn-1"]})
    );
    assert_eq!(got[1].path, "/api/hubs/chat/:send");
    assert_eq!(
        got[1].json,
        json!({"target": "message", "arguments": [null, payload, "alice"]})
    );

    // Fire-and-forget invocations send too, and answer with an empty body.
    let (status, body) = send("publishToTopic", json!(["orders", 1]))
        .send(&app)
        .await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(rec.take().len(), 1);
    // ... and their errors are only logged.
    let (status, body) = send("publishToTopic", json!(["orders"])).send(&app).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert!(rec.take().is_empty());
}

#[tokio::test]
async fn the_client_method_name_is_configurable() {
    let (app, rec) = setup(|a| a.pubsub_target = Some("onTopic".into())).await;
    answer(&app, invoke("publishToTopic", json!(["t", "x"]))).await;
    assert_eq!(
        rec.take()[0].json,
        json!({"target": "onTopic", "arguments": ["t", "x", "conn-1"]})
    );
}

#[tokio::test]
async fn wrong_arguments_say_what_the_method_expects() {
    let (app, rec) = setup(|_| {}).await;
    let cases: [(&str, Value, &str); 9] = [
        (
            "subscribe",
            json!([]),
            "subscribe expects (topic); got 0 arguments",
        ),
        (
            "subscribe",
            json!(["a", "b"]),
            "subscribe expects (topic); got 2 arguments",
        ),
        (
            "subscribe",
            json!([1]),
            "subscribe expects (topic); the topic must be a string",
        ),
        (
            "unsubscribe",
            json!([null]),
            "unsubscribe expects (topic); the topic must be a string",
        ),
        (
            "publish",
            json!([]),
            "publish expects (payload); got 0 arguments",
        ),
        (
            "publish",
            json!([1, 2]),
            "publish expects (payload); got 2 arguments",
        ),
        (
            "publishToTopic",
            json!(["t"]),
            "publishToTopic expects (topic, payload); got 1 argument",
        ),
        (
            "publishToTopic",
            json!([{}, 1]),
            "publishToTopic expects (topic, payload); the topic must be a string",
        ),
        (
            "subscribe",
            json!([""]),
            "topic is not valid: a topic name must not be empty",
        ),
    ];
    for (method, args, text) in cases {
        let body = answer(&app, invoke(method, args)).await;
        assert_eq!(body, error(text), "{method}");
    }
    let body = answer(&app, invoke("subscribe", json!(["bad\u{7}name"]))).await;
    assert!(body.contains("topic is not valid"), "{body}");
    let big = "x".repeat(1100);
    let body = answer(&app, invoke("subscribe", json!([big]))).await;
    assert!(body.contains("topic is not valid"), "{body}");
    // Fits the upstream's 1 MB, but not the service's once a long sender is added.
    let huge = "x".repeat(1024 * 1024 - 200);
    let long_user = "u".repeat(1000);
    let body = answer(&app, invoke("publish", json!([huge])).user(&long_user)).await;
    assert!(body.contains("publish: the message is"), "{}", &body[..100]);
    assert!(rec.take().is_empty(), "nothing reaches the service");
}

#[tokio::test]
async fn the_publish_policy_decides_who_may_publish() {
    let (app, rec) = setup(|a| a.pubsub_publishers = Some("authenticated".into())).await;
    let refused = error("publishing needs a signed-in user; this connection has no user id");
    assert_eq!(answer(&app, invoke("publish", json!([1]))).await, refused);
    let body = answer(&app, invoke("publishToTopic", json!(["t", 1]))).await;
    assert_eq!(body, refused);
    let body = answer(&app, invoke("publishToTopic", json!(["t", 1])).user("bob")).await;
    assert_eq!(body, result(json!(true)));
    // Subscribing needs no user.
    let body = answer(&app, invoke("subscribe", json!(["t"]))).await;
    assert_eq!(body, result(json!("t")));
    assert_eq!(rec.take().len(), 2);

    let (app, rec) = setup(|a| a.pubsub_publishers = Some("Nobody".into())).await;
    let refused =
        error("publishing is not allowed from clients in this app; topics are subscribe-only");
    for call in [
        invoke("publish", json!([1])).user("bob"),
        invoke("publishToTopic", json!(["t", 1])).user("bob"),
    ] {
        assert_eq!(answer(&app, call).await, refused);
    }
    let body = answer(&app, invoke("subscribe", json!(["t"]))).await;
    assert_eq!(body, result(json!("t")));
    assert_eq!(rec.take().len(), 1);

    let (app, rec) = setup(|a| a.pubsub_publishers = Some("anyone".into())).await;
    assert_eq!(
        answer(&app, invoke("publish", json!([1]))).await,
        result(json!(true))
    );
    assert_eq!(rec.take().len(), 1);
}

#[tokio::test]
async fn only_allowed_topics_can_be_used() {
    let (app, rec) = setup(|a| a.pubsub_topics = Some("orders, team-*".into())).await;
    for topic in ["orders", "team-a", "team-"] {
        let body = answer(&app, invoke("subscribe", json!([topic]))).await;
        assert_eq!(body, result(json!(topic)));
    }
    assert_eq!(rec.take().len(), 3);
    for topic in ["billing", "Orders", "order", "team"] {
        let refused = error(&format!("topic {topic:?} is not allowed by this app"));
        for call in [
            invoke("subscribe", json!([topic])),
            invoke("unsubscribe", json!([topic])),
            invoke("publishToTopic", json!([topic, 1])),
        ] {
            assert_eq!(answer(&app, call).await, refused);
        }
    }
    // Publishing to everyone names no topic, so the list does not apply.
    assert_eq!(
        answer(&app, invoke("publish", json!([1]))).await,
        result(json!(true))
    );
    assert_eq!(rec.take().len(), 1);
}

#[tokio::test]
async fn bad_settings_are_refused_with_the_setting_name() {
    use serverless_signalr::app::settings::{ServeArgs, Settings};
    let base = || ServeArgs {
        connection_string: Some(format!(
            "Endpoint=http://127.0.0.1;AccessKey={};Version=1.0;",
            crate::support::KEY
        )),
        ..Default::default()
    };
    let cases: [(ServeArgs, &str); 5] = [
        (
            ServeArgs {
                pubsub_publishers: Some("everyone".into()),
                ..base()
            },
            "SIGNALR_PUBSUB_PUBLISHERS",
        ),
        (
            ServeArgs {
                pubsub_topics: Some("a*b".into()),
                ..base()
            },
            "SIGNALR_PUBSUB_TOPICS",
        ),
        (
            ServeArgs {
                upstream_groups: Some("g-{".into()),
                ..base()
            },
            "SIGNALR_UPSTREAM_GROUPS",
        ),
        (
            ServeArgs {
                upstream_forward_url: Some("ftp://x?code=hidden".into()),
                ..base()
            },
            "SIGNALR_UPSTREAM_FORWARD_URL",
        ),
        (
            ServeArgs {
                upstream_forward_url: Some("/relative?code=hidden".into()),
                ..base()
            },
            "SIGNALR_UPSTREAM_FORWARD_URL",
        ),
    ];
    for (args, setting) in cases {
        let e = Settings::from_args(args).expect_err(setting);
        assert_eq!(e.setting, setting);
        assert!(!e.to_string().contains("hidden"), "{e}");
    }
}
