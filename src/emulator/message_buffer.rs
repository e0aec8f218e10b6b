//! Stateful reconnect's bookkeeping for one connection (`docs/stateful-reconnect.md` §3), both
//! directions, as the clients' `MessageBuffer` keeps it:
//!
//! * [`SentMessages`]: what the emulator wrote to the client, numbered 1, 2, … and kept until
//!   the client's Ack, so a new socket can replay it after a `Sequence` message. A kept frame
//!   keeps its share of the connection's outbox budget: unsent and unacknowledged bytes together
//!   stay under that one bound.
//! * [`ReceivedMessages`]: how many numbered messages the client sent, so its replay after a
//!   reconnect drops what already arrived, and its `Sequence` is checked.

use std::collections::VecDeque;

use super::outbox::{Frame, Queued};
use crate::service::hub_protocol::json::ClientMessage;
use crate::service::hub_protocol::ProtocolError;

/// One kept frame and the ids of the numbered messages in it.
#[derive(Debug)]
struct Kept {
    first: u64,
    last: u64,
    queued: Queued,
}

/// The numbered messages written to the client and not yet acknowledged.
#[derive(Debug, Default)]
pub struct SentMessages {
    kept: VecDeque<Kept>,
    /// How many numbered messages were written so far (the last id handed out).
    total: u64,
}

impl SentMessages {
    /// Numbers `queued`'s messages as the client will count them and keeps it when it has any;
    /// returns the frame to write.
    pub fn write(&mut self, queued: Queued) -> Frame {
        let frame = queued.frame.clone();
        if frame.tracked > 0 {
            let first = self.total + 1;
            self.total += u64::from(frame.tracked);
            self.kept.push_back(Kept {
                first,
                last: self.total,
                queued,
            });
        }
        frame
    }

    /// The client's Ack: every message up to `sequence_id` arrived, its frames are dropped
    /// (a frame goes once all of its messages are acknowledged).
    pub fn acknowledge(&mut self, sequence_id: u64) {
        while self.kept.front().is_some_and(|k| k.last <= sequence_id) {
            self.kept.pop_front();
        }
    }

    /// What a new socket sends first: the `Sequence` id (the first kept message's, or the next
    /// new one's when nothing is kept) and the kept frames, oldest first.
    pub fn replay(&self) -> (u64, Vec<Frame>) {
        let first = self.kept.front().map_or(self.total + 1, |k| k.first);
        let frames = self.kept.iter().map(|k| k.queued.frame.clone()).collect();
        (first, frames)
    }

    /// The bytes kept.
    pub fn kept_bytes(&self) -> usize {
        self.kept.iter().map(|k| k.queued.frame.data.len()).sum()
    }
}

/// The count of the client's numbered messages.
#[derive(Debug)]
pub struct ReceivedMessages {
    /// The id the next numbered message gets.
    next: u64,
    /// The highest id processed.
    latest: u64,
    /// The highest id acknowledged to the client.
    acked: u64,
    /// After a reconnect, everything is ignored until the client's `Sequence`.
    waiting_for_sequence: bool,
}

impl Default for ReceivedMessages {
    fn default() -> Self {
        Self {
            next: 1,
            latest: 0,
            acked: 0,
            waiting_for_sequence: false,
        }
    }
}

impl ReceivedMessages {
    /// Whether `message` is to be handled: false for a numbered message received before (the
    /// client's replay), for the Sequence itself, and for anything before the Sequence after a
    /// reconnect. A Sequence past what was received means messages were lost: an error.
    pub fn accept(&mut self, message: &ClientMessage) -> Result<bool, ProtocolError> {
        if let ClientMessage::Sequence { sequence_id } = message {
            if *sequence_id > self.next {
                return Err(ProtocolError::SequenceAhead);
            }
            self.next = *sequence_id;
            self.waiting_for_sequence = false;
            return Ok(false);
        }
        if self.waiting_for_sequence {
            return Ok(false);
        }
        if !message.is_tracked() {
            return Ok(true);
        }
        let id = self.next;
        self.next += 1;
        if id <= self.latest {
            return Ok(false);
        }
        self.latest = id;
        Ok(true)
    }

    /// A new socket: its messages count once its Sequence arrives.
    pub fn reconnected(&mut self) {
        self.waiting_for_sequence = true;
    }

    /// The id to acknowledge, when messages arrived since the last Ack.
    pub fn ack_due(&mut self) -> Option<u64> {
        (self.latest > self.acked).then(|| {
            self.acked = self.latest;
            self.latest
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::outbox::outbox;
    use crate::emulator::shutdown::Shutdown;

    fn frame(text: &str, tracked: u32) -> Frame {
        Frame {
            tracked,
            ..Frame::text(text)
        }
    }

    #[tokio::test]
    async fn sent_frames_are_numbered_kept_until_acked_and_replayed() {
        let (out, mut reader) = outbox::<Shutdown>(10);
        let mut sent = SentMessages::default();
        assert_eq!(sent.replay().0, 1, "nothing sent: the next id");
        for (text, tracked) in [("a", 1), ("p", 0), ("bc", 2), ("d", 1)] {
            assert!(out.push(frame(text, tracked)));
            let written = sent.write(reader.recv().await.unwrap());
            assert_eq!(&*written.data, text.as_bytes());
        }
        assert_eq!(sent.kept_bytes(), 4, "the untracked frame is not kept");
        // The kept frames hold their share of the budget: 4 of 10 bytes.
        assert!(!out.push(Frame::text("1234567")));
        let (out, mut reader) = outbox::<Shutdown>(10);
        let mut sent = SentMessages::default();
        for (text, tracked) in [("a", 1), ("bc", 2), ("d", 1)] {
            out.push(frame(text, tracked));
            sent.write(reader.recv().await.unwrap());
        }
        sent.acknowledge(2);
        let (first, frames) = sent.replay();
        assert_eq!(first, 2, "the half-acknowledged frame stays");
        assert_eq!(frames.len(), 2);
        sent.acknowledge(3);
        assert!(out.push(Frame::text("123456789")), "acks free the budget");
        let (first, frames) = sent.replay();
        assert_eq!((first, frames.len()), (4, 1));
        assert_eq!(&*frames[0].data, b"d");
        sent.acknowledge(4);
        assert_eq!(sent.replay().0, 5, "all acknowledged: the next id");
        assert!(sent.replay().1.is_empty());
    }

    fn invocation() -> ClientMessage {
        ClientMessage::Other { kind: 1 }
    }

    #[test]
    fn received_messages_drop_replays_and_check_the_sequence() {
        let mut received = ReceivedMessages::default();
        for _ in 0..3 {
            assert_eq!(received.accept(&invocation()), Ok(true));
        }
        assert_eq!(received.accept(&ClientMessage::Ping), Ok(true));
        assert_eq!(received.ack_due(), Some(3));
        assert_eq!(received.ack_due(), None);
        received.reconnected();
        assert_eq!(
            received.accept(&invocation()),
            Ok(false),
            "before the Sequence"
        );
        let ahead = ClientMessage::Sequence { sequence_id: 5 };
        assert_eq!(received.accept(&ahead), Err(ProtocolError::SequenceAhead));
        // The client replays 2 and 3, then sends 4.
        let replay = ClientMessage::Sequence { sequence_id: 2 };
        assert_eq!(received.accept(&replay), Ok(false));
        assert_eq!(received.accept(&invocation()), Ok(false));
        assert_eq!(received.accept(&invocation()), Ok(false));
        assert_eq!(received.accept(&invocation()), Ok(true));
        assert_eq!(received.ack_due(), Some(4));
        // Nothing unacknowledged on the client: its Sequence is the next id.
        let next = ClientMessage::Sequence { sequence_id: 5 };
        assert_eq!(received.accept(&next), Ok(false));
    }
}
