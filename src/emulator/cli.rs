//! `handler emulator`: command-line options, start-up (the connection string is the first line
//! on stdout) and a graceful stop on Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use super::browser_policy::BrowserPolicy;
use super::entra::EntraMode;
use super::webpubsub::{self, EventHandler, WebPubSubConfig, WebPubSubHandle};
use super::{start, EmulatorConfig, EmulatorHandle, UpstreamTemplate};
use crate::service::connection_string::DEV_ACCESS_KEY;
use crate::service::Secret;

/// Command-line options of `handler emulator`.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8888)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Access key tokens must be signed with (default: the well-known development key).
    #[arg(long, env = "EMULATOR_ACCESS_KEY", default_value = DEV_ACCESS_KEY, hide_env_values = true, hide_default_value = true)]
    pub key: String,
    /// Send every upstream event to this URL template ({hub}, {category}, {event}); repeatable,
    /// tried after the --config templates.
    #[arg(long = "upstream", value_name = "URL")]
    pub upstream: Vec<String>,
    /// A settings.json in the shape of Microsoft's emulator (UpstreamSettings.Templates).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Entra ID mode: serve an App Service managed-identity endpoint (`/msi/token`) and the
    /// temporary access key API, and accept their tokens; the Web PubSub emulator accepts the
    /// identity's Web PubSub tokens and serves `:generateToken` (see README, "Managed identity").
    #[arg(long)]
    pub entra: bool,
    /// With --entra: refuse tokens signed with the access key, as Azure does under
    /// `disableLocalAuth`.
    #[arg(long, requires = "entra")]
    pub disable_local_auth: bool,
    /// With --entra: the IDENTITY_HEADER value the identity endpoint requires (default: random,
    /// printed at start-up).
    #[arg(
        long,
        env = "EMULATOR_IDENTITY_HEADER",
        hide_env_values = true,
        requires = "entra"
    )]
    pub identity_header: Option<String>,
    /// Port of the Web PubSub emulator (default 8080, as Microsoft's emulator; when 8080 is
    /// taken and this is not given, Web PubSub is skipped with a warning; 0 picks a free one).
    #[arg(long, env = "WEBPUBSUB_EMULATOR_PORT")]
    pub webpubsub_port: Option<u16>,
    /// A Web PubSub event handler: `URL[;hub=P][;user=P][;system=connect,connected,disconnected]`
    /// (URL may hold {hub} and {event}; default: every hub, user event and system event);
    /// repeatable, first match wins.
    #[arg(
        long = "webpubsub-event-handler",
        value_name = "SPEC",
        env = "WEBPUBSUB_EVENT_HANDLER",
        value_delimiter = ' '
    )]
    pub webpubsub_event_handlers: Vec<String>,
    /// The time limit of each Web PubSub event handler call, in milliseconds (the service's 10 s);
    /// an invocation that runs out of it is answered `Timeout`.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub webpubsub_event_timeout_ms: u64,
    /// Inject faults from the start, e.g. `seed=7,rest=0.1` (10 % of REST calls get a 503, 429,
    /// reset or latency); change them while running with `PUT /admin/faults` (see README,
    /// "Fault injection").
    #[arg(long, value_name = "SPEC", env = "EMULATOR_FAULTS")]
    pub faults: Option<String>,
    /// Exact origins (comma-separated, e.g. `https://app.example.com`) whose pages may use the
    /// client endpoints of both emulators, besides loopback origins (always allowed). No other
    /// route grants CORS (see SECURITY.md).
    #[arg(long, value_name = "ORIGINS", env = "EMULATOR_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// How many connections (WebSockets included) each emulator, SignalR and Web PubSub, keeps
    /// open at once; raise the open-file limit (`ulimit -n`) to match.
    #[arg(long, value_name = "N", default_value_t = crate::http_server::ServerLimits::MAX_CONNECTIONS)]
    pub max_connections: usize,
}

/// What the emulator's `run` can fail with.
type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Runs the emulator until Ctrl-C / SIGTERM.
pub async fn run(args: EmulatorArgs) -> Result<(), Failure> {
    let config = signalr_config(&args)?;
    let listener = tokio::net::TcpListener::bind((args.bind, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.bind, args.port))?;
    let webpubsub_config = webpubsub_config(&args, &config)?;
    let webpubsub_listener = webpubsub_listener(&args).await?;
    let entra = config.entra.clone();
    // Before anything serves or the ready line is printed (see `http_server::stop_signal`).
    let stop = crate::http_server::stop_signal();
    let handle = start(config, listener).await?;
    let webpubsub = match webpubsub_listener {
        Some(listener) => Some(webpubsub::start(webpubsub_config, listener).await?),
        None => None,
    };
    announce(&handle, webpubsub.as_ref(), entra.as_ref())?;
    stop.await;
    tracing::info!("stopping the emulator");
    if let Some(webpubsub) = webpubsub {
        webpubsub.shutdown().await;
    }
    handle.shutdown().await;
    Ok(())
}

/// The SignalR emulator's configuration from the options.
fn signalr_config(args: &EmulatorArgs) -> Result<EmulatorConfig, Failure> {
    if args.key.trim().is_empty() {
        return Err("--key / EMULATOR_ACCESS_KEY must not be empty".into());
    }
    let mut config = EmulatorConfig::new(Secret::new(args.key.clone()));
    if let Some(spec) = &args.faults {
        config.faults = super::faults::spec::parse(spec)
            .map_err(|e| format!("--faults / EMULATOR_FAULTS: {e}"))?;
    }
    if args.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    config.server.max_connections = args.max_connections;
    if let Some(list) = &args.cors_origins {
        config.browser = BrowserPolicy::parse(list)
            .map_err(|e| format!("--cors-origins / EMULATOR_CORS_ORIGINS: {e}"))?;
    }
    if args.entra {
        let mut mode = EntraMode::generate(args.disable_local_auth);
        if let Some(header) = args
            .identity_header
            .as_ref()
            .filter(|h| !h.trim().is_empty())
        {
            mode.identity_header = Secret::new(header.clone());
        }
        config.entra = Some(mode);
    }
    if let Some(path) = &args.config {
        config.upstream.extend(UpstreamTemplate::load(path)?);
    }
    for url in &args.upstream {
        let template = UpstreamTemplate::all(url.clone());
        template.validate()?;
        config.upstream.push(template);
    }
    Ok(config)
}

/// The Web PubSub emulator's configuration: the same key and Entra ID mode as SignalR's, as one
/// app's managed identity is for both in Azure, and the event handlers of the options.
fn webpubsub_config(
    args: &EmulatorArgs,
    signalr: &EmulatorConfig,
) -> Result<WebPubSubConfig, Failure> {
    let mut config = WebPubSubConfig::new(signalr.access_key.clone());
    config.entra = signalr.entra.clone();
    config.browser = signalr.browser.clone();
    config.server.max_connections = signalr.server.max_connections;
    if args.webpubsub_event_timeout_ms == 0 {
        return Err("--webpubsub-event-timeout-ms must be at least 1".into());
    }
    config.event_timeout = std::time::Duration::from_millis(args.webpubsub_event_timeout_ms);
    for spec in &args.webpubsub_event_handlers {
        config.event_handlers.push(
            EventHandler::parse(spec).map_err(|e| format!("--webpubsub-event-handler: {e}"))?,
        );
    }
    Ok(config)
}

/// The Web PubSub emulator's listener: on the port named (an error if taken), else on the
/// default port, skipped with a warning when that is taken.
async fn webpubsub_listener(
    args: &EmulatorArgs,
) -> Result<Option<tokio::net::TcpListener>, Failure> {
    let Some(port) = args.webpubsub_port else {
        let default = (args.bind, webpubsub::DEFAULT_PORT);
        return Ok(match tokio::net::TcpListener::bind(default).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!("Web PubSub emulator not started: cannot listen on {}:{}: {e} (give --webpubsub-port)", args.bind, webpubsub::DEFAULT_PORT);
                None
            }
        });
    };
    let listener = tokio::net::TcpListener::bind((args.bind, port))
        .await
        .map_err(|e| format!("cannot listen on {}:{port} for Web PubSub: {e}", args.bind))?;
    Ok(Some(listener))
}

/// The settings with which the app requires the emulators' bearer token on its webhooks.
fn announce_identity(identity: &super::upstream_identity::UpstreamIdentity, webpubsub: bool) {
    let Some(issuer) = identity.issuer() else {
        return;
    };
    let (resource, caller) = (super::upstream_identity::RESOURCE, identity.object_id());
    let prefixes: &[&str] = if webpubsub {
        &["SIGNALR_UPSTREAM_IDENTITY", "WEBPUBSUB_EVENTS_IDENTITY"]
    } else {
        &["SIGNALR_UPSTREAM_IDENTITY"]
    };
    eprintln!(
        "  the emulators call the app with their managed identity's bearer token; to require it:"
    );
    for prefix in prefixes {
        eprintln!("  {prefix}_TENANT={issuer}\n  {prefix}_RESOURCE={resource}\n  {prefix}_ALLOWED_CALLERS={caller}");
    }
}

/// Prints the connection strings (stdout, the ready line) and how to use them (stderr).
fn announce(
    handle: &EmulatorHandle,
    webpubsub: Option<&WebPubSubHandle>,
    entra: Option<&EntraMode>,
) -> std::io::Result<()> {
    {
        // One write, so a reader that takes only the first line and closes the pipe does not make
        // the second line fail.
        let mut lines = format!("{}\n", handle.connection_string());
        if let Some(webpubsub) = webpubsub {
            lines.push_str(&format!(
                "WebPubSubConnectionString={}\n",
                webpubsub.connection_string()
            ));
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(lines.as_bytes())?;
        stdout.flush()?;
    }
    if let Some(webpubsub) = webpubsub {
        eprintln!(
            "Web PubSub emulator on http://{} (clients: /client/hubs/<hub>, REST: /api/hubs/<hub>/…)",
            webpubsub.local_addr()
        );
    }
    eprintln!(
        "SignalR Service emulator on http://{} (clients: /client/?hub=<hub>, REST: /api/hubs/<hub>/…); Ctrl-C stops it",
        handle.local_addr()
    );
    if let Some(mode) = entra {
        let base = format!("http://{}", handle.local_addr());
        // The identity header is a local development value, printed so the app can be given it.
        eprintln!(
            "Entra ID mode{}: run the app with\n  AzureSignalRConnectionString=Endpoint={base};AuthType=azure.msi;Version=1.0;\n  IDENTITY_ENDPOINT={base}{}\n  IDENTITY_HEADER={}",
            if mode.disable_local_auth { " (local auth disabled: access-key tokens are refused)" } else { "" },
            super::entra::IDENTITY_PATH,
            mode.identity_header.expose(),
        );
        if let Some(webpubsub) = webpubsub {
            eprintln!(
                "  WebPubSubConnectionString=Endpoint=http://{};AuthType=azure.msi;Version=1.0;",
                webpubsub.local_addr()
            );
        }
        announce_identity(&mode.upstream_identity, webpubsub.is_some());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    #[test]
    fn max_connections_applies_to_both_emulators() {
        let args = Cli::parse_from(["handler", "--max-connections", "12345"]).args;
        let signalr = signalr_config(&args).unwrap();
        let webpubsub = webpubsub_config(&args, &signalr).unwrap();
        assert_eq!(signalr.server.max_connections, 12345);
        assert_eq!(webpubsub.server.max_connections, 12345);
    }
}
