//! The identity-based connection settings (`AzureSignalRConnectionString__serviceUri`,
//! `__credential`, `__clientId`, `__tenantId`, `__clientSecret`, `__clientCertificate`,
//! `__tokenFilePath`): what each
//! combination means, errors that name the missing or conflicting setting and never repeat a
//! value, and the real binary configured this way against the emulator in Entra ID mode.

use crate::support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serverless_signalr::app::settings::{IdentityConnection, ServeArgs, ServiceMode, Settings};
use serverless_signalr::emulator::entra::EntraMode;
use serverless_signalr::emulator::{self, EmulatorConfig};
use serverless_signalr::service::connection_string::DEV_ACCESS_KEY;
use serverless_signalr::service::connection_string::{AppCredential, AuthType};
use serverless_signalr::service::Secret;
use support::binary;

const SECRET: &str = "very-secret-client-value";

fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
    let args = ServeArgs {
        identity_connection: IdentityConnection(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                .collect(),
        ),
        ..Default::default()
    };
    Settings::from_args(args).map_err(|e| {
        let text = e.to_string();
        assert!(!text.contains(SECRET), "a secret was echoed: {text}");
        text
    })
}

fn auth(pairs: &[(&str, &str)]) -> AuthType {
    match settings(pairs).unwrap().service {
        ServiceMode::Remote(cs) => {
            assert_eq!(cs.endpoint(), "https://demo.service.signalr.net");
            assert!(cs.access_key().is_none());
            cs.auth().clone()
        }
        other => panic!("identity-based settings must name a remote service, not {other:?}"),
    }
}

const URI: (&str, &str) = ("serviceUri", "https://demo.service.signalr.net");

#[test]
fn each_form_means_what_the_extension_makes_of_it() {
    assert_eq!(
        auth(&[URI, ("credential", "managedidentity")]),
        AuthType::ManagedIdentity { client_id: None }
    );
    // Names are case-insensitive, like Functions configuration.
    assert_eq!(
        auth(&[
            ("SERVICEURI", URI.1),
            ("Credential", "ManagedIdentity"),
            ("clientid", "uami")
        ]),
        AuthType::ManagedIdentity {
            client_id: Some("uami".into())
        }
    );
    assert_eq!(
        auth(&[
            URI,
            ("clientId", "app"),
            ("tenantId", "t"),
            ("clientSecret", SECRET)
        ]),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::Secret(Secret::new(SECRET)),
        }
    );
    // A certificate by thumbprint (read where App Service loads certificates); a secret wins.
    let thumbprint = (
        "clientCertificate",
        "0123456789ABCDEF0123456789ABCDEF01234567",
    );
    assert_eq!(
        auth(&[
            URI,
            ("clientId", "app"),
            ("tenantId", "t"),
            thumbprint,
            ("clientCertificateStoreName", "my"),
            ("clientCertificateStoreLocation", "CurrentUser"),
        ]),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::CertificateThumbprint(thumbprint.1.into()),
        }
    );
    assert_eq!(
        auth(&[
            URI,
            ("clientId", "app"),
            ("tenantId", "t"),
            thumbprint,
            ("clientSecret", SECRET)
        ]),
        AuthType::Application {
            client_id: "app".into(),
            tenant_id: "t".into(),
            credential: AppCredential::Secret(Secret::new(SECRET)),
        }
    );
    assert_eq!(
        auth(&[
            URI,
            ("credential", "workloadidentity"),
            ("clientId", "app"),
            ("tokenFilePath", "/var/run/token")
        ]),
        AuthType::WorkloadIdentity {
            client_id: Some("app".into()),
            tenant_id: None,
            token_file: Some("/var/run/token".into()),
        }
    );
    assert_eq!(
        auth(&[
            URI,
            ("clientId", "app"),
            ("additionallyAllowedTenants", "*")
        ]),
        AuthType::DefaultAzure {
            client_id: Some("app".into()),
            tenant_id: None
        }
    );
}

#[test]
fn errors_name_the_setting_and_never_the_secret() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("credential", "managedidentity")],
            "AzureSignalRConnectionString__serviceUri: is missing",
        ),
        (
            &[URI, ("clientId", "app"), ("clientSecret", SECRET)],
            "AzureSignalRConnectionString__tenantId: is missing",
        ),
        (
            &[URI, ("tenantId", "t"), ("clientSecret", SECRET)],
            "AzureSignalRConnectionString__clientId: is missing",
        ),
        (
            &[
                URI,
                ("credential", "managedidentity"),
                ("clientSecret", SECRET),
            ],
            "AzureSignalRConnectionString__clientSecret: cannot be used with AzureSignalRConnectionString__credential=managedidentity",
        ),
        (
            &[URI, ("credential", "workloadidentity"), ("clientSecret", SECRET)],
            "AzureSignalRConnectionString__clientSecret: cannot be used with AzureSignalRConnectionString__credential=workloadidentity",
        ),
        (
            &[URI, ("credential", SECRET)],
            "AzureSignalRConnectionString__credential: must be managedidentity or workloadidentity",
        ),
        (
            &[URI, ("clientSecrett", SECRET)],
            "AzureSignalRConnectionString__clientSecrett is not an identity-based setting",
        ),
        (
            &[URI, ("clientCertificate", "ABCDEF"), ("tenantId", "t")],
            "AzureSignalRConnectionString__clientId: is missing: a client certificate needs",
        ),
        (
            &[URI, ("clientCertificate", "ABCDEF"), ("clientId", "app")],
            "AzureSignalRConnectionString__tenantId: is missing: a client certificate needs",
        ),
        (
            &[
                URI,
                ("credential", "managedidentity"),
                ("clientCertificate", "ABCDEF"),
            ],
            "AzureSignalRConnectionString__clientCertificate: cannot be used with AzureSignalRConnectionString__credential=managedidentity",
        ),
        (
            &[URI, ("clientCertificate", "ABCDEF"), ("clientCertificateStoreName", "Root")],
            "AzureSignalRConnectionString__clientCertificateStoreName: must be My",
        ),
        (
            &[("serviceUri", "Endpoint=https://x;AccessKey=k")],
            "AzureSignalRConnectionString__serviceUri: must be a URL",
        ),
        (
            &[("serviceUri", "not a url")],
            "AzureSignalRConnectionString__serviceUri: is not an absolute URL",
        ),
        (
            &[URI, ("tokenFilePath", "/t")],
            "AzureSignalRConnectionString__tokenFilePath: needs AzureSignalRConnectionString__credential=workloadidentity",
        ),
    ];
    for (pairs, expected) in cases {
        let error = settings(pairs).unwrap_err();
        assert!(error.contains(expected), "{error}\nexpected: {expected}");
    }
}

#[test]
fn the_connection_string_and_the_identity_based_form_conflict() {
    let args = ServeArgs {
        connection_string: Some(format!(
            "Endpoint=https://demo.service.signalr.net;AccessKey={SECRET};Version=1.0;"
        )),
        identity_connection: IdentityConnection(vec![(
            "serviceUri".into(),
            Secret::new("https://demo.service.signalr.net"),
        )]),
        ..Default::default()
    };
    let error = Settings::from_args(args).unwrap_err().to_string();
    assert!(
        error.contains("AzureSignalRConnectionString__serviceUri are both set"),
        "{error}"
    );
    assert!(!error.contains(SECRET));
}

/// The real binary with `__serviceUri` + `__credential=managedidentity`, its managed identity
/// being an emulator in Entra ID mode; and with a setting missing, the error on every route.
#[tokio::test]
async fn binary_with_identity_based_settings_negotiates_and_sends() {
    let mut mode = EntraMode::generate(true);
    mode.identity_header = Secret::new("header-value");
    let mut config = EmulatorConfig::new(Secret::new(DEV_ACCESS_KEY));
    config.entra = Some(mode);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let emulator = format!("http://{}", listener.local_addr().unwrap());
    let _emulator = emulator::start(config, listener).await.unwrap();
    let identity_endpoint = format!("{emulator}/msi/token");
    let handler = binary::spawn(
        false,
        &[
            ("AzureSignalRConnectionString__serviceUri", &emulator),
            (
                "AzureSignalRConnectionString__credential",
                "managedidentity",
            ),
            ("IDENTITY_ENDPOINT", &identity_endpoint),
            ("IDENTITY_HEADER", "header-value"),
            ("SIGNALR_FUNCTION_KEYS", "k"),
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/negotiate", handler.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["url"], format!("{emulator}/client/?hub=default"));
    let token = body["accessToken"].as_str().unwrap();
    assert!(jsonwebtoken::decode_header(token)
        .unwrap()
        .kid
        .is_some_and(|k| k.starts_with("t-")));
    let r = http
        .post(format!("{}/api/messages", handler.base))
        .header("x-functions-key", "k")
        .json(&json!({"target": "t", "arguments": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let broken = binary::spawn(
        false,
        &[
            ("AzureSignalRConnectionString__serviceUri", &emulator),
            ("AzureSignalRConnectionString__clientId", "app"),
            ("AzureSignalRConnectionString__clientSecret", SECRET),
        ],
    )
    .await;
    let r = http
        .post(format!("{}/api/negotiate", broken.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("AzureSignalRConnectionString__tenantId: is missing"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
    assert!(!broken.stderr.text().contains(SECRET));
    assert!(!broken.stdout.text().contains(SECRET));
}
