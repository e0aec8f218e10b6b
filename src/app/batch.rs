//! The one batch pipeline of the output-binding routes (`messages`, `groups`, Web PubSub
//! `actions`), mini-redis style: each item is a command type with [`Command::parse`] and
//! [`Command::apply`]. A body of one item or an array is parsed item by item, where each item goes
//! is checked for the whole batch, and only then are the items applied, in order. So a bad item
//! applies nothing, and every error names its item ("message 2 of 3", `index` in the details); a
//! failure mid-way also says how many items were applied before it.

use std::future::Future;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::body;
use super::error::ApiError;

/// One item of a batch: parsed (validated) once, then applied with one or more REST calls.
pub trait Command: Sized {
    /// The item as sent, before validation.
    type Raw: DeserializeOwned;
    /// What the whole batch is applied with: the SignalR endpoint set, the Web PubSub client.
    type Service: ?Sized + Sync;

    /// What an item is called in errors: `message` gives "message 2 of 3".
    const NOUN: &'static str;
    /// What happened to the items: the answer's count (`{"sent": 3}`) and a failure's text
    /// ("was not sent (1 before it were)").
    const DONE: &'static str;
    /// The item's field names; keys are matched to them case-insensitively.
    const FIELDS: &'static [&'static str];

    /// Validates one item.
    fn parse(raw: Self::Raw) -> Result<Self, ApiError>;

    /// Checks that the item can go where it says (e.g. that the endpoints it names exist),
    /// before any item of the batch is applied.
    fn check(&self, service: &Self::Service) -> Result<(), ApiError>;

    /// Applies the item (checked) with `service`.
    fn apply(
        &self,
        service: &Self::Service,
        hub: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Parses a request body (one item or an array of 1..=`max`) into commands: all valid, or the
/// first error with its index.
pub fn parse<C: Command>(bytes: &[u8], max: usize) -> Result<Vec<C>, ApiError> {
    let raws: Vec<C::Raw> = body::one_or_many(bytes, C::NOUN, max, C::FIELDS)?;
    let total = raws.len();
    raws.into_iter()
        .enumerate()
        .map(|(i, raw)| C::parse(raw).map_err(|e| at::<C>(e, i, total)))
        .collect()
}

/// Checks where every command goes (nothing is applied when one cannot go there), then applies
/// them in order. The number applied, or the first failure with how many were applied before it.
pub async fn apply<C: Command>(
    commands: &[C],
    service: &C::Service,
    hub: &str,
) -> Result<usize, ApiError> {
    let total = commands.len();
    for (i, command) in commands.iter().enumerate() {
        command.check(service).map_err(|e| at::<C>(e, i, total))?;
    }
    for (i, command) in commands.iter().enumerate() {
        if let Err(e) = command.apply(service, hub).await {
            let done = C::DONE;
            return Err(e
                .context(format!(
                    "{} {} of {total} was not {done} ({i} before it were)",
                    C::NOUN,
                    i + 1
                ))
                .with_details(json!({ "index": i, (done): i })));
        }
    }
    Ok(total)
}

/// The answer to a batch: 202 with the hub (as the product names it) and how many items were
/// applied, e.g. `{"hub": "chat", "sent": 3}`.
pub fn accepted<C: Command>(hub: &str, total: usize) -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "hub": hub, (C::DONE): total })),
    )
        .into_response()
}

/// `e` about item `i` (from 0) of `total`.
fn at<C: Command>(e: ApiError, i: usize, total: usize) -> ApiError {
    e.context(format!("{} {} of {total}", C::NOUN, i + 1))
        .with_details(json!({ "index": i }))
}
