//! `POST /api/hubs/{hub}/:generateToken?userId=&minutesToExpire=` (api-version 2024-12-01, the
//! newest that has it; `docs/protocol.md` §7.14): the service signs a client token, for an app
//! that may call the REST API but holds no key to sign one itself.

use reqwest::Method;

use super::call::{Call, NEWER_API_VERSION};
use super::error::RestError;
use super::paths::HubPath;
use super::RestClient;
use crate::service::names;

impl RestClient {
    /// A client token for `hub`, for `user_id` when given, valid for `minutes_to_expire` minutes
    /// (the service's default is 60). `POST /api/hubs/{hub}/:generateToken`.
    pub async fn generate_client_token(
        &self,
        hub: &str,
        user_id: Option<&str>,
        minutes_to_expire: Option<u32>,
    ) -> Result<String, RestError> {
        let mut call = Call::new(
            "generate_client_token",
            Method::POST,
            format!("{}/:generateToken", HubPath::signalr(hub)?),
        );
        call.api_version = NEWER_API_VERSION;
        if let Some(user) = user_id {
            names::validate_user(user)?;
            call = call.query("userId", user);
        }
        if let Some(minutes) = minutes_to_expire {
            if minutes == 0 || minutes > i32::MAX as u32 {
                return Err(RestError::InvalidArgument(format!(
                    "minutesToExpire {minutes} must be from 1 to {}",
                    i32::MAX
                )));
            }
            call = call.query("minutesToExpire", &minutes.to_string());
        }
        let (_, body) = self.inner.execute_answer(&call.with_answer_body()).await?;
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(String::from))
            .ok_or(RestError::Service {
                operation: "generate_client_token",
                status: 200,
                code: None,
                message: "the answer has no token".into(),
            })
    }
}
