//! The local stack in Entra ID mode (`SIGNALR_EMULATOR_ENTRA`): the embedded emulator serves a
//! managed-identity endpoint and the app uses it as its managed identity, with
//! `AuthType=azure.msi` and no access key, exactly as it would on App Service
//! (`docs/protocol.md` §7). The identity endpoint and its header are handed to the app directly,
//! not through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, so nothing in the process environment
//! changes and a real managed identity's variables cannot be picked up by mistake. The embedded
//! Web PubSub emulator trusts the same identity, so the app's Web PubSub routes use
//! `AuthType=azure.msi` too (`docs/webpubsub.md` §6). The other way round, the emulators call the
//! app with their own managed identity's bearer token ([`crate::emulator::upstream_identity`]), and
//! the app requires it on `/api/upstream` and `/api/webpubsub/events`; with local auth disabled
//! that token is all it checks, so no key is anywhere (`docs/upstream.md`, "Managed identity").

use crate::app::identity::{OidcSettings, ServiceIdentitySettings};
use crate::app::settings::Settings;
use crate::emulator::entra::{EntraMode, IDENTITY_PATH};
use crate::emulator::upstream_identity::RESOURCE;
use crate::emulator::webpubsub::WebPubSubHandle;
use crate::emulator::EmulatorHandle;
use crate::service::connection_string::ConnectionStringError;
use crate::service::connection_string::DEV_ACCESS_KEY;
use crate::service::entra::managed_identity::{ManagedIdentity, ManagedIdentityProtocol};
use crate::service::entra::TokenSource;
use crate::service::webpubsub::WebPubSubConnectionString;
use crate::service::{ConnectionString, Secret};

/// The app's view of an emulator in Entra mode: the keyless connection string and the
/// managed identity (the emulator's App Service identity endpoint).
pub fn identity(
    emulator: &EmulatorHandle,
    mode: &EntraMode,
) -> Result<(ConnectionString, TokenSource), ConnectionStringError> {
    let endpoint = ConnectionString::parse(&emulator.connection_string())?.endpoint();
    let connection = ConnectionString::parse(&format!(
        "Endpoint={endpoint};AuthType=azure.msi;Version=1.0;"
    ))?;
    let source = TokenSource::ManagedIdentity(ManagedIdentity {
        protocol: ManagedIdentityProtocol::AppService {
            endpoint: format!("{endpoint}{IDENTITY_PATH}"),
            header: mode.identity_header.clone(),
        },
        client_id: None,
    });
    Ok((connection, source))
}

/// The app's keyless connection to the embedded Web PubSub emulator in Entra mode.
pub fn webpubsub(
    emulator: &WebPubSubHandle,
) -> Result<WebPubSubConnectionString, ConnectionStringError> {
    let endpoint = WebPubSubConnectionString::parse(&emulator.connection_string())?.endpoint();
    WebPubSubConnectionString::parse(&format!(
        "Endpoint={endpoint};AuthType=azure.msi;Version=1.0;"
    ))
}

/// The start-up lines saying how the app authenticates (no secret is printed).
pub fn announce(connection: &ConnectionString, mode: &EntraMode) {
    println!(
        "  Entra ID mode:     the app uses AuthType=azure.msi with the emulator's managed-identity endpoint {}{IDENTITY_PATH} (no access key)",
        connection.endpoint()
    );
    if mode.disable_local_auth {
        println!("  local auth:        disabled: the emulator refuses tokens signed with the access key, as Azure does under disableLocalAuth");
    }
    if let Some(issuer) = mode.upstream_identity.issuer() {
        println!(
            "  upstream identity: the emulators call the app with bearer tokens of {issuer} (aud {RESOURCE}){}",
            if mode.disable_local_auth { "; the app checks only those: no key anywhere" } else { " and the access-key signature" }
        );
    }
}

/// Makes a webhook require the emulators' identity: tokens of their issuer for [`RESOURCE`] from
/// their object id, unless `identity` (the user's `<setting>_*`) names another one; and, while
/// local auth is on, the access-key signature too (`keys`), as with a real service that has keys.
fn trust(
    identity: &mut Option<ServiceIdentitySettings>,
    keys: &mut Vec<Secret>,
    mode: &EntraMode,
    setting: &'static str,
) {
    let emulators = &mode.upstream_identity;
    if identity.is_none() {
        *identity = emulators.issuer().map(|issuer| ServiceIdentitySettings {
            issuers: vec![OidcSettings::new(issuer, vec![RESOURCE.into()])],
            allowed_callers: vec![emulators.object_id().to_owned()],
            setting,
        });
    }
    if !mode.disable_local_auth {
        keys.push(Secret::new(DEV_ACCESS_KEY));
    }
}

/// `/api/upstream` trusts the SignalR emulator ([`trust`]).
pub fn trust_signalr(settings: &mut Settings, mode: &EntraMode) {
    let identity = &mut settings.service_identity.upstream;
    let keys = &mut settings.upstream.secondary_keys;
    trust(identity, keys, mode, "SIGNALR_UPSTREAM_IDENTITY");
}

/// `/api/webpubsub/events` trusts the Web PubSub emulator ([`trust`]).
pub fn trust_webpubsub(settings: &mut Settings, mode: &EntraMode) {
    let identity = &mut settings.service_identity.webpubsub_events;
    let keys = &mut settings.webpubsub.events.secondary_keys;
    trust(identity, keys, mode, "WEBPUBSUB_EVENTS_IDENTITY");
}
