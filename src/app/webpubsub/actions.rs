//! `POST /api/webpubsub/actions` and `/api/webpubsub/hubs/{hub}/actions`: a `WebPubSubAction`
//! or an array of them ([`super::action`]). The whole batch is validated before the first REST
//! call, so a bad item applies nothing; then each is applied in order, and a failure says how
//! many were applied before it.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::action::{Action, RawAction, FIELDS};
use crate::app::body;
use crate::app::error::ApiError;
use crate::app::extract::PathParams;
use crate::app::AppState;
use crate::service::names;

/// Parses a request body into actions: all valid, or the first error with its index.
pub fn parse_body(bytes: &[u8], max: usize) -> Result<Vec<Action>, ApiError> {
    let raws: Vec<RawAction> = body::one_or_many(bytes, "action", max, FIELDS)?;
    let total = raws.len();
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| {
            Action::parse(raw).map_err(|e| {
                e.context(format!("action {} of {total}", i + 1))
                    .with_details(json!({ "index": i }))
            })
        })
        .collect()
}

/// Handler of the default hub's route (`WebPubSubHub`).
pub async fn default_hub(State(state): State<AppState>, body: Body) -> Response {
    let hub = state.webpubsub().settings().hub.clone();
    apply(state, hub, body).await.into_response()
}

/// Handler of `/api/webpubsub/hubs/{hub}/actions`.
pub async fn named_hub(
    State(state): State<AppState>,
    PathParams(hub): PathParams<String>,
    body: Body,
) -> Response {
    apply(state, hub, body).await.into_response()
}

async fn apply(state: AppState, hub: String, body: Body) -> Result<Response, ApiError> {
    names::validate_hub(&hub)?;
    let service = state.webpubsub().service()?;
    let bytes = body::read(body).await?;
    let actions = parse_body(&bytes, state.settings().max_batch)?;
    let total = actions.len();
    for (i, action) in actions.iter().enumerate() {
        if let Err(e) = action.apply(&service.rest, &hub).await {
            return Err(ApiError::from(e)
                .context(format!(
                    "action {} of {total} was not applied ({i} before it were)",
                    i + 1
                ))
                .with_details(json!({ "index": i, "applied": i })));
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "hub": hub, "applied": total })),
    )
        .into_response())
}
