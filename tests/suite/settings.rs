//! Settings validation: every bad value is refused with a message that starts with the setting's
//! name and never shows a secret.

use serverless_signalr::app::settings::{ServeArgs, ServiceMode, Settings};

const CS: &str =
    "Endpoint=https://x.service.signalr.net;AccessKey=SecretKeyValue-not-a-real-key;Version=1.0;";

/// A change to the default arguments.
type Edit = Box<dyn FnOnce(&mut ServeArgs)>;

fn args(set: impl FnOnce(&mut ServeArgs)) -> ServeArgs {
    let mut a = ServeArgs {
        connection_string: Some(CS.into()),
        ..Default::default()
    };
    set(&mut a);
    a
}

fn error(set: impl FnOnce(&mut ServeArgs)) -> String {
    Settings::from_args(args(set)).unwrap_err().to_string()
}

#[test]
fn bad_values_name_the_setting() {
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|a| a.cors_origins = Some("*".into())),
            "SIGNALR_CORS_ORIGINS: ",
        ),
        (
            Box::new(|a| a.cors_origins = Some("https://a.com/path".into())),
            "SIGNALR_CORS_ORIGINS: ",
        ),
        (
            Box::new(|a| a.token_lifetime = Some("5".into())),
            "SIGNALR_TOKEN_LIFETIME: ",
        ),
        (
            Box::new(|a| a.token_lifetime = Some("1h".into())),
            "SIGNALR_TOKEN_LIFETIME: ",
        ),
        (
            Box::new(|a| a.allowed_transports = Some("WebSockets,Websocket".into())),
            "SIGNALR_ALLOWED_TRANSPORTS: \"Websocket\" is not a transport",
        ),
        (
            Box::new(|a| a.allowed_transports = Some(",".into())),
            "SIGNALR_ALLOWED_TRANSPORTS: ",
        ),
        (
            Box::new(|a| a.close_on_token_expiry = Some("on".into())),
            "SIGNALR_CLOSE_ON_TOKEN_EXPIRY: ",
        ),
        (
            Box::new(|a| a.easy_auth = Some("yes".into())),
            "SIGNALR_EASY_AUTH: ",
        ),
        (
            Box::new(|a| a.easy_auth_user_id = Some("email".into())),
            "SIGNALR_EASY_AUTH_USER_ID: ",
        ),
        (
            Box::new(|a| a.require_auth = Some("true".into())),
            "SIGNALR_REQUIRE_AUTH: ",
        ),
        (
            Box::new(|a| a.oidc_issuer = Some("https://login.example".into())),
            "SIGNALR_OIDC_AUDIENCE: ",
        ),
        (
            Box::new(|a| {
                a.oidc_issuer = Some("http://login.example".into());
                a.oidc_audience = Some("api://x".into());
            }),
            "SIGNALR_OIDC_ISSUER: ",
        ),
        (
            Box::new(|a| a.negotiate_groups = Some("g-{".into())),
            "SIGNALR_NEGOTIATE_GROUPS: ",
        ),
        (
            Box::new(|a| a.negotiate_groups = Some("g-{a b}".into())),
            "SIGNALR_NEGOTIATE_GROUPS: ",
        ),
        (
            Box::new(|a| a.hub = Some("9".into())),
            "AzureSignalRHubName: ",
        ),
        (
            Box::new(|a| a.upstream_forward_secret = Some("SecretKeyValue-hook".into())),
            "SIGNALR_UPSTREAM_FORWARD_SECRET: is set but SIGNALR_UPSTREAM_FORWARD_URL is not",
        ),
        (
            Box::new(|a| a.max_batch = Some("0".into())),
            "SIGNALR_MAX_BATCH: ",
        ),
        (
            Box::new(|a| a.host_port = Some("port".into())),
            "FUNCTIONS_CUSTOMHANDLER_PORT: ",
        ),
        (
            Box::new(|a| a.port = Some("7071x".into())),
            "PORT: \"7071x\" is not a port number",
        ),
        (
            Box::new(|a| a.bind = Some("example.com".into())),
            "BIND_ADDRESS: \"example.com\" is not an IP address",
        ),
        (
            Box::new(|a| a.emulator_port = Some("65536".into())),
            "EMULATOR_PORT: ",
        ),
        (
            Box::new(|a| a.webpubsub_emulator_port = Some("x".into())),
            "WEBPUBSUB_EMULATOR_PORT: \"x\" is not a port number",
        ),
        (
            Box::new(|a| a.connection_string = Some(format!("{CS}Port=x"))),
            "AzureSignalRConnectionString: Port: ",
        ),
        (
            Box::new(|a| {
                a.connection_string = Some(
                    "Endpoint=https://x;AuthType=azure.app;ClientId=a;ClientSecret=SecretKeyValue"
                        .into(),
                )
            }),
            "AzureSignalRConnectionString: TenantId is missing",
        ),
    ];
    for (set, prefix) in cases {
        let message = error(set);
        assert!(
            message.starts_with(prefix),
            "{message:?} should start with {prefix:?}"
        );
        assert!(!message.contains("SecretKeyValue"), "{message}");
    }
}

#[test]
fn entra_id_connection_strings_need_no_access_key() {
    let settings = Settings::from_args(ServeArgs {
        connection_string: Some("Endpoint=https://x;AuthType=azure.msi;Version=1.0;".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(settings.service, ServiceMode::Remote(_)));
}

#[test]
fn the_emulator_starts_only_outside_the_host() {
    let local = Settings::from_args(ServeArgs::default()).unwrap();
    assert!(matches!(local.service, ServiceMode::LocalEmulator));
    assert!(!local.listen.under_host);
    assert_eq!((local.listen.port, local.hub.as_str()), (7071, "default"));
    let message = Settings::from_args(ServeArgs {
        host_port: Some("7000".into()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        message.starts_with("AzureSignalRConnectionString: is not set"),
        "{message}"
    );
    let hosted = Settings::from_args(args(|a| a.host_port = Some("7000".into()))).unwrap();
    assert!(hosted.listen.under_host && hosted.listen.port == 7000);
    assert!(matches!(hosted.service, ServiceMode::Remote(_)));
}

#[test]
fn under_the_host_only_the_host_port_counts() {
    let hosted = Settings::from_args(args(|a| {
        a.host_port = Some("7000".into());
        a.port = Some("junk".into());
        a.bind = Some("0.0.0.0".into());
        a.emulator_port = Some("junk".into());
        a.webpubsub_emulator_port = Some("junk".into());
    }))
    .unwrap();
    assert_eq!(hosted.listen.bind.to_string(), "127.0.0.1");
    assert_eq!(hosted.listen.port, 7000);
    assert_eq!(
        hosted.listen.ignored,
        [
            "PORT",
            "BIND_ADDRESS",
            "EMULATOR_PORT",
            "WEBPUBSUB_EMULATOR_PORT"
        ]
    );
    let standalone = Settings::from_args(args(|a| {
        a.port = Some(" 8080 ".into());
        a.bind = Some("0.0.0.0".into());
        a.emulator_port = Some("0".into());
        a.webpubsub_emulator_port = Some("0".into());
    }))
    .unwrap();
    assert_eq!(
        (standalone.listen.bind.to_string(), standalone.listen.port),
        ("0.0.0.0".to_string(), 8080)
    );
    assert_eq!(standalone.listen.emulator_port, 0);
    assert_eq!(standalone.listen.webpubsub_emulator_port, Some(0));
    assert!(standalone.listen.ignored.is_empty());
}

#[test]
fn secrets_never_show_in_debug() {
    let s = Settings::from_args(args(|a| {
        a.function_keys = Some("SecretKeyValue-function".into());
        a.upstream_secondary_keys = Some("SecretKeyValue-secondary".into());
        a.upstream_forward_url = Some("https://hooks.example/in?code=SecretKeyValue-url".into());
        a.upstream_forward_secret = Some("SecretKeyValue-hook".into());
    }))
    .unwrap();
    let debug = format!("{s:?}");
    assert!(debug.contains("forward"), "{debug}");
    assert!(!debug.contains("SecretKeyValue"), "{debug}");
}

#[test]
fn lists_and_defaults() {
    let s = Settings::from_args(args(|a| {
        a.token_claims = Some(" tid , oid,, ".into());
        a.cors_origins = Some("https://app.example.com/".into());
        a.token_lifetime = Some("86400".into());
    }))
    .unwrap();
    assert_eq!(s.token_claims, ["tid", "oid"]);
    assert_eq!(s.cors_origins, ["https://app.example.com/"]);
    assert_eq!(s.token_lifetime.as_secs(), 86400);
    assert_eq!(s.max_batch, 1000);
    assert_eq!((s.listen.port, s.listen.emulator_port), (7071, 8888));
    assert_eq!(s.listen.webpubsub_emulator_port, None);
    assert!(!s.identity.easy_auth && !s.identity.require_authentication);
    assert!(!s.close_on_token_expiry && s.allowed_transports.is_none());
}
