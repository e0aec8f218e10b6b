//! The Functions layout: host.json and every committed function.json follow the host's rules,
//! match the function table, and every route in them is served by the router (and vice versa).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use serverless_signalr::functions::{host_json, FUNCTIONS};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn host_json_is_a_forwarding_custom_handler_without_bundle() {
    let host = read_json(&root().join("host.json"));
    assert_eq!(
        host,
        host_json(),
        "host.json must equal what `handler package` writes"
    );
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        "handler"
    );
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    assert!(host.get("extensionBundle").is_none());
}

#[test]
fn every_function_json_follows_the_host_rules_and_the_table() {
    let dirs: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let names: BTreeSet<String> = FUNCTIONS.iter().map(|f| f.name.to_string()).collect();
    assert_eq!(
        dirs, names,
        "functions/ folders and the function table differ"
    );
    let name_ok = |n: &str| {
        let mut c = n.chars();
        c.next().is_some_and(|c| c.is_ascii_lowercase())
            && n.len() <= 128
            && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && n != "host"
    };
    let mut routes = BTreeSet::new();
    for f in FUNCTIONS {
        assert!(
            name_ok(f.name),
            "folder name {} breaks ^[a-z][a-z0-9_-]{{0,127}}$",
            f.name
        );
        let doc = read_json(&root().join("functions").join(f.name).join("function.json"));
        assert_eq!(
            doc,
            f.function_json(),
            "functions/{}/function.json differs from the table",
            f.name
        );
        let bindings = doc["bindings"].as_array().unwrap();
        assert_eq!(
            bindings.len(),
            2,
            "{}: exactly httpTrigger in + http out, so the host forwards",
            f.name
        );
        assert_eq!(bindings[0]["type"], "httpTrigger");
        assert_eq!(bindings[0]["direction"], "in");
        assert_eq!(bindings[1]["type"], "http");
        assert_eq!(bindings[1]["direction"], "out");
        let route = bindings[0]["route"].as_str().unwrap();
        assert!(
            !route.starts_with("admin") && !route.starts_with("runtime"),
            "{route} conflicts with host routes"
        );
        assert!(["anonymous", "function"].contains(&bindings[0]["authLevel"].as_str().unwrap()));
        for m in bindings[0]["methods"].as_array().unwrap() {
            routes.insert((m.as_str().unwrap().to_uppercase(), route.to_string()));
        }
    }
    // Two functions conflict when they share a template and a method.
    assert_eq!(
        routes.len(),
        FUNCTIONS.iter().map(|f| f.methods.len()).sum::<usize>()
    );
}

#[test]
fn local_settings_is_a_custom_worker_with_the_emulator() {
    let settings = read_json(&root().join("local.settings.json"));
    assert_eq!(settings["Values"]["FUNCTIONS_WORKER_RUNTIME"], "custom");
    let cs = settings["Values"]["AzureSignalRConnectionString"]
        .as_str()
        .unwrap();
    assert!(
        cs.contains("AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"),
        "only the well-known development key"
    );
    assert_eq!(settings["Host"]["CORSCredentials"], true);
}

#[test]
fn package_writes_a_deployable_folder() {
    let out = std::env::temp_dir().join(format!("ssr-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // An earlier package: a function that no longer exists, and a user's own folder.
    std::fs::create_dir_all(out.join("oldfunction")).unwrap();
    std::fs::write(out.join("oldfunction/function.json"), "{}").unwrap();
    std::fs::create_dir_all(out.join("assets")).unwrap();
    std::fs::write(out.join("assets/readme.txt"), "mine").unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["package", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(read_json(&out.join("host.json")), host_json());
    for f in FUNCTIONS {
        assert_eq!(
            read_json(&out.join(f.name).join("function.json")),
            f.function_json()
        );
    }
    assert!(out.join("handler").is_file());
    assert!(
        !out.join("oldfunction").exists(),
        "a stale function would be loaded by the host"
    );
    assert!(out.join("assets/readme.txt").is_file(), "other files stay");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .args(["package", "--binary", "/nonexistent/handler", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a file"));
    let _ = std::fs::remove_dir_all(&out);
}
