//! Everything that talks to Azure SignalR Service: the connection string, token minting, name
//! validation, the REST client and the upstream's claims header. Nothing here knows about HTTP routes of the app.

pub mod connection_string;
pub mod entra;
pub mod filter;
pub mod hub_protocol;
pub mod names;
pub mod recipients;
pub mod rest;
pub mod secret;
pub mod signature;
pub mod token;
pub mod transports;
pub mod user_claims;
pub mod webpubsub;

pub use connection_string::ConnectionString;
pub use secret::Secret;
