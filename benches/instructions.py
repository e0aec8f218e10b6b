"""Instruction counts (issue 26, item 6): the release `handler` (the local stack: app + embedded
emulator in one process, `SIGNALR_EASY_AUTH=true` as load.py runs it) under
`valgrind --tool=callgrind`, with a fixed workload per run. Each run starts the stack, warms every
path once (so pools, caches and the hub exist), does N operations of one kind over one keep-alive
connection (or B broadcasts to K WebSocket clients), and stops; instructions per operation are
(run − baseline) / N, where the baseline is the same start-up and warm-up with no operation.
Instruction counts do not depend on how busy the machine is, so a regression shows on a noisy
machine without a timed test.

    python3 benches/load.py --only instructions [--quick] [--no-write]

Valgrind hides SHA-NI from the program, so SHA-256 (token signing and checking) runs its portable
code here and HMAC-heavy paths look costlier than on the real CPU: compare rows of one table.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import load

API_VERSION = load.API_VERSION
HUB = "default"
FAN_HUB = "bench"
RS = "\x1e"
MESSAGE = json.dumps({"target": "newMessage", "arguments": ["hello", 42]}).encode()
JSON = {"Content-Type": "application/json"}
STOP_SECONDS = 120


def log(message: str) -> None:
    print(f"[instructions] {message}", file=sys.stderr, flush=True)


def ensure_valgrind() -> str:
    """The valgrind version; installs it from Debian when missing and we are root."""
    if shutil.which("valgrind") is None:
        if os.geteuid() != 0:
            sys.exit("load.py --only instructions needs valgrind: install it "
                     "(Debian/Ubuntu: `sudo apt-get install valgrind`) and run again")
        log("installing valgrind from Debian (apt-get install -y valgrind)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    return subprocess.run(["valgrind", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


# ---------------------------------------------------------------- workloads


class KeepAlive:
    """One keep-alive HTTP/1.1 connection; each call checks the status it expects."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, expect: int, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> bytes:
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path} answered {response.status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def rest_token() -> str:
    now = int(time.time())
    return load.hs256({"aud": f"http://127.0.0.1/api/hubs/{HUB}/:send?api-version={API_VERSION}",
                       "iat": now, "nbf": now, "exp": now + 86400})


def operations(ports: dict[str, int]) -> dict[str, tuple[int, tuple]]:
    """Each measured operation: (port, the arguments of `KeepAlive.call`)."""
    app, emu = ports["app"], ports["emulator"]
    direct = dict(JSON, Authorization=f"Bearer {rest_token()}")
    return {
        "get_root": (app, ("GET", "/", 200)),
        "negotiate": (app, ("POST", "/api/negotiate", 200)),
        "negotiate_user": (app, ("POST", "/api/negotiate", 200, None,
                                 {"x-ms-client-principal-id": "alice@contoso.com"})),
        "send": (app, ("POST", "/api/messages", 202, MESSAGE, JSON)),
        "rest_direct": (emu, ("POST", f"/api/hubs/{HUB}/:send?api-version={API_VERSION}", 202,
                              MESSAGE, direct)),
    }


def warm_up(ports: dict[str, int]) -> None:
    """One of every operation, each on its own connection, so that every run starts alike."""
    for port, args in operations(ports).values():
        client = KeepAlive(port)
        client.call(*args)
        client.close()


def repeat(ports: dict[str, int], name: str, count: int) -> None:
    port, args = operations(ports)[name]
    client = KeepAlive(port)
    try:
        for _ in range(count):
            client.call(*args)
    finally:
        client.close()


class HubSocket:
    """A SignalR JSON-protocol client on a raw WebSocket, negotiated through the app."""

    def __init__(self, app: int, hub: str = FAN_HUB):
        info = json.loads(KeepAlive(app).call("POST", f"/api/hubs/{hub}/negotiate", 200))
        url = urllib.parse.urlparse(info["url"])
        bearer = {"Authorization": f"Bearer {info['accessToken']}"}
        negotiated = json.loads(KeepAlive(url.port).call(
            "POST", f"/client/negotiate?hub={hub}&negotiateVersion=1", 200, b"", bearer))
        self.connection_id = negotiated["connectionId"]
        query = urllib.parse.urlencode({"hub": hub, "id": negotiated["connectionToken"],
                                        "access_token": info["accessToken"]})
        sock, pending = load.websocket(url.port, f"/client/?{query}", timeout=60)
        self.frames = load.Frames(sock, pending)
        self.frames.send_text('{"protocol":"json","version":1}' + RS)
        if self.record() != "{}":
            raise RuntimeError("the hub protocol handshake was refused")

    def record(self) -> str:
        """The first hub-protocol record of the next text frame (pings included)."""
        opcode, payload = self.frames.next()
        if opcode != 0x1:
            raise RuntimeError(f"unexpected WebSocket opcode {opcode}")
        return payload.decode().split(RS)[0]

    def invocation(self, target: str) -> None:
        """Reads until an invocation of `target` arrives (skipping pings)."""
        while True:
            message = json.loads(self.record())
            if message.get("type") == 1 and message.get("target") == target:
                return

    def ping(self) -> None:
        """A hub-protocol ping: the server drops a client it has not heard from for 30 s."""
        self.frames.send_text('{"type":6}' + RS)

    def close(self) -> None:
        self.frames.sock.close()


def fan_out(ports: dict[str, int], clients: int, broadcasts: int, idle: float = 0) -> float:
    """`clients` WebSockets on the hub `bench`, then `broadcasts` sends through the app, each
    read by every client before the next, then `idle` seconds with the clients connected;
    returns how long the broadcasts took. Connected clients cost instructions while time passes
    (keep-alive pings, timers), so the run without broadcasts idles as long as the one with them
    broadcast: the difference is then the broadcasts' own."""
    sockets = [HubSocket(ports["app"]) for _ in range(clients)]
    app = KeepAlive(ports["app"])
    try:
        started = time.monotonic()
        for round_ in range(broadcasts):
            body = json.dumps({"target": "tick", "arguments": [round_]}).encode()
            app.call("POST", f"/api/hubs/{FAN_HUB}/messages", 202, body, JSON)
            for client in sockets:
                client.invocation("tick")
        took = time.monotonic() - started
        time.sleep(idle)
        return took
    finally:
        app.close()
        for client in sockets:
            client.close()


# ---------------------------------------------------------------- one callgrind run


def callgrind(binary: Path, workload, out_dir: Path, name: str) -> int:
    """Starts the local stack under callgrind, runs `workload(ports)`, stops it with SIGTERM and
    returns the instructions it executed (every thread, start to exit)."""
    ports = {"app": load.free_port(), "emulator": load.free_port()}
    env = dict(load.base_env(), PORT=str(ports["app"]), EMULATOR_PORT=str(ports["emulator"]),
               SIGNALR_EASY_AUTH="true", WEBPUBSUB_EMULATOR_PORT="0")
    out = out_dir / f"callgrind.{name}"
    argv = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
            "--dump-instr=no", "--dump-line=no", str(binary)]
    process = load.spawn(argv, env)
    try:
        load.wait_http(ports["app"], seconds=120)
        load.wait_http(ports["emulator"], "/api/health", seconds=120)
        warm_up(ports)
        workload(ports)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        finally:
            load.stop(process)
    match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
    if not match:
        raise RuntimeError(f"no instruction total in {out}")
    return int(match.group(1))


def measure(binary: Path, sizes: dict[str, int], out_dir: Path) -> dict[str, int]:
    """Instructions of each run, by name."""
    n, clients, broadcasts = sizes["requests"], sizes["clients"], sizes["broadcasts"]
    runs = {"baseline": lambda ports: None}
    for name in ("get_root", "negotiate", "negotiate_user", "send", "rest_direct"):
        runs[name] = lambda ports, name=name: repeat(ports, name, n)
    took = [0.0]

    def broadcasting(ports: dict[str, int]) -> None:
        took[0] = fan_out(ports, clients, broadcasts)

    runs["fan_out"] = broadcasting
    runs["fan_base"] = lambda ports: fan_out(ports, clients, 0, idle=took[0])
    totals = {}
    for name, workload in runs.items():
        started = time.monotonic()
        totals[name] = callgrind(binary, workload, out_dir, name)
        log(f"{name}: {totals[name]:,} instructions ({time.monotonic() - started:.0f} s)")
    return totals


# ---------------------------------------------------------------- the section


def kilo(instructions: float) -> str:
    return f"{instructions / 1000:,.1f} k"


def table(totals: dict[str, int], sizes: dict[str, int]) -> list[str]:
    n, clients, broadcasts = sizes["requests"], sizes["clients"], sizes["broadcasts"]
    per = {name: (totals[name] - totals["baseline"]) / n
           for name in ("get_root", "negotiate", "negotiate_user", "send", "rest_direct")}
    per_broadcast = (totals["fan_out"] - totals["fan_base"]) / broadcasts
    per_delivery = (per_broadcast - per["send"]) / clients
    rows = [
        ("`GET /` (the reference of negotiate)", kilo(per["get_root"]), ""),
        ("anonymous negotiate (`POST /api/negotiate`)", kilo(per["negotiate"]),
         f"{per['negotiate'] / per['get_root']:.2f}× `GET /`"),
        ("negotiate for an Easy Auth user (`x-ms-client-principal-id`)",
         kilo(per["negotiate_user"]), f"{per['negotiate_user'] / per['get_root']:.2f}× `GET /`"),
        ("`POST /api/messages` → emulator → 202 (app and emulator: the whole process)",
         kilo(per["send"]), f"{per['send'] / per['rest_direct']:.2f}× the direct call"),
        ("emulator REST `:send` called directly", kilo(per["rest_direct"]), ""),
        ("the app's own share of a send (the two rows above subtracted)",
         kilo(per["send"] - per["rest_direct"]), ""),
        (f"fan-out: one broadcast through the app to {clients} WebSocket clients, until each "
         "has read it", kilo(per_broadcast), ""),
        ("fan-out: each delivered message (the broadcast minus one send, per client)",
         kilo(per_delivery), ""),
    ]
    lines = ["| operation | instructions per operation | note |", "|---|---|---|"]
    lines += [f"| {figure} | {count} | {note} |" for figure, count, note in rows]
    return lines


def run_instructions(options) -> str:
    load.ensure_tools(peer=False, wrk=False)
    version = ensure_valgrind()
    binary = load.build()
    sizes = ({"requests": 200, "clients": 20, "broadcasts": 20} if options.quick
             else {"requests": 2000, "clients": 100, "broadcasts": 100})
    with tempfile.TemporaryDirectory(prefix="callgrind-") as out_dir:
        totals = measure(binary, sizes, Path(out_dir))
    command = "python3 benches/load.py --only instructions" + (" --quick" if options.quick else "")
    header = load.stamp(command, f"each row: one run of {sizes['requests']:,} sequential "
                        f"keep-alive requests, or {sizes['broadcasts']} broadcasts to "
                        f"{sizes['clients']} clients, minus a run with the same start-up and "
                        "warm-up and none; all threads counted", tool=version)
    return "\n".join(header + table(totals, sizes)) + "\n"
