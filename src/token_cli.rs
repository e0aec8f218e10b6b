//! `handler token`: mints a client access token and prints `{url, accessToken}` exactly as
//! negotiate would, for debugging a client or calling the emulator by hand.

use std::time::Duration;

use serde_json::{json, Value};

use crate::service::connection_string::DEV_ACCESS_KEY;
use crate::service::names;
use crate::service::token::{ClientClaims, TokenMinter};
use crate::service::ConnectionString;

/// Options of `handler token`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// Connection string (default: the emulator's development one on port 8888).
    #[arg(long, env = "AzureSignalRConnectionString", hide_env_values = true)]
    pub connection_string: Option<String>,
    /// Hub the token is for.
    #[arg(long, default_value = "default")]
    pub hub: String,
    /// User id (`asrs.s.uid` and `nameid`).
    #[arg(long)]
    pub user: Option<String>,
    /// Extra claims as `type=value`, repeatable.
    #[arg(long = "claim", value_name = "TYPE=VALUE")]
    pub claims: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub lifetime: u64,
}

/// Mints the token described by `args`.
pub fn mint(args: &TokenArgs) -> Result<Value, String> {
    let text = args.connection_string.clone().unwrap_or_else(|| {
        format!("Endpoint=http://127.0.0.1;Port=8888;AccessKey={DEV_ACCESS_KEY};Version=1.0;")
    });
    let connection =
        ConnectionString::parse(&text).map_err(|e| format!("--connection-string: {e}"))?;
    names::validate_hub(&args.hub).map_err(|e| format!("--hub: {e}"))?;
    if let Some(user) = &args.user {
        names::validate_user(user).map_err(|e| format!("--user: {e}"))?;
    }
    let claims = args
        .claims
        .iter()
        .map(|c| {
            c.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .ok_or_else(|| format!("--claim {c:?}: use TYPE=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let minter = TokenMinter::new(&connection).map_err(|e| e.to_string())?;
    let token = minter
        .client_token(
            &args.hub,
            &ClientClaims {
                user_id: args.user.clone(),
                claims,
                roles: Vec::new(),
                lifetime: Some(Duration::from_secs(args.lifetime)),
                ..ClientClaims::default()
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(json!({ "url": minter.client_url(&args.hub), "accessToken": token }))
}
