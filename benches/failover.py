#!/usr/bin/env python3
"""The failover figure (issue 14): two `handler emulator` processes as two SignalR Service
endpoints of one `handler serve`, clients connected through the app's negotiate, a steady stream
of broadcasts through `POST /api/messages`, and one emulator stopped (SIGTERM) mid-run. Measures
how long negotiate kept handing out the dead endpoint, whether the live endpoint's clients kept
receiving every broadcast (missing, duplicates), and every error the app answered.

`run(quick)` returns a markdown section; standalone it prints it:

    python3 benches/failover.py [--quick]

Uses `HANDLER_BIN` when set, else target/release/handler, else target/debug/handler (built with
`cargo build --bin handler` when neither exists). Python 3.11 standard library only; every loop
is bounded and every process it starts is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # noqa: E402  (shared helpers: ports, processes, HTTP)

ROOT = load.ROOT
HUB = "chat"
FUNCTION_KEY = "bench-function-key"
RS = "\x1e"


def log(message: str) -> None:
    print(f"[failover] {message}", file=sys.stderr, flush=True)


def handler_binary() -> Path:
    if os.environ.get("HANDLER_BIN"):
        return Path(os.environ["HANDLER_BIN"])
    target = load.target_dir()
    for profile in ("release", "debug"):
        if (target / profile / "handler").exists():
            return target / profile / "handler"
    log("no handler binary: cargo build --bin handler")
    subprocess.run(["cargo", "build", "--bin", "handler"], cwd=ROOT, check=True)
    return target / "debug" / "handler"


# ---------------------------------------------------------------- a minimal WebSocket client


class HubClient:
    """A SignalR JSON-protocol client over a raw WebSocket; counts `news` invocations by their
    sequence number in a background thread."""

    def __init__(self, url: str, token: str):
        parsed = urllib.parse.urlparse(url)  # http://127.0.0.1:PORT/client/?hub=chat
        self.port = parsed.port
        headers = {"Authorization": f"Bearer {token}"}
        status, body = load.request("POST", self.port,
                                    f"/client/negotiate?hub={HUB}&negotiateVersion=1",
                                    headers=headers)
        if status != 200:
            raise RuntimeError(f"emulator negotiate answered {status}")
        connection_token = json.loads(body)["connectionToken"]
        query = urllib.parse.urlencode({"hub": HUB, "id": connection_token, "access_token": token})
        self.sock, pending = load.websocket(self.port, f"/client/?{query}", timeout=10)
        self.frames = load.Frames(self.sock, pending)
        self.frames.send_text('{"protocol":"json","version":1}' + RS)
        self.seen: dict[int, int] = {}
        self.closed_at: float | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        self.sock.settimeout(None)
        try:
            while True:
                opcode, payload = self.frames.next()
                if opcode == 0x8:
                    break
                if opcode != 0x1:
                    continue
                for record in payload.decode().split(RS):
                    if not record:
                        continue
                    message = json.loads(record)
                    if message.get("type") == 1 and message.get("target") == "news":
                        seq = message["arguments"][0]
                        with self.lock:
                            self.seen[seq] = self.seen.get(seq, 0) + 1
        except (OSError, ConnectionError, ValueError):
            pass
        self.closed_at = time.monotonic()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- the scenario


def negotiate(app: int) -> tuple[int | None, dict]:
    status, body = load.request("POST", app, f"/api/hubs/{HUB}/negotiate", timeout=10)
    if status != 200:
        return None, {"status": status, "body": body[:200].decode(errors="replace")}
    answer = json.loads(body)
    return urllib.parse.urlparse(answer["url"]).port, answer


def broadcast(app: int, seq: int) -> tuple[int, dict]:
    body = json.dumps({"target": "news", "arguments": [seq]}).encode()
    status, answer = load.request("POST", app, f"/api/hubs/{HUB}/messages", body=body,
                                  headers={"content-type": "application/json",
                                           "x-functions-key": FUNCTION_KEY}, timeout=30)
    try:
        return status, json.loads(answer)
    except ValueError:
        return status, {}


def run(quick: bool) -> str:
    binary = handler_binary()
    probe_s = 1 if quick else 2
    clients_n = 10 if quick else 40
    before_s, after_s = (2.0, 5.0) if quick else (5.0, 15.0)
    env = load.base_env()
    for name in list(env):
        if name.lower().startswith(("azure__signalr__endpoints__", "azure:signalr:endpoints:")):
            env.pop(name)
    processes = []
    try:
        ports = {"live": load.free_port(), "dying": load.free_port()}
        emulators = {}
        for name, port in ports.items():
            emulators[name] = load.spawn([str(binary), "emulator", "--port", str(port),
                                          "--webpubsub-port", "0"], env)
            processes.append(emulators[name])
            load.wait_http(port, "/api/health")
        app = load.free_port()
        app_env = dict(env, PORT=str(app), SIGNALR_FUNCTION_KEYS=FUNCTION_KEY,
                       SIGNALR_ENDPOINT_PROBE_SECONDS=str(probe_s))
        for name, port in ports.items():
            app_env[f"Azure__SignalR__Endpoints__{name}"] = (
                f"Endpoint=http://127.0.0.1;Port={port};AccessKey={load.KEY};Version=1.0;")
        processes.append(load.spawn([str(binary), "serve"], app_env))
        load.wait_http(app, "/")
        log(f"{binary.name} ({binary.parent.name}): app :{app}, endpoints {ports}, probe {probe_s} s")

        clients: dict[str, list[HubClient]] = {"live": [], "dying": []}
        by_port = {port: name for name, port in ports.items()}
        attempts = 0
        while len(clients["live"]) < clients_n // 2 or len(clients["dying"]) < clients_n // 2:
            attempts += 1
            if attempts > clients_n * 10:
                raise RuntimeError("negotiate never spread clients over both endpoints")
            port, answer = negotiate(app)
            name = by_port.get(port)
            if name is None or len(clients[name]) >= clients_n // 2:
                continue
            clients[name].append(HubClient(answer["url"], answer["accessToken"]))
        time.sleep(0.3)

        sends: list[tuple[int, float, int, dict, float]] = []  # seq, start, status, body, took
        stop_sending = threading.Event()

        def sender() -> None:
            seq = 0
            while not stop_sending.is_set():
                seq += 1
                started = time.monotonic()
                status, body = broadcast(app, seq)
                sends.append((seq, started, status, body, time.monotonic() - started))
                time.sleep(0.05)

        thread = threading.Thread(target=sender, daemon=True)
        thread.start()
        time.sleep(before_s)
        log("stopping the 'dying' emulator (SIGTERM)")
        stopped = time.monotonic()
        # Not waited for here: negotiate is watched while the emulator shuts down.
        emulators["dying"].send_signal(signal.SIGTERM)
        negotiations: list[tuple[float, str | None]] = []
        deadline = stopped + after_s
        while time.monotonic() < deadline:
            port, _ = negotiate(app)
            negotiations.append((time.monotonic() - stopped, by_port.get(port) if port else None))
            time.sleep(0.05)
        stop_sending.set()
        thread.join(timeout=60)
        time.sleep(0.5)
        # Before the processes stop, which closes every socket.
        disconnected = {name: sum(1 for c in group if c.closed_at is not None)
                        for name, group in clients.items()}
    finally:
        for process in processes:
            load.stop(process)
    for group in clients.values():
        for client in group:
            client.close()
    return report(quick, probe_s, clients, disconnected, sends, stopped, negotiations, binary)


def report(quick, probe_s, clients, disconnected, sends, stopped, negotiations, binary) -> str:
    dead_after = [t for t, name in negotiations if name == "dying"]
    last_dead = max(dead_after) if dead_after else 0.0
    negotiate_errors = sum(1 for _, name in negotiations if name is None)
    # A broadcast the live endpoint accepted: 202, or 502 naming "live" among the successes.
    live_ok = [seq for seq, _, status, body, _ in sends
               if status == 202 or (status == 502 and "live" in body.get("error", {})
                                    .get("endpoints", {}).get("succeeded", []))]
    partial = [s for s in sends if s[2] == 502]
    named_dead = sum(1 for s in partial
                     if any(f.get("name") == "dying" for f in
                            s[3].get("error", {}).get("endpoints", {}).get("failed", [])))
    other = [s for s in sends if s[2] not in (202, 502)]
    after = [s for s in sends if s[1] >= stopped]
    expected = len(clients["live"]) * len(live_ok)
    received = sum(min(c.seen.get(seq, 0), 1) for c in clients["live"] for seq in live_ok)
    duplicates = sum(max(n - 1, 0) for c in clients["live"] for n in c.seen.values())
    live_closed, dead_closed = disconnected["live"], disconnected["dying"]
    before_ms = [s[4] * 1000 for s in sends if s[1] < stopped]
    after_ms = [s[4] * 1000 for s in after]
    rows = [
        ("negotiate handed out the dead endpoint until (after SIGTERM)",
         f"{last_dead:.2f} s (probe interval {probe_s} s, jittered ±20 %)"),
        ("negotiations after the stop: live / dead / errors",
         f"{sum(1 for _, n in negotiations if n == 'live')} / {len(dead_after)} / {negotiate_errors}"),
        ("broadcasts sent (before / after the stop)",
         f"{len(sends)} ({len(sends) - len(after)} / {len(after)})"),
        ("answered 202 / 502 naming the dead endpoint / other",
         f"{sum(1 for s in sends if s[2] == 202)} / {named_dead} / {len(other)}"),
        (f"live-endpoint clients ({len(clients['live'])}): deliveries expected / received",
         f"{expected} / {received} (missing {expected - received}, duplicates {duplicates})"),
        ("live-endpoint clients disconnected", f"{live_closed}"),
        (f"dead-endpoint clients ({len(clients['dying'])}) closed by the stop", f"{dead_closed}"),
        ("`POST /api/messages` latency before / after the stop (median)",
         f"{statistics.median(before_ms):.1f} ms / {statistics.median(after_ms):.1f} ms"
         if before_ms and after_ms else "n/a"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    mode = "quick" if quick else "full"
    return (f"### Failover: one of two endpoints stopped mid-run ({mode})\n\n"
            f"`python3 benches/failover.py{' --quick' if quick else ''}` with `{binary.parent.name}` "
            f"`handler`: two `handler emulator` processes as the endpoints `live` and `dying` "
            f"(both primary), clients connected through the app's negotiate, a broadcast every "
            f"50 ms through `POST /api/messages`, `dying` stopped with SIGTERM.\n\n"
            f"| measure | value |\n|---|---|\n{table}\n\n"
            f"A send that reaches only the live endpoint is answered `502 EndpointsFailed`, naming "
            f"the dead endpoint and the live one that succeeded; its clients still get it.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer clients, shorter run")
    options = parser.parse_args()
    try:
        print(run(options.quick))
    finally:
        load.stop_all()


if __name__ == "__main__":
    main()
