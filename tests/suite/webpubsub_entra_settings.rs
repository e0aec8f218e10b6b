//! Web PubSub connection settings under Microsoft Entra ID: `WebPubSubConnectionString` with
//! `AuthType=azure.msi` (`ClientId` for user-assigned), `azure.app` (client secret or
//! certificate), `azure` (default chain), and the identity-based `WebPubSubConnectionString__*`
//! settings of the Functions extension; errors name the missing or conflicting key and never
//! repeat a secret.

use serverless_signalr::app::settings::{IdentityConnection, ServeArgs, Settings};
use serverless_signalr::app::webpubsub::settings::WebPubSubArgs;
use serverless_signalr::service::connection_string::{AppCredential, AuthType};
use serverless_signalr::service::Secret;

const SECRET: &str = "very-secret-client-value";
const ENDPOINT: &str = "https://demo.webpubsub.azure.com";

fn settings(connection: Option<&str>, identity: &[(&str, &str)]) -> Result<Settings, String> {
    let args = ServeArgs {
        webpubsub: WebPubSubArgs {
            connection_string: connection.map(String::from),
            identity_connection: IdentityConnection(
                identity
                    .iter()
                    .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    match Settings::from_args(args) {
        Ok(s) => {
            let printed = format!("{s:?} {}", s.webpubsub.connection.as_ref().unwrap());
            assert!(!printed.contains(SECRET), "a secret was printed: {printed}");
            Ok(s)
        }
        Err(e) => {
            let text = e.to_string();
            assert!(!text.contains(SECRET), "a secret was echoed: {text}");
            Err(text)
        }
    }
}

fn auth(connection: Option<&str>, identity: &[(&str, &str)]) -> AuthType {
    let settings = settings(connection, identity).unwrap();
    let cs = settings.webpubsub.connection.unwrap();
    assert_eq!(cs.endpoint(), ENDPOINT);
    assert!(cs.uses_entra());
    assert!(cs.access_key().is_none());
    cs.auth().clone()
}

fn string(rest: &str) -> String {
    format!("Endpoint={ENDPOINT};{rest}Version=1.0;")
}

#[test]
fn connection_strings_with_an_auth_type_mean_what_the_sdk_makes_of_them() {
    assert_eq!(
        auth(Some(&string("AuthType=azure.msi;")), &[]),
        AuthType::ManagedIdentity { client_id: None }
    );
    assert_eq!(
        auth(Some(&string("authtype=Azure.MSI;clientid=uami;")), &[]),
        AuthType::ManagedIdentity {
            client_id: Some("uami".into())
        }
    );
    assert_eq!(
        auth(
            Some(&string(&format!(
                "AuthType=azure.app;ClientId=app;TenantId=t;ClientSecret={SECRET};"
            ))),
            &[]
        ),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::Secret(Secret::new(SECRET)),
        }
    );
    assert_eq!(
        auth(
            Some(&string(
                "AuthType=azure.app;ClientId=app;TenantId=t;ClientCert=/certs/app.pem;"
            )),
            &[]
        ),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::Certificate("/certs/app.pem".into()),
        }
    );
    assert_eq!(
        auth(Some(&string("AuthType=azure;")), &[]),
        AuthType::DefaultAzure {
            client_id: None,
            tenant_id: None
        }
    );
    // An AccessKey beside an AuthType only checks event signatures.
    let cs = settings(
        Some(&string("AuthType=azure.msi;AccessKey=made-up-key;")),
        &[],
    )
    .unwrap()
    .webpubsub
    .connection
    .unwrap();
    assert!(cs.uses_entra());
    assert_eq!(cs.access_key().map(Secret::expose), Some("made-up-key"));
    assert_eq!(
        cs.to_string(),
        format!("Endpoint={ENDPOINT};AccessKey=***;AuthType=azure.msi;Version=1.0;")
    );
}

const URI: (&str, &str) = ("serviceUri", ENDPOINT);

#[test]
fn identity_based_settings_mean_what_the_extension_makes_of_them() {
    assert_eq!(
        auth(None, &[URI, ("credential", "managedidentity")]),
        AuthType::ManagedIdentity { client_id: None }
    );
    assert_eq!(
        auth(
            None,
            &[
                ("SERVICEURI", ENDPOINT),
                ("Credential", "ManagedIdentity"),
                ("clientId", "uami")
            ]
        ),
        AuthType::ManagedIdentity {
            client_id: Some("uami".into())
        }
    );
    assert_eq!(
        auth(
            None,
            &[
                URI,
                ("clientId", "app"),
                ("tenantId", "t"),
                ("clientSecret", SECRET)
            ]
        ),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::Secret(Secret::new(SECRET)),
        }
    );
    assert_eq!(
        auth(None, &[URI]),
        AuthType::DefaultAzure {
            client_id: None,
            tenant_id: None
        }
    );
    assert_eq!(
        auth(
            None,
            &[
                URI,
                ("credential", "workloadidentity"),
                ("tokenFilePath", "/var/run/token")
            ]
        ),
        AuthType::WorkloadIdentity {
            client_id: None,
            tenant_id: None,
            token_file: Some("/var/run/token".into()),
        }
    );
}

/// A connection string, identity-based settings, and the error they must give.
type Case<'a> = (Option<String>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn errors_name_the_missing_or_conflicting_key_and_never_the_secret() {
    let cases: &[Case] = &[
        (
            Some(string(&format!("AuthType=azure.app;TenantId=t;ClientSecret={SECRET};"))),
            &[],
            "WebPubSubConnectionString: ClientId is missing",
        ),
        (
            Some(string(&format!("AuthType=azure.app;ClientId=a;ClientSecret={SECRET};"))),
            &[],
            "WebPubSubConnectionString: TenantId is missing",
        ),
        (
            Some(string("AuthType=azure.app;ClientId=a;TenantId=t;")),
            &[],
            "WebPubSubConnectionString: ClientSecret or ClientCert is missing",
        ),
        (
            Some(string("")),
            &[],
            "WebPubSubConnectionString: AccessKey: is missing; give the access key, or authenticate with Microsoft Entra ID",
        ),
        (
            Some(string(&format!("AuthType=azure.msi;AccessKey={SECRET};authtype=azure;"))),
            &[],
            "WebPubSubConnectionString: AuthType appears more than once",
        ),
        (
            None,
            &[("credential", "managedidentity")],
            "WebPubSubConnectionString__serviceUri: is missing: set it to https://<name>.webpubsub.azure.com",
        ),
        (
            None,
            &[URI, ("credential", "managedidentity"), ("clientSecret", SECRET)],
            "WebPubSubConnectionString__clientSecret: cannot be used with WebPubSubConnectionString__credential=managedidentity",
        ),
        (
            None,
            &[URI, ("clientId", "app"), ("clientSecret", SECRET)],
            "WebPubSubConnectionString__tenantId: is missing",
        ),
        (
            None,
            &[URI, ("managedIdentityResourceId", "/subscriptions/x")],
            "WebPubSubConnectionString__managedIdentityResourceId: is not supported; name the user-assigned identity by WebPubSubConnectionString__clientId",
        ),
        (
            None,
            &[URI, ("password", SECRET)],
            "WebPubSubConnectionString__*: WebPubSubConnectionString__password is not an identity-based setting",
        ),
        (
            None,
            &[("serviceUri", "Endpoint=https://x;AccessKey=k")],
            "WebPubSubConnectionString__serviceUri: must be a URL",
        ),
        (
            Some(string("AuthType=azure.msi;")),
            &[URI],
            "WebPubSubConnectionString: and WebPubSubConnectionString__serviceUri are both set",
        ),
    ];
    for (connection, identity, expected) in cases {
        let error = settings(connection.as_deref(), identity).unwrap_err();
        assert!(
            error.starts_with(expected),
            "expected {expected:?}, got {error:?}"
        );
    }
}
