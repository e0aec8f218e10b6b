//! `invoke`: a request to the event handler answered with a correlated `invokeResponse`
//! (`docs/webpubsub.md` §4.4). The invocation goes to the handler as the user event it names;
//! the handler's answer becomes `success: true` with its data, and a refusal, a failure or the
//! event timeout `success: false` with an error name, without closing the client (unlike a
//! refused `event`). Invocations run in the background ([`crate::emulator::webpubsub::invocations`]):
//! a repeated `invocationId` still pending, or one too many, is answered with an error at once.

use serde_json::{json, Value};

use super::send_event::valid_event;
use super::{ClientFrameError, Fields};
use crate::emulator::outbox::Frame;
use crate::emulator::webpubsub::connected::Connected;
use crate::emulator::webpubsub::events::{CallError, Event, HandlerAnswer};
use crate::emulator::webpubsub::invocations::{StartError, MAX_PENDING};
use crate::emulator::webpubsub::message::{DataType, MessageData};

/// The longest part of a refusing handler's answer passed on as the error's message.
const MAX_ERROR_CHARS: usize = 1024;

/// `{"type":"invoke","invocationId":…,"target":"event","event":…,"dataType":…,"data":…}`.
#[derive(Debug)]
pub struct Invoke {
    /// The invocation's id, the key of its answer.
    pub invocation_id: String,
    /// The event and its data (none when the client sent none), or what is wrong with them.
    pub request: Result<(String, MessageData), String>,
}

/// `{"type":"cancelInvocation","invocationId":…}`: stop waiting; no answer follows.
#[derive(Debug)]
pub struct CancelInvocation {
    /// The invocation to cancel.
    pub invocation_id: String,
}

/// An invocation's error: `{name, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationError {
    /// The error's name (`BadRequest`, `NotFound`, `Timeout`, …).
    pub name: String,
    /// What happened.
    pub message: String,
}

impl InvocationError {
    fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            message: message.into(),
        }
    }

    /// A handler's non-2xx answer: a 4xx named by its reason without spaces (`BadRequest`,
    /// `Unauthorized`, `Forbidden`, `NotFound`, …), any other `InternalServerError`; the message
    /// is the answer's text, or the status when it has none.
    pub fn from_answer(answer: &HandlerAnswer) -> Self {
        let status = answer.status;
        let reason: String = status
            .canonical_reason()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let name = match status.is_client_error() && !reason.is_empty() {
            true => reason,
            false => "InternalServerError".into(),
        };
        let text: String = String::from_utf8_lossy(&answer.body)
            .chars()
            .take(MAX_ERROR_CHARS)
            .collect();
        let message = match text.trim().is_empty() {
            true => format!("the event handler answered {status}"),
            false => text,
        };
        Self { name, message }
    }

    /// A call that failed: `Timeout`, `TooManyRequests` or `InternalServerError`.
    pub fn from_call(error: &CallError) -> Self {
        let name = match error {
            CallError::TimedOut(_) => "Timeout",
            CallError::Busy => "TooManyRequests",
            CallError::NotValidated(_) | CallError::Failed(_) => "InternalServerError",
        };
        Self::new(name, error.to_string())
    }
}

/// The `invokeResponse` of `invocation_id`.
pub fn response(
    invocation_id: &str,
    result: Result<Option<MessageData>, InvocationError>,
) -> Frame {
    let mut value = json!({ "type": "invokeResponse", "invocationId": invocation_id });
    match result {
        Ok(data) => {
            value["success"] = true.into();
            if let Some(data) = data {
                value["dataType"] = data.data_type.name().into();
                value["data"] = serde_json::from_str(&data.data_json).unwrap_or(Value::Null);
            }
        }
        Err(InvocationError { name, message }) => {
            value["success"] = false.into();
            value["error"] = json!({ "name": name, "message": message });
        }
    }
    Frame::text(value.to_string())
}

/// The frame's `invocationId`, a non-empty string: without it nothing can be answered, so the
/// client is closed.
fn invocation_id(fields: &Fields<'_>) -> Result<String, ClientFrameError> {
    match fields.get("invocationId") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 128 => Ok(id.clone()),
        _ => Err(ClientFrameError::Close(
            "invocationId (a string of 1 to 128 characters) is required".into(),
        )),
    }
}

impl Invoke {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        let invocation_id = invocation_id(fields)?;
        Ok(Self {
            invocation_id,
            request: Self::request(fields),
        })
    }

    fn request(fields: &Fields<'_>) -> Result<(String, MessageData), String> {
        match fields.get("target") {
            None | Some(Value::Null) => {}
            Some(Value::String(t)) if t == "event" => {}
            Some(_) => {
                return Err(
                    "target must be \"event\": only invocations of the event handler are supported"
                        .into(),
                )
            }
        }
        let event = match fields.get("event") {
            Some(Value::String(e)) if valid_event(e) => e.clone(),
            Some(Value::String(e)) => return Err(format!("event name {e:?} is not valid: it must start with a letter and hold only letters, digits, `_`, `.` and `-` (at most 128)")),
            _ => return Err("event (a string) is required".into()),
        };
        let (data_type, data) = (fields.get("dataType"), fields.get("data"));
        if data_type.and_then(Value::as_str) == Some("protobuf") {
            return Err("dataType protobuf needs the protobuf subprotocol, which the emulator does not serve; use json, text or binary".into());
        }
        let data = match (data_type, data) {
            (None, None) => MessageData::text(""),
            _ => MessageData::from_request(data_type, data)?,
        };
        Ok((event, data))
    }

    /// Starts the invocation in the background; its answer (or a refusal) is queued for the
    /// client.
    pub fn apply(self, client: &Connected) {
        let Self {
            invocation_id,
            request,
        } = self;
        let out = client.outbox.clone();
        let (event, data) = match request {
            Ok(request) => request,
            Err(message) => {
                client.record_invocation(&invocation_id, None, "BadRequest");
                let refused = InvocationError::new("BadRequest", message);
                out.push(response(&invocation_id, Err(refused)));
                return;
            }
        };
        let (caller, recorder) = (client.clone(), client.clone());
        let event_name = event.clone();
        let work = async move { invoke(&caller, &event, &data).await };
        let id = invocation_id.clone();
        let answer = move |result: Result<Option<MessageData>, InvocationError>| {
            let outcome = result
                .as_ref()
                .map_or_else(|e| e.name.as_str(), |_| "success");
            recorder.record_invocation(&id, Some(&event_name), outcome);
            out.push(response(&id, result));
        };
        let refused = match client.invocations.start(&invocation_id, work, answer) {
            Ok(()) => return,
            Err(StartError::Duplicate) => InvocationError::new(
                "Duplicate",
                "an invocation with this invocationId is still waiting for its answer",
            ),
            Err(StartError::Full) => InvocationError::new(
                "TooManyRequests",
                format!("at most {MAX_PENDING} invocations of one connection may wait for the event handler"),
            ),
        };
        client.record_invocation(&invocation_id, None, &refused.name);
        client.outbox.push(response(&invocation_id, Err(refused)));
    }
}

/// Calls the handler with `event` and reads its answer as the invocation's result.
async fn invoke(
    client: &Connected,
    event: &str,
    data: &MessageData,
) -> Result<Option<MessageData>, InvocationError> {
    let answer = match client.call(Event::User(event), data).await {
        Ok(Some(answer)) => answer,
        Ok(None) => {
            let hub = &client.context.hub;
            let message = format!("no event handler takes event {event:?} of hub {hub:?}");
            return Err(InvocationError::new("NotFound", message));
        }
        Err(e) => return Err(InvocationError::from_call(&e)),
    };
    if !answer.status.is_success() {
        return Err(InvocationError::from_answer(&answer));
    }
    if answer.body.is_empty() {
        return Ok(None);
    }
    let data_type = answer
        .content_type
        .as_deref()
        .and_then(DataType::from_content_type)
        .unwrap_or(DataType::Binary);
    MessageData::from_body(data_type, &answer.body)
        .map(Some)
        .map_err(|e| {
            InvocationError::new(
                "InternalServerError",
                format!("the event handler's answer is unusable: {e}"),
            )
        })
}

impl CancelInvocation {
    /// From the frame's fields.
    pub fn parse(fields: &Fields<'_>) -> Result<Self, ClientFrameError> {
        Ok(Self {
            invocation_id: invocation_id(fields)?,
        })
    }

    /// Stops waiting for the invocation, if it is still pending.
    pub fn apply(self, client: &Connected) {
        if client.invocations.cancel(&self.invocation_id) {
            client.record_invocation(&self.invocation_id, None, "cancelled");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn answer(status: u16, body: &str) -> HandlerAnswer {
        HandlerAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: None,
            state: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_names_follow_the_status() {
        let named = |status, body| InvocationError::from_answer(&answer(status, body));
        assert_eq!(
            named(400, "oops"),
            InvocationError::new("BadRequest", "oops")
        );
        assert_eq!(named(401, "").name, "Unauthorized");
        assert_eq!(named(403, "").name, "Forbidden");
        assert_eq!(
            named(404, "").message,
            "the event handler answered 404 Not Found"
        );
        assert_eq!(named(429, "").name, "TooManyRequests");
        assert_eq!(named(503, "down").name, "InternalServerError");
        let timeout = CallError::TimedOut(std::time::Duration::from_secs(10));
        assert_eq!(InvocationError::from_call(&timeout).name, "Timeout");
    }

    #[test]
    fn responses_carry_data_or_error() {
        let ok = response("1", Ok(Some(MessageData::text("pong"))));
        assert_eq!(
            serde_json::from_slice::<Value>(&ok.data).unwrap(),
            json!({"type":"invokeResponse","invocationId":"1","success":true,"dataType":"text","data":"pong"})
        );
        let empty = response("2", Ok(None));
        assert_eq!(
            serde_json::from_slice::<Value>(&empty.data).unwrap(),
            json!({"type":"invokeResponse","invocationId":"2","success":true})
        );
        let failed = response("3", Err(InvocationError::new("BadRequest", "oops")));
        assert_eq!(
            serde_json::from_slice::<Value>(&failed.data).unwrap(),
            json!({"type":"invokeResponse","invocationId":"3","success":false,"error":{"name":"BadRequest","message":"oops"}})
        );
    }
}
