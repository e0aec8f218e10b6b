//! The emulator's strict token validation (`emulator::auth::verify`): signature (HS256/HS512
//! with the access key), `exp`, `nbf` and `aud` against the client or REST endpoint the request
//! reached. The first byte `r` makes the rest the token text as is (seeds are real tokens);
//! otherwise the input is a structured token, signed with the key, with fuzzed claims.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serverless_signalr::emulator::auth::{verify, Audience};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::Secret;
use serverless_signalr_fuzz::{Expected, Token};

fn sign(input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(DEV_ACCESS_KEY.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let (rest_call, token) = match data.split_first() {
        Some((b'r', text)) => (false, String::from_utf8_lossy(text).into_owned()),
        _ => {
            let mut u = Unstructured::new(data);
            let Ok((rest_call, token)) = <(bool, Token)>::arbitrary(&mut u) else {
                return;
            };
            let audience = if rest_call {
                "http://127.0.0.1:8888/api/v1/hubs/chat"
            } else {
                "http://127.0.0.1:8888/client/?hub=chat"
            };
            let expected = Expected {
                issuer: "unused",
                audience,
                now: i64::try_from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                )
                .unwrap_or(0),
            };
            (rest_call, token.text(&expected, "HS256", None, sign))
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8888"));
    let key = Secret::new(DEV_ACCESS_KEY);
    let audience = if rest_call {
        let uri = Uri::from_static("/api/v1/hubs/chat/:send?api-version=2022-06-01");
        Audience::rest(&headers, &uri, None)
    } else {
        let uri = Uri::from_static("/client/?hub=chat");
        Audience::client(&headers, &uri, "chat")
    }
    .expect("the request has a host");
    if let Ok(claims) = verify(&token, &key, &audience) {
        let _ = (claims.user_id(), claims.checked_user_id(), claims.pairs());
    }
});
