//! The fuzzing smoke run: `python3 fuzz/run.py --smoke` builds every cargo-fuzz target
//! (`fuzz/`, its own workspace and target directory) and runs a few thousand inputs through
//! each, the committed seeds first. Any crash fails this test with libFuzzer's output and the
//! crashing input's path. A toolchain that cannot be set up (no nightly and no way to use
//! stable with `RUSTC_BOOTSTRAP=1`, cargo-fuzz not installable) fails it too, never skips it.
//! The full run (10 million inputs per target) is `python3 fuzz/run.py`; see docs/fuzzing.md.

use crate::child_process::run;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn every_fuzz_target_survives_a_smoke_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut smoke = Command::new("python3");
    smoke
        .arg(root.join("fuzz/run.py"))
        .arg("--smoke")
        .current_dir(root)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    // A cold run builds the fuzz crate's dependencies once (and may install cargo-fuzz).
    let (ok, output) = run(smoke, Duration::from_secs(45 * 60));
    println!("{output}");
    assert!(ok, "the fuzzing smoke run failed:\n{output}");
    assert!(
        output.contains("target(s) passed"),
        "the smoke run did not report its targets:\n{output}"
    );
}
