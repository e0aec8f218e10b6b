//! The named service endpoints, as the Functions SignalR extension reads them
//! (`docs/protocol.md` §8): `Azure:SignalR:Endpoints:<name>` = a connection string (a primary
//! endpoint), `Azure:SignalR:Endpoints:<name>:primary` or `…:secondary` for an explicit type, and
//! the environment form with `__` for `:` (`Azure__SignalR__Endpoints__<name>__secondary`).
//! Prefix and type are matched case-insensitively, as Functions configuration is. Errors name
//! the setting; a value is never repeated (it holds an access key).

use std::fmt;

use super::value::{err, SettingsError};
use crate::service::{ConnectionString, Secret};

/// The prefix as written in local.settings.json.
pub const COLON_PREFIX: &str = "Azure:SignalR:Endpoints:";
/// The prefix as an environment variable (App Service app settings).
pub const ENV_PREFIX: &str = "Azure__SignalR__Endpoints__";
/// The setting name errors are reported under, followed by the full key.
const SETTING: &str = "Azure:SignalR:Endpoints";

/// Whether clients are sent to an endpoint first (primary) or only when no primary is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointType {
    /// Clients go here when it is online (the default).
    Primary,
    /// Clients go here only when no primary endpoint is online.
    Secondary,
}

impl EndpointType {
    /// `primary` or `secondary`, as in the setting's key.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
        }
    }
}

impl fmt::Display for EndpointType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One configured endpoint. The unnamed one is `AzureSignalRConnectionString`.
#[derive(Debug, Clone)]
pub struct EndpointSetting {
    /// The name from the key (empty for `AzureSignalRConnectionString`).
    pub name: String,
    /// Primary or secondary.
    pub kind: EndpointType,
    /// The service.
    pub connection: ConnectionString,
}

/// The `Azure:SignalR:Endpoints:*` settings found in the environment: the full key and the value.
#[derive(Debug, Clone, Default)]
pub struct EndpointArgs(pub Vec<(String, Secret)>);

impl EndpointArgs {
    /// The environment variables with either prefix.
    pub fn from_env() -> Self {
        Self::from_pairs(
            // `vars_os`: `vars` panics on a name or value that is not UTF-8.
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// The pairs whose key has either prefix (others are ignored).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(
            pairs
                .into_iter()
                .filter(|(k, _)| suffix(k).is_some())
                .map(|(k, v)| (k, Secret::new(v)))
                .collect(),
        )
    }

    /// Validates every setting into endpoints, sorted by name then type (the environment's
    /// order is not stable).
    pub fn parse(&self) -> Result<Vec<EndpointSetting>, SettingsError> {
        let mut out: Vec<(EndpointSetting, &str)> = Vec::new();
        for (key, value) in &self.0 {
            let rest = suffix(key).unwrap_or_default();
            let (name, kind) = name_and_type(key, rest)?;
            if value.expose().trim().is_empty() {
                return Err(err(SETTING, format!("{key} is empty; set it to the endpoint's connection string (Endpoint=https://<name>.service.signalr.net;AccessKey=…;Version=1.0;) or remove it")));
            }
            let connection = ConnectionString::parse(value.expose()).map_err(|e| {
                err(
                    SETTING,
                    format!("{key} is not a usable connection string: {e}"),
                )
            })?;
            if let Some((_, other)) = out
                .iter()
                .find(|(e, _)| e.name.eq_ignore_ascii_case(&name) && e.kind == kind)
            {
                return Err(err(
                    SETTING,
                    format!(
                        "{key} and {other} both configure the {kind} endpoint {name:?}; keep one"
                    ),
                ));
            }
            out.push((
                EndpointSetting {
                    name,
                    kind,
                    connection,
                },
                key,
            ));
        }
        let mut endpoints: Vec<EndpointSetting> = out.into_iter().map(|(e, _)| e).collect();
        endpoints.sort_by(|a, b| {
            (a.name.to_lowercase(), a.kind as u8).cmp(&(b.name.to_lowercase(), b.kind as u8))
        });
        Ok(endpoints)
    }
}

/// What follows either prefix (case-insensitive), or `None` without one.
fn suffix(key: &str) -> Option<&str> {
    [COLON_PREFIX, ENV_PREFIX].iter().find_map(|prefix| {
        key.get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| &key[prefix.len()..])
    })
}

/// `<name>` or `<name>:<type>` (either separator) into the name and type.
fn name_and_type(key: &str, rest: &str) -> Result<(String, EndpointType), SettingsError> {
    let normalised = rest.replace("__", ":");
    let parts: Vec<&str> = normalised.split(':').collect();
    let name = parts[0];
    if name.is_empty() {
        return Err(err(
            SETTING,
            format!("{key} has no endpoint name; write {COLON_PREFIX}<name>[:primary|:secondary]"),
        ));
    }
    let kind = match parts.get(1..).unwrap_or_default() {
        [] => EndpointType::Primary,
        [t] if t.eq_ignore_ascii_case("primary") => EndpointType::Primary,
        [t] if t.eq_ignore_ascii_case("secondary") => EndpointType::Secondary,
        [t] if is_identity_key(t) => {
            return Err(err(
                SETTING,
                format!("{key}: the identity-based endpoint form is not supported; give the endpoint a connection string with AuthType (e.g. Endpoint=https://<name>.service.signalr.net;AuthType=azure.msi;Version=1.0;)"),
            ))
        }
        _ => {
            return Err(err(
                SETTING,
                format!("{key} is not {COLON_PREFIX}<name>, …:<name>:primary or …:<name>:secondary (the type is primary or secondary)"),
            ))
        }
    };
    Ok((name.to_string(), kind))
}

/// The extension's identity-based endpoint keys (`serviceUri`, `type`, `credential`, …).
fn is_identity_key(part: &str) -> bool {
    [
        "serviceUri",
        "type",
        "credential",
        "clientId",
        "clientSecret",
        "tenantId",
        "managedIdentityResourceId",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CS: &str = "Endpoint=http://localhost;Port=8888;AccessKey=made-up-test-key;Version=1.0;";

    fn parse(pairs: &[(&str, &str)]) -> Result<Vec<EndpointSetting>, SettingsError> {
        EndpointArgs::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).parse()
    }

    #[test]
    fn both_forms_and_types() {
        let list = parse(&[
            ("Azure:SignalR:Endpoints:east", CS),
            ("Azure__SignalR__Endpoints__west__Secondary", CS),
            ("azure__signalr__endpoints__north__primary", CS),
            ("Unrelated", CS),
        ])
        .unwrap();
        let got: Vec<_> = list.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            got,
            [
                ("east", EndpointType::Primary),
                ("north", EndpointType::Primary),
                ("west", EndpointType::Secondary)
            ]
        );
    }

    #[test]
    fn bad_values_name_the_setting_without_the_value() {
        let e = parse(&[(
            "Azure__SignalR__Endpoints__east",
            "AccessKey=made-up-test-key",
        )])
        .unwrap_err();
        assert!(
            e.to_string().contains("Azure__SignalR__Endpoints__east"),
            "{e}"
        );
        assert!(!e.to_string().contains("made-up-test-key"), "{e}");
        let e = parse(&[("Azure:SignalR:Endpoints:east:tertiary", CS)]).unwrap_err();
        assert!(e.to_string().contains("primary or secondary"), "{e}");
        let e = parse(&[("Azure:SignalR:Endpoints:", CS)]).unwrap_err();
        assert!(e.to_string().contains("no endpoint name"), "{e}");
        let e = parse(&[
            ("Azure:SignalR:Endpoints:east", CS),
            ("Azure__SignalR__Endpoints__east__primary", CS),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("keep one"), "{e}");
    }
}
