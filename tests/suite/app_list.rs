//! Listing a group's connections through the app: SignalR against real emulators (one and two
//! endpoints, pages followed by the app's own `nextLink`, `top` across endpoints, no member
//! twice), the exact calls against the recording service (api-version 2024-12-01, paging values
//! passed on, the service's token sent back), Web PubSub's route, and hostile paging values.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::app_endpoints::endpoint_app::{call, cs, spawn};
use crate::emulator_support::{self as emu, Emu, WsClient};
use crate::support::{keyed, spawn_app, FakeService, Reply, TestApp};
use crate::webpubsub_support::easy_auth_app;
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;

/// Connects `count` clients to `emulator` and puts them in group `room`; returns their ids.
async fn members(emulator: &Emu, count: usize, clients: &mut Vec<WsClient>) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let user = format!("user-{i}");
        let client = WsClient::connect(emulator, "chat", Some(&user)).await;
        let path = format!(
            "/api/hubs/chat/groups/room/connections/{}?api-version=2022-06-01",
            client.connection_id
        );
        assert_eq!(emulator.rest(Method::PUT, &path, None).await.status(), 200);
        ids.push(client.connection_id.clone());
        clients.push(client);
    }
    ids
}

/// Follows the app's `nextLink`s from `first`; every member's id and each page's size.
async fn walk(app: &TestApp, first: &str) -> (Vec<String>, Vec<usize>) {
    let (mut ids, mut sizes) = (Vec::new(), Vec::new());
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let (status, page) = call(app, Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {page}");
        let value = page["value"].as_array().unwrap();
        sizes.push(value.len());
        ids.extend(
            value
                .iter()
                .map(|m| m["connectionId"].as_str().unwrap().to_string()),
        );
        if let Some(link) = page["nextLink"].as_str() {
            assert!(
                link.starts_with("/api/hubs/chat/groups/room/connections?"),
                "{link}"
            );
            assert!(!link.contains("code="), "{link}");
            next = Some(link.to_string());
        }
        assert!(sizes.len() < 100, "the pages end");
    }
    (ids, sizes)
}

#[tokio::test]
async fn two_endpoints_are_listed_one_after_the_other_without_duplicates() {
    let (east, west) = (emu::spawn().await, emu::spawn().await);
    let mut clients = Vec::new();
    let mut expected = members(&east, 3, &mut clients).await;
    expected.extend(members(&west, 4, &mut clients).await);
    let app = spawn(
        &[
            ("Azure__SignalR__Endpoints__east", cs(&east)),
            ("Azure__SignalR__Endpoints__west", cs(&west)),
        ],
        None,
        "60",
    )
    .await;
    let route = "/api/hubs/chat/groups/room/connections";

    let (ids, sizes) = walk(&app, &format!("{route}?maxpagesize=2")).await;
    assert_eq!(sizes, vec![2, 1, 2, 2], "east's pages, then west's");
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no member twice: {ids:?}");
    assert_eq!(unique, expected.iter().collect::<BTreeSet<_>>());

    // `top` counts across endpoints; the SDK's casing works too.
    let (ids, _) = walk(&app, &format!("{route}?maxPageSize=2&top=5")).await;
    assert_eq!(ids.len(), 5);
    let (_, page) = call(&app, Method::GET, &format!("{route}?top=3"), None).await;
    assert_eq!(page["value"].as_array().unwrap().len(), 3);
    assert!(page.get("nextLink").is_none(), "{page}");

    // Users come along.
    let (_, page) = call(&app, Method::GET, &format!("{route}?top=1"), None).await;
    assert!(page["value"][0]["userId"]
        .as_str()
        .unwrap()
        .starts_with("user-"));
}

#[tokio::test]
async fn hostile_paging_values_are_clear_400s_and_an_unknown_group_is_empty() {
    let emulator = emu::spawn().await;
    let app = spawn(
        &[("Azure__SignalR__Endpoints__one", cs(&emulator))],
        None,
        "60",
    )
    .await;
    let route = "/api/hubs/chat/groups/room/connections";
    for (query, code) in [
        ("maxpagesize=201", "InvalidQuery"),
        ("maxpagesize=0", "InvalidQuery"),
        ("top=0", "InvalidQuery"),
        ("top=many", "InvalidQuery"),
        ("continuationToken=forged", "InvalidContinuationToken"),
        // A token for the second endpoint of an app that has one.
        (
            "continuationToken=eyJlIjoxLCJiIjowLCJuIjowfQ",
            "InvalidContinuationToken",
        ),
    ] {
        let (status, body) = call(&app, Method::GET, &format!("{route}?{query}"), None).await;
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_str()),
            (400, Some(code)),
            "{query}: {body}"
        );
    }
    let (status, body) = call(
        &app,
        Method::GET,
        "/api/hubs/chat/groups/nobody/connections",
        None,
    )
    .await;
    assert_eq!((status.as_u16(), body), (200, json!({"value": []})));
    let (status, body) = call(
        &app,
        Method::GET,
        "/api/hubs/chat/groups/%20/connections",
        None,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let anonymous = app
        .http
        .get(format!("{}{route}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn the_app_passes_paging_on_and_sends_the_services_token_back() {
    let service = FakeService::signalr().await;
    let app = spawn_app(keyed(), &service.connection_string()).await;
    let next = "https://x.service.signalr.net/api/hubs/chat/groups/room/connections?top=7&maxpagesize=5&continuationToken=svc%2Btoken&api-version=2024-12-01";
    service.reply([Reply::status(200).body(
        &json!({"value": [{"connectionId": "c1", "userId": "u1"}], "nextLink": next}).to_string(),
    )]);
    let (status, page) = call(
        &app,
        Method::GET,
        "/api/hubs/Chat/groups/room/connections?maxpagesize=5&top=7&code=ignored",
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["value"],
        json!([{"connectionId": "c1", "userId": "u1"}])
    );
    let first = service.single();
    assert_eq!(first.path, "/api/hubs/chat/groups/room/connections");
    let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        first.query,
        query(&[
            ("api-version", "2024-12-01"),
            ("maxpagesize", "5"),
            ("top", "7")
        ])
    );

    service.reply([Reply::status(200).body(r#"{"value": [{"connectionId": "c2"}]}"#)]);
    let link = page["nextLink"].as_str().unwrap();
    let (status, last) = call(&app, Method::GET, link, None).await;
    assert_eq!(status, 200);
    assert_eq!(last, json!({"value": [{"connectionId": "c2"}]}));
    assert_eq!(
        service.single().query,
        query(&[
            ("api-version", "2024-12-01"),
            ("maxpagesize", "5"),
            ("top", "7"),
            ("continuationToken", "svc+token")
        ])
    );

    service.reply([
        Reply::status(503).body("down"),
        Reply::status(503),
        Reply::status(503),
        Reply::status(503),
    ]);
    let (status, body) = call(
        &app,
        Method::GET,
        "/api/hubs/chat/groups/room/connections",
        None,
    )
    .await;
    assert_eq!(status, 502, "{body}");
}

#[tokio::test]
async fn web_pubsub_groups_are_listed_with_api_version_2024_12_01() {
    let service = FakeService::webpubsub().await;
    let app = easy_auth_app(&service, WebPubSubArgs::default()).await;
    service.reply([Reply::status(200).body(
        &json!({"value": [{"connectionId": "c1"}], "nextLink": "/api/hubs/Chat/groups/room/connections?continuationToken=t1"}).to_string(),
    )]);
    let route = "/api/webpubsub/hubs/Chat/groups/room/connections";
    let (status, page) = call(&app, Method::GET, &format!("{route}?maxpagesize=1"), None).await;
    assert_eq!(status, 200, "{page}");
    let request = service.single();
    assert_eq!(request.path, "/api/hubs/Chat/groups/room/connections");
    let pairs: Vec<(&str, &str)> = request
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(pairs, [("api-version", "2024-12-01"), ("maxpagesize", "1")]);
    let aud = crate::support::verify(request.token())["aud"].clone();
    assert_eq!(
        aud,
        json!(format!(
            "http://127.0.0.1:{}{}?{}",
            service.port, request.path, request.raw_query
        )),
        "Web PubSub tokens name the whole URL"
    );
    let link = page["nextLink"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{route}?maxpagesize=1&continuationToken=")),
        "{link}"
    );

    service.reply([Reply::status(200).body(r#"{"value": []}"#)]);
    let (_, last) = call(&app, Method::GET, link, None).await;
    assert_eq!(last, json!({"value": []}));
    let pairs = service.single().query;
    assert_eq!(
        pairs.last().unwrap(),
        &("continuationToken".to_string(), "t1".to_string())
    );
}
