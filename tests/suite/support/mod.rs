//! Test harness: `spawn_app`, which runs the real router on 127.0.0.1:0, the one recording fake
//! of the services' REST APIs (`fake_service`) with its access [`KEY`], the services' swagger
//! files (`swagger`), and the real binary (`binary`).
#![allow(dead_code)]

pub mod binary;
pub mod fake_service;
pub mod swagger;

// `tests/entra_stack.rs` includes this module too and uses none of them.
#[allow(unused_imports)]
pub use fake_service::{verify, FakeService, Recorded, Reply};

use serverless_signalr::app::settings::{ServeArgs, Settings};
use serverless_signalr::app::{router, AppState};
use serverless_signalr::http_server::{self, ServerLimits};
use serverless_signalr::service::entra::TokenSource;
use serverless_signalr::service::ConnectionString;

/// The access key of every fake service's connection string (not the emulator's well-known
/// development key, so a test that finds it in a log or an answer found a real leak).
pub const KEY: &str = "test-access-key-0123456789abcdefghijklmnopqrstuvwxyz";

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub http: reqwest::Client,
}

/// What the binary would read from the environment besides [`ServeArgs`]: the Entra ID token
/// sources (managed identities) and the listener limits.
#[derive(Default)]
pub struct AppOptions {
    /// The SignalR service's token source (`AuthType=azure.msi`).
    pub identity: Option<TokenSource>,
    /// The Web PubSub service's token source.
    pub webpubsub_identity: Option<TokenSource>,
    pub limits: ServerLimits,
}

/// Runs the real router for `args` (its connection strings included) on 127.0.0.1:0, served as
/// the binary serves it. Every test that needs the app in process starts it here.
pub async fn spawn_app_with(args: ServeArgs, options: AppOptions) -> TestApp {
    let connection = args
        .connection_string
        .as_deref()
        .map(|s| ConnectionString::parse(s).expect("a valid AzureSignalRConnectionString"));
    let settings = Settings::from_args(args).expect("settings");
    let app = router(AppState::with_identities(
        settings,
        connection.as_ref(),
        options.identity,
        options.webpubsub_identity,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(http_server::serve(
        listener,
        app,
        options.limits,
        std::future::pending(),
    ));
    TestApp {
        url,
        http: reqwest::Client::new(),
    }
}

/// [`spawn_app_with`] for `args` against the SignalR service at `connection_string`.
pub async fn spawn_app(mut args: ServeArgs, connection_string: &str) -> TestApp {
    args.connection_string = Some(connection_string.to_string());
    spawn_app_with(args, AppOptions::default()).await
}

/// Function keys for tests that run "outside the host" against a remote service.
pub fn keyed() -> ServeArgs {
    ServeArgs {
        function_keys: Some("test-key".into()),
        ..Default::default()
    }
}

/// Starts the real binary the way the Functions host does (FUNCTIONS_CUSTOMHANDLER_PORT set) and
/// polls `/` until it answers. Returns the child (killed on drop) and its base URL.
pub async fn spawn_under_host(env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let handler = binary::spawn(true, env).await;
    (handler.child, handler.base)
}
