use super::*;
use serde_json::json;

#[test]
fn varints_round_trip_and_match_the_spec() {
    for (len, bytes) in [
        (0usize, vec![0x00u8]),
        (127, vec![0x7f]),
        (128, vec![0x80, 0x01]),
        (16384, vec![0x80, 0x80, 0x01]),
        (i32::MAX as usize, vec![0xff, 0xff, 0xff, 0xff, 0x07]),
    ] {
        let mut out = Vec::new();
        write_length(&mut out, len);
        assert_eq!(out, bytes);
        assert_eq!(read_length(&bytes), Ok(Some((len, bytes.len()))));
    }
    assert_eq!(read_length(&[0x80, 0x80]), Ok(None));
    assert_eq!(read_length(&[0x80; 5]), Err(FrameError::BadLength));
    assert_eq!(
        read_length(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
        Err(FrameError::BadLength)
    );
}

#[test]
fn messages_have_the_spec_encodings() {
    // HubProtocol.md: Ping is `0x91 0x06`; the service's invocation has no id and no headers.
    assert_eq!(ping_frame(), vec![0x02, 0x91, 0x06]);
    let frame = invocation_frame("m", &json!([42, "é", {"a": [true, null, 1.5]}]));
    let value = decode(&frame[1..]).unwrap();
    assert_eq!(frame[0] as usize, frame.len() - 1);
    assert_eq!(
        value,
        Pack::Array(vec![
            Pack::from(1),
            Pack::Map(vec![]),
            Pack::Nil,
            Pack::from("m"),
            Pack::Array(vec![
                Pack::from(42),
                Pack::from("é"),
                Pack::Map(vec![(
                    Pack::from("a"),
                    Pack::Array(vec![Pack::Boolean(true), Pack::Nil, Pack::F64(1.5)])
                )]),
            ]),
            Pack::Array(vec![]),
        ])
    );
    assert_eq!(
        decode(&close_frame(Some("bye"), true)[1..]).unwrap(),
        Pack::Array(vec![Pack::from(7), Pack::from("bye"), Pack::Boolean(true)])
    );
    assert_eq!(
        completion_frame("7", Ok(None)),
        vec![0x06, 0x94, 0x03, 0x80, 0xa1, b'7', 0x02]
    );
    assert_eq!(
        decode(&completion_frame("7", Err("no"))[1..]).unwrap(),
        Pack::Array(vec![
            Pack::from(3),
            Pack::Map(vec![]),
            Pack::from("7"),
            Pack::from(1),
            Pack::from("no")
        ])
    );
}

#[test]
fn client_invocations_are_read() {
    // The spec's example: [1, {}, "xyz", "method", [42]].
    let bytes = [
        0x95, 0x01, 0x80, 0xa3, b'x', b'y', b'z', 0xa6, b'm', b'e', b't', b'h', b'o', b'd', 0x91,
        0x2a,
    ];
    let value = decode(&bytes).unwrap();
    assert_eq!(message_type(&value), Ok(1));
    assert_eq!(
        invocation(&value).unwrap(),
        Invocation {
            invocation_id: Some("xyz".into()),
            target: "method".into(),
            arguments: vec![json!(42)],
        }
    );
    let no_target = decode(&[0x95, 0x01, 0x80, 0xc0, 0xc0, 0x90]).unwrap();
    assert!(invocation(&no_target).unwrap_err().contains("target"));
    assert!(message_type(&Pack::from(1)).is_err());
    assert!(
        decode(&[0xa3, b'x']).is_err(),
        "a string shorter than announced"
    );
    assert!(decode(&[0x92, 0x01]).is_err(), "an array missing an item");
    assert!(decode(&[0x01, 0x02]).is_err(), "two values in one message");
}

#[test]
fn json_and_messagepack_values_convert_both_ways() {
    let value = json!({"n": -3, "big": u64::MAX, "f": 0.25, "s": "x\u{1F600}", "l": [null, false]});
    assert_eq!(to_json(&from_json(&value)), value);
    assert_eq!(to_json(&Pack::Binary(vec![1, 2, 3])), json!("AQID"));
}

#[test]
fn frames_split_across_chunks_and_refuse_bad_input() {
    let mut frames = Frames::new(100);
    let mut stream = ping_frame();
    stream.extend(close_frame(None, false));
    frames.feed(&stream[..4]);
    assert_eq!(frames.next_message(), Some(Ok(vec![0x91, 0x06])));
    assert_eq!(frames.next_message(), None);
    assert!(frames.check_complete().is_err());
    frames.feed(&stream[4..]);
    assert!(frames.next_message().unwrap().is_ok());
    assert_eq!(frames.check_complete(), Ok(()));

    let mut frames = Frames::new(100);
    frames.feed(&[0x80]);
    assert_eq!(frames.next_message(), None);
    assert_eq!(
        frames.check_complete(),
        Err(FrameError::Truncated(
            "the bytes end inside its length prefix"
        ))
    );
    let mut frames = Frames::new(100);
    frames.feed(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert_eq!(frames.next_message(), Some(Err(FrameError::BadLength)));
    let mut frames = Frames::new(1024);
    let mut huge = Vec::new();
    write_length(&mut huge, 10 * 1024 * 1024);
    frames.feed(&huge);
    assert_eq!(frames.next_message(), Some(Err(FrameError::TooLarge(1024))));
}

/// Found by fuzzing (`fuzz/fuzz_targets/hub_protocol_msgpack.rs`, a libFuzzer timeout): maps
/// used as keys of maps, each key written as the JSON text of the one inside it, doubled the
/// text at every level (300 bytes took minutes). Keys deeper than [`MAX_KEY_NESTING`] are now
/// a placeholder; shallow ones keep their JSON text.
#[test]
fn maps_nested_as_keys_convert_in_linear_size() {
    let mut value = Pack::from("x");
    for _ in 0..24 {
        value = Pack::Map(vec![(value, Pack::Nil)]);
    }
    let started = std::time::Instant::now();
    let text = to_json(&value).to_string();
    assert!(text.len() < 1000, "{} bytes", text.len());
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let shallow = Pack::Map(vec![(
        Pack::Map(vec![(Pack::Integer(1.into()), Pack::Nil)]),
        Pack::Nil,
    )]);
    assert_eq!(to_json(&shallow), json!({ r#"{"1":null}"#: null }));
    let deep_array = Pack::Map(vec![(
        Pack::Map(vec![(
            Pack::Map(vec![(Pack::Array(vec![]), Pack::Nil)]),
            Pack::Nil,
        )]),
        Pack::Nil,
    )]);
    assert_eq!(
        to_json(&deep_array),
        json!({ r#"{"{\"[…]\":null}":null}"#: null })
    );
}

#[test]
fn client_results_and_streams_have_the_spec_encodings() {
    let invoke = encode(&HubMessage::InvokeClient {
        invocation_id: "s1".into(),
        target: "ask".into(),
        arguments: json!([{"z": 1, "a": 2}]),
    });
    let value = decode(&invoke[1..]).unwrap();
    assert_eq!(value[2], Pack::from("s1"));
    assert_eq!(value[3], Pack::from("ask"));
    let keys: Vec<&str> = value[4][0]
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["z", "a"], "object keys keep their order");
    let item = stream_item_frame("7", &json!([1]));
    assert_eq!(
        decode(&item[1..]).unwrap(),
        Pack::Array(vec![
            Pack::from(2),
            Pack::Map(vec![]),
            Pack::from("7"),
            Pack::Array(vec![Pack::from(1)])
        ])
    );
    let read = |items: Vec<Pack>| completion(&items);
    let head = || vec![Pack::from(3), Pack::Map(vec![]), Pack::from("s1")];
    let with = |mut items: Vec<Pack>, more: Vec<Pack>| {
        items.extend(more);
        items
    };
    assert_eq!(
        read(with(head(), vec![Pack::from(3), Pack::Map(vec![])])),
        Ok(("s1".into(), Ok(Some(json!({})))))
    );
    assert_eq!(
        read(with(head(), vec![Pack::from(1), Pack::from("boom")])),
        Ok(("s1".into(), Err("boom".into())))
    );
    assert_eq!(
        read(with(head(), vec![Pack::from(2)])),
        Ok(("s1".into(), Ok(None)))
    );
    assert!(read(with(head(), vec![Pack::from(4)])).is_err());
    assert!(read(vec![
        Pack::from(3),
        Pack::Map(vec![]),
        Pack::Nil,
        Pack::from(2)
    ])
    .is_err());
}
