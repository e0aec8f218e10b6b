#!/usr/bin/env python3
"""The one-command load benchmark (issue 6): builds the release `handler`, starts it with the
embedded emulator on free loopback ports, and measures in one run, side by side: negotiate vs the
server's own `GET /`, `POST /api/messages` vs the emulator's REST API called directly, ours vs a
Node.js `jsonwebtoken` negotiate server, cold start, RSS, binary size and a 1 000-client WebSocket
fan-out; optionally the criterion medians. Prints a markdown table and writes it into
BENCHMARKS.md. Python 3.11 standard library only; every loop is bounded and every process it
starts is stopped at the end.

    python3 benches/load.py [--quick] [--no-criterion] [--no-write]   # every section below
    python3 benches/load.py --only main [--quick] [--no-write]   # the main table alone
    python3 benches/load.py --only entra [--quick] [--no-write]   # the Entra ID rows alone
    python3 benches/load.py --only webpubsub [--quick] [--no-write]   # the Web PubSub rows alone
    python3 benches/load.py --only instructions [--quick] [--no-write]   # callgrind counts
    python3 benches/load.py --only growth [--quick] [--no-write]   # how cost grows with size
    python3 benches/load.py --only invoke [--quick] [--no-write]   # client-results latency
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "benches" / "peer"
KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
API_VERSION = "2022-06-01"
BEGIN, END = "<!-- load.py:begin -->", "<!-- load.py:end -->"
EBEGIN, EEND = "<!-- load.py entra:begin -->", "<!-- load.py entra:end -->"
WBEGIN, WEND = "<!-- load.py webpubsub:begin -->", "<!-- load.py webpubsub:end -->"
CBEGIN, CEND = "<!-- criterion:begin -->", "<!-- criterion:end -->"
IBEGIN, IEND = "<!-- load.py instructions:begin -->", "<!-- load.py instructions:end -->"
GBEGIN, GEND = "<!-- load.py growth:begin -->", "<!-- load.py growth:end -->"
VBEGIN, VEND = "<!-- load.py invoke:begin -->", "<!-- load.py invoke:end -->"

STARTED: list[subprocess.Popen] = []


def log(message: str) -> None:
    print(f"[load] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- tools, build, processes


def ensure_tools(peer: bool = True, wrk: bool = True) -> None:
    if wrk and shutil.which("wrk") is None:
        log("installing wrk from Debian (apt-get install -y wrk)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    for tool in ("node", "npm", "cargo") if peer else ("cargo",):
        if shutil.which(tool) is None:
            sys.exit(f"load.py needs {tool} on PATH")
    if not peer:
        return
    lock = PEER / "package-lock.json"
    marker = PEER / "node_modules" / ".package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        log("npm ci in benches/peer")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True,
                       stdout=subprocess.DEVNULL)


def target_dir() -> Path:
    """Cargo's target directory: `CARGO_TARGET_DIR` (relative to the repository) or `target`."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target if target.is_absolute() else ROOT / target


def build() -> Path:
    log("cargo build --release --bin handler (no-op when up to date)")
    subprocess.run(["cargo", "build", "--release", "--bin", "handler"], cwd=ROOT, check=True)
    return target_dir() / "release" / "handler"


def build_send_ceiling() -> Path:
    """The bare forwarder of examples/send_ceiling.rs: the send path's measured ceiling."""
    log("cargo build --release --example send_ceiling (no-op when up to date)")
    subprocess.run(["cargo", "build", "--release", "--example", "send_ceiling"], cwd=ROOT,
                   check=True)
    return target_dir() / "release" / "examples" / "send_ceiling"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("AzureSignalRConnectionString", "FUNCTIONS_CUSTOMHANDLER_PORT", "RUST_LOG",
                 "SIGNALR_FUNCTION_KEYS", "SIGNALR_REQUIRE_AUTH"):
        env.pop(name, None)
    return env


def spawn(argv: list[str], env: dict[str, str], stdout=subprocess.DEVNULL, cwd=None):
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, cwd=cwd)
    STARTED.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process in STARTED:
        STARTED.remove(process)


def stop_all() -> None:
    for process in list(STARTED):
        stop(process)


def request(method: str, port: int, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_http(port: int, path: str = "/", seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if request("GET", port, path, timeout=1)[0] < 500:
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {seconds} s")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Largest VmRSS of a process while the `with` block runs (sampled every 20 ms)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            self._stop.wait(0.02)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=1)


def raise_file_limit() -> int:
    """Raises this process's open-file limit to its hard limit; children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def websocket(port: int, target: str, headers: dict[str, str] | None = None,
              timeout: float = 30) -> tuple[socket.socket, bytes]:
    """A raw WebSocket upgraded on 127.0.0.1:`port` at `target` (path and query): the socket
    and the bytes that came after the 101 answer's head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    sock.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            raise RuntimeError("WebSocket upgrade: connection closed")
        answer += chunk
    head, rest = answer.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        sock.close()
        raise RuntimeError(f"WebSocket upgrade refused: {head[:80]!r}")
    return sock, rest


class Frames:
    """Text frames on a raw client WebSocket (from `websocket`): masked out, unmasked in."""

    def __init__(self, sock: socket.socket, pending: bytes = b""):
        self.sock, self.pending = sock, pending

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        else:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _exactly(self, n: int) -> bytes:
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the WebSocket closed")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def next(self) -> tuple[int, bytes]:
        """The next frame: its opcode and payload."""
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._exactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._exactly(8))[0]
        return first & 0x0F, self._exactly(length)


def stamp(command: str, setup: str, tool: str = "") -> list[str]:
    """The first lines of a generated section: when, where, which commit, the command."""
    return [
        f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
        f"{f' with {tool}' if tool else ''} on {machine()}, commit `{git_head()}`.",
        f"Command: `{command}` ({setup}).",
        "",
    ]


# ---------------------------------------------------------------- tokens


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: dict) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(KEY.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


# ---------------------------------------------------------------- wrk

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if script:
        argv += ["-s", str(script)]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 30,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        latency[pct] = float(m.group(1)) * UNITS[m.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    if failed:
        raise RuntimeError(f"wrk {url}: {failed} failed requests\n{out}")
    return {"rps": rps, "p50": latency["50"], "p99": latency["99"]}


def lua(directory: Path, name: str, method: str, body: str = "", headers: dict | None = None) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body:
        lines.append(f"wrk.body = {json.dumps(body)}")
    for key, value in (headers or {}).items():
        lines.append(f'wrk.headers["{key}"] = "{value}"')
    path = directory / f"{name}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


def compare(label: str, a: tuple, b: tuple, rounds: int, seconds: int, connections: int) -> dict:
    """Alternates wrk runs of a and b `rounds` times; medians of each, and the ratio a/b."""
    runs = {"a": [], "b": []}
    for i in range(rounds):
        for key, (url, script) in (("a", a), ("b", b)) if i % 2 == 0 else (("b", b), ("a", a)):
            runs[key].append(wrk(url, seconds, connections, script))
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("rps", "p50", "p99")}
           for k, v in runs.items()}
    log(f"{label}: {med['a']['rps']:.0f} vs {med['b']['rps']:.0f} req/s "
        f"(ratio {med['a']['rps'] / med['b']['rps']:.2f})")
    return {"a": med["a"], "b": med["b"], "ratio": med["a"]["rps"] / med["b"]["rps"]}


# ---------------------------------------------------------------- cold start


def first_200(port: int, path: str, deadline: float) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(request)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.1 200"):
                    return
        except OSError:  # refused or reset while starting, or a slow first answer (timeout)
            pass
        time.sleep(0.0002)
    raise RuntimeError(f"no 200 on 127.0.0.1:{port}{path} before the deadline")


def cold_start(argv: list[str], env: dict[str, str], cwd=None) -> float:
    port = free_port()
    env = dict(env, PORT=str(port))
    t0 = time.perf_counter()
    process = spawn(argv, env, cwd=cwd)
    try:
        first_200(port, "/api/negotiate", t0 + 10)
        return (time.perf_counter() - t0) * 1000
    finally:
        stop(process)


# ---------------------------------------------------------------- criterion


def criterion(measurement: int) -> list[tuple[str, str]]:
    """Runs the criterion benches; (name, median) from each bench's estimates.json."""
    log("cargo bench (criterion, short measurement)")
    out = subprocess.run(
        ["cargo", "bench", "--bench", "hot_paths", "--", "--warm-up-time", "1",
         "--measurement-time", str(measurement)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=1800).stdout
    target = target_dir()
    rows = []
    for name in re.findall(r"^(\S+/\S+)\s+time:", out, re.M):
        estimates = json.loads((target / "criterion" / name / "new" / "estimates.json").read_text())
        ns = estimates["median"]["point_estimate"]
        rows.append((name, f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"))
    return rows


# ---------------------------------------------------------------- the run


def machine() -> str:
    cores = os.cpu_count()
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1]) / 1024 / 1024
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith("model name")), "")
    except OSError:
        pass
    return f"{cores} cores ({model or platform.machine()}), {total:.1f} GiB RAM, Linux {platform.release()}"


def run(options) -> str:
    ensure_tools()
    binary = build()
    seconds, rounds = (2, 2) if options.quick else (5, 3)
    conns = options.connections
    env = base_env()
    results: list[tuple] = []  # (figure, ours, reference, ratio, target, ok)

    # The local stack: app + embedded emulator, on free ports.
    app_port, emu_port = free_port(), free_port()
    # Easy Auth on, so one run can also measure negotiate for an identified user (a request
    # without the headers stays anonymous).
    stack_env = dict(env, PORT=str(app_port), EMULATOR_PORT=str(emu_port), SIGNALR_EASY_AUTH="true")
    log_file = tempfile.NamedTemporaryFile("w+", prefix="handler-", suffix=".log", delete=False)
    stack = spawn([str(binary)], stack_env, stdout=log_file)
    wait_http(app_port)
    wait_http(emu_port, "/api/health")
    status, _ = request("POST", app_port, "/api/negotiate")
    assert status == 200, f"negotiate answered {status}"
    time.sleep(1)
    idle_rss = rss_kib(stack.pid) / 1024

    # A Node.js peer negotiate server minting the same token.
    peer_port = free_port()
    cs = f"Endpoint=http://127.0.0.1;Port={emu_port};AccessKey={KEY};Version=1.0;"
    peer_env = dict(env, PORT=str(peer_port), AzureSignalRConnectionString=cs)
    peer = spawn(["node", "server.js"], peer_env, cwd=PEER)
    tuned_port = free_port()
    tuned = spawn(["node", "server.js"], dict(peer_env, PORT=str(tuned_port), PEER_KEY_OBJECT="1"),
                  cwd=PEER)
    wait_http(peer_port)
    wait_http(tuned_port)
    time.sleep(1)
    peer_idle_rss = rss_kib(peer.pid) / 1024

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        post_negotiate = lua(tmp, "negotiate", "POST")
        post_negotiate_user = lua(tmp, "negotiate_user", "POST",
                                  headers={"x-ms-client-principal-id": "alice@contoso.com"})
        message = json.dumps({"target": "newMessage", "arguments": ["hello", 42]})
        json_header = {"Content-Type": "application/json"}
        post_message = lua(tmp, "message", "POST", message, json_header)
        now = int(time.time())
        send_path = f"/api/hubs/default/:send?api-version={API_VERSION}"
        token = hs256({"aud": f"http://127.0.0.1{send_path}",
                       "iat": now, "nbf": now, "exp": now + 86400})
        post_direct = lua(tmp, "direct", "POST", message,
                          dict(json_header, Authorization=f"Bearer {token}"))
        # The send path's ceiling: a bare hyper forwarder with the same token, no app code.
        ceiling_port = free_port()
        direct_url = f"http://127.0.0.1:{emu_port}{send_path}"
        ceiling = spawn([str(build_send_ceiling()), str(ceiling_port), direct_url, token], env)
        wait_http(ceiling_port)
        status, body = request("POST", ceiling_port, "/", message.encode(), json_header)
        assert status == 202, f"the send ceiling's forward answered {status}: {body!r}"
        status, body = request("POST", emu_port, send_path,
                            message.encode(), dict(json_header, Authorization=f"Bearer {token}"))
        assert status == 202, f"emulator REST answered {status}: {body!r}"
        status, body = request("POST", app_port, "/api/messages", message.encode(), json_header)
        assert status == 202, f"/api/messages answered {status}: {body!r}"

        app = f"http://127.0.0.1:{app_port}"
        log("warm-up")
        wrk(f"{app}/api/negotiate", 1, conns, post_negotiate)
        with RssSampler(stack.pid) as ours_load, RssSampler(peer.pid) as peer_load:
            neg = compare("negotiate vs GET /", (f"{app}/api/negotiate", post_negotiate),
                          (f"{app}/", None), rounds, seconds, conns)
            neg_user = compare("negotiate (Easy Auth user) vs GET /",
                               (f"{app}/api/negotiate", post_negotiate_user),
                               (f"{app}/", None), rounds, seconds, conns)
            msg = compare("messages vs emulator REST", (f"{app}/api/messages", post_message),
                          (direct_url, post_direct), rounds, seconds, conns)
            msg_ceiling = compare("bare forwarder vs emulator REST (the send ceiling)",
                                  (f"http://127.0.0.1:{ceiling_port}/", post_message),
                                  (direct_url, post_direct), rounds, seconds, conns)
            vs_peer = compare("ours vs Node peer (key string)", (f"{app}/api/negotiate", post_negotiate),
                              (f"http://127.0.0.1:{peer_port}/api/negotiate", post_negotiate),
                              rounds, seconds, conns)
            vs_tuned = compare("ours vs Node peer (KeyObject)", (f"{app}/api/negotiate", post_negotiate),
                               (f"http://127.0.0.1:{tuned_port}/api/negotiate", post_negotiate),
                               rounds, seconds, conns)
            # The most any handler on this server reaches against the tuned peer in this run.
            peer_ceiling = compare("GET / vs Node peer (KeyObject)", (f"{app}/", None),
                                   (f"http://127.0.0.1:{tuned_port}/api/negotiate", post_negotiate),
                                   rounds, seconds, conns)
    load_rss = ours_load.peak / 1024
    peer_load_rss = peer_load.peak / 1024
    stop(peer)
    stop(tuned)
    stop(ceiling)

    def lat(r):
        return f"{r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms"

    results.append(("negotiate (POST) vs GET / on the same server", lat(neg["a"]), lat(neg["b"]),
                    f"{neg['ratio']:.2f}", "≥ 0.90", neg["ratio"] >= 0.90))
    results.append(("negotiate (POST) for an Easy Auth user vs GET / on the same server",
                    lat(neg_user["a"]), lat(neg_user["b"]), f"{neg_user['ratio']:.2f}",
                    "≥ 0.85", neg_user["ratio"] >= 0.85))
    results.append(("POST /api/messages → emulator → 202 vs emulator REST direct", lat(msg["a"]),
                    lat(msg["b"]), f"{msg['ratio']:.2f}", "≥ 0.50", msg["ratio"] >= 0.50))
    results.append(("the send ceiling: a bare hyper forwarder (examples/send_ceiling.rs, no app "
                    "code) → emulator → 202 vs emulator REST direct", lat(msg_ceiling["a"]),
                    lat(msg_ceiling["b"]), f"{msg_ceiling['ratio']:.2f}",
                    "— (the ceiling of the row above)", None))
    results.append(("negotiate: ours vs Node.js jsonwebtoken peer, key string as documented",
                    lat(vs_peer["a"]), lat(vs_peer["b"]), f"{vs_peer['ratio']:.1f}×", "≥ 5×",
                    vs_peer["ratio"] >= 5))
    results.append(("negotiate: ours vs Node.js jsonwebtoken peer, KeyObject made once (tuned)",
                    lat(vs_tuned["a"]), lat(vs_tuned["b"]), f"{vs_tuned['ratio']:.1f}×", "≥ 8×",
                    vs_tuned["ratio"] >= 8))
    results.append(("the peer ceiling: our `GET /` (no work at all) vs the tuned Node.js peer's "
                    "negotiate", lat(peer_ceiling["a"]), lat(peer_ceiling["b"]),
                    f"{peer_ceiling['ratio']:.1f}×", "— (the ceiling of the row above)", None))

    # Fan-out through the running stack: app /api/messages → emulator → 1 000 WebSockets.
    log(f"fan-out: {options.clients} WebSocket clients × {options.broadcasts} broadcasts")
    with RssSampler(stack.pid) as fan_rss:
        out = subprocess.run(["node", "fanout.js", app, str(options.clients), str(options.broadcasts)],
                             cwd=PEER, capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"fanout.js failed: {out.stderr}")
    fan = json.loads(out.stdout.strip().splitlines()[-1])
    stop(stack)
    log_file.close()
    os.unlink(log_file.name)

    # Cold start: exec → first 200 on /api/negotiate, alternating ours and the peer.
    log(f"cold start × {options.starts} each")
    cold_env = dict(env, AzureSignalRConnectionString=cs)
    ours_ms, peer_ms = [], []
    for _ in range(options.starts):
        ours_ms.append(cold_start([str(binary)], cold_env))
        peer_ms.append(cold_start(["node", "server.js"], cold_env, cwd=PEER))
    ours_cold, peer_cold = statistics.median(ours_ms), statistics.median(peer_ms)
    cold_ratio = peer_cold / ours_cold
    results.append((f"cold start: exec → first 200 on /api/negotiate, app with a connection string "
                    f"as in Azure (median of {options.starts})",
                    f"{ours_cold:.1f} ms", f"{peer_cold:.1f} ms (Node peer)", f"{cold_ratio:.1f}× faster",
                    "≤ 15 ms and ≥ 20× faster", ours_cold <= 15 and cold_ratio >= 20))

    results.append(("RSS idle (app + embedded emulator, one process)", f"{idle_rss:.1f} MiB",
                    f"{peer_idle_rss:.1f} MiB (Node peer)", "", "≤ 8 MiB", idle_rss <= 8))
    results.append(("RSS peak under HTTP load (the wrk comparisons above)", f"{load_rss:.1f} MiB",
                    f"{peer_load_rss:.1f} MiB (Node peer)", "", "≤ 40 MB", load_rss <= 40))
    results.append((f"RSS peak with {fan['clients']} WebSocket clients (fan-out)",
                    f"{fan_rss.peak / 1024:.1f} MiB", "", "", "≤ 40 MB", fan_rss.peak / 1024 <= 40))

    stripped = Path(tempfile.mkdtemp()) / "handler"
    shutil.copy(binary, stripped)
    if shutil.which("strip"):
        subprocess.run(["strip", str(stripped)], check=True)
    size = stripped.stat().st_size / 1024 / 1024
    shutil.rmtree(stripped.parent)
    results.append(("stripped release binary size", f"{size:.2f} MiB", "", "", "≤ 8 MiB", size <= 8))

    fan_ok = fan["delivered"] == fan["expected"]
    results.append((f"fan-out: 1 broadcast → {fan['clients']} WebSockets, end-to-end delivery "
                    f"({fan['rounds']} broadcasts)",
                    f"p50 {fan['p50_ms']:.2f} ms, p99 {fan['p99_ms']:.2f} ms; last client p50 "
                    + ("—" if fan["all_delivered_p50_ms"] is None else
                       f"{fan['all_delivered_p50_ms']:.2f} ms"),
                    f"{fan['delivered']}/{fan['expected']} delivered", "",
                    "all delivered (no numeric target)", fan_ok))

    table = ["| figure | ours | reference (same run) | ratio | target | result |",
             "|---|---|---|---|---|---|"]
    for figure, ours, ref, ratio, target, ok in results:
        verdict = "—" if ok is None else "pass" if ok else "**miss**"
        table.append(f"| {figure} | {ours} | {ref} | {ratio} | {target} | {verdict} |")
    command = "python3 benches/load.py" + (" --quick" if options.quick else "")
    header = stamp(command, f"wrk -t2 -c{conns}, {rounds} alternating {seconds} s runs per side, "
                   "medians; all on 127.0.0.1, load generator on the same cores")
    return "\n".join(header + table) + "\n"


def run_entra(options) -> str:
    """Entra ID (issue 15): an app with `AuthType=azure.msi` whose managed identity is the
    emulator's identity endpoint (`handler emulator --entra`), next to the same app with an
    access key: cold start to the first negotiate (which fetches the Entra token and the
    temporary key), the local stack with `SIGNALR_EMULATOR_ENTRA=true`, and negotiate throughput
    once the temporary key is cached."""
    ensure_tools(peer=False)
    binary = build()
    seconds, rounds = (2, 2) if options.quick else (5, 3)
    conns = options.connections
    env = base_env()
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "SIGNALR_EMULATOR_ENTRA", "EMULATOR_PORT"):
        env.pop(name, None)
    emu_port = free_port()
    emulator = spawn([str(binary), "emulator", "--port", str(emu_port), "--entra",
                      "--identity-header", "bench"], env)
    wait_http(emu_port, "/api/health")
    base = f"Endpoint=http://127.0.0.1;Port={emu_port};"
    entra_env = dict(env, AzureSignalRConnectionString=f"{base}AuthType=azure.msi;Version=1.0;",
                     IDENTITY_ENDPOINT=f"http://127.0.0.1:{emu_port}/msi/token",
                     IDENTITY_HEADER="bench")
    key_env = dict(env, AzureSignalRConnectionString=f"{base}AccessKey={KEY};Version=1.0;")
    local_key_env = dict(env, EMULATOR_PORT="0")
    local_entra_env = dict(local_key_env, SIGNALR_EMULATOR_ENTRA="true")
    results = []

    log(f"Entra cold start × {options.starts} each (alternating with the access-key app)")
    cold = {"entra": [], "key": [], "local_entra": [], "local_key": []}
    for _ in range(options.starts):
        cold["entra"].append(cold_start([str(binary)], entra_env))
        cold["key"].append(cold_start([str(binary)], key_env))
        cold["local_entra"].append(cold_start([str(binary)], local_entra_env))
        cold["local_key"].append(cold_start([str(binary)], local_key_env))
    med = {k: statistics.median(v) for k, v in cold.items()}
    results.append((f"cold start: exec → first 200 on /api/negotiate, `AuthType=azure.msi` (the first "
                    f"negotiate fetches the managed-identity token and the temporary key; median of "
                    f"{options.starts})", f"{med['entra']:.1f} ms", f"{med['key']:.1f} ms (AccessKey)",
                    f"{med['entra'] / med['key']:.2f}", "≤ 15 ms", med["entra"] <= 15))
    results.append((f"cold start: local stack with `SIGNALR_EMULATOR_ENTRA=true` (embedded emulator in "
                    f"Entra mode; median of {options.starts})", f"{med['local_entra']:.1f} ms",
                    f"{med['local_key']:.1f} ms (local stack, AccessKey)",
                    f"{med['local_entra'] / med['local_key']:.2f}", "none (informational)", None))

    entra_port, key_port = free_port(), free_port()
    entra_app = spawn([str(binary)], dict(entra_env, PORT=str(entra_port)))
    key_app = spawn([str(binary)], dict(key_env, PORT=str(key_port)))
    wait_http(entra_port)
    wait_http(key_port)
    for port in (entra_port, key_port):
        status, body = request("POST", port, "/api/negotiate")
        assert status == 200, f"negotiate answered {status}: {body!r}"
    with tempfile.TemporaryDirectory() as tmp:
        post_negotiate = lua(Path(tmp), "negotiate", "POST")
        wrk(f"http://127.0.0.1:{entra_port}/api/negotiate", 1, conns, post_negotiate)
        neg = compare("negotiate Entra vs AccessKey",
                      (f"http://127.0.0.1:{entra_port}/api/negotiate", post_negotiate),
                      (f"http://127.0.0.1:{key_port}/api/negotiate", post_negotiate),
                      rounds, seconds, conns)
    stop(entra_app)
    stop(key_app)
    stop(emulator)

    def lat(r):
        return f"{r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms"

    results.append(("negotiate (POST) with `AuthType=azure.msi` (cached temporary key) vs the same app "
                    "with an AccessKey", lat(neg["a"]), lat(neg["b"]), f"{neg['ratio']:.2f}", "≥ 0.90",
                    neg["ratio"] >= 0.90))
    table = ["| figure | ours | reference (same run) | ratio | target | result |",
             "|---|---|---|---|---|---|"]
    for figure, ours, ref, ratio, target, ok in results:
        verdict = "—" if ok is None else "pass" if ok else "**miss**"
        table.append(f"| {figure} | {ours} | {ref} | {ratio} | {target} | {verdict} |")
    command = "python3 benches/load.py --only entra" + (" --quick" if options.quick else "")
    header = stamp(command, f"wrk -t2 -c{conns}, {rounds} alternating {seconds} s runs per side, "
                   "medians; the identity endpoint is the emulator's, on 127.0.0.1")
    return "\n".join(header + table) + "\n"


def run_webpubsub(options) -> str:
    """Web PubSub (issue 12): on the local stack (app + embedded SignalR and Web PubSub
    emulators), the app's `/api/webpubsub/negotiate` against its SignalR `/api/negotiate` in the
    same run, and a fan-out: 1 000 `json.webpubsub.azure.v1` clients (benches/peer/wps_fanout.js)
    and one `sendToAll` action through the app per round, timed until the last client has it."""
    ensure_tools()
    binary = build()
    seconds, rounds = (2, 2) if options.quick else (5, 3)
    conns = options.connections
    env = base_env()
    for name in ("WebPubSubConnectionString", "WEBPUBSUB_EMULATOR_PORT", "EMULATOR_PORT"):
        env.pop(name, None)
    app_port, emu_port, wps_port = free_port(), free_port(), free_port()
    stack = spawn([str(binary)], dict(env, PORT=str(app_port), EMULATOR_PORT=str(emu_port),
                                      WEBPUBSUB_EMULATOR_PORT=str(wps_port)))
    wait_http(app_port)
    wait_http(emu_port, "/api/health")
    for path in ("/api/webpubsub/negotiate", "/api/negotiate"):
        status, body = request("POST", app_port, path)
        assert status == 200, f"{path} answered {status}: {body!r}"
    app = f"http://127.0.0.1:{app_port}"
    with tempfile.TemporaryDirectory() as tmp:
        post_negotiate = lua(Path(tmp), "negotiate", "POST")
        wrk(f"{app}/api/webpubsub/negotiate", 1, conns, post_negotiate)
        neg = compare("Web PubSub negotiate vs SignalR negotiate",
                      (f"{app}/api/webpubsub/negotiate", post_negotiate),
                      (f"{app}/api/negotiate", post_negotiate), rounds, seconds, conns)

    log(f"Web PubSub fan-out: {options.clients} clients × {options.broadcasts} sendToAll")
    with RssSampler(stack.pid) as fan_rss:
        out = subprocess.run(["node", "wps_fanout.js", app, str(options.clients),
                              str(options.broadcasts)],
                             cwd=PEER, capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise RuntimeError(f"wps_fanout.js failed: {out.stderr}")
    fan = json.loads(out.stdout.strip().splitlines()[-1])
    stop(stack)

    def lat(r):
        return f"{r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms"

    results = [("negotiate (POST `/api/webpubsub/negotiate`, a Web PubSub client token) vs SignalR "
                "negotiate (POST `/api/negotiate`) on the same app", lat(neg["a"]), lat(neg["b"]),
                f"{neg['ratio']:.2f}", "none (informational)", None)]
    fan_ok = fan["delivered"] == fan["expected"]
    last = ("—" if fan["all_delivered_p50_ms"] is None else
            f"p50 {fan['all_delivered_p50_ms']:.2f} ms, p95 {fan['all_delivered_p95_ms']:.2f} ms")
    results.append((f"Web PubSub fan-out: 1 `sendToAll` action through the app → REST `:send` → "
                    f"{fan['clients']} `json.webpubsub.azure.v1` WebSockets, until the last client "
                    f"has it ({fan['rounds']} rounds)", last,
                    f"{fan['delivered']}/{fan['expected']} delivered; each delivery p50 "
                    f"{fan['p50_ms']:.2f} ms, p99 {fan['p99_ms']:.2f} ms", "",
                    "all delivered (no numeric target)", fan_ok))
    results.append((f"RSS peak with {fan['clients']} Web PubSub clients (app + both emulators)",
                    f"{fan_rss.peak / 1024:.1f} MiB", "", "", "none (informational)", None))
    table = ["| figure | ours | reference (same run) | ratio | target | result |",
             "|---|---|---|---|---|---|"]
    for figure, ours, ref, ratio, target, ok in results:
        verdict = "—" if ok is None else "pass" if ok else "**miss**"
        table.append(f"| {figure} | {ours} | {ref} | {ratio} | {target} | {verdict} |")
    command = "python3 benches/load.py --only webpubsub" + (" --quick" if options.quick else "")
    header = stamp(command, f"wrk -t2 -c{conns}, {rounds} alternating {seconds} s runs per side, "
                   f"medians; fan-out clients connected {fan['connect_s']:.1f} s; all on 127.0.0.1, "
                   "load generator on the same cores")
    return "\n".join(header + table) + "\n"


def git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def replace_between(text: str, begin: str, end: str, body: str) -> str:
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        return text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def write_section(options, begin: str, end: str, block: str) -> None:
    print(block)
    if not options.no_write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        path.write_text(replace_between(text, begin, end, block))
        log(f"wrote {begin} … in {path}")


def criterion_section(options) -> str:
    rows = criterion(1 if options.quick else 3)
    return ("Command: `cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time "
            f"{1 if options.quick else 3}` (run by load.py); criterion's median estimate.\n\n"
            "| benchmark | median |\n|---|---|\n"
            + "".join(f"| `{name}` | {median} |\n" for name, median in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter wrk runs (smoke test)")
    parser.add_argument("--no-criterion", action="store_true", help="skip cargo bench")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--starts", type=int, default=25, help="cold starts per side (25)")
    parser.add_argument("--clients", type=int, default=1000, help="fan-out WebSocket clients")
    parser.add_argument("--broadcasts", type=int, default=20, help="fan-out broadcasts")
    parser.add_argument("--only", choices=["main", "entra", "webpubsub", "growth", "invoke",
                                                "instructions"],
                        help="run one scenario alone and write only its section")
    options = parser.parse_args()
    # The scenario modules import this file as `load`: let them share this run's state (the
    # processes it started) instead of loading a second copy.
    sys.modules.setdefault("load", sys.modules[__name__])
    import client_results  # noqa: E402  (client-results latency: benches/client_results.py)
    import growth  # noqa: E402  (how cost grows: benches/growth.py)
    import instructions  # noqa: E402  (callgrind instruction counts: benches/instructions.py)

    # Every section of BENCHMARKS.md, in its order; one command regenerates them all.
    sections = {"main": (run, BEGIN, END), "entra": (run_entra, EBEGIN, EEND),
                "webpubsub": (run_webpubsub, WBEGIN, WEND),
                "growth": (growth.run_growth, GBEGIN, GEND),
                "invoke": (client_results.run_invoke, VBEGIN, VEND),
                "instructions": (instructions.run_instructions, IBEGIN, IEND)}
    chosen = [options.only] if options.only else list(sections)
    for name in chosen:
        scenario, begin, end = sections[name]
        log(f"section {name}")
        try:
            block = scenario(options)
        finally:
            stop_all()
        write_section(options, begin, end, block)
    if not options.only and not options.no_criterion:
        write_section(options, CBEGIN, CEND, criterion_section(options))


if __name__ == "__main__":
    main()
