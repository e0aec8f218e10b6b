//! Connection-string parsing through the public API: every key of `docs/protocol.md` §1, the
//! derived URLs, and errors that name the key without ever showing the access key.

use serverless_signalr::service::connection_string::{
    AppCredential, AuthType, ConnectionStringError,
};
use serverless_signalr::service::ConnectionString;

const KEY: &str = serverless_signalr::service::connection_string::DEV_ACCESS_KEY;

fn parse(s: &str) -> Result<ConnectionString, ConnectionStringError> {
    ConnectionString::parse(s)
}

#[test]
fn plain_azure_connection_string() {
    let cs = parse(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY};Version=1.0;"
    ))
    .unwrap();
    assert_eq!(cs.endpoint(), "https://demo.service.signalr.net");
    assert_eq!(cs.client_base(), "https://demo.service.signalr.net/");
    assert_eq!(cs.server_base(), "https://demo.service.signalr.net/");
    assert_eq!(cs.audience_base(), "https://demo.service.signalr.net/");
    assert_eq!(cs.access_key().unwrap().expose(), KEY);
    assert_eq!(cs.version(), Some("1.0"));
    assert_eq!(cs.auth(), &AuthType::AccessKey);
}

#[test]
fn port_changes_urls_but_never_the_audience() {
    let cs = parse(&format!(
        "Endpoint=http://localhost;Port=8888;AccessKey={KEY};Version=1.0;"
    ))
    .unwrap();
    assert_eq!(cs.client_base(), "http://localhost:8888/");
    assert_eq!(cs.server_base(), "http://localhost:8888/");
    assert_eq!(cs.audience_base(), "http://localhost/");
    // Port replaces a port already in the endpoint; the default port is dropped.
    let cs = parse(&format!(
        "Endpoint=https://aaa:500;Port=443;AccessKey={KEY}"
    ))
    .unwrap();
    assert_eq!(cs.endpoint(), "https://aaa");
    let cs = parse(&format!("Endpoint=https://aaa;Port=500;AccessKey={KEY}")).unwrap();
    assert_eq!(cs.endpoint(), "https://aaa:500");
    assert_eq!(cs.audience_base(), "https://aaa/");
    let cs = parse(&format!(
        "Endpoint=http://aaa:80/some/path/;AccessKey={KEY}"
    ))
    .unwrap();
    assert_eq!(cs.endpoint(), "http://aaa");
}

#[test]
fn client_and_server_endpoints_only_change_their_own_urls() {
    let cs = parse(&format!(
        "Endpoint=https://demo.service.signalr.net;AccessKey={KEY};ClientEndpoint=https://gw.example.com/;ServerEndpoint=https://internal:4443;"
    ))
    .unwrap();
    assert_eq!(cs.client_base(), "https://gw.example.com/");
    assert_eq!(cs.server_base(), "https://internal:4443/");
    assert_eq!(cs.audience_base(), "https://demo.service.signalr.net/");
}

#[test]
fn keys_are_case_insensitive_values_may_contain_equals_and_whitespace_is_trimmed() {
    let cs = parse(
        " endpoint = https://x.service.signalr.net ; ACCESSKEY=abc==;; version=1.0 ;ignored ",
    )
    .unwrap();
    assert_eq!(cs.access_key().unwrap().expose(), "abc==");
    assert_eq!(cs.endpoint(), "https://x.service.signalr.net");
}

#[test]
fn errors_name_the_key() {
    let msg = |s: &str| parse(s).unwrap_err().to_string();
    assert_eq!(msg(&format!("AccessKey={KEY}")), "Endpoint is missing");
    assert_eq!(msg("Endpoint=https://x"), "AccessKey is missing");
    assert!(msg(&format!("Endpoint=ftp://x;AccessKey={KEY}")).starts_with("Endpoint: "));
    assert!(msg(&format!("Endpoint=not a url;AccessKey={KEY}")).starts_with("Endpoint: "));
    assert!(msg(&format!("Endpoint=https://x;AccessKey={KEY};Port=0")).starts_with("Port: "));
    assert!(msg(&format!("Endpoint=https://x;AccessKey={KEY};Port=70000")).starts_with("Port: "));
    assert!(
        msg(&format!("Endpoint=https://x;AccessKey={KEY};Version=2.0")).starts_with("Version: ")
    );
    assert!(msg(&format!(
        "Endpoint=https://x;AccessKey={KEY};ClientEndpoint=gw"
    ))
    .starts_with("ClientEndpoint: "));
    assert!(msg(&format!(
        "Endpoint=https://x;AccessKey={KEY};ServerEndpoint=x:y"
    ))
    .starts_with("ServerEndpoint: "));
    assert!(msg(&format!(
        "Endpoint=https://x;AccessKey={KEY};endpoint=https://y"
    ))
    .contains("Endpoint appears more than once"));
    // A query or fragment would land in the middle of every request URL.
    for key in ["ClientEndpoint", "ServerEndpoint"] {
        for url in ["https://gw/?a=b", "https://gw/#x"] {
            assert_eq!(
                msg(&format!("Endpoint=https://x;AccessKey={KEY};{key}={url}")),
                format!("{key}: must not have a query (?…) or fragment (#…)")
            );
        }
    }
}

#[test]
fn a_server_endpoint_path_prefix_is_kept_for_gateways() {
    let cs = parse(&format!(
        "Endpoint=https://x.service.signalr.net;AccessKey={KEY};ServerEndpoint=https://gw.example/signalr/"
    ))
    .unwrap();
    assert_eq!(cs.server_base(), "https://gw.example/signalr/");
    assert_eq!(cs.audience_base(), "https://x.service.signalr.net/");
}

#[test]
fn versions_follow_the_sdk_rule() {
    for ok in ["1.0", "1.12", "1.0-preview", "1.0.beta_1"] {
        assert!(
            parse(&format!("Endpoint=https://x;AccessKey={KEY};Version={ok}")).is_ok(),
            "{ok}"
        );
    }
    for bad in ["1", "1.", "2.0", "1.0 beta", "v1.0"] {
        assert!(
            parse(&format!("Endpoint=https://x;AccessKey={KEY};Version={bad}")).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn entra_id_auth_types() {
    let cs = parse("Endpoint=https://x;AuthType=azure").unwrap();
    assert_eq!(
        cs.auth(),
        &AuthType::DefaultAzure {
            client_id: None,
            tenant_id: None
        }
    );
    assert!(cs.access_key().is_none());
    let cs = parse("Endpoint=https://x;AuthType=Azure.MSI;ClientId=abc").unwrap();
    assert_eq!(
        cs.auth(),
        &AuthType::ManagedIdentity {
            client_id: Some("abc".into())
        }
    );
    let cs = parse(
        "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=s3cr3t-value",
    )
    .unwrap();
    match cs.auth() {
        AuthType::Application {
            client_id,
            tenant_id,
            credential: AppCredential::Secret(_),
        } => {
            assert_eq!((client_id.as_str(), tenant_id.as_str()), ("c", "t"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let cs = parse("Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientCert=/p.pem")
        .unwrap();
    assert!(
        matches!(cs.auth(), AuthType::Application { credential: AppCredential::Certificate(p), .. } if p == "/p.pem")
    );
    assert_eq!(
        parse("Endpoint=https://x;AuthType=azure.app;TenantId=t")
            .unwrap_err()
            .to_string(),
        "ClientId is missing"
    );
    assert_eq!(
        parse("Endpoint=https://x;AuthType=azure.app;ClientId=c")
            .unwrap_err()
            .to_string(),
        "TenantId is missing"
    );
    assert_eq!(
        parse("Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t")
            .unwrap_err()
            .to_string(),
        "ClientSecret or ClientCert is missing"
    );
    let cs = parse("Endpoint=https://x;AuthType=aad;ClientId=c").unwrap();
    assert_eq!(
        cs.auth(),
        &AuthType::ManagedIdentity {
            client_id: Some("c".into())
        }
    );
    let cs = parse("Endpoint=https://x;AuthType=aad;ClientId=c;TenantId=t;ClientSecret=s").unwrap();
    assert!(matches!(cs.auth(), AuthType::Application { .. }));
    // An unknown AuthType means access-key mode, which needs the key.
    assert_eq!(
        parse("Endpoint=https://x;AuthType=other")
            .unwrap_err()
            .to_string(),
        "AccessKey is missing"
    );
}

#[test]
fn secrets_never_appear_in_debug_display_or_errors() {
    let secret_key = "TopSecretAccessKeyValue0123456789abcdefgh=";
    let cs = parse(&format!(
        "Endpoint=https://x;AccessKey={secret_key};Version=1.0"
    ))
    .unwrap();
    for shown in [format!("{cs:?}"), cs.to_string()] {
        assert!(!shown.contains("TopSecret"), "{shown}");
    }
    assert_eq!(
        cs.to_string(),
        "Endpoint=https://x;AccessKey=***;Version=1.0;"
    );
    let cs = parse(
        "Endpoint=https://x;AuthType=azure.app;ClientId=c;TenantId=t;ClientSecret=TopSecretClient",
    )
    .unwrap();
    assert!(!format!("{cs:?}").contains("TopSecret"));
    for bad in [
        format!("Endpoint=https://x;AccessKey={secret_key};Port=abc"),
        format!("Endpoint=https://x;AccessKey={secret_key};accesskey={secret_key}"),
        format!("Endpoint=bad;AccessKey={secret_key}"),
        format!("Endpoint=https://x;AccessKey={secret_key};Version=9"),
        // Copy-paste slips put the key inside another key's value: a missing `;` …
        format!("Endpoint=https://x;Version=1.0AccessKey={secret_key}"),
        format!("Endpoint=https://x;Port=443AccessKey={secret_key}"),
        format!("Endpoint=https://x;AccessKey=k;ClientEndpoint=https://gwAccessKey={secret_key}?"),
        // … a space instead of `;` …
        format!("Endpoint=https://x.service.signalr.net AccessKey={secret_key};Version=1.0"),
        format!("AccessKey=k;Endpoint=ftp://x AccessKey={secret_key}"),
        // … or a key pasted without its name, twice.
        format!("Endpoint=https://x;AccessKey=k;{secret_key};{secret_key}"),
    ] {
        let err = parse(&bad).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("TopSecret"), "{err}");
    }
}

/// Issue #16 finding 9: `Endpoint=http://user:pw@host` used to be accepted and the password then
/// showed in the negotiate `url` and the start-up log. Credentials in any URL key are refused with
/// an error that names the key and never shows the user name or password.
#[test]
fn credentials_in_an_endpoint_url_are_refused_without_echoing_them() {
    for key in ["Endpoint", "ClientEndpoint", "ServerEndpoint"] {
        for userinfo in ["alice:Hunter2Secret@", ":Hunter2Secret@", "Hunter2Secret@"] {
            let url = format!("http://{userinfo}localhost:8080");
            let text = if key == "Endpoint" {
                format!("Endpoint={url};AccessKey={KEY}")
            } else {
                format!("Endpoint=https://x;AccessKey={KEY};{key}={url}")
            };
            let err = parse(&text).expect_err(&format!("{key} with credentials"));
            let shown = format!("{err} {err:?}");
            assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
            assert!(shown.contains("credentials"), "{shown}");
            assert!(!shown.contains("Hunter2Secret"), "{shown}");
            assert!(!shown.contains("alice"), "{shown}");
        }
    }
}
