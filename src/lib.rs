//! # serverless-signalr
//!
//! A custom handler for Azure Functions that gives single-page apps real-time push through Azure
//! SignalR Service (serverless mode) and Azure Web PubSub, without .NET and without bindings,
//! with local emulators of both services in the same binary.
//!
//! ## How a request flows
//!
//! The Functions host forwards HTTP requests (`enableForwardingHttpRequest`) to this one binary,
//! which serves every function in [`app`], listed once in [`app::functions`]. Both services
//! follow the same three paths:
//!
//! * **negotiate** — a SPA's client (`@microsoft/signalr`, or `@azure/web-pubsub-client` through
//!   `/api/webpubsub/negotiate`) asks who it may be. The app works out the caller's identity from
//!   a verified source ([`app::identity`]: Easy Auth headers or an OIDC bearer), mints a client
//!   access token from the connection string ([`service::token`], [`service::webpubsub`]; or
//!   asks the service for one under Entra ID, [`service::entra`]) and answers `{url,
//!   accessToken}`. The client then connects straight to the service.
//! * **send / groups / management** — backend services POST the JSON they post to the official
//!   bindings (`SignalRMessage`, `SignalRGroupAction`, `WebPubSubAction`). One batch pipeline
//!   ([`app::batch`]) parses every item into a command first, then applies each with a REST call
//!   ([`service::rest`], [`service::webpubsub`]) to every SignalR endpoint it names
//!   ([`app::endpoints`]), signed with a short-lived server token or an Entra ID bearer.
//! * **upstream / events** — the service calls the app: SignalR's upstream ([`app::upstream`],
//!   `X-ASRS-Signature` checked first; connection events, topic pub/sub hub methods) and Web
//!   PubSub's CloudEvents ([`app::webpubsub`]: abuse protection, `ce-signature` checked first,
//!   connect policy, user events).
//!
//! With no connection string outside the Functions host, [`serve`] also starts the two
//! [`emulator`]s — the far side of all three paths: the REST APIs, client negotiate and
//! connections (SignalR: WebSockets, Server-Sent Events, long polling, JSON and MessagePack;
//! Web PubSub: simple, json and reliable subprotocols), and the calls back to the app. They
//! check tokens strictly, so a green local run means the tokens are right for Azure.
//!
//! ## Vocabulary
//!
//! One name per concept along both data paths; distinct things have distinct names.
//!
//! * [`Recipients`](service::recipients::Recipients) — who a send or close is for: everyone in
//!   a hub, a user, a group or one connection (app bodies, REST clients, both emulators).
//!   Excluded connection ids and OData filters ([`service::filter`]) travel beside it.
//! * `Payload` — a SignalR send's `{target, arguments}` as the app posts it; `PayloadMessage` —
//!   the same body as the SignalR emulator receives it (the REST API's name), with the frames a
//!   sender may have prepared per hub protocol; `MessageData` — a Web PubSub message's data and
//!   `dataType`.
//! * `Command` — one item of a posted batch, parsed before any is applied.
//! * `Hub` — the hub a request is for (the route's `{hub}` or the default), checked once;
//!   `HubPath` — the `api/hubs/{hub}` prefix of a REST call; `CallRunner` runs REST calls.
//! * `Transport` — how a SignalR client connects (WebSockets, SSE, long polling); `Protocol` —
//!   the hub protocol (JSON, MessagePack).
//! * `Frame` — one wire frame an emulator writes (text or binary), queued in a connection's
//!   byte-bounded `Outbox` until its transport writes it; `ClientFrame` — a frame a Web PubSub json client sends, each kind a
//!   type with its own `apply`.
//! * `EmulatorServer` — what both emulators run on (listener, stop signal, janitor);
//!   `HubRequest` / `WpsRequest` — an emulator REST call whose token, hub and names are checked.
//! * `ConnectionTokens` — the SignalR emulator's negotiated connections; `Hubs` — its hubs,
//!   users and groups; `Connections` — the Web PubSub emulator's connections with their groups,
//!   roles and reliable buffers.
//! * `Attachment` — where a SignalR emulator WebSocket connection's sockets attach, one at a
//!   time (its frames, and with stateful reconnect the messages written and not acknowledged);
//!   `ClientInput` — what its session reads the client through, across sockets.
//! * `ClientConnection` — a SignalR client connection as the upstream hears of it (the emulator
//!   sends it, the app's upstream reads it);
//!   `UpstreamEvent` — what the SignalR emulator tells the app; `EventContext` — a Web PubSub
//!   connection as the event handler hears of it.
//!
//! ## Module map
//!
//! The import graph is a tree: [`service`] at the bottom, [`app`] and [`emulator`] beside each
//! other on top of it (neither imports the other), and [`serve`] composing them
//! (`tests/suite/import_graph.rs` checks it).
//!
//! * [`service`] — talks to the services: connection strings, tokens, names, who receives a
//!   message, the OData filter grammar, the SignalR REST client and hub protocol (JSON and
//!   MessagePack), Entra ID token sources, and Web PubSub's connection string, client tokens and
//!   REST client ([`service::webpubsub`]).
//! * [`app`] — the HTTP surface the host forwards to: the table of functions, identity,
//!   settings, the batch pipeline, the SignalR endpoints with failover and fan-out, the
//!   upstream, and the Web PubSub routes ([`app::webpubsub`], `/api/webpubsub/…`).
//! * [`emulator`] — the local SignalR Service (REST with one handler per operation, the three
//!   transports started one way around one session per connection, which with stateful
//!   reconnect outlives a dropped WebSocket ([`emulator::reattach`]), upstream, dashboard, Entra
//!   mode, fault injection) and the Web PubSub emulator ([`emulator::webpubsub`]: REST routes
//!   per operation, client frames as types, one connection lifecycle), on one shared core.
//! * [`serve`] — start-up: the app, and in the local stack the emulators it talks to.
//! * [`http_server`] — the HTTP server all of them listen with: connection cap, header/body/idle
//!   timeouts, origin policy, graceful shutdown.
//! * [`functions`] — the Functions layout (`host.json`, `function.json`) and `handler package`.
//! * [`token_cli`] — `handler token`, a client token for debugging.

pub mod app;
pub mod emulator;
pub mod functions;
pub mod http_server;
pub mod serve;
pub mod service;
pub mod token_cli;
