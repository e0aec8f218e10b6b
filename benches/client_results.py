"""Client-results latency (issue 24): one unmodified @microsoft/signalr client answers `m` with
its argument (benches/peer/invoke.js); p50/p99 of the app's
`POST /api/hubs/{hub}/connections/{id}/invoke` against the emulator's `…/:invoke` called directly,
alternating in blocks of 50 calls on one run. `handler emulator` runs behind `handler serve`, as
in Azure, so the difference is the app's hop (an HTTP server and an HTTP client on loopback).

    python3 benches/load.py --only invoke [--quick] [--no-write]
"""

from __future__ import annotations

import json
import subprocess

import growth
import load


def run_invoke(options) -> str:
    load.ensure_tools(wrk=False)
    binary = load.build()
    calls = 200 if options.quick else 2000
    stack = growth.Stack(binary, 100)
    try:
        env = dict(load.base_env(), BENCH_ACCESS_KEY=load.KEY)
        out = subprocess.run(["node", "invoke.js", f"http://127.0.0.1:{stack.app}",
                              f"http://127.0.0.1:{stack.emu}", str(calls), growth.HUB],
                             cwd=load.PEER, env=env, capture_output=True, text=True, timeout=600)
    finally:
        stack.stop()
    if out.returncode != 0:
        raise RuntimeError(f"invoke.js failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    app, direct = result["app"], result["direct"]
    lines = ["| invocation of a client's `m` (it returns its argument) | p50 | p99 |", "|---|---|---|"]
    for label, side in (("through the app: `POST /api/hubs/{hub}/connections/{id}/invoke`", app),
                        ("the emulator's REST `…/connections/{id}/:invoke` directly", direct)):
        lines.append(f"| {label} | {side['p50_ms']:.2f} ms | {side['p99_ms']:.2f} ms |")
    lines.append(f"| app ÷ direct | {app['p50_ms'] / direct['p50_ms']:.2f}× | "
                 f"{app['p99_ms'] / direct['p99_ms']:.2f}× |")
    command = "python3 benches/load.py --only invoke" + (" --quick" if options.quick else "")
    header = load.stamp(command, f"{calls} calls per side, one at a time, alternating in blocks "
                        "of 50; one @microsoft/signalr 10 client in Node.js; `handler emulator` "
                        "behind `handler serve`, all on 127.0.0.1 on the same cores")
    return "\n".join(header + lines) + "\n"
