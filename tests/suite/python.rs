//! Runs the Python end-to-end test (`tests/python/signalr_client_test.py`: the unmodified
//! `signalrcore` client from PyPI against the local stack), so a second language's SignalR client
//! proves what the JavaScript one does. The pinned packages of `tests/python/requirements.txt`
//! install themselves into a virtual environment under `target/` (reinstalled when the
//! requirements change); without `venv` (Debian's `python3-venv` missing) they go to a
//! `pip install --target` folder instead (see `python_env`). A missing `python3` fails the test,
//! never skips it.

use crate::child_process;
use crate::python_env;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use child_process::run;
use python_env::environment;

#[test]
fn signalrcore_python_client_against_the_local_stack() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let environment = environment(&dir.join("requirements.txt"));
    let mut test = Command::new(&environment.python);
    test.arg(dir.join("signalr_client_test.py"))
        .env("HANDLER_BIN", env!("CARGO_BIN_EXE_handler"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(path) = &environment.python_path {
        test.env("PYTHONPATH", path);
    }
    let (ok, output) = run(test, Duration::from_secs(180));
    println!("{output}");
    assert!(ok, "the Python end-to-end test failed:\n{output}");
}
