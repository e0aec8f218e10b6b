//! The bottom layer: everything that talks to the services, Azure SignalR Service and Azure Web
//! PubSub, and to Microsoft Entra ID for the apps that authenticate without an access key.
//! Connection strings and their `Key=Value` pairs, token minting, name rules, who receives a
//! message ([`recipients::Recipients`]), the REST clients ([`rest`], [`webpubsub::rest`]), the
//! hub protocol ([`hub_protocol`]), upstream signatures and claims, and Entra ID token sources
//! ([`entra`]). Both the app and the emulators build on it; nothing here knows the app's routes.

pub mod byte_scan;
pub mod connection_string;
pub mod entra;
pub mod filter;
pub mod hub_protocol;
pub mod json_text;
pub mod lazy_client;
pub mod names;
pub mod recipients;
pub mod rest;
pub mod secret;
pub mod signature;
pub mod token;
pub mod token_memo;
pub mod transports;
pub mod user_claims;
pub mod webpubsub;

pub use connection_string::ConnectionString;
pub use secret::Secret;
