//! The JSON hub protocol's tests: record splitting, handshakes, reading and writing messages.

use super::*;

/// Feeds each chunk and collects every record complete so far, stopping at the first error.
fn split(records: &mut Records, chunks: &[&[u8]]) -> Result<Vec<String>, ProtocolError> {
    let mut out = Vec::new();
    for chunk in chunks {
        records.feed(chunk);
        while let Some(record) = records.next_record() {
            out.push(record?);
        }
    }
    Ok(out)
}

#[test]
fn records_split_across_chunks() {
    let mut records = Records::new(100);
    assert_eq!(split(&mut records, &[b"{\"a\":"]), Ok(vec![]));
    let got = split(&mut records, &[b"1}\x1e{}\x1e{"]).unwrap();
    assert_eq!(got, vec!["{\"a\":1}".to_string(), "{}".to_string()]);
    assert_eq!(
        split(&mut records, &[b"\"b\"", b":2", b"}", b"\x1e"]).unwrap(),
        vec!["{\"b\":2}".to_string()]
    );
    assert_eq!(
        split(&mut Records::new(3), &[b"{\"abc\""]),
        Err(ProtocolError::TooLarge(3))
    );
}

#[test]
fn many_records_in_one_push_come_out_in_order() {
    let count = 100_000;
    let mut frame = Vec::new();
    for i in 0..count {
        frame.extend_from_slice(format!("{{\"i\":{i}}}\x1e").as_bytes());
    }
    frame.extend_from_slice(b"{\"tail\"");
    let mut records = Records::new(1 << 20);
    let got = split(&mut records, &[&frame]).unwrap();
    assert_eq!(got.len(), count);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, r)| *r == format!("{{\"i\":{i}}}")));
    // The incomplete tail waits for the rest, which arrives one byte at a time.
    let rest: Vec<&[u8]> = [b":1}".as_slice(), b"\x1e{}\x1e"]
        .iter()
        .flat_map(|c| c.chunks(1))
        .collect();
    assert_eq!(
        split(&mut records, &rest).unwrap(),
        vec!["{\"tail\":1}".to_string(), "{}".to_string()]
    );
    assert!(records.next_record().is_none());
}

#[test]
fn a_record_over_the_limit_is_refused_even_when_complete() {
    let mut records = Records::new(4);
    assert_eq!(split(&mut records, &[b"1234\x1e"]), Ok(vec!["1234".into()]));
    assert_eq!(
        split(&mut records, &[b"12", b"345\x1e"]),
        Err(ProtocolError::TooLarge(4))
    );
    let mut records = Records::new(4);
    assert_eq!(
        split(&mut records, &[b"\xff\x1e"]),
        Err(ProtocolError::NotJson("it is not UTF-8".into()))
    );
}

#[test]
fn handshakes() {
    let json = r#"{"protocol":"json","version":1}"#;
    assert_eq!(check_handshake(json, false), Ok(Protocol::Json));
    let packed = r#"{"protocol":"messagepack","version":1}"#;
    assert_eq!(check_handshake(packed, true), Ok(Protocol::MessagePack));
    let err = check_handshake(packed, false).unwrap_err();
    assert!(err.to_string().contains("Server-Sent Events"));
    let err = check_handshake(r#"{"protocol":"messagepack","version":2}"#, true).unwrap_err();
    assert!(err.to_string().contains("use version 1"));
    assert!(err.to_string().contains("useStatefulReconnect=true"));
    let v2 = r#"{"protocol":"messagepack","version":2}"#;
    assert_eq!(
        check_handshake_up_to(v2, true, 2),
        Ok(Handshake {
            protocol: Protocol::MessagePack,
            version: 2
        })
    );
    let err = check_handshake_up_to(r#"{"protocol":"json","version":3}"#, true, 2).unwrap_err();
    assert!(err.to_string().contains("use version 1 or 2"));
    let err = check_handshake(r#"{"protocol":"bson","version":1}"#, true).unwrap_err();
    assert!(err.to_string().contains("'bson' is not available"));
    assert!(check_handshake("nope", true).is_err());
}

#[test]
fn messages() {
    let raw = r#"{"type":1,"invocationId":"0","target":"echo","arguments":[1]}"#;
    assert_eq!(
        parse(raw).unwrap(),
        ClientMessage::Invocation {
            raw: raw.as_bytes().to_vec(),
            content_type: "application/json",
            invocation_id: Some("0".into()),
            target: "echo".into()
        }
    );
    assert_eq!(parse(r#"{"type":6}"#).unwrap(), ClientMessage::Ping);
    assert!(parse(r#"{"type":1}"#).is_err());
    assert!(parse("[1]").is_err());
    let close = HubMessage::Close {
        error: Some("bye".into()),
        allow_reconnect: true,
    };
    assert_eq!(
        encode(&close),
        "{\"type\":7,\"error\":\"bye\",\"allowReconnect\":true}\u{1e}".as_bytes()
    );
    let invoke = HubMessage::InvokeClient {
        invocation_id: "s1".into(),
        target: "ask".into(),
        arguments: serde_json::json!([{"z": 1, "a": 2}]),
    };
    assert_eq!(
        encode(&invoke),
        "{\"type\":1,\"invocationId\":\"s1\",\"target\":\"ask\",\"arguments\":[{\"z\":1,\"a\":2}]}\u{1e}".as_bytes()
    );
    let answer = |text: &str| match parse(text).unwrap() {
        ClientMessage::Completion { outcome, .. } => outcome,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        answer(r#"{"type":3,"invocationId":"s1","result":null}"#),
        Ok(Some(Value::Null))
    );
    assert_eq!(answer(r#"{"type":3,"invocationId":"s1"}"#), Ok(None));
    assert_eq!(
        answer(r#"{"type":3,"invocationId":"s1","error":"no","result":1}"#),
        Err("no".into())
    );
    assert!(parse(r#"{"type":3}"#).is_err(), "a completion needs its id");
    let completion = |outcome| HubMessage::Completion {
        invocation_id: "7".into(),
        outcome,
    };
    assert_eq!(
        encode(&completion(Ok(Some(json!("orders"))))),
        b"{\"type\":3,\"invocationId\":\"7\",\"result\":\"orders\"}\x1e".to_vec()
    );
    assert_eq!(
        encode(&completion(Err("no \"x\"".into()))),
        b"{\"type\":3,\"invocationId\":\"7\",\"error\":\"no \\\"x\\\"\"}\x1e".to_vec()
    );
    assert_eq!(
        encode(&completion(Ok(None))),
        b"{\"type\":3,\"invocationId\":\"7\"}\x1e".to_vec()
    );
}
