//! The Functions layout: `host.json`, one `function.json` per function of the app's table
//! ([`crate::app::functions::FUNCTIONS`]), and `handler package`, which writes a deployable folder
//! (host.json, one folder per function and the binary) because the host only finds function
//! folders directly under its root.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use crate::app::functions::{AuthLevel, Function, FUNCTIONS};

/// host.json for the custom handler: forwarding on, no extension bundle (HTTP only).
pub fn host_json() -> Value {
    json!({
        "version": "2.0",
        "logging": { "logLevel": { "default": "Information" } },
        "customHandler": {
            "description": {
                "defaultExecutablePath": "handler",
                "workingDirectory": "",
                "arguments": []
            },
            "enableForwardingHttpRequest": true
        }
    })
}

/// Options of `handler package`.
#[derive(Debug, clap::Args)]
pub struct PackageArgs {
    /// Folder to write (created if missing; function folders are replaced, and ones of functions
    /// that no longer exist removed).
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// The handler binary to copy (default: this executable). Build it for the target, e.g.
    /// `cargo build --release --target x86_64-unknown-linux-musl`.
    #[arg(long)]
    pub binary: Option<PathBuf>,
}

/// Writes a deployable folder: `host.json`, one folder per function with its function.json,
/// and the binary as `handler`. Returns the files written.
pub fn package(args: &PackageArgs) -> std::io::Result<Vec<PathBuf>> {
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    if !binary.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("--binary {} is not a file", binary.display()),
        ));
    }
    std::fs::create_dir_all(&args.out)?;
    remove_stale_functions(&args.out)?;
    let mut written = vec![write_json(&args.out.join("host.json"), &host_json())?];
    for function in FUNCTIONS {
        let dir = args.out.join(function.name);
        std::fs::create_dir_all(&dir)?;
        written.push(write_json(
            &dir.join("function.json"),
            &function.function_json(),
        )?);
    }
    let target = args.out.join("handler");
    std::fs::copy(&binary, &target)?;
    written.push(target);
    Ok(written)
}

/// Removes function folders of an earlier layout (a sub-folder with a `function.json` whose name
/// is not a current function): the host would load them and route requests to missing handlers.
/// Nothing else in `out` is touched.
fn remove_stale_functions(out: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(out)? {
        let path = entry?.path();
        let current = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|name| FUNCTIONS.iter().any(|f| f.name == name));
        if !current && path.join("function.json").is_file() {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> std::io::Result<PathBuf> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")?;
    Ok(path.to_path_buf())
}
