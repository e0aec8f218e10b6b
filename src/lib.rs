//! # serverless-signalr
//!
//! A custom handler for Azure Functions that gives single-page apps real-time push through Azure
//! SignalR Service in serverless mode, without .NET and without the SignalR bindings.
//!
//! ## How a request flows
//!
//! The Functions host forwards HTTP requests (`enableForwardingHttpRequest`) to this one binary,
//! which serves every function in [`app`]:
//!
//! * **negotiate** — a SPA's `@microsoft/signalr` client asks who it is allowed to be. The app
//!   works out the caller's identity from a verified source, mints a client access token with
//!   [`service::token`] from the connection string ([`service::connection_string`]) and answers
//!   `{url, accessToken}`. The client then connects straight to the service.
//! * **messages / groups / management** — backend services POST the same JSON they post to the
//!   official bindings. The app validates it into commands once, then applies each with a REST
//!   call through [`service::rest`], signed with a short-lived server token.
//! * **upstream** — the service calls the app when clients connect, disconnect or invoke hub
//!   methods, signed with `X-ASRS-Signature` (checked before anything else). Connection events
//!   can join groups or be forwarded to a webhook; the built-in hub methods `subscribe`,
//!   `unsubscribe`, `publish` and `publishToTopic` give clients topic pub/sub, answered with
//!   framed hub-protocol completions.
//!
//! With no connection string outside the Functions host, the binary also starts [`emulator`], a
//! local stand-in for the service (REST API, client negotiate, WebSockets / Server-Sent Events /
//! long polling, JSON hub protocol, upstream calls) that checks tokens strictly, so a green local
//! run means the tokens are right for Azure.
//!
//! ## Module map
//!
//! The import graph is a tree: [`service`] at the bottom, [`app`] and [`emulator`] beside each
//! other on top of it (neither imports the other), and [`serve`] composing them.
//!
//! * [`service`] — talks to the services: connection strings, tokens, names, the REST client,
//!   the hub protocol ([`service::hub_protocol`], JSON and MessagePack), Entra ID tokens for apps
//!   without an access key ([`service::entra`]), and Azure Web PubSub's connection string,
//!   client tokens and REST client ([`service::webpubsub`]).
//! * [`app`] — the HTTP surface the Functions host forwards to: the table of functions with
//!   their handlers ([`app::functions`]), identity, the app's settings ([`app::settings`]), the
//!   set of SignalR endpoints with failover and fan-out ([`app::endpoints`]), and the Web PubSub
//!   routes ([`app::webpubsub`], `/api/webpubsub/…`), a peer of the SignalR ones.
//! * [`emulator`] — the embedded local SignalR Service (REST with one handler per operation,
//!   the three transports started one way around one session per connection, which with
//!   stateful reconnect outlives a dropped WebSocket ([`emulator::reattach`]), fault
//!   injection), and the Web PubSub emulator ([`emulator::webpubsub`]) on its own port.
//! * [`serve`] — start-up: the app, and in the local stack the emulators it talks to.
//! * [`http_server`] — the HTTP server all of them listen with: connection cap, header/body/idle
//!   timeouts, graceful shutdown.
//! * [`functions`] — the Functions layout (`host.json`, `function.json`) and `handler package`.
//! * [`token_cli`] — `handler token`, a client token for debugging.

pub mod app;
pub mod emulator;
pub mod functions;
pub mod http_server;
pub mod serve;
pub mod service;
pub mod token_cli;
