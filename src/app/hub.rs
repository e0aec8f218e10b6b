//! The hub a request is for, as one extractor: the route's `{hub}` segment, or on the routes
//! without one the product's default hub (`AzureSignalRHubName`, `WebPubSubHub`). The name is
//! checked against the service's rules before the handler runs, so every handler of a route pair
//! (`/api/messages` and `/api/hubs/{hub}/messages`) is one function.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;

use super::error::ApiError;
use super::extract::PathParams;
use super::AppState;
use crate::service::names;

/// Which default hub a route without `{hub}` is for.
pub trait HubDefault: Send + Sync + 'static {
    /// The default hub's name, from the settings.
    fn default_hub(state: &AppState) -> &str;
}

/// The SignalR routes' default hub: `AzureSignalRHubName`.
pub enum SignalRDefault {}

/// The Web PubSub routes' default hub: `WebPubSubHub`.
pub enum WebPubSubDefault {}

impl HubDefault for SignalRDefault {
    fn default_hub(state: &AppState) -> &str {
        &state.settings().hub
    }
}

impl HubDefault for WebPubSubDefault {
    fn default_hub(state: &AppState) -> &str {
        &state.webpubsub().settings().hub
    }
}

/// The name of the hub a request is for, valid by the service's rules (a 400 `InvalidName`
/// otherwise). Reads as a `&str`.
#[derive(Debug)]
pub struct Hub<D: HubDefault = SignalRDefault> {
    name: String,
    default: PhantomData<fn() -> D>,
}

impl<D: HubDefault> Hub<D> {
    /// The hub's name, as the request gave it.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<D: HubDefault> Deref for Hub<D> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl<D: HubDefault> FromRequestParts<AppState> for Hub<D> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // The raw captures, percent-decoded, without deserialising them into a map; a path that
        // cannot be read is refused by `PathParams`, whose errors say why.
        let name = match RawPathParams::from_request_parts(parts, state).await {
            Ok(params) => params
                .iter()
                .find(|(key, _)| *key == "hub")
                .map(|(_, hub)| hub.to_owned()),
            Err(RawPathParamsRejection::MissingPathParams(_)) => None,
            Err(_) => {
                let PathParams(mut params) =
                    PathParams::<HashMap<String, String>>::from_request_parts(parts, state).await?;
                params.remove("hub")
            }
        };
        let name = name.unwrap_or_else(|| D::default_hub(state).to_owned());
        names::validate_hub(&name)?;
        Ok(Self {
            name,
            default: PhantomData,
        })
    }
}
