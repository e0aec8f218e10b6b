//! The `handler` binary: `serve` (default) runs the function app (with the embedded emulator when
//! no connection string is set outside the Functions host), `emulator` runs the emulator alone,
//! `package` lays out a deployable folder, `token` mints a client token for debugging.

use clap::{Parser, Subcommand};
use serverless_signalr::app::settings;
use serverless_signalr::serve;
use serverless_signalr::{emulator, functions, token_cli};

#[derive(Parser)]
#[command(
    name = "handler",
    version,
    about = "Azure Functions custom handler for Azure SignalR Service (serverless)"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `handler` alone is `handler serve`.
    #[command(flatten)]
    serve: settings::ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the function app (default). Without AzureSignalRConnectionString outside the
    /// Functions host, the embedded emulator starts too.
    Serve(Box<settings::ServeArgs>),
    /// Run the local SignalR Service emulator on its own.
    Emulator(emulator::EmulatorArgs),
    /// Write a deployable folder: host.json, one folder per function, and the binary.
    Package(functions::PackageArgs),
    /// Print `{url, accessToken}` for a hub and user, as negotiate would.
    Token(token_cli::TokenArgs),
}

/// `pow(3)`, from the `libm` crate. Its one caller is tokio's scheduler statistics (`0.9^n` per
/// batch of polled tasks); defining it here means the linker needs nothing from the C library's
/// libm, so the process no longer loads `libm.so.6`, whose pages were ~0.5 MiB of the idle RSS
/// (docs/performance.md, "Binary size and idle memory").
#[no_mangle]
pub extern "C" fn pow(x: f64, y: f64) -> f64 {
    libm::pow(x, y)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // `handler emulator` keeps stdout for its connection string (scripts read the first line).
    init_logging(matches!(cli.command, Some(Command::Emulator(_))));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Emulator(args)) => emulator::run(args).await,
            Some(Command::Serve(args)) => serve::serve(*args).await,
            None => serve::serve(cli.serve).await,
            Some(Command::Token(args)) => token_cli::mint(&args)
                .map(|answer| println!("{answer}"))
                .map_err(Into::into),
            Some(Command::Package(args)) => functions::package(&args)
                .map(|files| {
                    for file in files {
                        println!("wrote {}", file.display());
                    }
                })
                .map_err(Into::into),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stdout, errors to stderr (the host logs stderr lines as errors), or everything to
/// stderr when `all_to_stderr`; `RUST_LOG` overrides the level (`debug`, or per target, e.g.
/// `info,serverless_signalr=debug`; unset, empty or unreadable: `info`). Colours only on a
/// terminal.
fn init_logging(all_to_stderr: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let (writer, ansi) = if all_to_stderr {
        (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        )
    } else {
        let split = std::io::stderr
            .with_max_level(tracing::Level::ERROR)
            .or_else(std::io::stdout);
        (BoxMakeWriter::new(split), std::io::stdout().is_terminal())
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(ansi)
                .with_target(false),
        )
        .init();
}
