//! The local stack in Entra ID mode (`SIGNALR_EMULATOR_ENTRA`): the embedded emulator serves a
//! managed-identity endpoint and the app uses it as its managed identity, with
//! `AuthType=azure.msi` and no access key, exactly as it would on App Service
//! (`docs/protocol.md` §7). The identity endpoint and its header are handed to the app directly,
//! not through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, so nothing in the process environment
//! changes and a real managed identity's variables cannot be picked up by mistake. The embedded
//! Web PubSub emulator trusts the same identity, so the app's Web PubSub routes use
//! `AuthType=azure.msi` too (`docs/webpubsub.md` §6).

use crate::emulator::entra::{EntraMode, IDENTITY_PATH};
use crate::emulator::webpubsub::WebPubSubHandle;
use crate::emulator::EmulatorHandle;
use crate::service::connection_string::ConnectionStringError;
use crate::service::entra::managed_identity::{ManagedIdentity, ManagedIdentityProtocol};
use crate::service::entra::TokenSource;
use crate::service::webpubsub::WebPubSubConnectionString;
use crate::service::ConnectionString;

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
}
