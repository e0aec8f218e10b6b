//! The `handler` binary: `serve` (default) runs the function app (with the embedded emulator when
//! no connection string is set outside the Functions host), `emulator` runs the emulator alone,
//! `package` lays out a deployable folder, `token` mints a client token for debugging.

use clap::{Parser, Subcommand};
use serverless_signalr::emulator;

#[derive(Parser)]
#[command(
    name = "handler",
    version,
    about = "Azure Functions custom handler for Azure SignalR Service (serverless)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local SignalR Service emulator on its own.
    Emulator(emulator::EmulatorArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
            None => Ok(()),
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
