//! `POST /api/webpubsub/actions` and `/api/webpubsub/hubs/{hub}/actions`: a `WebPubSubAction`
//! or an array of them ([`super::action`]). The whole batch is validated before the first REST
//! call, so a bad item applies nothing; then each is applied in order, and a failure says how
//! many were applied before it.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;

use super::action::Action;
use crate::app::batch;
use crate::app::body;
use crate::app::error::ApiError;
use crate::app::hub::{Hub, WebPubSubDefault};
use crate::app::AppState;

/// Parses a request body into actions: all valid, or the first error with its index.
pub fn parse_body(bytes: &[u8], max: usize) -> Result<Vec<Action>, ApiError> {
    batch::parse(bytes, max)
}

/// Handler of `/api/webpubsub/actions` (the default hub, `WebPubSubHub`) and
/// `/api/webpubsub/hubs/{hub}/actions`.
pub async fn apply(
    State(state): State<AppState>,
    hub: Hub<WebPubSubDefault>,
    body: Body,
) -> Result<Response, ApiError> {
    let service = state.webpubsub().service()?;
    let bytes = body::read(body).await?;
    let actions = parse_body(&bytes, state.settings().max_batch)?;
    let applied = batch::apply(&actions, &service.rest, &hub).await?;
    Ok(batch::accepted::<Action>(&hub, applied))
}
