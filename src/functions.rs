//! The Functions layout — one table of every function (name, route, methods, authLevel) that is
//! the single source of truth for the router, the committed `functions/<name>/function.json`
//! files and `handler package`, which writes a deployable folder (host.json, one folder per
//! function and the binary) because the host only finds function folders directly under its root.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// Who may call a function, as the host enforces it (`authLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    /// No key.
    Anonymous,
    /// A function key or host key (`x-functions-key` header or `code` query).
    Function,
}

impl AuthLevel {
    /// The value written in function.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Function => "function",
        }
    }
}

/// One HTTP function: a folder under `functions/` and one route of the router.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// Folder name (`^[a-z][a-z0-9_-]{0,127}$`).
    pub name: &'static str,
    /// Route template after the `api/` prefix, in ASP.NET syntax (`hubs/{hub}/negotiate`).
    pub route: &'static str,
    /// Allowed methods, lowercase.
    pub methods: &'static [&'static str],
    /// Who may call it.
    pub auth_level: AuthLevel,
}

const fn f(
    name: &'static str,
    route: &'static str,
    methods: &'static [&'static str],
    auth_level: AuthLevel,
) -> Function {
    Function {
        name,
        route,
        methods,
        auth_level,
    }
}

use AuthLevel::{Anonymous, Function as Keyed};

/// Every function the app serves.
pub const FUNCTIONS: &[Function] = &[
    f("negotiate", "negotiate", &["get", "post"], Anonymous),
    f(
        "negotiate-hub",
        "hubs/{hub}/negotiate",
        &["get", "post"],
        Anonymous,
    ),
    f("messages", "messages", &["post"], Keyed),
    f("messages-hub", "hubs/{hub}/messages", &["post"], Keyed),
    f("groups", "groups", &["post"], Keyed),
    f("groups-hub", "hubs/{hub}/groups", &["post"], Keyed),
    f("user", "hubs/{hub}/users/{user}", &["get"], Keyed),
    f(
        "user-group",
        "hubs/{hub}/users/{user}/groups/{group}",
        &["get"],
        Keyed,
    ),
    f("group", "hubs/{hub}/groups/{group}", &["get"], Keyed),
    f(
        "connection",
        "hubs/{hub}/connections/{connectionId}",
        &["get", "delete"],
        Keyed,
    ),
    f("close-hub", "hubs/{hub}/close", &["post"], Keyed),
    f(
        "close-group",
        "hubs/{hub}/groups/{group}/close",
        &["post"],
        Keyed,
    ),
    f(
        "close-user",
        "hubs/{hub}/users/{user}/close",
        &["post"],
        Keyed,
    ),
    f("health", "health", &["get"], Anonymous),
    f("upstream", "upstream", &["post"], Keyed),
    f("demo", "demo", &["get"], Anonymous),
    f("demo-asset", "demo/{file}", &["get"], Anonymous),
    // Azure Web PubSub, a peer of the SignalR routes above.
    f(
        "webpubsub-negotiate",
        "webpubsub/negotiate",
        &["get", "post"],
        Anonymous,
    ),
    f(
        "webpubsub-negotiate-hub",
        "webpubsub/hubs/{hub}/negotiate",
        &["get", "post"],
        Anonymous,
    ),
    f("webpubsub-actions", "webpubsub/actions", &["post"], Keyed),
    f(
        "webpubsub-actions-hub",
        "webpubsub/hubs/{hub}/actions",
        &["post"],
        Keyed,
    ),
    f(
        "webpubsub-events",
        "webpubsub/events",
        &["options", "post"],
        Keyed,
    ),
    f(
        "webpubsub-connection",
        "webpubsub/hubs/{hub}/connections/{connectionId}",
        &["get", "delete"],
        Keyed,
    ),
    f(
        "webpubsub-user",
        "webpubsub/hubs/{hub}/users/{user}",
        &["get"],
        Keyed,
    ),
    f(
        "webpubsub-group",
        "webpubsub/hubs/{hub}/groups/{group}",
        &["get"],
        Keyed,
    ),
    f(
        "webpubsub-permission",
        "webpubsub/hubs/{hub}/permissions/{permission}/connections/{connectionId}",
        &["get"],
        Keyed,
    ),
];

impl Function {
    /// The function.json document for this function: an httpTrigger and an http output only,
    /// so the host forwards the raw request.
    pub fn function_json(&self) -> Value {
        json!({
            "bindings": [
                {
                    "authLevel": self.auth_level.as_str(),
                    "type": "httpTrigger",
                    "direction": "in",
                    "name": "req",
                    "methods": self.methods,
                    "route": self.route,
                },
                { "type": "http", "direction": "out", "name": "res" }
            ]
        })
    }

    /// The axum path of this route, with the host's `/api` prefix.
    pub fn path(&self) -> String {
        format!("/api/{}", self.route)
    }
}

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
