//! Everything that talks to Azure Web PubSub (`docs/webpubsub.md` §1–§3): its
//! connection string, client access tokens and URLs, and a typed REST client for api-version
//! 2024-01-01. The pieces common with SignalR live once in [`crate::service`]: the [`Secret`]
//! key type, HS256 signing ([`crate::service::token`]), REST retries and transport
//! ([`crate::service::rest`]), name rules ([`crate::service::names`]) and the HMAC signature of
//! upstream calls ([`crate::service::signature`]).
//!
//! [`Secret`]: crate::service::Secret

pub mod client_token;
pub mod connection_string;
pub mod content;
pub mod rest;
pub mod rest_options;
mod rest_paths;

pub use client_token::{ClientAccess, ClientProtocol, ClientTokenOptions};
pub use connection_string::WebPubSubConnectionString;
pub use content::Content;
pub use rest::{Permission, WebPubSubClient, API_VERSION};
