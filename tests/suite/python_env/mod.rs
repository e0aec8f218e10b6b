//! The pinned Python packages of `tests/python/requirements.txt`, installed once into a virtual
//! environment under `target/` (reinstalled when the requirements change), or into a
//! `pip install --target` folder where `venv` is missing. Shared by the Python tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child_process::run;
use crate::system_packages::{self, Package};

const INSTALL_LIMIT: Duration = Duration::from_secs(300);

/// Where the packages are: the interpreter to run, and a `PYTHONPATH` when not a venv.
pub struct Environment {
    /// The interpreter to run.
    pub python: PathBuf,
    /// A `PYTHONPATH` when the packages are not in a venv.
    pub python_path: Option<PathBuf>,
}

fn python3() -> &'static str {
    let (ok, output) = run_checked(Command::new("python3").arg("--version"));
    assert!(
        ok,
        "python3 is required for the Python end-to-end test (install Python 3.8+):\n{output}"
    );
    "python3"
}

fn run_checked(command: &mut Command) -> (bool, String) {
    match command.output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run {command:?}: {e}")),
    }
}

/// The installed environment, installing it first when missing or out of date.
pub fn environment(requirements: &Path) -> Environment {
    let wanted = std::fs::read_to_string(requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-e2e");
    let venv = root.join("venv");
    let target = root.join("site-packages");
    let marker = root.join("installed-requirements.txt");
    let installed = std::fs::read_to_string(&marker).ok();
    let venv_python = venv.join("bin/python");
    if installed.as_deref() == Some(wanted.as_str()) {
        if venv_python.exists() {
            return Environment {
                python: venv_python,
                python_path: None,
            };
        }
        if target.exists() {
            return Environment {
                python: python3().into(),
                python_path: Some(target),
            };
        }
    }
    // Debian ships the venv module apart (python3-venv); without it, `pip install --target`.
    let venv_module = system_packages::ensure(Package::PythonVenv);
    let python = python3();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (venv_ok, venv_output) = run(
        {
            let mut c = Command::new(python);
            c.args(["-m", "venv"]).arg(&venv);
            c
        },
        INSTALL_LIMIT,
    );
    let environment = if venv_ok && venv_python.exists() {
        let mut pip = Command::new(&venv_python);
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(requirements);
        let (ok, output) = run(pip, INSTALL_LIMIT);
        assert!(
            ok,
            "pip install -r {} in the venv failed; check registry access:\n{output}",
            requirements.display()
        );
        Environment {
            python: venv_python,
            python_path: None,
        }
    } else {
        // No venv module (e.g. Debian without python3-venv): install next to it instead.
        let mut pip = Command::new(python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&target)
        .arg("-r")
        .arg(requirements);
        let (ok, output) = run(pip, INSTALL_LIMIT);
        assert!(
            ok,
            "`python3 -m venv` failed ({}; {}) and so did `python3 -m pip install --target`; install python3-venv or pip:\n{output}",
            venv_output.trim(),
            venv_module.err().unwrap_or_default()
        );
        Environment {
            python: python.into(),
            python_path: Some(target),
        }
    };
    std::fs::write(&marker, wanted).unwrap();
    environment
}
