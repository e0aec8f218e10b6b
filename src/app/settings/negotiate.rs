//! The settings that shape what negotiate hands out: the client token's lifetime, the transports
//! offered, the groups a connection joins, and the browser origins allowed to call it.

use std::time::Duration;

use super::value::{err, list, nonempty, number, SettingsError};
use crate::service::transports::Transports;

/// `SIGNALR_TOKEN_LIFETIME`: 60 s to a day, else the service SDK's default.
pub fn token_lifetime(value: Option<String>) -> Result<Duration, SettingsError> {
    let secs = number(
        "SIGNALR_TOKEN_LIFETIME",
        value,
        60..=86_400,
        "a number of seconds from 60 to 86400",
    )?;
    Ok(secs.map_or(
        crate::service::token::DEFAULT_CLIENT_LIFETIME,
        Duration::from_secs,
    ))
}

/// `SIGNALR_ALLOWED_TRANSPORTS`: the transport names offered, when narrowed.
pub fn allowed_transports(value: Option<String>) -> Result<Option<Transports>, SettingsError> {
    nonempty(value)
        .map(|v| Transports::parse_names(&v).map_err(|e| err("SIGNALR_ALLOWED_TRANSPORTS", e)))
        .transpose()
}

/// `SIGNALR_NEGOTIATE_GROUPS`: group templates, each checked.
pub fn negotiate_groups(value: Option<String>) -> Result<Vec<String>, SettingsError> {
    let templates = list(value);
    for template in &templates {
        crate::app::negotiate::validate_template(template)
            .map_err(|e| err("SIGNALR_NEGOTIATE_GROUPS", e))?;
    }
    Ok(templates)
}

/// `SIGNALR_CORS_ORIGINS`: browser origins, each a scheme and host (and port).
pub fn cors_origins(value: Option<String>) -> Result<Vec<String>, SettingsError> {
    let origins = list(value);
    for origin in &origins {
        crate::http_server::origins::check_origin(origin)
            .map_err(|e| err("SIGNALR_CORS_ORIGINS", e))?;
    }
    Ok(origins)
}
