"""How cost grows (issue 26, item 4): each figure at a small and a large size in one run, with
its growth stated. `handler emulator` runs alone (so its RSS is the emulators' own, and
`--max-connections` lets 10 000 clients in), with `handler serve` in front of it for negotiate
and the broadcasts, as in Azure.

* fan-out through the app to N SignalR (benches/peer/fanout.js) and N Web PubSub
  (benches/peer/wps_fanout.js) clients: the time until the last client has a broadcast, per
  delivered message, and the emulator's memory per connection (RSS peak − idle, / N);
* a group send to 1 of 10 or of 10 000 groups (emulator REST, timed until its one member has it),
  SignalR's (the other groups hold an offline user each) and Web PubSub's (the other groups are
  joined by a few other connections, at most 1 000 groups each, the emulator's cap);
* removing a connection from every group (`DELETE …/connections/{id}/groups`, what a disconnect
  also does) while it is in one of 10 or of 10 000 groups (the others hold one other connection);
* list-connections of a group of N members: SignalR (`GET …/groups/{g}/connections` through the
  app's route and directly against the emulator, pages of 200) and Web PubSub, every page.

A figure the build cannot measure (a route not there yet, a connection cap) is printed as
"n/a: …" instead of failing the run.

    python3 benches/load.py --only growth [--quick] [--no-write]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import instructions
import load

SIGNALR_API = load.API_VERSION
WPS_API = "2024-01-01"
WPS_LIST_API = "2024-12-01"
HUB = "bench"
NA_BUILD = "n/a: not available in this build"


def log(message: str) -> None:
    print(f"[growth] {message}", file=sys.stderr, flush=True)


class Stack:
    """`handler emulator` (SignalR + Web PubSub) and `handler serve` in front of it."""

    def __init__(self, binary: Path, max_connections: int):
        self.emu, self.wps, self.app = load.free_port(), load.free_port(), load.free_port()
        env = load.base_env()
        for name in ("WebPubSubConnectionString", "WEBPUBSUB_EMULATOR_PORT", "EMULATOR_PORT"):
            env.pop(name, None)
        self.emulator = load.spawn([str(binary), "emulator", "--port", str(self.emu),
                                    "--webpubsub-port", str(self.wps),
                                    "--max-connections", str(max_connections)], env)
        load.wait_http(self.emu, "/api/health")
        load.wait_http(self.wps, "/")
        base = f"Endpoint=http://127.0.0.1;AccessKey={load.KEY};Version=1.0;"
        # As under the Functions host (which checks the function keys itself): no key needed.
        app_env = dict(env, FUNCTIONS_CUSTOMHANDLER_PORT=str(self.app),
                       AzureSignalRConnectionString=base.replace(";Access", f";Port={self.emu};Access"),
                       WebPubSubConnectionString=base.replace(";Access", f";Port={self.wps};Access"))
        self.server = load.spawn([str(binary), "serve"], app_env)
        load.wait_http(self.app)
        time.sleep(0.5)
        self.idle_kib = load.rss_kib(self.emulator.pid)

    def stop(self) -> None:
        load.stop(self.server)
        load.stop(self.emulator)


def node_fanout(script: str, stack: Stack, clients: int, rounds: int) -> dict:
    """One fan-out run; the emulator's RSS peak during it is added as `rss_peak_kib`."""
    env = dict(load.base_env(), FANOUT_DEADLINE_S=str(120 + clients // 50))
    with load.RssSampler(stack.emulator.pid) as rss:
        out = subprocess.run(["node", script, f"http://127.0.0.1:{stack.app}", str(clients),
                              str(rounds), HUB], cwd=load.PEER, env=env, capture_output=True,
                             text=True, timeout=300 + clients // 20)
    if out.returncode != 0:
        raise RuntimeError(f"{script} with {clients} clients failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["rss_peak_kib"] = rss.peak
    return result


def wps_cap_allows(binary: Path, clients: int) -> bool:
    """Whether the Web PubSub emulator can hold `clients` connections: its own listener keeps
    the default cap (4 096) unless `handler emulator --help` says an option raises it
    (`--webpubsub-max-connections`, or `--max-connections` naming Web PubSub)."""
    text = subprocess.run([str(binary), "emulator", "--help"], capture_output=True,
                          text=True).stdout
    cap = text.split("--max-connections", 1)[-1].split("\n  -", 1)[0]
    return clients < 4000 or "webpubsub-max-connections" in text or "Web PubSub" in cap


def fan_out(binary: Path, sizes: tuple[int, int], rounds: int) -> dict:
    """{(product, size): fanout result or an n/a reason}."""
    results: dict = {}
    for size in sizes:
        for product, script in (("signalr", "fanout.js"), ("webpubsub", "wps_fanout.js")):
            if product == "webpubsub" and not wps_cap_allows(binary, size):
                results[(product, size)] = ("n/a: the Web PubSub emulator keeps its default cap "
                                            "of 4 096 connections in this build")
                continue
            log(f"{product} fan-out: {size} clients × {rounds} rounds")
            stack = Stack(binary, size + 1000)
            try:
                result = node_fanout(script, stack, size, rounds)
                result["idle_kib"] = stack.idle_kib
                results[(product, size)] = result
            finally:
                stack.stop()
    return results


def timed(action, count: int, prepare=None) -> float:
    """Median milliseconds of `action()` over `count` calls, each after an untimed `prepare()`."""
    times = []
    for _ in range(count):
        if prepare:
            prepare()
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def group_send(binary: Path, groups: tuple[int, int], sends: int) -> tuple[float, float]:
    """Median ms of a REST group send until its one member has it, with `groups[0]` and then
    `groups[1]` groups in the hub (the others hold a user each, added through REST)."""
    stack = Stack(binary, 2000)
    try:
        member = instructions.HubSocket(stack.app, hub=HUB)
        rest = instructions.KeepAlive(stack.emu)
        hub = f"/api/hubs/{HUB}"
        token = load.hs256({"aud": f"http://127.0.0.1{hub}/groups/target/:send?api-version="
                                   f"{SIGNALR_API}", "exp": int(time.time()) + 3600})
        admin = {}

        def add_groups(first: int, last: int) -> None:
            for i in range(first, last):
                path = f"{hub}/groups/g{i}/users/u{i}?api-version={SIGNALR_API}"
                aud = f"http://127.0.0.1{path}"
                admin["Authorization"] = "Bearer " + load.hs256({"aud": aud, "exp": int(time.time()) + 3600})
                rest.call("PUT", path, 200, b"", admin)

        path = f"{hub}/groups/target/connections/{member.connection_id}?api-version={SIGNALR_API}"
        rest.call("PUT", path, 200, b"", {"Authorization": "Bearer " + load.hs256(
            {"aud": f"http://127.0.0.1{path}", "exp": int(time.time()) + 3600})})
        body = json.dumps({"target": "tick", "arguments": [1]}).encode()
        send_path = f"{hub}/groups/target/:send?api-version={SIGNALR_API}"
        headers = dict(instructions.JSON, Authorization=f"Bearer {token}")

        def send() -> None:
            rest.call("POST", send_path, 202, body, headers)
            member.invocation("tick")

        medians = []
        for count, first in ((groups[0], 0), (groups[1], groups[0])):
            add_groups(first, count - 1)
            log(f"group send with {count} groups × {sends}")
            medians.append(timed(send, sends))
        member.close()
        rest.close()
        return medians[0], medians[1]
    finally:
        stack.stop()


def group_removal(binary: Path, groups: tuple[int, int], removals: int) -> tuple[float, float]:
    """Median ms of removing a connection from every group (`DELETE …/connections/{id}/groups`,
    what a disconnect also does) while it is in one, with `groups[0]` and then `groups[1]`
    groups in the hub (the others hold one other connection each, added through REST)."""
    stack = Stack(binary, 2000)
    try:
        member, other = (instructions.HubSocket(stack.app, hub=HUB) for _ in range(2))
        rest = instructions.KeepAlive(stack.emu)
        hub = f"/api/hubs/{HUB}"

        def join(group: str, connection: str) -> None:
            path = f"{hub}/groups/{group}/connections/{connection}?api-version={SIGNALR_API}"
            rest.call("PUT", path, 200, b"", bearer(path))

        leave = f"{hub}/connections/{member.connection_id}/groups?api-version={SIGNALR_API}"
        leave_headers = bearer(leave)
        medians = []
        with Pinging([member, other]):
            for count, first in ((groups[0], 0), (groups[1], groups[0] - 1)):
                for i in range(first, count - 1):
                    join(f"g{i}", other.connection_id)
                log(f"remove from every group with {count} groups × {removals}")
                medians.append(timed(lambda: rest.call("DELETE", leave, 200, b"", leave_headers),
                                     removals, lambda: join("target", member.connection_id)))
        for connection in (member, other, rest):
            connection.close()
        return medians[0], medians[1]
    finally:
        stack.stop()


class WpsMember:
    """A `json.webpubsub.azure.v1` WebSocket held open (it joined its groups with its token)."""

    def __init__(self, port: int, token: str):
        query = urllib.parse.urlencode({"access_token": token})
        self.sock, answer = load.websocket(
            port, f"/client/hubs/{HUB}?{query}",
            {"Sec-WebSocket-Protocol": "json.webpubsub.azure.v1"})
        self.frames = load.Frames(self.sock, answer)
        self.connection_id = self.next_of("system")["connectionId"]  # the `connected` message

    def next_of(self, kind: str) -> dict:
        """The next JSON message of `type` `kind` (others skipped)."""
        while True:
            opcode, payload = self.frames.next()
            if opcode == 8:
                raise RuntimeError(f"the Web PubSub connection closed: {payload[:120]!r}")
            if opcode == 1 and (message := json.loads(payload)).get("type") == kind:
                return message


def wps_rest(port: int, method: str, path_and_query: str, expect: int) -> bytes:
    aud = f"http://127.0.0.1:{port}{path_and_query.split('?')[0]}"
    token = load.hs256({"aud": aud, "exp": int(time.time()) + 3600})
    client = instructions.KeepAlive(port)
    try:
        return client.call(method, path_and_query, expect, b"" if method == "POST" else None,
                           {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{port}"})
    finally:
        client.close()


def wps_token(port: int, query: str = "") -> str:
    """A client token of the Web PubSub hub, from its REST `:generateToken` (`query`: e.g. a
    group to join at connect)."""
    answer = wps_rest(port, "POST", f"/api/hubs/{HUB}/:generateToken?api-version={WPS_API}{query}",
                      200)
    return json.loads(answer)["token"]


def wps_group_send(binary: Path, groups: tuple[int, int], sends: int) -> tuple[float, float]:
    """Median ms of a Web PubSub REST group send until its one member has it, with `groups[0]`
    and then `groups[1]` groups in the hub (the others joined through REST by filler
    connections, each in at most 1 000 groups: the emulator's cap per connection)."""
    per_filler = 1000
    stack = Stack(binary, 2000)
    try:
        member = WpsMember(stack.wps, wps_token(stack.wps, "&group=target"))
        plain = wps_token(stack.wps)
        fillers = [WpsMember(stack.wps, plain) for _ in range(-(-groups[1] // per_filler))]
        rest = instructions.KeepAlive(stack.wps)
        hub = f"/api/hubs/{HUB}"

        def headers(path: str) -> dict[str, str]:
            aud = f"http://127.0.0.1:{stack.wps}{path.split('?')[0]}"
            token = load.hs256({"aud": aud, "exp": int(time.time()) + 3600})
            return {"Authorization": f"Bearer {token}", "Host": f"127.0.0.1:{stack.wps}",
                    "Content-Type": "text/plain"}

        def add_groups(first: int, last: int) -> None:
            for i in range(first, last):
                filler = fillers[i // per_filler].connection_id
                path = f"{hub}/groups/g{i}/connections/{filler}?api-version={WPS_API}"
                rest.call("PUT", path, 200, b"", headers(path))

        send_path = f"{hub}/groups/target/:send?api-version={WPS_API}"
        send_headers = headers(send_path)

        def send() -> None:
            rest.call("POST", send_path, 202, b"tick", send_headers)
            member.next_of("message")

        medians = []
        for count, first in ((groups[0], 0), (groups[1], groups[0] - 1)):
            add_groups(first, count - 1)
            log(f"Web PubSub group send with {count} groups × {sends}")
            medians.append(timed(send, sends))
        rest.close()
        for connection in [member, *fillers]:
            connection.sock.close()
        return medians[0], medians[1]
    finally:
        stack.stop()


def list_connections(binary: Path, sizes: tuple[int, int], calls: int) -> dict:
    """{size: median ms of listing every member of a `size`-member group, or an n/a reason}."""
    results: dict = {}
    for size in sizes:
        if not wps_cap_allows(binary, size):
            results[size] = ("n/a: the Web PubSub emulator keeps its default cap of 4 096 "
                             "connections in this build")
            continue
        stack = Stack(binary, size + 1000)
        members = []
        try:
            hub = f"/api/hubs/{HUB}"
            token = wps_token(stack.wps, "&group=big")
            log(f"list-connections: {size} Web PubSub members")
            members = [WpsMember(stack.wps, token) for _ in range(size)]
            first = f"{hub}/groups/big/connections?api-version={WPS_LIST_API}&maxpagesize=200"

            def list_all() -> None:
                path, seen = first, 0
                while path:
                    page = json.loads(wps_rest(stack.wps, "GET", path, 200))
                    seen += len(page["value"])
                    path = page.get("nextLink")
                if seen != size:
                    raise RuntimeError(f"listed {seen} of {size} members")

            try:
                list_all()
            except RuntimeError as e:
                if " 404" in str(e) or " 405" in str(e):
                    results[size] = NA_BUILD
                    continue
                raise
            results[size] = timed(list_all, calls)
        finally:
            for member in members:
                member.sock.close()
            stack.stop()
    return results


def signalr_pages(client, first: str, headers, size: int) -> int:
    """Follows `nextLink` from `first` until the listing ends; checks every member was listed
    once and returns the number of pages. `headers(path)` gives each page's headers."""
    path, seen, pages = first, set(), 0
    while path:
        page = json.loads(client.call("GET", path, 200, None, headers(path)))
        seen.update(member["connectionId"] for member in page["value"])
        pages += 1
        link = page.get("nextLink")
        path = urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl() if link else None
    if len(seen) != size:
        raise RuntimeError(f"listed {len(seen)} of {size} members")
    return pages


class Pinging:
    """Pings every member every 10 s while the `with` block runs: creating and listing 10 000
    members takes longer than the 30 s after which the emulator, like the service, drops a client
    it has not heard from."""

    def __init__(self, members: list):
        self.members, self.stop = members, threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self) -> None:
        while not self.stop.wait(10):
            for member in list(self.members):
                member.ping()

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)


def signalr_list(binary: Path, sizes: tuple[int, int], calls: int) -> dict:
    """{size: (ms per listing through the app, the same directly against the emulator, pages)}:
    a group of `size` SignalR connections (negotiated through the app, added through REST),
    listed in pages of 200 (medians of `calls` full listings each)."""
    results: dict = {}
    hub = f"/api/hubs/{HUB}"
    for size in sizes:
        stack = Stack(binary, size + 1000)
        members: list = []
        try:
            with Pinging(members):
                log(f"SignalR list-connections: {size} members")
                members.extend(instructions.HubSocket(stack.app, hub=HUB) for _ in range(size))
                rest = instructions.KeepAlive(stack.emu)
                for member in members:
                    path = (f"{hub}/groups/big/connections/{member.connection_id}"
                            f"?api-version={SIGNALR_API}")
                    rest.call("PUT", path, 200, b"", bearer(path))
                app = instructions.KeepAlive(stack.app)
                via_app = f"{hub}/groups/big/connections?maxpagesize=200"
                direct = f"{hub}/groups/big/connections?api-version={WPS_LIST_API}&maxpagesize=200"
                pages = signalr_pages(app, via_app, lambda _: {}, size)
                signalr_pages(rest, direct, bearer, size)
                results[size] = (
                    timed(lambda: signalr_pages(app, via_app, lambda _: {}, size), calls),
                    timed(lambda: signalr_pages(rest, direct, bearer, size), calls), pages)
                app.close()
                rest.close()
        finally:
            for member in members:
                member.close()
            stack.stop()
    return results


def bearer(path: str) -> dict[str, str]:
    """The SignalR emulator's REST token for `path` (audience without the port, as the SDKs)."""
    token = load.hs256({"aud": f"http://127.0.0.1{path}", "exp": int(time.time()) + 3600})
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- the section


def growth_word(small: float, large: float, factor: float, per_unit: bool) -> str:
    """`per_unit`: the figures are per client/member, so flat means linear in total."""
    ratio = large / small if small else float("inf")
    if per_unit:
        shape = "flat per unit (linear in total)" if ratio <= 1.5 else "grows faster than linear"
    else:
        shape = ("flat" if ratio <= 1.5 else "sub-linear" if ratio < factor / 2
                 else "linear" if ratio <= factor * 1.5 else "super-linear")
    return f"{shape}: ×{ratio:.2f} for ×{factor:g} the size"


def fan_rows(fan: dict, sizes: tuple[int, int]) -> list[tuple]:
    rows = []
    for product, name in (("signalr", "SignalR"), ("webpubsub", "Web PubSub")):
        per_msg, per_conn = [], []
        for size in sizes:
            r = fan[(product, size)]
            if isinstance(r, str) or r["all_delivered_p50_ms"] is None:
                per_msg.append(r if isinstance(r, str) else "not every client had every round")
                per_conn.append(per_msg[-1])
                continue
            per_msg.append(r["all_delivered_p50_ms"] * 1000 / size)
            per_conn.append((r["rss_peak_kib"] - r["idle_kib"]) / size)
        factor = sizes[1] / sizes[0]
        rows.append((f"{name} fan-out through the app: time until the last client has a broadcast, "
                     "per delivered message (p50 over the rounds)", per_msg, "µs", True, factor))
        rows.append((f"{name} emulator memory per connection (RSS peak − idle, / clients)",
                     per_conn, "KiB", True, factor))
    return rows


def cell(value, unit: str) -> str:
    return value if isinstance(value, str) else f"{value:,.2f} {unit}"


def run_growth(options) -> str:
    load.ensure_tools()
    binary = load.build()
    limit = load.raise_file_limit()
    sizes = (100, 1000) if options.quick else (1000, 10_000)
    # The limit is per process: the Node client process holds one socket per client, the handler
    # one per connection plus the app's own.
    if limit < sizes[1] + 1024:
        sys.exit(f"the open-file limit is {limit}; {sizes[1]} clients need {sizes[1] + 1024} "
                 "per process (the clients' and the handler's): raise the hard limit (ulimit -Hn) first")
    rounds = 5 if options.quick else 10
    fan = fan_out(binary, sizes, rounds)
    groups = (10, 1000) if options.quick else (10, 10_000)
    few, many = group_send(binary, groups, 50 if options.quick else 200)
    wps_few, wps_many = wps_group_send(binary, groups, 50 if options.quick else 200)
    leave_few, leave_many = group_removal(binary, groups, 50 if options.quick else 200)
    listed = list_connections(binary, sizes, 5 if options.quick else 20)
    signalr = signalr_list(binary, sizes, 5 if options.quick else 20)
    factor = sizes[1] / sizes[0]
    rows = fan_rows(fan, sizes)
    rows.append((f"group send through the emulator's REST to 1 of N groups (N = {groups[0]} / "
                 f"{groups[1]:,}), until its one member has it (median)", [few, many], "ms", False,
                 groups[1] / groups[0]))
    rows.append((f"Web PubSub group send through the emulator's REST to 1 of N groups (N = "
                 f"{groups[0]} / {groups[1]:,}), until its one member has it (median)",
                 [wps_few, wps_many], "ms", False, groups[1] / groups[0]))
    rows.append(("SignalR: remove a connection from every group (`DELETE …/connections/{id}/groups`,"
                 f" or a disconnect) with N groups in the hub (N = {groups[0]} / {groups[1]:,}), "
                 "each other group holding one other connection (median)",
                 [leave_few, leave_many], "ms", False, groups[1] / groups[0]))
    for label, index in (("through the app", 0), ("directly against the emulator", 1)):
        rows.append((f"SignalR list-connections of an N-member group {label}: every page of 200 "
                     "(median)", [signalr[s][index] for s in sizes], "ms", False, factor))
        rows.append((f"SignalR list-connections {label}: per page (median listing ÷ pages)",
                     [signalr[s][index] / signalr[s][2] for s in sizes], "ms", True, factor))
    rows.append(("Web PubSub list-connections of an N-member group (every page of 200; median)",
                 [listed[s] for s in sizes], "ms", False, factor))
    lines = ["| figure | at the small size | at the large size | growth |", "|---|---|---|---|"]
    for figure, (small, large), unit, per_unit, factor in rows:
        both = not isinstance(small, str) and not isinstance(large, str)
        growth = growth_word(small, large, factor, per_unit) if both else "—"
        lines.append(f"| {figure} | {cell(small, unit)} | {cell(large, unit)} | {growth} |")
    command = "python3 benches/load.py --only growth" + (" --quick" if options.quick else "")
    header = load.stamp(command, f"sizes: {sizes[0]:,} and {sizes[1]:,} clients or members, "
                        f"{rounds} broadcasts each; `handler emulator` alone behind `handler "
                        "serve`, clients in one Node.js or Python process, all on 127.0.0.1 on "
                        "the same cores")
    return "\n".join(header + lines) + "\n"
