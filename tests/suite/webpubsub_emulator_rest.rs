//! The Web PubSub emulator's REST API against raw WebSocket clients: sends to everyone, a user,
//! a group and a connection with each content type, `excluded`, `filter`, membership, existence,
//! closes, permissions, listConnections, generateToken, and the auth and error rules.

use crate::webpubsub_emulator_support;

use serde_json::{json, Value};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use tokio_tungstenite::tungstenite::Message;
use webpubsub_emulator_support::*;

const HUB: &str = "chat";

#[tokio::test]
async fn sends_reach_everyone_users_groups_and_connections_with_each_data_type() {
    let wps = spawn().await;
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &[], &["g1"]).await;
    let mut bob = Client::open(&wps, HUB, JSON, Some("bob"), &[], &[]).await;
    let token = client_token(&wps, HUB, Some("raw"), &[], &[]);
    let (mut raw, chosen) = open_url(
        &format!(
            "{}/client/hubs/{HUB}?access_token={token}",
            wps.base.replace("http", "ws")
        ),
        None,
    )
    .await
    .unwrap();
    assert_eq!(chosen, None);

    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/:send"), json!({"hello": 1}))
            .await,
        202
    );
    let expected = json!({"type":"message","from":"server","dataType":"json","data":{"hello":1}});
    assert_eq!(ann.next().await, expected);
    assert_eq!(bob.next().await, expected);
    let Some(Ok(Message::Text(text))) = futures_util::StreamExt::next(&mut raw).await else {
        panic!()
    };
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"hello": 1})
    );

    let text = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/users/bob/:send"),
            Some(("text/plain", b"hi bob".to_vec())),
        )
        .await;
    assert_eq!(text.status, 202);
    assert_eq!(
        bob.next().await,
        json!({"type":"message","from":"server","dataType":"text","data":"hi bob"})
    );

    let bin = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/groups/g1/:send"),
            Some(("application/octet-stream", vec![1, 2, 3])),
        )
        .await;
    assert_eq!(bin.status, 202);
    assert_eq!(
        ann.next().await,
        json!({"type":"message","from":"server","dataType":"binary","data":"AQID"})
    );

    let to_conn = format!("/api/hubs/{HUB}/connections/{}/:send", bob.connection_id);
    assert_eq!(wps.send_json(&to_conn, json!("only bob")).await, 202);
    assert_eq!(bob.next().await["data"], "only bob");

    let excluded = format!("/api/hubs/{HUB}/:send?excluded={}", ann.connection_id);
    assert_eq!(wps.send_json(&excluded, json!(2)).await, 202);
    assert_eq!(bob.next().await["data"], 2);
    let filtered = format!(
        "/api/hubs/{HUB}/:send?filter={}",
        urlencode("userId eq 'ann' or 'g9' in groups")
    );
    assert_eq!(wps.send_json(&filtered, json!(3)).await, 202);
    assert_eq!(ann.next().await["data"], 3);
    ann.quiet(300).await;
    bob.quiet(0).await;
    // The raw client got the binary frame? No: it is not in g1. It got the broadcast of 2 only.
    let Some(Ok(Message::Text(two))) = futures_util::StreamExt::next(&mut raw).await else {
        panic!()
    };
    assert_eq!(two.as_str(), "2");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn tokens_need_hs256_with_the_key_exp_and_the_request_url_as_audience() {
    let wps = spawn().await;
    let url = format!("{}/api/hubs/{HUB}/:send?api-version=2024-01-01", wps.base);
    let no_query = format!("{}/api/hubs/{HUB}/:send", wps.base);
    let body = || Some(("application/json", b"1".to_vec()));
    for aud in [
        &url,
        &no_query,
        &format!("{}/API/HUBS/{HUB}/:send/", wps.base.to_uppercase()),
    ] {
        let token = sign(DEV_ACCESS_KEY, &json!({"aud": aud, "exp": now() + 60}));
        assert_eq!(
            wps.rest_with("POST", &url, &token, body()).await.status,
            202,
            "aud {aud}"
        );
    }
    let cases = [
        (
            sign("another key", &json!({"aud": url, "exp": now() + 60})),
            "signature",
        ),
        (sign(DEV_ACCESS_KEY, &json!({"aud": url})), "`exp`"),
        (
            sign(DEV_ACCESS_KEY, &json!({"aud": url, "exp": now() - 600})),
            "expired",
        ),
        (sign(DEV_ACCESS_KEY, &json!({"exp": now() + 60})), "`aud`"),
        (
            sign(
                DEV_ACCESS_KEY,
                &json!({"aud": format!("{}/api/hubs/other/:send", wps.base), "exp": now() + 60}),
            ),
            "expected http://127.0.0.1",
        ),
        (
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
                &json!({"aud": url, "exp": now() + 60}),
                &jsonwebtoken::EncodingKey::from_secret(DEV_ACCESS_KEY.as_bytes()),
            )
            .unwrap(),
            "HS256",
        ),
        ("not.a.jwt".to_string(), "not a valid JWT"),
    ];
    for (token, why) in cases {
        let answer = wps.rest_with("POST", &url, &token, body()).await;
        assert_eq!(answer.status, 401, "{why}: {}", answer.body);
        assert_eq!(answer.error_code.as_deref(), Some("Unauthorized"));
        assert!(
            answer.json()["message"].as_str().unwrap().contains(why),
            "{why}: {}",
            answer.body
        );
        assert!(!answer.body.contains(DEV_ACCESS_KEY));
    }
    let none = wps
        .http
        .post(&url)
        .body("1")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
}

#[tokio::test]
async fn bad_requests_get_error_details_naming_what_to_fix() {
    let wps = spawn().await;
    let bad_filter = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:send?filter={}", urlencode("userId eq")),
            Some(("application/json", b"1".to_vec())),
        )
        .await;
    assert_eq!(bad_filter.status, 400);
    assert_eq!(bad_filter.error_code.as_deref(), Some("InvalidFilter"));
    assert_eq!(bad_filter.json()["target"], "filter");
    assert!(
        bad_filter.body.contains("position 10"),
        "{}",
        bad_filter.body
    );

    let ttl = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:send?messageTtlSeconds=301"),
            Some(("application/json", b"1".to_vec())),
        )
        .await;
    assert_eq!(
        (ttl.status, ttl.json()["target"].clone()),
        (400, json!("messageTtlSeconds"))
    );
    let media = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:send"),
            Some(("application/xml", b"<a/>".to_vec())),
        )
        .await;
    assert_eq!(media.status, 415);
    let json = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:send"),
            Some(("application/json", b"{".to_vec())),
        )
        .await;
    assert_eq!(json.status, 400);
    assert!(json.body.contains("not valid JSON"));
    let hub = wps
        .rest(
            "POST",
            "/api/hubs/1bad/:send",
            Some(("application/json", b"1".to_vec())),
        )
        .await;
    assert_eq!(
        (hub.status, hub.json()["target"].clone()),
        (400, json!("hub"))
    );
    let route = wps
        .rest("POST", &format!("/api/hubs/{HUB}/nothing"), None)
        .await;
    assert_eq!(
        (route.status, route.error_code.as_deref()),
        (404, Some("RouteNotFound"))
    );
    let method = wps
        .rest("GET", &format!("/api/hubs/{HUB}/:send"), None)
        .await;
    assert_eq!(method.status, 405);
    let too_big = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:send"),
            Some(("text/plain", vec![b'a'; 2 * 1024 * 1024])),
        )
        .await;
    assert_eq!(too_big.status, 413);
    let token = sign(
        DEV_ACCESS_KEY,
        &json!({"aud": format!("{}/api/hubs/{HUB}/:send", wps.base), "exp": now() + 60}),
    );
    let version = wps
        .rest_with(
            "POST",
            &format!("{}/api/hubs/{HUB}/:send", wps.base),
            &token,
            None,
        )
        .await;
    assert_eq!(
        (version.status, version.json()["target"].clone()),
        (400, json!("api-version"))
    );
    let list = wps.rest_with("GET", &format!("{}/api/hubs/{HUB}/groups/g/connections?api-version=2024-01-01", wps.base), &sign(DEV_ACCESS_KEY, &json!({"aud": format!("{}/api/hubs/{HUB}/groups/g/connections", wps.base), "exp": now() + 60})), None).await;
    assert_eq!(list.status, 400, "listConnections needs 2024-12-01");
}

#[tokio::test]
async fn membership_existence_listing_and_closes() {
    let wps = spawn().await;
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    let mut ann2 = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    let mut bob = Client::open(&wps, HUB, JSON, Some("bob"), &[], &[]).await;
    let head = |path: String| {
        let wps = &wps;
        async move { wps.rest("HEAD", &path, None).await.status }
    };
    assert_eq!(
        head(format!("/api/hubs/{HUB}/connections/{}", ann.connection_id)).await,
        200
    );
    assert_eq!(
        head(format!("/api/hubs/{HUB}/connections/nobody")).await,
        404
    );
    assert_eq!(head(format!("/api/hubs/{HUB}/users/ann")).await, 200);
    assert_eq!(head(format!("/api/hubs/{HUB}/users/zed")).await, 404);
    assert_eq!(head(format!("/api/hubs/{HUB}/groups/g1")).await, 404);

    assert_eq!(
        wps.rest("PUT", &format!("/api/hubs/{HUB}/users/ann/groups/g1"), None)
            .await
            .status,
        200
    );
    assert_eq!(head(format!("/api/hubs/{HUB}/groups/g1")).await, 200);
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/groups/g1/:send"), json!("to g1"))
            .await,
        202
    );
    assert_eq!(ann.next().await["data"], "to g1");
    assert_eq!(ann2.next().await["data"], "to g1");
    bob.quiet(200).await;

    let list = wps
        .rest(
            "GET",
            &format!("/api/hubs/{HUB}/groups/g1/connections?maxpagesize=1"),
            None,
        )
        .await;
    assert_eq!(list.status, 200);
    let page = list.json();
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    assert_eq!(page["value"][0]["userId"], "ann");
    let next = page["nextLink"].as_str().expect("a second page");
    let second = wps
        .rest("GET", &next.replace("&api-version=2024-12-01", ""), None)
        .await
        .json();
    assert_eq!(second["value"].as_array().unwrap().len(), 1);
    assert!(second.get("nextLink").is_none());

    assert_eq!(
        wps.rest(
            "DELETE",
            &format!("/api/hubs/{HUB}/users/ann/groups/g1"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(head(format!("/api/hubs/{HUB}/groups/g1")).await, 404);
    let add = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:addToGroups"),
            Some((
                "application/json",
                json!({"groups":["g2","g3"],"filter":"userId eq 'bob'"})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.body);
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/groups/g3/:send"), json!("g3"))
            .await,
        202
    );
    assert_eq!(bob.next().await["data"], "g3");
    let bad = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:removeFromGroups"),
            Some((
                "application/json",
                json!({"groups":["g2"],"filter":"userId eq"})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
    assert_eq!(bad.status, 400);
    let remove = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/:removeFromGroups"),
            Some((
                "application/json",
                json!({"groups":["g2","g3"],"filter":"'g2' in groups"})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
    assert_eq!(remove.status, 200);
    assert_eq!(head(format!("/api/hubs/{HUB}/groups/g3")).await, 404);
    let conn_group = format!(
        "/api/hubs/{HUB}/groups/g4/connections/{}",
        bob.connection_id
    );
    assert_eq!(wps.rest("PUT", &conn_group, None).await.status, 200);
    assert_eq!(
        wps.rest(
            "PUT",
            &format!("/api/hubs/{HUB}/groups/g4/connections/nobody"),
            None
        )
        .await
        .status,
        404
    );
    assert_eq!(
        wps.rest(
            "DELETE",
            &format!("/api/hubs/{HUB}/connections/{}/groups", bob.connection_id),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(head(format!("/api/hubs/{HUB}/groups/g4")).await, 404);

    let close = wps
        .rest(
            "POST",
            &format!("/api/hubs/{HUB}/users/ann/:closeConnections?reason=bye"),
            None,
        )
        .await;
    assert_eq!(close.status, 204);
    for client in [&mut ann, &mut ann2] {
        assert_eq!(
            client.next().await,
            json!({"type":"system","event":"disconnected","message":"bye"})
        );
        assert_eq!(client.closed().await.0, 1000);
    }
    assert_eq!(head(format!("/api/hubs/{HUB}/users/ann")).await, 404);
    let delete = wps
        .rest(
            "DELETE",
            &format!("/api/hubs/{HUB}/connections/{}", bob.connection_id),
            None,
        )
        .await;
    assert_eq!(delete.status, 204);
    assert_eq!(bob.next().await["event"], "disconnected");
}

#[tokio::test]
async fn runtime_grants_and_generated_tokens() {
    let wps = spawn().await;
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    let join = json!({"type":"joinGroup","group":"room"});
    let refused = ann.request(join.clone(), 1).await;
    assert_eq!(refused["success"], false);
    assert_eq!(refused["error"]["name"], "Forbidden");
    let perm = format!(
        "/api/hubs/{HUB}/permissions/joinLeaveGroup/connections/{}?targetName=room",
        ann.connection_id
    );
    assert_eq!(wps.rest("HEAD", &perm, None).await.status, 404);
    assert_eq!(wps.rest("PUT", &perm, None).await.status, 200);
    assert_eq!(wps.rest("HEAD", &perm, None).await.status, 200);
    assert_eq!(ann.request(join.clone(), 2).await["success"], true);
    assert_eq!(wps.rest("DELETE", &perm, None).await.status, 204);
    assert_eq!(ann.request(join, 3).await["error"]["name"], "Forbidden");
    let unknown = wps
        .rest(
            "PUT",
            &format!("/api/hubs/{HUB}/permissions/fly/connections/x"),
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.json()["target"].clone()),
        (400, json!("permission"))
    );

    let generated = wps.rest("POST", &format!("/api/hubs/{HUB}/:generateToken?userId=zoe&role=webpubsub.joinLeaveGroup&group=lobby&minutesToExpire=5"), None).await;
    assert_eq!(generated.status, 200);
    let token = generated.json()["token"].as_str().unwrap().to_string();
    let url = format!(
        "{}/client/hubs/{HUB}?access_token={token}",
        wps.base.replace("http", "ws")
    );
    let (ws, _) = open_url(&url, Some(JSON)).await.unwrap();
    let mut zoe = Client {
        ws,
        protocol: None,
        connection_id: String::new(),
        reconnection_token: None,
    };
    assert_eq!(zoe.next().await["userId"], "zoe");
    assert_eq!(
        wps.send_json(&format!("/api/hubs/{HUB}/groups/lobby/:send"), json!("hi"))
            .await,
        202
    );
    assert_eq!(zoe.next().await["data"], "hi");
    assert_eq!(
        zoe.request(json!({"type":"joinGroup","group":"other"}), 1)
            .await["success"],
        true
    );
}

/// Path forms and the order of refusals: a percent-encoded `:send`, empty segments and a
/// trailing `/` reach their operation (the token signs the URL as called); without a token, a
/// wrong method and an unknown operation are 401 like any call, with one a 405 naming the
/// methods and a 404; `/api/health` needs no token.
#[tokio::test]
async fn path_forms_and_the_order_of_refusals() {
    let wps = spawn().await;
    let mut ann = Client::open(&wps, HUB, JSON, Some("ann"), &[], &[]).await;
    for path in [
        format!("/api/hubs/{HUB}/%3Asend"),
        format!("/api//hubs/{HUB}/users/ann/:send/"),
    ] {
        assert_eq!(wps.send_json(&path, json!(path)).await, 202, "{path}");
        assert_eq!(ann.next().await["data"], json!(path));
    }
    for (method, path) in [("GET", ":send"), ("POST", "nothing"), ("HEAD", "")] {
        let url = format!("{}/api/hubs/{HUB}/{path}?api-version=2024-01-01", wps.base);
        let unsigned = wps.http.request(method.parse().unwrap(), &url).send();
        assert_eq!(unsigned.await.unwrap().status(), 401, "{method} {path}");
    }
    let wrong = wps
        .rest("PUT", &format!("/api/hubs/{HUB}/users/ann"), None)
        .await;
    assert_eq!(wrong.status, 405);
    assert!(wrong.body.contains("allowed: HEAD"), "{}", wrong.body);
    let list = format!("/api/hubs/{HUB}/groups/g/connections");
    assert_eq!(wps.rest("GET", &list, None).await.status, 200);
    assert_eq!(wps.rest("HEAD", &list, None).await.status, 405);
    let hub_only = wps.rest("POST", &format!("/api/hubs/{HUB}"), None).await;
    assert_eq!(hub_only.error_code.as_deref(), Some("RouteNotFound"));
    let health = format!("{}/api/health", wps.base);
    assert_eq!(wps.http.get(&health).send().await.unwrap().status(), 200);
    assert_eq!(wps.http.post(&health).send().await.unwrap().status(), 405);
}
