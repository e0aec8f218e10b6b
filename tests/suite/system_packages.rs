//! The system packages some tests need beyond Rust, Node.js and Python: Chromium (the browser
//! tests), `openssl` (the PFX tests make their certificates with it) and Python's `venv` module
//! (Debian ships it apart, as `python3-venv`). They install themselves the way the npm and pip
//! packages do: when a test needs one that is missing, the tests run as root and `apt-get`
//! exists, every missing one is installed at once (`apt-get update`, then `apt-get install -y`),
//! once per test binary and under a lock, so parallel tests neither race nor install twice.
//! Otherwise nothing is installed and the test that needs the package says what to install.
//! Self-contained (std only): `tests/entra_default_chain.rs` includes it too.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// A system package the tests use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    /// The browser tests' headless browser.
    Chromium,
    /// The PFX tests' certificate maker.
    Openssl,
    /// `python3 -m venv` for the Python tests' packages.
    PythonVenv,
}

/// Every package, in the order they are installed.
pub const ALL: [Package; 3] = [Package::Chromium, Package::Openssl, Package::PythonVenv];

impl Package {
    /// Its Debian package name.
    pub fn apt_name(self) -> &'static str {
        match self {
            Self::Chromium => "chromium",
            Self::Openssl => "openssl",
            Self::PythonVenv => "python3-venv",
        }
    }

    /// Whether the machine has it already.
    pub fn is_present(self) -> bool {
        match self {
            Self::Chromium => chromium().is_some(),
            Self::Openssl => on_path("openssl").is_some(),
            Self::PythonVenv => Command::new("python3")
                .args(["-c", "import ensurepip, venv"])
                .output()
                .is_ok_and(|out| out.status.success()),
        }
    }
}

/// The system Chromium: `$CHROMIUM_BIN`, else `chromium` or `chromium-browser` on PATH.
pub fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM_BIN") {
        return Some(PathBuf::from(path));
    }
    on_path("chromium").or_else(|| on_path("chromium-browser"))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// What the machine allows.
#[derive(Debug, Clone, Copy)]
pub struct Machine {
    /// The tests run as root.
    pub root: bool,
    /// `apt-get` is on PATH.
    pub apt_get: bool,
}

impl Machine {
    /// This machine.
    pub fn detect() -> Self {
        let uid = Command::new("id").arg("-u").output().ok();
        Self {
            root: uid.is_some_and(|out| out.stdout.trim_ascii() == b"0"),
            apt_get: on_path("apt-get").is_some(),
        }
    }
}

/// What to do about the missing packages.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing is missing.
    Nothing,
    /// Run these commands (program and arguments), in order.
    Run(Vec<Vec<String>>),
    /// They cannot be installed here; why.
    Cannot(String),
}

/// The decision: nothing missing → nothing; root with `apt-get` → update the package lists and
/// install every missing package in one go, non-interactively, waiting for another apt or dpkg
/// run to finish rather than failing; else why not.
pub fn plan(missing: &[Package], machine: Machine) -> Plan {
    if missing.is_empty() {
        return Plan::Nothing;
    }
    if !machine.apt_get {
        return Plan::Cannot("there is no `apt-get` to install it with".into());
    }
    if !machine.root {
        return Plan::Cannot(
            "the tests install it themselves only when they run as root (with `apt-get`)".into(),
        );
    }
    let apt = |args: &[&str]| -> Vec<String> {
        ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
            .iter()
            .chain(args)
            .map(|s| (*s).to_string())
            .collect()
    };
    let mut install = apt(&["install", "-y", "-qq"]);
    install.extend(missing.iter().map(|p| p.apt_name().to_string()));
    Plan::Run(vec![apt(&["update", "-qq"]), install])
}

/// What this test binary's one installation attempt found; `None` before it.
static ATTEMPT: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Makes sure `package` is installed: present, or installed now (with every other missing
/// package) when this machine allows. `Err` says why it is still missing.
pub fn ensure(package: Package) -> Result<(), String> {
    let mut attempt = ATTEMPT.lock().unwrap_or_else(|e| e.into_inner());
    if package.is_present() {
        return Ok(());
    }
    if attempt.is_none() {
        let missing: Vec<Package> = ALL.into_iter().filter(|p| !p.is_present()).collect();
        *attempt = Some(install(&missing, Machine::detect()));
    }
    match (attempt.as_ref().expect("attempted"), package.is_present()) {
        (_, true) => Ok(()),
        (Err(why), false) => Err(format!("{} is not installed: {why}", package.apt_name())),
        (Ok(()), false) => Err(format!(
            "{} is still missing after `apt-get install {}`",
            package.apt_name(),
            package.apt_name()
        )),
    }
}

fn install(missing: &[Package], machine: Machine) -> Result<(), String> {
    let commands = match plan(missing, machine) {
        Plan::Nothing => return Ok(()),
        Plan::Cannot(why) => return Err(why),
        Plan::Run(commands) => commands,
    };
    for command in commands {
        eprintln!("installing what the tests need: {}", command.join(" "));
        let output = Command::new(&command[0])
            .args(&command[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .current_dir(Path::new("/"))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", command[0]))?;
        if !output.status.success() {
            return Err(format!(
                "`{}` failed ({}): {}{}",
                command.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(())
}
