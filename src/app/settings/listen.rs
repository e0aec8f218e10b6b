//! Where the handler listens: `FUNCTIONS_CUSTOMHANDLER_PORT` under the Functions host (always on
//! 127.0.0.1), else `PORT`, `BIND_ADDRESS` and `EMULATOR_PORT`. Kept apart from the other
//! settings because a bad value here is the one thing the handler cannot answer requests about.

use std::net::{IpAddr, Ipv4Addr};

use super::value::{err, nonempty, SettingsError};
use super::ServeArgs;

/// Where the handler listens, from the settings that say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    /// Address to bind: always 127.0.0.1 under the host.
    pub bind: IpAddr,
    /// Port of the function app.
    pub port: u16,
    /// Port of the embedded emulator (only used outside the host).
    pub emulator_port: u16,
    /// Port of the embedded Web PubSub emulator when `WEBPUBSUB_EMULATOR_PORT` names one; `None`
    /// = its default, skipped when taken (only used outside the host).
    pub webpubsub_emulator_port: Option<u16>,
    /// True when started by the Functions host.
    pub under_host: bool,
    /// Listen settings that were given but do not apply under the host.
    pub ignored: Vec<&'static str>,
}

impl ListenAddress {
    /// Reads the listen settings. Under the host only FUNCTIONS_CUSTOMHANDLER_PORT counts and
    /// `PORT`, `BIND_ADDRESS`, `EMULATOR_PORT` and `WEBPUBSUB_EMULATOR_PORT` are ignored, even when they are not valid (a
    /// stray value must not crash-loop the function app); outside the host a bad one is an error.
    pub fn from_args(args: &ServeArgs) -> Result<Self, SettingsError> {
        let given =
            |name: &'static str, value: &Option<String>| nonempty(value.clone()).map(|v| (name, v));
        let port = given("PORT", &args.port);
        let bind = given("BIND_ADDRESS", &args.bind);
        let emulator_port = given("EMULATOR_PORT", &args.emulator_port);
        let webpubsub_emulator_port =
            given("WEBPUBSUB_EMULATOR_PORT", &args.webpubsub_emulator_port);
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        if let Some(host_port) = nonempty(args.host_port.clone()) {
            let host_port = host_port.parse::<u16>().map_err(|_| {
                err(
                    "FUNCTIONS_CUSTOMHANDLER_PORT",
                    format!("{host_port:?} is not a port number"),
                )
            })?;
            // Under the host, keys are the host's job and the handler checks none, so it must be
            // reachable only through the host, on loopback, whatever BIND_ADDRESS says.
            let ignored = [port, bind, emulator_port, webpubsub_emulator_port]
                .into_iter()
                .flatten()
                .map(|(name, _)| name)
                .collect();
            return Ok(Self {
                bind: localhost,
                port: host_port,
                emulator_port: 0,
                webpubsub_emulator_port: None,
                under_host: true,
                ignored,
            });
        }
        let port_number = |given: Option<(&'static str, String)>, default: u16| match given {
            None => Ok(default),
            Some((name, v)) => v.parse::<u16>().map_err(|_| {
                err(
                    name,
                    format!("{v:?} is not a port number; use 1 to 65535, or 0 for any free port"),
                )
            }),
        };
        let bind = match bind {
            None => localhost,
            Some((name, v)) => v.parse::<IpAddr>().map_err(|_| {
                err(
                    name,
                    format!("{v:?} is not an IP address such as 127.0.0.1 or 0.0.0.0 (host names are not accepted)"),
                )
            })?,
        };
        Ok(Self {
            bind,
            port: port_number(port, 7071)?,
            emulator_port: port_number(emulator_port, 8888)?,
            webpubsub_emulator_port: webpubsub_emulator_port
                .map(|given| port_number(Some(given), 0))
                .transpose()?,
            under_host: false,
            ignored: Vec::new(),
        })
    }
}
