#!/usr/bin/env python3
"""Builds and runs every cargo-fuzz target (libFuzzer) of this repository.

    python3 fuzz/run.py                  # the full run: 10 million inputs per target, writes
                                         # the fuzzing section of RELIABILITY.md
    python3 fuzz/run.py --smoke          # a few thousand inputs per target (the CI test)
    python3 fuzz/run.py --runs 1000000 --targets webpubsub_filter,app_bodies

Toolchain: cargo-fuzz needs nightly compiler flags. The run uses the `nightly` rustup toolchain
when it is installed, else tries to install it (`rustup toolchain install nightly --profile
minimal`, bounded by a timeout), else builds with the stable toolchain and `RUSTC_BOOTSTRAP=1`
(which lets stable accept the same flags). `cargo-fuzz` is installed with
`cargo install cargo-fuzz --locked` when missing. Whatever cannot be set up ends the run with
a non-zero status and says why; nothing is skipped silently.

Inputs: the committed seeds in fuzz/seeds/<target>/ (real requests, tokens, frames…) and the
working corpus in fuzz/corpus/<target>/ (what the fuzzer found, not committed). A crash leaves
its input in fuzz/artifacts/<target>/ and fails the run (status 1) with libFuzzer's output.

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
REPORT = REPO / "RELIABILITY.md"
BEGIN = "<!-- reliability:fuzz:begin -->"
END = "<!-- reliability:fuzz:end -->"

TARGETS = [
    "connection_string",
    "webpubsub_connection_string",
    "hub_protocol_json",
    "hub_protocol_msgpack",
    "app_bodies",
    "upstream_request",
    "webpubsub_events_request",
    "emulator_token",
    "oidc_token",
    "webpubsub_frames",
    "webpubsub_filter",
]

FULL_RUNS = 10_000_000
SMOKE_RUNS = 5_000
NIGHTLY_INSTALL_TIMEOUT = 300


def log(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(f"[fuzz] FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


@dataclass
class Toolchain:
    """How cargo is called: `cargo +<name>` (or plain cargo) and extra environment."""

    plus: str | None
    env: dict[str, str]
    description: str

    def cargo(self, *args: str) -> list[str]:
        return ["cargo", *([f"+{self.plus}"] if self.plus else []), *args]

    def environ(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env


def run_quiet(cmd: list[str], timeout: float | None = None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def rustc_version(toolchain: Toolchain) -> str:
    cmd = ["rustc", *([f"+{toolchain.plus}"] if toolchain.plus else []), "--version"]
    out = run_quiet(cmd, env=toolchain.environ())
    return out.stdout.strip() or out.stderr.strip()


def choose_toolchain(forced: str | None) -> Toolchain:
    """nightly if installed, else installed now, else stable with RUSTC_BOOTSTRAP=1."""
    # The default toolchain (stable on a fresh machine), whatever its rustup name.
    bootstrap = Toolchain(None, {"RUSTC_BOOTSTRAP": "1"}, "the default (stable) toolchain with RUSTC_BOOTSTRAP=1")
    if forced == "stable-bootstrap":
        return bootstrap
    if shutil.which("rustup") is None:
        log("rustup is not installed: using the default cargo with RUSTC_BOOTSTRAP=1")
        return bootstrap
    listed = run_quiet(["rustup", "toolchain", "list"]).stdout
    if any(line.startswith("nightly") for line in listed.splitlines()):
        return Toolchain("nightly", {}, "nightly (installed)")
    if forced == "nightly-only" or forced is None:
        log(f"no nightly toolchain; installing it (at most {NIGHTLY_INSTALL_TIMEOUT} s)")
        started = time.monotonic()
        try:
            installed = run_quiet(
                ["rustup", "toolchain", "install", "nightly", "--profile", "minimal"],
                timeout=NIGHTLY_INSTALL_TIMEOUT,
            )
            if installed.returncode == 0:
                log(f"nightly installed in {time.monotonic() - started:.0f} s")
                return Toolchain("nightly", {}, "nightly (installed by this run)")
            log(f"installing nightly failed: {installed.stderr.strip()[-500:]}")
        except subprocess.TimeoutExpired:
            log("installing nightly timed out")
        if forced == "nightly-only":
            fail("the nightly toolchain cannot be installed (--toolchain nightly-only)")
    log("falling back to the stable toolchain with RUSTC_BOOTSTRAP=1")
    return bootstrap


def ensure_cargo_fuzz(toolchain: Toolchain) -> str:
    probe = run_quiet(["cargo", "fuzz", "--version"], env=toolchain.environ())
    if probe.returncode == 0:
        return probe.stdout.strip()
    log("cargo-fuzz is missing: `cargo install cargo-fuzz --locked` (a few minutes)")
    started = time.monotonic()
    installed = subprocess.run(["cargo", "install", "cargo-fuzz", "--locked"])
    if installed.returncode != 0:
        fail("`cargo install cargo-fuzz --locked` failed; install cargo-fuzz and run again")
    log(f"cargo-fuzz installed in {time.monotonic() - started:.0f} s")
    probe = run_quiet(["cargo", "fuzz", "--version"], env=toolchain.environ())
    if probe.returncode != 0:
        fail(f"cargo-fuzz does not run after installing it: {probe.stderr.strip()}")
    return probe.stdout.strip()


def build(toolchain: Toolchain, sanitizer: str, targets: list[str], target_dir: Path,
          dev: bool) -> float:
    started = time.monotonic()
    # One cargo call for all targets when all are asked for (one dependency check, not eleven).
    for target in [None] if targets == TARGETS else targets:
        cmd = toolchain.cargo("fuzz", "build", "--sanitizer", sanitizer, *(["--dev"] if dev else []),
                              "--target-dir", str(target_dir), *([target] if target else []))
        built = subprocess.run(cmd, cwd=REPO, env=toolchain.environ(), capture_output=True, text=True)
        if built.returncode != 0:
            sys.stderr.write(built.stdout[-5000:] + built.stderr[-20000:])
            fail(f"`{' '.join(cmd)}` failed with the toolchain {toolchain.description}")
    return time.monotonic() - started


def binary_of(target: str, target_dir: Path, dev: bool) -> Path:
    triple = run_quiet(["rustc", "-vV"]).stdout
    host = re.search(r"^host: (\S+)", triple, re.M)
    return target_dir / (host.group(1) if host else "x86_64-unknown-linux-gnu") / ("debug" if dev else "release") / target


@dataclass
class Result:
    target: str
    runs: int
    seconds: float
    corpus: int
    seeds: int
    crashes: list[Path]
    coverage: str
    output: str


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def fuzz_one(target: str, runs: int, jobs: int, max_len: int, target_dir: Path, smoke: bool) -> Result:
    seeds = FUZZ / "seeds" / target
    # The smoke run starts from the seeds alone each time, so its length does not grow with
    # the corpus that full runs keep in fuzz/corpus.
    corpus = target_dir / "smoke-corpus" / target if smoke else FUZZ / "corpus" / target
    artifacts = FUZZ / "artifacts" / target
    # Separate from a full run's logs: `cargo test` runs the smoke run while a full run may be
    # going on in the same target directory, and each run clears its own logs first.
    logs = target_dir / ("smoke-logs" if smoke else "fuzz-logs") / target
    if smoke:
        shutil.rmtree(corpus, ignore_errors=True)
    for d in (corpus, artifacts, logs):
        d.mkdir(parents=True, exist_ok=True)
    for old in files_in(logs):
        old.unlink()
    before = set(files_in(artifacts))
    per_job = -(-runs // jobs)
    cmd = [
        str(binary_of(target, target_dir, smoke)),
        str(corpus),
        *([str(seeds)] if seeds.is_dir() else []),
        f"-runs={per_job}",
        f"-max_len={max_len}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/",
    ]
    if jobs > 1:
        cmd += [f"-jobs={jobs}", f"-workers={jobs}"]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=logs, capture_output=True, text=True, errors="replace")
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    job_logs = files_in(logs)
    # With -jobs the figures are in each job's log (the parent also echoes them: count once).
    counted = "".join(j.read_text(errors="replace") for j in job_logs) if job_logs else output
    for job_log in job_logs:
        output += f"\n--- {job_log.name} ---\n" + job_log.read_text(errors="replace")
    executed = sum(int(n) for n in re.findall(r"stat::number_of_executed_units:\s*(\d+)", counted))
    coverage = re.findall(r"#\d+\s+DONE\s+cov: (\d+)", output)
    crashes = sorted(set(files_in(artifacts)) - before)
    if done.returncode != 0 and not crashes:
        crashes = [Path(f"(libFuzzer exited with status {done.returncode})")]
    return Result(
        target,
        executed,
        seconds,
        len(files_in(corpus)),
        len(files_in(seeds)),
        crashes,
        max(coverage, key=int) if coverage else "?",
        output,
    )


def write_report(results: list[Result], toolchain: Toolchain, rustc: str, cargo_fuzz: str,
                 sanitizer: str, command: str, build_seconds: float, jobs: int, planned: int) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "## Fuzzing (cargo fuzz, libFuzzer)",
        "",
        "Generated by `fuzz/run.py`; do not edit by hand. Every target ran the number of inputs",
        "below through the code it names (`fuzz/fuzz_targets/<target>.rs`), starting from the",
        "committed seeds (`fuzz/seeds/<target>/`) and the corpus of earlier runs; a crash would",
        "fail the run and leave its input in `fuzz/artifacts/<target>/`.",
        "",
        f"- Command: `{command}`",
        f"- Toolchain: {toolchain.description}: `{rustc}`; `{cargo_fuzz}`",
        f"- Sanitizer: `{sanitizer}`; release build (optimised, without debug assertions and overflow"
        " checks, as `cargo fuzz build` builds by default; the smoke run in `cargo test` is a dev"
        " build, with both);"
        f" {jobs} job(s) per target; build {build_seconds:.0f} s",
        f"- Date: {now}",
        "",
        "| target | inputs executed | time (s) | exec/s | corpus (files) | coverage (edges) | crashes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    reduced = [r.target for r in results if r.runs < FULL_RUNS]
    for r in results:
        rate = r.runs / r.seconds if r.seconds > 0 else 0
        mark = " (reduced)" if r.target in reduced else ""
        lines.append(
            f"| `{r.target}` | {r.runs:,}{mark} | {r.seconds:.0f} | {rate:,.0f} | {r.corpus + r.seeds}"
            f" | {r.coverage} | {len(r.crashes)} |"
        )
    if len(results) < planned:
        lines += ["", f"Incomplete: {len(results)} of {planned} targets had run when this was written."]
    if reduced:
        lines += [
            "",
            f"Reduced: {', '.join(f'`{t}`' for t in reduced)} ran fewer than {FULL_RUNS:,} inputs"
            " in this run (time); `python3 fuzz/run.py` without `--runs-for` runs"
            f" {FULL_RUNS:,} for every target.",
        ]
    lines += ["", END]
    text = REPORT.read_text() if REPORT.exists() else "# Reliability\n"
    # Rows (and the commands) of targets this run did not run are kept from the last report.
    if BEGIN in text and END in text:
        previous = text.split(BEGIN, 1)[1].split(END, 1)[0].splitlines()
        names = {r.target for r in results}
        kept = [l for l in previous if l.startswith("| `") and l.split("`")[1] not in names]
        if kept:
            at = lines.index("|---|---:|---:|---:|---:|---:|---:|") + 1
            lines[at:at] = kept
            earlier = [l.replace("- Command:", "- Earlier command:", 1) for l in previous
                       if l.startswith(("- Command:", "- Earlier command:"))]
            # Each earlier command once, and never this run's own command again.
            current = next((l for l in lines if l.startswith("- Command:")), "")
            seen = {current.replace("- Command:", "- Earlier command:", 1)}
            unique = []
            for line in earlier:
                if line not in seen:
                    seen.add(line)
                    unique.append(line)
            lines[8:8] = unique
    section = "\n".join(lines)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    REPORT.write_text(text)
    log(f"wrote the fuzzing section of {REPORT.relative_to(REPO)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_RUNS} inputs per target, no report")
    parser.add_argument("--runs", type=int, help=f"inputs per target (default {FULL_RUNS:,}; {SMOKE_RUNS:,} with --smoke)")
    parser.add_argument("--runs-for", default="",
                        help="per-target counts overriding --runs: target=N,target=N")
    parser.add_argument("--targets", help="comma-separated targets (default: all)")
    parser.add_argument("--jobs", type=int, help="parallel fuzzing processes per target (default: 2, 1 with --smoke)")
    parser.add_argument("--sanitizer", default="none", choices=["none", "address"],
                        help="none (default: the crate has no unsafe code; panics, overflow and debug "
                             "assertions are caught without it) or address")
    parser.add_argument("--max-len", type=int, default=4096, help="longest input (bytes)")
    parser.add_argument("--toolchain", choices=["auto", "nightly-only", "stable-bootstrap"], default="auto",
                        help="auto (default), nightly-only, or stable-bootstrap (stable with RUSTC_BOOTSTRAP=1)")
    parser.add_argument("--target-dir", type=Path, default=FUZZ / "target",
                        help="where the fuzz crate is built (default fuzz/target)")
    parser.add_argument("--report", action=argparse.BooleanOptionalAction, default=None,
                        help="write the section of RELIABILITY.md (default: yes, except with --smoke)")
    args = parser.parse_args()

    targets = args.targets.split(",") if args.targets else TARGETS
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        fail(f"unknown target(s) {unknown}; the targets are {TARGETS}")
    runs = args.runs or (SMOKE_RUNS if args.smoke else FULL_RUNS)
    runs_for = {t: runs for t in targets}
    for entry in filter(None, args.runs_for.split(",")):
        name, _, count = entry.partition("=")
        if name not in runs_for or not count.isdigit():
            fail(f"--runs-for {entry!r}: expected target=N for one of {targets}")
        runs_for[name] = int(count)
    jobs = args.jobs or (1 if args.smoke else 2)
    report = args.report if args.report is not None else not args.smoke

    toolchain = choose_toolchain(None if args.toolchain == "auto" else args.toolchain)
    rustc = rustc_version(toolchain)
    cargo_fuzz = ensure_cargo_fuzz(toolchain)
    log(f"toolchain: {toolchain.description} ({rustc}); {cargo_fuzz}")
    target_dir = args.target_dir.resolve()
    # The smoke run builds the dev profile: a few thousand inputs need no optimiser, and the
    # cold build (what CI pays) takes a fraction of the release one.
    build_seconds = build(toolchain, args.sanitizer, targets, target_dir, args.smoke)
    log(f"built {len(targets)} target(s) in {build_seconds:.0f} s")

    results = []
    for target in targets:
        result = fuzz_one(target, runs_for[target], jobs, args.max_len, target_dir, args.smoke)
        results.append(result)
        status = "ok" if not result.crashes else f"CRASHED ({len(result.crashes)})"
        log(f"{target}: {result.runs:,} inputs in {result.seconds:.1f} s, corpus "
            f"{result.corpus + result.seeds} files, coverage {result.coverage}: {status}")
        if result.crashes:
            sys.stderr.write(result.output[-30000:])
            for crash in result.crashes:
                print(f"[fuzz] crash input: {crash}", file=sys.stderr)
        if report:
            # After every target, so a long run that is stopped keeps what it measured.
            command = "python3 fuzz/run.py " + " ".join(sys.argv[1:])
            write_report(results, toolchain, rustc, cargo_fuzz, args.sanitizer, command.strip(),
                         build_seconds, jobs, len(targets))
    crashed = [r.target for r in results if r.crashes]
    if crashed:
        fail(f"crashes in {crashed}; reproduce with `cargo fuzz run <target> <input>` from the repository root")
    short = [r.target for r in results if r.runs < runs_for[r.target]]
    if short:
        fail(f"fewer inputs than asked ran in {short}")
    log(f"all {len(results)} target(s) passed")


if __name__ == "__main__":
    main()
