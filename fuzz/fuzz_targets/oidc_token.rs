//! The app's OIDC bearer-token validation (`app::identity::oidc::validate_with_key`, what
//! `OidcValidator::validate` runs once it has the issuer's key): header, ES256 signature,
//! `iss`, `aud`, `exp`, `nbf`, the user-id claim and roles. The first byte `r` makes the rest
//! the token text as is (seeds are real tokens); otherwise the input is a structured token,
//! signed with the issuer's key, with fuzzed header and claims.
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey};
use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey as EcKey};
use serverless_signalr::app::identity::oidc::validate_with_key;
use serverless_signalr::app::identity::oidc_fetch::SigningKey;
use serverless_signalr::app::identity::settings::OidcSettings;
use serverless_signalr_fuzz::{Expected, Token};
use sha2::Digest;

const ISSUER: &str = "https://issuer.example/fuzz";
const AUDIENCE: &str = "api://fuzz-app";
const NOW: i64 = 1_700_000_000;

struct Keys {
    private: EcKey,
    public: SigningKey,
    settings: OidcSettings,
}

/// A fixed made-up P-256 key (the SHA-256 of a phrase), so runs are reproducible.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let scalar = sha2::Sha256::digest(b"serverless-signalr fuzz issuer key, made up");
        let private = EcKey::from_slice(&scalar).expect("a valid P-256 scalar");
        let point = private.verifying_key().to_encoded_point(false);
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(point.x().expect("uncompressed")),
            URL_SAFE_NO_PAD.encode(point.y().expect("uncompressed")),
        );
        let public = SigningKey {
            kid: "fuzz-key".into(),
            alg: Algorithm::ES256,
            key: DecodingKey::from_ec_components(&x, &y).expect("a valid public key"),
        };
        Keys {
            private,
            public,
            settings: OidcSettings::new(ISSUER, vec![AUDIENCE.into()]),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let token = match data.split_first() {
        Some((b'r', text)) => String::from_utf8_lossy(text).into_owned(),
        _ => {
            let mut u = Unstructured::new(data);
            let Ok(token) = Token::arbitrary(&mut u) else {
                return;
            };
            let expected = Expected {
                issuer: ISSUER,
                audience: AUDIENCE,
                now: NOW,
            };
            token.text(&expected, "ES256", Some("fuzz-key"), |input| {
                let signature: Signature = keys.private.sign(input);
                signature.to_bytes().to_vec()
            })
        }
    };
    let _ = validate_with_key(&token, &keys.public, &keys.settings, NOW);
});
