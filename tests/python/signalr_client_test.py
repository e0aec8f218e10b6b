"""End to end with a second language: the unmodified `signalrcore` Python client against the local
stack (`handler` with no connection string = function app + embedded emulator). It negotiates
through the app, which answers `{url, accessToken}`; like the service's other non-JS clients it
then opens a WebSocket straight to that URL with the token, without a second negotiate.

Run by tests/python.rs with HANDLER_BIN set; exits non-zero with a message on the first failure.
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from signalrcore.hub_connection_builder import HubConnectionBuilder
from signalrcore.types import HubProtocolEncoding

TIMEOUT = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app():
    """Starts the local stack on free ports; returns (process, base URL)."""
    bin_path = os.environ["HANDLER_BIN"]
    port = free_port()
    env = dict(os.environ, PORT=str(port), EMULATOR_PORT="0", SIGNALR_EASY_AUTH="true")
    for name in ["AzureSignalRConnectionString", "FUNCTIONS_CUSTOMHANDLER_PORT",
                 "SIGNALR_FUNCTION_KEYS", "SIGNALR_PUBSUB_PUBLISHERS", "SIGNALR_PUBSUB_TOPICS",
                 "SIGNALR_PUBSUB_TARGET", "SIGNALR_ALLOWED_TRANSPORTS"]:
        env.pop(name, None)
    proc = subprocess.Popen([bin_path], env=env, stdout=subprocess.PIPE, text=True)
    ready = threading.Event()

    def drain():
        for line in proc.stdout:
            if "function app listening" in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(20):
        proc.kill()
        raise AssertionError("the app did not start within 20 s")
    return proc, f"http://127.0.0.1:{port}"


def post(base, path, body):
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.status


class Client:
    """A started signalrcore connection whose received invocations land in a queue."""

    def __init__(self, base, user, targets):
        self.received = queue.Queue()
        self.errors = queue.Queue()
        self.hub = (HubConnectionBuilder()
                    .with_url(base + "/api", options={"headers": {"x-ms-client-principal-id": user}})
                    # MessagePack over binary WebSocket messages (signalrcore picks JSON, the first
                    # transfer format negotiate lists, unless told).
                    .with_hub_protocol(HubProtocolEncoding.binary)
                    .build())
        for target in targets:
            self.hub.on(target, lambda args, target=target: self.received.put((target, args)))
        opened = threading.Event()
        self.hub.on_open(opened.set)
        self.hub.on_error(lambda message: self.errors.put(message))
        self.hub.start()
        if not opened.wait(TIMEOUT):
            raise AssertionError("the connection did not open")
        if self.hub.protocol.protocol != "messagepack":
            raise AssertionError("expected the messagepack hub protocol, got %r" % self.hub.protocol.protocol)

    def next(self):
        try:
            return self.received.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError("nothing received within %d s" % TIMEOUT) from None

    def invoke(self, method, arguments):
        done = queue.Queue()
        self.hub.send(method, arguments, on_invocation=lambda message: done.put(message.result))
        try:
            return done.get(timeout=TIMEOUT)
        except queue.Empty:
            errors = []
            while not self.errors.empty():
                errors.append(str(self.errors.get()))
            raise AssertionError(f"{method} got no result; errors: {errors}") from None


def expect(actual, wanted, what):
    if actual != wanted:
        raise AssertionError(f"{what}: expected {wanted!r}, got {actual!r}")


def main():
    proc, base = start_app()
    clients = []
    try:
        alice = Client(base, "py-alice", ["news", "direct", "team", "seq", "message"])
        bob = Client(base, "py-bob", ["news", "direct", "team", "seq", "message"])
        clients += [alice, bob]

        # A broadcast with unicode and nested JSON arrives unchanged at both.
        payload = {"text": "héllo wörld ✓ 日本語 🎉", "nested": {"list": [1, 2.5, None, True],
                                                        "deep": {"a": ["b", {"c": "d"}]}}}
        expect(post(base, "/api/messages", {"target": "news", "arguments": [payload, "second"]}),
               202, "broadcast status")
        for client in clients:
            expect(client.next(), ("news", [payload, "second"]), "broadcast")

        # A user send reaches only that user.
        expect(post(base, "/api/messages",
                    {"target": "direct", "userId": "py-bob", "arguments": ["for bob", {"n": 1}]}),
               202, "user send status")
        expect(bob.next(), ("direct", ["for bob", {"n": 1}]), "user send")

        # A group send reaches the members only.
        expect(post(base, "/api/groups",
                    {"action": "add", "userId": "py-alice", "groupName": "py-team"}), 202, "group add")
        expect(post(base, "/api/messages",
                    {"target": "team", "groupName": "py-team", "arguments": [["ü", {"x": [None]}]]}),
               202, "group send status")
        expect(alice.next(), ("team", [["ü", {"x": [None]}]]), "group send")

        # 100 messages arrive in order.
        batch = [{"target": "seq", "userId": "py-alice", "arguments": [i, f"msg-{i}"]}
                 for i in range(100)]
        expect(post(base, "/api/messages", batch), 202, "batch status")
        for i in range(100):
            expect(alice.next(), ("seq", [i, f"msg-{i}"]), f"message {i} of 100")

        # Topic pub/sub through the upstream: subscribe, then publishToTopic from the other client.
        expect(alice.invoke("subscribe", ["orders"]), "orders", "subscribe result")
        order = {"id": 7, "items": ["ä", {"qty": 2}]}
        expect(bob.invoke("publishToTopic", ["orders", order]), True, "publishToTopic result")
        target, args = alice.next()
        expect((target, args[:2]), ("message", ["orders", order]), "topic message")

        # Nothing else arrived at bob (he got only the broadcast and his user send).
        if not bob.received.empty():
            raise AssertionError(f"bob got more than his messages: {bob.received.get()}")
        print("python signalrcore client: all checks passed")
    finally:
        for client in clients:
            try:
                client.hub.stop()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
