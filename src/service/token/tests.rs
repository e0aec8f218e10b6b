//! Tests of the token minter: the claims a user's token carries and the payload's bytes.

use super::*;
use serde_json::json;

/// A user's token: custom claims in their order, a repeated type as an array in its first
/// place, reserved types and a second `sub` renamed, then roles, the user id and the system
/// claims.
#[test]
fn client_token_claims_in_order() {
    let key = Secret::new("key".to_string());
    let minter = TokenMinter::from_parts(&key, "http://h/".into(), "http://h/".into()).unwrap();
    let claims = ClientClaims {
        user_id: Some("alice".into()),
        claims: vec![
            ("sub".into(), json!("s1")),
            ("team".into(), json!("a")),
            ("aud".into(), json!("x")),
            ("sub".into(), json!("s2")),
            ("team".into(), json!(["b"])),
            ("asrs.s.uid".into(), json!("mallory")),
            ("team".into(), json!(3)),
        ],
        roles: vec!["r1".into(), "r2".into()],
        lifetime: Some(Duration::from_secs(60)),
        transports: None,
        close_on_expiry: true,
    };
    let token = minter.client_token("Chat", &claims).unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let exp = payload["exp"].as_u64().unwrap();
    let names: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "sub",
            "team",
            "asrs.u.aud",
            "asrs.u.sub",
            "asrs.u.asrs.s.uid",
            "role",
            "asrs.s.uid",
            "nameid",
            "asrs.s.coae",
            "asrs.s.aeo",
            "nbf",
            "exp",
            "iat",
            "aud"
        ]
    );
    assert_eq!(payload["team"], json!(["a", ["b"], 3]));
    assert_eq!(payload["sub"], "s1");
    assert_eq!(payload["asrs.u.sub"], "s2");
    assert_eq!(payload["asrs.u.asrs.s.uid"], "mallory");
    assert_eq!(payload["role"], json!(["r1", "r2"]));
    assert_eq!(payload["asrs.s.uid"], "alice");
    assert_eq!(payload["nameid"], "alice");
    assert_eq!(payload["asrs.s.aeo"], exp.to_string());
    assert_eq!(payload["aud"], "http://h/client/?hub=chat");
}

/// The hand-written payload is what `serde_json` writes for the claims then the registered
/// ones.
#[test]
fn payload_is_what_serde_json_writes() {
    let claims = json!({
        "asrs.s.uid": "alice \"a\"", "role": ["r1", "r2"], "n": 3, "nameid": "alice"
    });
    for claims in [claims.as_object().unwrap().clone(), Map::new()] {
        let mut expected = claims.clone();
        for (name, value) in [("nbf", json!(10)), ("exp", json!(70)), ("iat", json!(10))] {
            expected.insert(name.into(), value);
        }
        expected.insert("aud".into(), json!("http://h/client/?hub=chat"));
        assert_eq!(
            payload(fields_of(&claims), 10, 70, "http://h/client/?hub=chat"),
            serde_json::to_vec(&expected).unwrap()
        );
    }
}
