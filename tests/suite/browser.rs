//! Browser tests: the demo page (and the emulator dashboard) in the system's headless Chromium,
//! driven over the DevTools protocol by `puppeteer-core` (`tests/browser`, pinned with a
//! lockfile; it never downloads a browser). Chromium comes from the OS: run as root on a machine
//! with `apt-get`, the tests install it themselves (`system_packages`); elsewhere a run without
//! it fails and says how to install it. Runs
//! every `tests/browser/*.test.mjs`: the demo page (transports, other origin, keyboard and phone,
//! bearer token and reconnect after token expiry) and the dashboard (live, and with 1 000
//! connections), its Web PubSub tab (group chat between two pages, the app's broadcasts,
//! leaving, tabs by keyboard, a phone, an app without Web PubSub; `invokeEvent` answered by the
//! app's events route, a group stream from one page shown whole by another, its error end). Also
//! checks the vendored
//! `@microsoft/signalr` bundle against the npm package's file, and rebuilds the
//! `@azure/web-pubsub-client` bundle from its pinned packages to check it byte for byte.

use crate::child_process;
use crate::system_packages::{self, Package};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use child_process::run;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Installs the pinned npm packages of tests/browser once (both tests need them).
fn npm_ci() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root().join("tests/browser");
    if !dir.join("node_modules/puppeteer-core").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"])
            .env("PUPPETEER_SKIP_DOWNLOAD", "1")
            .current_dir(&dir);
        let (ok, output) = run(npm, Duration::from_secs(300));
        assert!(ok, "`npm ci` in tests/browser failed; install Node.js 20+ and npm, and check registry access:\n{output}");
    }
    dir
}

/// The system Chromium (`$CHROMIUM_BIN`, else `chromium` or `chromium-browser` on PATH),
/// installed first where the tests may (see `system_packages`).
fn chromium() -> PathBuf {
    let installed = system_packages::ensure(Package::Chromium);
    system_packages::chromium().unwrap_or_else(|| {
        panic!(
            "the browser tests need Chromium and none was found (not on PATH, CHROMIUM_BIN unset; \
             {}). Install the system package: `apt-get install -y chromium` (as root, on \
             Debian/Ubuntu) or set CHROMIUM_BIN to a Chromium/Chrome executable",
            installed.err().unwrap_or_default()
        )
    })
}

#[test]
fn the_vendored_signalr_bundle_is_the_npm_packages_file() {
    let dir = npm_ci();
    let npm_file = dir.join("node_modules/@microsoft/signalr/dist/browser/signalr.min.js");
    let vendored = root().join("src/app/demo/signalr.min.js");
    let expected = std::fs::read(&npm_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", npm_file.display()));
    let actual = std::fs::read(&vendored).unwrap();
    assert!(
        expected == actual,
        "{} differs from {}: copy it again after changing the pinned version",
        vendored.display(),
        npm_file.display()
    );
    // One pinned version everywhere: the Node e2e client, the browser tests and the bundle.
    let version = |path: &str| -> String {
        let text = std::fs::read_to_string(root().join(path)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["dependencies"]["@microsoft/signalr"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let pinned = version("tests/e2e/package.json");
    assert_eq!(pinned, version("tests/browser/package.json"));
    let licence = std::fs::read_to_string(root().join("src/app/demo/signalr.LICENSE.txt")).unwrap();
    assert!(
        licence.contains(&format!("@microsoft/signalr {pinned}")),
        "signalr.LICENSE.txt names another version"
    );
    assert!(licence.contains("The MIT License"));
}

#[test]
fn the_vendored_webpubsub_bundle_is_rebuilt_byte_for_byte_from_the_pinned_packages() {
    let dir = root().join("src/app/demo/webpubsub-client");
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir);
    let (ok, output) = run(npm, Duration::from_secs(300));
    assert!(
        ok,
        "`npm ci` in {} failed; install Node.js 20+ and npm, and check registry access:\n{output}",
        dir.display()
    );
    let out = root().join("target/webpubsub-client-rebuild");
    let _ = std::fs::remove_dir_all(&out);
    let mut node = Command::new("node");
    node.arg("build.mjs").arg(&out).current_dir(&dir);
    let (ok, output) = run(node, Duration::from_secs(120));
    assert!(ok, "build.mjs failed:\n{output}");
    for file in ["webpubsub-client.min.js", "webpubsub-client.LICENSE.txt"] {
        let rebuilt = std::fs::read(out.join(file)).unwrap();
        let vendored = std::fs::read(root().join("src/app/demo").join(file)).unwrap();
        assert!(
            rebuilt == vendored,
            "src/app/demo/{file} is not what src/app/demo/webpubsub-client/build.mjs builds from \
             the pinned packages; never edit it by hand: run `npm ci && node build.mjs` there"
        );
    }
    // The client the Node e2e tests run is the one in the bundle, and its licence is there.
    let text = std::fs::read_to_string(dir.join("package.json")).unwrap();
    let pinned: serde_json::Value = serde_json::from_str(&text).unwrap();
    let text = std::fs::read_to_string(root().join("tests/e2e/package.json")).unwrap();
    let e2e: serde_json::Value = serde_json::from_str(&text).unwrap();
    let client = &pinned["dependencies"]["@azure/web-pubsub-client"];
    assert_eq!(client, &e2e["dependencies"]["@azure/web-pubsub-client"]);
    let licence =
        std::fs::read_to_string(root().join("src/app/demo/webpubsub-client.LICENSE.txt")).unwrap();
    let client = client.as_str().unwrap();
    assert!(
        licence.contains(&format!("== @azure/web-pubsub-client {client} (MIT) ==")),
        "{licence}"
    );
    assert!(licence.contains("Permission is hereby granted"));
    let bundle =
        std::fs::read_to_string(root().join("src/app/demo/webpubsub-client.min.js")).unwrap();
    assert!(bundle.contains("var WebPubSubClientBundle="));
}

#[test]
fn the_demo_page_in_headless_chromium() {
    let browser = chromium();
    let dir = npm_ci();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("tests/browser/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    let artifacts = root().join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut node = Command::new("node");
    node.arg("--test")
        .arg("--test-concurrency=1")
        .args(&files)
        .current_dir(root())
        .env("HANDLER_BIN", env!("CARGO_BIN_EXE_handler"))
        .env("CHROMIUM_BIN", &browser)
        .env("ARTIFACTS_DIR", &artifacts);
    // The token-expiry test alone waits a minute (the shortest token lifetime).
    let (ok, output) = run(node, Duration::from_secs(600));
    println!("{output}");
    assert!(ok, "the browser tests failed:\n{output}");
}
