//! The function app: the HTTP routes the Functions host forwards to.
pub mod identity;
pub mod oidc;
