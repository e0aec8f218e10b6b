//! The REST client's api-version 2024-12-01 operations on one connection: client results
//! ([`RestClient::invoke`], `:invoke`) and server-to-client streams ([`RestClient::stream_item`],
//! [`RestClient::complete_stream`]), `docs/protocol.md` §9. None is retried: each would reach the
//! client twice.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::call::{Call, NEWER_API_VERSION};
use super::error::RestError;
use super::paths::HubPath;
use super::payload::{Payload, MAX_BODY_BYTES};
use super::RestClient;
use crate::service::names;

/// The longest stream id the service takes.
const MAX_STREAM_ID: usize = 100;

/// `api/hubs/{hub}/connections/{connectionId}/streams/{streamId}`.
fn stream_path(hub: &str, connection_id: &str, stream_id: &str) -> Result<String, RestError> {
    if stream_id.trim().is_empty() || stream_id.chars().count() > MAX_STREAM_ID {
        return Err(RestError::InvalidArgument(format!(
            "a stream id must be 1 to {MAX_STREAM_ID} characters, not only white space"
        )));
    }
    Ok(format!(
        "{}/streams/{}",
        HubPath::signalr(hub)?.connection(connection_id)?,
        names::encode(stream_id)
    ))
}

/// A call of these operations: 2024-12-01, sent once.
fn call(operation: &'static str, path: String) -> Call {
    let mut call = Call::new(operation, Method::POST, path);
    call.api_version = NEWER_API_VERSION;
    call.max_retries = Some(0);
    call
}

impl RestClient {
    /// Invokes `target` with `arguments` on one connection and returns the client's result
    /// (`null` for none), waiting at most `timeout` (the client's own REST timeout does not cut it
    /// shorter). The client's error, a gone connection or the service's timeout is a
    /// [`RestError::Service`] whose code says which (`docs/protocol.md` §9.2); no answer within
    /// `timeout` is a [`RestError::Timeout`].
    /// `POST /api/hubs/{hub}/connections/{connectionId}/:invoke`.
    pub async fn invoke(
        &self,
        hub: &str,
        connection_id: &str,
        target: &str,
        arguments: Vec<Value>,
        timeout: Duration,
    ) -> Result<Value, RestError> {
        let path = format!(
            "{}/:invoke",
            HubPath::signalr(hub)?.connection(connection_id)?
        );
        let body = Payload::new(target, arguments).to_body()?;
        let mut call = call("invoke", path).body(body).with_answer_body();
        call.timeout = Some(timeout);
        call.exact_timeout = true;
        let (_, answer) = self.inner.execute_answer(&call).await?;
        let answer: Value = serde_json::from_slice(&answer).map_err(|e| RestError::Service {
            operation: "invoke",
            status: 200,
            code: None,
            message: format!("the answer is not JSON: {e}"),
        })?;
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Sends one `item` to the stream `stream_id` the client opened; with `completed` the stream
    /// ends after it. The body is the bare item, as the Management SDK sends it.
    /// `POST /api/hubs/{hub}/connections/{connectionId}/streams/{streamId}/:send[?completed=true]`.
    pub async fn stream_item(
        &self,
        hub: &str,
        connection_id: &str,
        stream_id: &str,
        item: &Value,
        completed: bool,
    ) -> Result<(), RestError> {
        let path = format!("{}/:send", stream_path(hub, connection_id, stream_id)?);
        let body = serde_json::to_vec(item)
            .map_err(|e| RestError::InvalidArgument(format!("the item is not valid JSON: {e}")))?;
        if body.len() > MAX_BODY_BYTES {
            return Err(RestError::InvalidArgument(format!(
                "the item is {} bytes as JSON; the service accepts at most {MAX_BODY_BYTES} (1 MB)",
                body.len()
            )));
        }
        let mut call = call("stream_item", path).body(body);
        if completed {
            call = call.query("completed", "true");
        }
        self.inner.execute(&call).await.map(|_| ())
    }

    /// Ends the stream `stream_id`, with `error` when it failed (sent as `error=`, as the
    /// Management SDK does). `POST …/streams/{streamId}/:complete`.
    pub async fn complete_stream(
        &self,
        hub: &str,
        connection_id: &str,
        stream_id: &str,
        error: Option<&str>,
    ) -> Result<(), RestError> {
        let path = format!("{}/:complete", stream_path(hub, connection_id, stream_id)?);
        let mut call = call("complete_stream", path);
        if let Some(error) = error {
            call = call.query("error", error);
        }
        self.inner.execute(&call).await.map(|_| ())
    }
}
