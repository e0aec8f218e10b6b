//! `benches/reliability.py --app … --emulator …`: the sends section run against an app and an
//! emulator that are already running (here: the real router with function keys and the real
//! emulator, on random ports), as a user runs it against their own deployment. The script
//! starts nothing, prints its report, exits 0 only when the invariants hold, never prints the
//! function key it was given, and says clearly what is wrong when the app refuses it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::child_process::run;
use crate::emulator_support::spawn;
use crate::support::{keyed, spawn_app};

const KEY_VARIABLE: &str = "RELIABILITY_OWN_APP_FUNCTION_KEY";

/// `python3 benches/reliability.py <args>` with the function key in the environment.
fn reliability(args: &[&str], function_key: &str) -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new("python3");
    command
        .arg(root.join("benches/reliability.py"))
        .args(args)
        .current_dir(root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env(KEY_VARIABLE, function_key);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sends_run_drives_an_app_that_is_already_running() {
    let emu = spawn().await;
    let app = spawn_app(keyed(), &emu.handle.connection_string()).await;
    let (app_url, emu_url) = (app.url.clone(), emu.base.clone());
    let before =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RELIABILITY.md"))
            .unwrap();

    let args = [
        "--app",
        app_url.as_str(),
        "--emulator",
        emu_url.as_str(),
        "--hub",
        "chat",
        "--function-key-env",
        KEY_VARIABLE,
        "--sends",
        "200",
        "--seed",
        "5",
    ];
    let good = reliability(&args, "test-key");
    let (ok, output) = tokio::task::spawn_blocking(move || run(good, Duration::from_secs(600)))
        .await
        .unwrap();
    assert!(ok, "the run against the running app failed:\n{output}");
    assert!(
        output.contains(&format!(
            "200 sends through the app at {app_url} (hub `chat`)"
        )),
        "{output}"
    );
    assert!(output.contains("Invariants hold"), "{output}");
    assert!(output.contains("| answered 2xx by the app |"), "{output}");
    assert!(output.contains("--function-key-env"), "{output}");
    assert!(
        !output.contains("test-key"),
        "the function key was printed:\n{output}"
    );
    let after =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("RELIABILITY.md"))
            .unwrap();
    assert_eq!(
        before, after,
        "a run against another app rewrote RELIABILITY.md"
    );

    // The app refuses a wrong function key: the run fails and says what the app answered.
    let wrong = reliability(&args, "not-the-key");
    let (ok, output) = tokio::task::spawn_blocking(move || run(wrong, Duration::from_secs(300)))
        .await
        .unwrap();
    println!("{output}");
    assert!(!ok, "a refused run passed:\n{output}");
    assert!(output.contains("the sends run against"), "{output}");
    assert!(output.contains("401"), "{output}");
    assert!(
        !output.contains("not-the-key"),
        "the function key was printed:\n{output}"
    );

    // A key variable that is not set is named, before anything is sent.
    let mut unset = reliability(&args, "");
    unset.env_remove(KEY_VARIABLE);
    let (ok, output) = tokio::task::spawn_blocking(move || run(unset, Duration::from_secs(120)))
        .await
        .unwrap();
    assert!(!ok, "{output}");
    assert!(
        output.contains(&format!(
            "--function-key-env names {KEY_VARIABLE}, which is not set"
        )),
        "{output}"
    );
}
