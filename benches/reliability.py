#!/usr/bin/env python3
"""The reliability run (issue 14): counted outcomes under injected faults, written into
RELIABILITY.md. Builds the release `handler`, starts the processes it needs on free loopback
ports, runs each section and writes its block between `<!-- reliability:<name>:begin/end -->`.
Python 3.11 standard library only (plus Node.js `ws` in benches/peer for the clients); every
loop is bounded and every process it starts is stopped at the end.

    python3 benches/reliability.py [--quick] [--no-write] [--only sends|clients|…]
    python3 benches/reliability.py --only sends --sends 2000 --fault-rate 0.2 --seed 9
    python3 benches/reliability.py --app http://127.0.0.1:7071 --emulator http://127.0.0.1:8888

With `--app` and `--emulator` the sends section runs against an app that is already running
(yours, configured as in production: function keys, hub, endpoints) and the `handler emulator`
it talks to; nothing is started or stopped, the report is printed instead of written into
RELIABILITY.md, and the exit status is 1 when an invariant is broken, so it can gate a CI job.

Sections (run in this order; `--only` picks one):
* sends: N sends through the app (`POST /api/messages`: broadcasts, user and group sends) to
  connected WebSocket clients, with a share of the emulator's REST calls failing (503, 429,
  resets before and after the request is read, latency; `PUT /admin/faults`). Counts what the
  app answered, what was delivered, duplicates, and what the error answers name.
* clients: many concurrent WebSocket clients held on the emulator, with its peak RSS, connect
  failures, drops, and a broadcast at the end.
* failover: the app with two endpoints (two `handler emulator` processes), one stopped mid-run:
  how soon negotiate stops handing it out, and what the live endpoint's clients still receive
  (benches/failover.py, also runnable alone).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import failover  # noqa: E402  (two emulators, one stopped mid-run: benches/failover.py)
import load  # noqa: E402  (the shared helpers: build, spawn, stop, ports, RSS, machine)

ROOT, PEER, KEY = load.ROOT, load.PEER, load.KEY
OUTPUT = ROOT / "RELIABILITY.md"
TITLE = "# Reliability\n"
BUILD = ["release build"]  # what ran, for the text
FAULT_KINDS = ["503", "429", "reset-before", "reset-after", "latency"]
BROKEN: list[str] = []  # sections whose invariants did not hold (the exit status)


def log(message: str) -> None:
    print(f"[reliability] {message}", file=sys.stderr, flush=True)


@dataclass
class Section:
    """One generated block of RELIABILITY.md."""

    name: str
    run: Callable[[argparse.Namespace], str]

    @property
    def markers(self) -> tuple[str, str]:
        return f"<!-- reliability:{self.name}:begin -->", f"<!-- reliability:{self.name}:end -->"


def handler(options: argparse.Namespace) -> Path:
    """The `handler` to run: `--binary`, else the release build (built first)."""
    load.ensure_tools()
    if options.binary:
        BUILD[0] = f"binary `{options.binary}`"
        return Path(options.binary).resolve()
    return load.build()


def start_emulator(binary: Path, port: int, *extra: str):
    argv = [str(binary), "emulator", "--port", str(port), "--webpubsub-port", "0", *extra]
    process = load.spawn(argv, load.base_env())
    load.wait_http(port, "/admin/faults")
    return process


def node(mode: str, options: dict, timeout: float) -> dict:
    out = subprocess.run(["node", "reliability.js", mode, json.dumps(options)], cwd=PEER,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"reliability.js {mode} failed: {out.stderr[-2000:]}")
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def header(command: str, counts: str) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"Command: `{command}` · machine: {load.machine()} · git `{load.git_head()}` · {now}",
        "",
        counts,
        "",
    ]


def command_line(options: argparse.Namespace, section: str) -> str:
    args = ["python3 benches/reliability.py", "--only", section]
    if options.quick:
        args.append("--quick")
    for flag in ("sends", "clients", "hold", "fault_rate", "seed"):
        value = getattr(options, flag)
        if value is not None and value != DEFAULTS[flag]:
            args += [f"--{flag.replace('_', '-')}", str(value)]
    for flag in ("app", "emulator", "hub", "function_key_env", "emulator_key_env"):
        value = getattr(options, flag, None)
        if value:
            args += [f"--{flag.replace('_', '-')}", value]
    return " ".join(args)


# ---------------------------------------------------------------- sends under faults


def secret_from(variable: str | None, default: str | None, what: str) -> str | None:
    """A key named by an environment variable (never a command-line value: `ps` shows those)."""
    if not variable:
        return default
    value = os.environ.get(variable)
    if not value:
        raise SystemExit(f"--{what}-env names {variable}, which is not set or empty")
    return value


def run_sends(options: argparse.Namespace) -> str:
    n = options.sends or (1000 if options.quick else 10_000)
    users, groups, per_user, concurrency = 50, 10, 2, 32
    faults = {
        "seed": options.seed,
        "rest": {"rate": options.fault_rate, "kinds": FAULT_KINDS, "latencyMs": [5, 200],
                 "retryAfterSeconds": 1},
    }
    if options.app:
        return run_sends_on_own_app(options, n, users, groups, per_user, concurrency, faults)
    binary = handler(options)
    emu_port, app_port = load.free_port(), load.free_port()
    emulator = start_emulator(binary, emu_port)
    cs = f"Endpoint=http://127.0.0.1;Port={emu_port};AccessKey={KEY};Version=1.0;"
    function_key = "reliability-run-made-up-key"
    app_env = dict(load.base_env(), PORT=str(app_port), AzureSignalRConnectionString=cs,
                   SIGNALR_FUNCTION_KEYS=function_key)
    app = load.spawn([str(binary), "serve"], app_env)
    load.wait_http(app_port)
    log(f"sends: {n} through the app, {options.fault_rate:.0%} REST faults, seed {options.seed}")
    try:
        result = node("sends", {
            "app": f"http://127.0.0.1:{app_port}", "emulator": f"http://127.0.0.1:{emu_port}",
            "key": KEY, "sends": n, "users": users, "groups": groups, "perUser": per_user,
            "concurrency": concurrency, "faults": faults, "functionKey": function_key,
        }, timeout=1800)
    finally:
        load.stop(app)
        load.stop(emulator)
    subject = f"the app (`handler serve`, {BUILD[0]})"
    return sends_table(options, result, faults, users, groups, per_user, concurrency, subject)


def run_sends_on_own_app(options: argparse.Namespace, n: int, users: int, groups: int,
                         per_user: int, concurrency: int, faults: dict) -> str:
    """The sends section against a running app and its emulator; starts nothing."""
    load.ensure_tools(wrk=False)
    app, emulator = options.app.rstrip("/"), options.emulator.rstrip("/")
    function_key = secret_from(options.function_key_env, None, "function-key")
    key = secret_from(options.emulator_key_env, KEY, "emulator-key")
    hub = options.hub or "default"
    log(f"sends: {n} through {app} (hub {hub}) on the emulator at {emulator}, "
        f"{options.fault_rate:.0%} REST faults, seed {options.seed}")
    try:
        result = node("sends", {
            "app": app, "emulator": emulator, "key": key, "sends": n, "users": users,
            "groups": groups, "perUser": per_user, "concurrency": concurrency, "faults": faults,
            "functionKey": function_key, "hub": hub, "hubRoutes": options.hub is not None,
        }, timeout=1800)
    except (RuntimeError, subprocess.TimeoutExpired) as failed:
        raise SystemExit(f"the sends run against {app} failed: {failed}") from None
    subject = f"the app at {app} (hub `{hub}`)"
    return sends_table(options, result, faults, users, groups, per_user, concurrency, subject)


def sends_table(options, r: dict, faults: dict, users: int, groups: int, per_user: int,
                concurrency: int, subject: str) -> str:
    injected = r["injected"]
    kinds = ", ".join(f"{k} {v}" for k, v in injected["injected"].items() if v)
    statuses = ", ".join(f"{s}: {c}" for s, c in sorted(r["error_status"].items())) or "—"
    outcomes = "; ".join(f"{k}: {v}" for k, v in sorted(r["error_service_outcome"].items())) or "—"
    ok = (r["answered_2xx_but_not_delivered_once"] == 0 and r["duplicate_deliveries"] == 0
          and r["answered_error_but_delivered"] == 0
          and not any(k.startswith("not named") for k in r["error_service_outcome"]))
    setup = (
        f"{r['sends']:,} sends through {subject} to "
        f"{r['clients']} WebSocket clients ({users} users × {per_user} connections, users in "
        f"{groups} groups) on `handler emulator`: {r['by_kind'].get('broadcast', 0):,} broadcasts, "
        f"{r['by_kind'].get('user', 0):,} user sends, {r['by_kind'].get('group', 0):,} group sends, "
        f"{concurrency} at a time, in {r['send_seconds']:.1f} s. Faults on the emulator's REST class "
        f"(`PUT /admin/faults`): `{json.dumps(faults, separators=(',', ':'))}` (Retry-After 1 s; the "
        "app retries 429/503 and unsent requests, never an ambiguous POST)."
    )
    rows = [
        ("sends", f"{r['sends']:,}"),
        ("REST requests the emulator saw / faults injected", f"{injected['seen']:,} / {injected['total']:,} ({kinds})"),
        ("answered 2xx by the app", f"{r['answered_2xx']:,}"),
        ("answered with an error, by the app's status", f"{r['answered_error']:,} ({statuses})"),
        ("… by what the service did, as the error names it", outcomes),
        ("delivered to every recipient", f"{r['delivered']:,}"),
        ("delivered exactly once to every recipient", f"{r['delivered_exactly_once']:,}"),
        ("partially delivered", f"{r['partially_delivered']:,}"),
        ("not delivered", f"{r['not_delivered']:,}"),
        ("duplicate deliveries (sends with a duplicate)", f"{r['duplicate_deliveries']:,} ({r['sends_with_duplicates']:,})"),
        ("answered 2xx but not delivered exactly once", f"{r['answered_2xx_but_not_delivered_once']:,}"),
        ("answered with an error but delivered", f"{r['answered_error_but_delivered']:,}"),
        ("clients dropped during the run", f"{r['dropped_clients']:,}"),
    ]
    table = ["| figure | count |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    examples = [f"* {k}: “{v}”" for k, v in sorted(r["examples"].items())]
    if not ok:
        BROKEN.append("sends")
    verdict = ("Invariants hold: every send answered 2xx was delivered exactly once to each "
               "recipient, every send answered with an error reached no one and its error names "
               "what the service did, no duplicates." if ok else
               "**Invariants broken** — see the rows above.")
    return "\n".join(header(command_line(options, "sends"), setup) + table + [
        "", verdict, "", "An error answer of each kind, as the app wrote it:", "", *examples]) + "\n"


# ---------------------------------------------------------------- many clients held


def run_clients(options: argparse.Namespace) -> str:
    binary = handler(options)
    count = options.clients or (1000 if options.quick else 10_000)
    hold = options.hold or (10 if options.quick else 60)
    limit = load.raise_file_limit()
    if limit < count + 1024:
        raise SystemExit(f"the open-file limit is {limit}; {count} clients need {count + 1024}: "
                         "raise the hard limit (ulimit -Hn) first")
    port = load.free_port()
    emulator = start_emulator(binary, port, "--max-connections", str(count + 1000))
    time.sleep(0.5)
    idle = load.rss_kib(emulator.pid) / 1024
    log(f"clients: {count} WebSocket clients held {hold} s (open-file limit {limit})")
    try:
        with load.RssSampler(emulator.pid) as rss:
            result = node("clients", {"emulator": f"http://127.0.0.1:{port}", "key": KEY,
                                      "count": count, "holdSeconds": hold},
                          timeout=hold + 900)
        alive = emulator.poll() is None
    finally:
        load.stop(emulator)
    peak = rss.peak / 1024
    rows = [
        ("clients", f"{count:,}"),
        ("connected", f"{result['connected']:,} in {result['connect_seconds']:.1f} s"),
        ("connect failures", f"{result['connect_failures']:,}"
         + (f" ({result['connect_errors']})" if result["connect_errors"] else "")),
        (f"dropped during the {hold} s hold", f"{result['dropped_during_hold']:,}"),
        ("broadcast at the end: answer / clients reached", f"{result['broadcast_status']} / {result['broadcast_reached']:,}"),
        ("emulator RSS idle → peak", f"{idle:.1f} MiB → {peak:.1f} MiB ({(peak - idle) * 1024 / max(1, result['connected']):.1f} KiB per client)"),
        ("emulator still running at the end", "yes" if alive else "**no**"),
    ]
    setup = (f"{count:,} raw WebSocket clients (Node.js `ws`, JSON hub protocol, one process) "
             f"connect to `handler emulator --max-connections {count + 1000}` ({BUILD[0]}), "
             f"{200} at a time, stay {hold} s (each sends a hub-protocol ping every 15 s, as @microsoft/signalr does; "
             f"the emulator drops clients silent for 30 s), then one REST broadcast must reach each exactly once. "
             f"The run raises its open-file limit to {limit} for itself and the emulator.")
    table = ["| figure | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(header(command_line(options, "clients"), setup) + table) + "\n"


# ---------------------------------------------------------------- the run


def sections() -> list[Section]:
    return [
        Section("sends", run_sends),
        Section("clients", run_clients),
        Section("failover", lambda options: failover.run(options.quick)),
    ]


DEFAULTS = {"sends": None, "clients": None, "hold": None, "fault_rate": 0.1, "seed": 14}


def write(section: Section, block: str) -> None:
    text = OUTPUT.read_text() if OUTPUT.exists() else TITLE
    begin, end = section.markers
    OUTPUT.write_text(load.replace_between(text, begin, end, block))
    log(f"wrote the {section.name} section of {OUTPUT}")


def main() -> None:
    available = sections()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RELIABILITY.md")
    parser.add_argument("--only", choices=[s.name for s in available], help="run one section")
    parser.add_argument("--sends", type=int, help="sends (10 000; --quick 1 000)")
    parser.add_argument("--clients", type=int, help="WebSocket clients (10 000; --quick 1 000)")
    parser.add_argument("--hold", type=int, help="seconds the clients are held (60; --quick 10)")
    parser.add_argument("--fault-rate", type=float, default=DEFAULTS["fault_rate"],
                        help="share of REST calls with a fault (0.1)")
    parser.add_argument("--binary", help="run this handler instead of building the release one")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="fault seed (14)")
    own = parser.add_argument_group("your own app (the sends section, nothing started, report printed)")
    own.add_argument("--app", metavar="URL", help="base URL of a running app, e.g. http://127.0.0.1:7071")
    own.add_argument("--emulator", metavar="URL",
                     help="base URL of the `handler emulator` the app uses (its /admin/faults: loopback)")
    own.add_argument("--hub", help="send through /api/hubs/HUB/… (default: /api/messages, hub `default`)")
    own.add_argument("--function-key-env", metavar="VAR",
                     help="environment variable holding the app's function key (x-functions-key)")
    own.add_argument("--emulator-key-env", metavar="VAR",
                     help="environment variable holding the emulator's access key (default: the development key)")
    options = parser.parse_args()
    if bool(options.app) != bool(options.emulator):
        parser.error("--app and --emulator go together: the app, and the emulator it sends through")
    if options.app:
        if options.only not in (None, "sends"):
            parser.error("--app runs the sends section only")
        if options.binary:
            parser.error("--binary starts a handler; with --app nothing is started")
        options.only, options.no_write = "sends", True
    elif options.hub or options.function_key_env or options.emulator_key_env:
        parser.error("--hub, --function-key-env and --emulator-key-env go with --app")
    chosen = [s for s in available if options.only in (None, s.name)]
    for section in chosen:
        try:
            block = section.run(options)
        finally:
            load.stop_all()
        print(block)
        if not options.no_write:
            write(section, block)
    if BROKEN:
        log(f"invariants broken in: {', '.join(BROKEN)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
