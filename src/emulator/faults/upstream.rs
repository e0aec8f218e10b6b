//! Faults of the emulator's calls to the app (upstream), modelled as a network and a gateway in
//! front of the app would cause them:
//!
//! * `503` / `429`: the call is not made; it ends as if the app had answered that status (no
//!   body), as a gateway in front of the app answers when the app is overloaded;
//! * `reset-before` (and "down"): the call is not made; it fails as "the upstream could not be
//!   reached";
//! * `reset-after`: the call is made and the app acts on it, but its answer is lost: the call
//!   fails as "connection lost" (an invocation's caller gets an error completion although the app
//!   ran it);
//! * latency: a wait before the call.

use super::{Class, Fault, Faults};

/// What an upstream call should do after the draw (any latency has already been waited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFault {
    /// Make the call normally.
    Proceed,
    /// Do not call; end with this status as the app's answer.
    Answer(u16),
    /// Do not call; fail as unreachable.
    Unreachable,
    /// Make the call, then discard the answer and fail as "connection lost".
    LoseAnswer,
}

impl UpstreamFault {
    /// What the dashboard shows for an injected failure.
    pub const UNREACHABLE: &'static str = "injected fault: the upstream could not be reached";
    /// What the dashboard shows for a lost answer.
    pub const LOST: &'static str =
        "injected fault: the connection was lost after the request was sent";
}

/// Draws the fault of the next upstream call and waits its latency, if any.
pub async fn before_call(faults: &Faults) -> UpstreamFault {
    match faults.draw(Class::Upstream) {
        None => UpstreamFault::Proceed,
        Some(Fault::Latency(wait)) => {
            tokio::time::sleep(wait).await;
            UpstreamFault::Proceed
        }
        Some(Fault::Status { status, .. }) => UpstreamFault::Answer(status),
        Some(Fault::Down | Fault::ResetBefore) => UpstreamFault::Unreachable,
        Some(Fault::ResetAfter) => UpstreamFault::LoseAnswer,
    }
}
