//! The upstream endpoint over HTTP, as Azure SignalR Service (or the emulator) calls it: the
//! signature is checked first with vectors computed in the test, hostile and malformed requests
//! are refused without side effects, connection events join groups and reach the forward
//! webhook, and the topic hub methods make the exact REST calls and answer framed completions.
//! Requests are built in `upstream_support/`; the cases live in `app_upstream/`.

mod connections;
mod identity;
mod requests;
mod topics;
