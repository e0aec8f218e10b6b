//! `POST …/:generateToken`: a client token for this hub on this host, with the `userId`, `role`s
//! and `group`s the query names, valid for `minutesToExpire` (60 by default), signed as
//! `docs/webpubsub.md` §6 says for Entra ID mode. Answers `{"token": …}`.

use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde_json::json;

use super::{Answer, WpsRequest};
use crate::emulator::webpubsub::{auth, entra};

/// Minutes a generated token lives when the query does not say.
const DEFAULT_MINUTES: u64 = 60;

/// `:generateToken`.
pub async fn generate(request: WpsRequest, headers: HeaderMap) -> Answer {
    let minutes = request
        .number("minutesToExpire", 1..=u64::from(u32::MAX))?
        .unwrap_or(DEFAULT_MINUTES);
    let origin = auth::origin(&headers)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = json!({
        "aud": auth::client_audience(&origin, &request.hub),
        "iat": now,
        "exp": now.saturating_add(minutes.saturating_mul(60)),
    });
    let query = &request.query;
    if let Some(user) = query.first("userId").filter(|u| !u.is_empty()) {
        claims["sub"] = user.into();
    }
    for (parameter, claim) in [("role", "role"), ("group", "webpubsub.group")] {
        let values: Vec<&str> = query.values(parameter).collect();
        if !values.is_empty() {
            claims[claim] = values.into();
        }
    }
    let token = entra::sign_client_token(&request.state.config, &claims);
    Ok(axum::Json(json!({ "token": token })).into_response())
}
