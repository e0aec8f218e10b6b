//! Listing a group's connections in the emulator (api-version 2024-12-01): pages in connection
//! id order that cover every member once, `top` across pages with a `nextLink` that keeps the
//! original query, users included, an unknown group as an empty list, and the service's 400 for
//! bad paging values or an older api-version.

use reqwest::Method;
use serde_json::{json, Value};

use crate::emulator_support::{error_of, spawn, Emu, WsClient};

const LIST: &str = "/api/hubs/chat/groups/room/connections";

async fn join(emu: &Emu, id: &str) {
    let path = format!("/api/hubs/chat/groups/room/connections/{id}?api-version=2022-06-01");
    assert_eq!(emu.rest(Method::PUT, &path, None).await.status(), 200);
}

async fn list(emu: &Emu, path_and_query: &str) -> Value {
    let response = emu.rest(Method::GET, path_and_query, None).await;
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.json().await.unwrap()
}

/// Follows `nextLink`s from `first`, returning every member seen and each page's size.
async fn walk(emu: &Emu, first: &str) -> (Vec<Value>, Vec<usize>) {
    let (mut members, mut sizes) = (Vec::new(), Vec::new());
    let mut next = Some(first.to_string());
    while let Some(path) = next.take() {
        let page = list(emu, &path).await;
        let value = page["value"].as_array().unwrap().clone();
        sizes.push(value.len());
        members.extend(value);
        if let Some(link) = page["nextLink"].as_str() {
            let url = url::Url::parse(link).expect("an absolute nextLink");
            assert_eq!(
                format!("{}/", url.origin().ascii_serialization()),
                format!("{}/", emu.base.trim_end_matches('/'))
            );
            next = Some(format!("{}?{}", url.path(), url.query().unwrap()));
        }
    }
    (members, sizes)
}

#[tokio::test]
async fn a_group_is_listed_in_pages_with_users_and_top() {
    let emu = spawn().await;
    let mut clients = Vec::new();
    for i in 0..9 {
        let user = format!("user-{i}");
        let client = WsClient::connect(&emu, "chat", (i % 3 != 0).then_some(user.as_str())).await;
        join(&emu, &client.connection_id).await;
        clients.push(client);
    }
    let outsider = WsClient::connect(&emu, "chat", Some("outsider")).await;

    let (members, sizes) = walk(
        &emu,
        &format!("{LIST}?api-version=2024-12-01&maxpagesize=4"),
    )
    .await;
    assert_eq!(sizes, vec![4, 4, 1]);
    let ids: Vec<&str> = members
        .iter()
        .map(|m| m["connectionId"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = clients.iter().map(|c| c.connection_id.as_str()).collect();
    expected.sort();
    assert_eq!(ids, expected, "every member once, in id order");
    assert!(!ids.contains(&outsider.connection_id.as_str()));
    for member in &members {
        let client = clients
            .iter()
            .position(|c| c.connection_id == member["connectionId"])
            .unwrap();
        if client % 3 == 0 {
            assert_eq!(member.as_object().unwrap().len(), 1, "no userId: {member}");
        } else {
            assert_eq!(member["userId"], json!(format!("user-{client}")));
        }
    }

    // `top` holds across pages; the SDK's `maxPageSize` casing is read too.
    let query = "api-version=2024-12-01&top=5&maxPageSize=2";
    let first = list(&emu, &format!("{LIST}?{query}")).await;
    let link = first["nextLink"].as_str().unwrap();
    assert!(
        link.contains("top=5") && link.contains("maxPageSize=2"),
        "{link}"
    );
    let (members, sizes) = walk(&emu, &format!("{LIST}?{query}")).await;
    assert_eq!((members.len(), sizes), (5, vec![2, 2, 1]));
}

#[tokio::test]
async fn an_unknown_group_is_an_empty_list() {
    let emu = spawn().await;
    let page = list(
        &emu,
        "/api/hubs/chat/groups/nobody/connections?api-version=2024-12-01",
    )
    .await;
    assert_eq!(page, json!({"value": []}));
}

#[tokio::test]
async fn bad_paging_values_and_older_versions_are_400() {
    let emu = spawn().await;
    for query in [
        "api-version=2024-12-01&maxpagesize=201",
        "api-version=2024-12-01&maxpagesize=0",
        "api-version=2024-12-01&top=0",
        "api-version=2024-12-01&top=abc",
        "api-version=2024-12-01&continuationToken=not-ours",
        "api-version=2022-06-01",
        "",
    ] {
        let (status, code, body) = error_of(
            emu.rest(Method::GET, &format!("{LIST}?{query}"), None)
                .await,
        )
        .await;
        assert_eq!(
            (status, code.as_str()),
            (400, "Error.Request.Invalid"),
            "{query}: {body}"
        );
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
    let (status, ..) = error_of(
        emu.rest(
            Method::POST,
            &format!("{LIST}?api-version=2024-12-01"),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 405);
}

/// A 10 000-member group (half of them through a user's membership) pages out completely, in
/// order, without duplicates, each page from the emulator's hub state directly.
#[test]
fn ten_thousand_members_page_out_once_each() {
    use serverless_signalr::emulator::hubs::Hubs;
    use serverless_signalr::emulator::outbox::outbox;
    use serverless_signalr::emulator::outgoing::Outgoing;
    use serverless_signalr::emulator::paging::PageRequest;
    use serverless_signalr::emulator::request::Query;
    use serverless_signalr::emulator::shutdown::Shutdown;
    use serverless_signalr::service::hub_protocol::Protocol;

    let hubs = Hubs::default();
    let mut readers = Vec::new();
    for i in 0..10_000 {
        let (out, reader) = outbox::<Shutdown>(1024);
        readers.push(reader);
        let id = format!("conn-{:05}", (i * 7919) % 10_000);
        let user = format!("user-{}", i % 2);
        let greeting = Outgoing::handshake(b"{}".to_vec());
        hubs.add_connection("chat", &id, Some(user), out, Protocol::Json, greeting);
        if i % 2 == 0 {
            assert!(hubs.add_to_group("chat", "big", &id));
        }
    }
    hubs.add_user_to_group("chat", "user-1", "big", None);

    let started = std::time::Instant::now();
    let mut seen: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut uri = "/x?maxpagesize=200".to_string();
        if let Some(token) = &token {
            uri.push_str(&format!("&continuationToken={token}"));
        }
        let request = PageRequest::parse(&Query::of(&uri.parse().unwrap())).unwrap();
        let page = hubs.page_group("chat", "big", &request);
        assert!(page.members.len() <= 200);
        seen.extend(page.members.into_iter().map(|(id, _)| id));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..10_000).map(|i| format!("conn-{i:05}")).collect();
    assert_eq!(seen, expected, "every member once, in order");
    // Only a guard against pathological paging: the suite runs this beside hundreds of other
    // tests on a shared machine, so a tight wall-clock bound would be flaky.
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
}
