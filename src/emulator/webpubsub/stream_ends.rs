//! How group streams end when their publisher does not end them (`docs/webpubsub.md` §9): the
//! janitor closes idle ones (`IdleTimeout`, to the publisher and the members), and a connection
//! that is gone for good cancels its open streams (`Cancelled`, to the members).

use serde_json::{json, Value};

use super::connections::{Connection, Connections, Delivery};
use super::message::Origin;
use super::streams::{self, Stream, StreamError};
use crate::service::recipients::Recipients;

/// Who published a stream: its connection's hub, id and user.
pub struct Publisher<'a> {
    /// The hub.
    pub hub: &'a str,
    /// The connection id.
    pub connection_id: &'a str,
    /// The user.
    pub user: Option<&'a String>,
}

impl Connections {
    /// Sends stream `id`'s terminal message (with `error`, if it failed) to its group's members.
    pub fn end_stream(
        &self,
        publisher: &Publisher<'_>,
        id: &str,
        stream: &Stream,
        error: Option<Value>,
    ) {
        let origin = Origin::Group {
            group: stream.group.clone(),
            from_user: publisher.user.cloned(),
        };
        let json = streams::terminal_json(&origin, id, stream.expected, error);
        let excluded = if stream.no_echo {
            vec![publisher.connection_id.to_string()]
        } else {
            Vec::new()
        };
        let recipients = Recipients::Group(stream.group.clone());
        let delivery = Delivery::rendered(json, None);
        self.send(publisher.hub, &recipients, &excluded, None, &delivery);
    }

    /// Tells the members of the `ended` streams of the gone connection `id` that they were
    /// cancelled.
    pub fn cancel_streams(&self, id: &str, conn: &Connection, ended: Vec<(String, Stream)>) {
        let publisher = Publisher {
            hub: &conn.hub,
            connection_id: id,
            user: conn.user.as_ref(),
        };
        for (stream_id, stream) in ended {
            let error =
                json!({ "name": "Cancelled", "message": "the publisher's connection is gone" });
            self.end_stream(&publisher, &stream_id, &stream, Some(error));
        }
    }

    /// Closes every stream idle for longer than its timeout: `streamClosed` with `IdleTimeout`
    /// to its publisher, and the terminal message with that error to its members.
    pub fn end_idle_streams(&self) {
        let mut idle = Vec::new();
        for (id, conn) in self.lock().iter_mut() {
            let ended = conn.streams.end_idle();
            if !ended.is_empty() {
                idle.push((
                    id.clone(),
                    conn.hub.clone(),
                    conn.user.clone(),
                    conn.outbox.clone(),
                    ended,
                ));
            }
        }
        let error = StreamError::new(
            "IdleTimeout",
            "no fragment or keepalive arrived within the stream's idleTimeoutMs",
        );
        for (id, hub, user, outbox, ended) in idle {
            let publisher = Publisher {
                hub: &hub,
                connection_id: &id,
                user: user.as_ref(),
            };
            for (stream_id, stream) in ended {
                if let Some(outbox) = &outbox {
                    outbox.push(streams::closed(&stream_id, Some(&error)));
                }
                let member_error = json!({ "name": error.name, "message": error.message });
                self.end_stream(&publisher, &stream_id, &stream, Some(member_error));
            }
        }
    }
}
