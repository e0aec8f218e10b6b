//! `POST /api/webpubsub/actions` and `/api/webpubsub/hubs/{hub}/actions`: a `WebPubSubAction`
//! or an array of them ([`super::action`]). The whole batch is validated before the first REST
//! call, so a bad item applies nothing; then each is applied in order, and a failure says how
//! many were applied before it.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::action::Action;
use crate::app::batch;
use crate::app::body;
use crate::app::error::ApiError;
use crate::app::extract::PathParams;
use crate::app::AppState;
use crate::service::names;

/// Parses a request body into actions: all valid, or the first error with its index.
pub fn parse_body(bytes: &[u8], max: usize) -> Result<Vec<Action>, ApiError> {
    batch::parse(bytes, max)
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
    let applied = batch::apply(&actions, &service.rest, &hub).await?;
    Ok(batch::accepted::<Action>(&hub, applied))
}
