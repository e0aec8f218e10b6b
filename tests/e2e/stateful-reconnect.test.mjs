// Stateful reconnect with the unmodified @microsoft/signalr client (`withStatefulReconnect()`),
// JSON and MessagePack, negotiating through the app: a TCP proxy between the client and the
// emulator (the connection string's ClientEndpoint) resets the client's socket twice while
// 1 200 messages go through the app's /api/messages to a group. The client reconnects to the
// same connection each time; every message arrives once and in order, the group membership and
// the user id stay, and the app hears `connected` once and `disconnected` only when the client
// stops.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect as tcpConnect, createServer } from "node:net";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { freePort, startApp, startHandler } from "../shared/process.mjs";
import { sleep, waitFor } from "./support.mjs";

const TOTAL = 1200;
const BATCH = 50;

/** A TCP proxy to `port` that counts WebSocket upgrades and can reset every connection. */
async function startProxy(port) {
  const sockets = new Set();
  let upgrades = 0;
  const server = createServer((client) => {
    const service = tcpConnect(port, "127.0.0.1");
    sockets.add(client).add(service);
    client.once("data", (chunk) => {
      if (/\r\nupgrade: *websocket\r\n/i.test(chunk.toString("latin1"))) upgrades++;
    });
    client.pipe(service);
    service.pipe(client);
    const drop = () => {
      for (const socket of [client, service]) {
        socket.destroy();
        sockets.delete(socket);
      }
    };
    for (const socket of [client, service]) socket.on("error", drop).on("close", drop);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    get upgrades() { return upgrades; },
    /** Resets both sides of every connection, as a broken network does (no Close frame). */
    cut() {
      for (const socket of sockets) socket.resetAndDestroy();
      sockets.clear();
    },
    close() {
      this.cut();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** The app's forward webhook: records every event it is sent. */
async function startHook() {
  const events = [];
  const server = createHttpServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => { body += chunk; });
    request.on("end", () => {
      events.push(JSON.parse(body));
      response.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/events`, events, close: () => server.close() };
}

let emulator;
let proxy;
let hook;
let app;
// With a connection string the app's function routes need a key, as under the host.
const CODE = randomBytes(16).toString("hex");

before(async () => {
  const key = randomBytes(24).toString("hex");
  const emulatorPort = await freePort();
  proxy = await startProxy(emulatorPort);
  hook = await startHook();
  app = await startApp({
    AzureSignalRConnectionString:
      `Endpoint=http://127.0.0.1;Port=${emulatorPort};AccessKey=${key};ClientEndpoint=http://127.0.0.1:${proxy.port};Version=1.0;`,
    SIGNALR_EASY_AUTH: "true",
    SIGNALR_FUNCTION_KEYS: CODE,
    SIGNALR_UPSTREAM_FORWARD_URL: hook.url,
  });
  emulator = await startHandler(
    ["emulator", "--port", String(emulatorPort), "--webpubsub-port", "0", "--upstream", `${app.base}/api/upstream?code=${CODE}`],
    { env: { ...process.env, EMULATOR_ACCESS_KEY: key }, ready: (line) => line.startsWith("Endpoint="), what: "the emulator" },
  );
});

after(async () => {
  await app?.stop();
  await emulator?.stop();
  await proxy?.close();
  hook?.close();
});

for (const [name, protocol] of [["JSON", undefined], ["MessagePack", new MessagePackHubProtocol()]]) {
  describe(`stateful reconnect with ${name}`, () => {
    const hub = `resume${name}`;
    const messages = (body) => app.call("POST", `/api/hubs/${hub}/messages?code=${CODE}`, body);

    test(`a socket reset twice mid-stream loses none of ${TOTAL} messages and repeats none`, async () => {
      const received = [];
      const checks = [];
      const closed = [];
      let builder = new signalR.HubConnectionBuilder()
        .withUrl(`${app.base}/api/hubs/${hub}`, {
          transport: signalR.HttpTransportType.WebSockets,
          headers: { "x-ms-client-principal-id": "ann" },
        })
        .withStatefulReconnect()
        .configureLogging(signalR.LogLevel.None);
      if (protocol) builder = builder.withHubProtocol(protocol);
      const connection = builder.build();
      connection.on("n", (n) => received.push(n));
      connection.on("check", (what) => checks.push(what));
      connection.onclose((error) => closed.push(error?.message ?? ""));
      await connection.start();
      assert.equal(connection.connection.features.reconnect, true, "stateful reconnect was negotiated");
      const id = connection.connectionId;
      const upgrades = proxy.upgrades;
      const join = { action: "add", connectionId: id, groupName: "team" };
      assert.equal((await app.call("POST", `/api/hubs/${hub}/groups?code=${CODE}`, join)).status, 202);

      const sending = (async () => {
        for (let start = 0; start < TOTAL; start += BATCH) {
          const batch = Array.from({ length: BATCH }, (_, i) => ({ target: "n", arguments: [start + i], groupName: "team" }));
          assert.equal((await messages(batch)).status, 202);
        }
      })();
      await waitFor(() => received.length >= 300, 20000, "300 messages");
      assert.ok(received.length < TOTAL, "the first reset is mid-stream");
      proxy.cut();
      await waitFor(() => received.length >= 700, 20000, "700 messages");
      proxy.cut();
      await sending;
      await waitFor(() => received.length >= TOTAL, 30000, `${TOTAL} messages`);
      // A repeat would come with a replay: give the client's Ack timer (1 s) and a replay time.
      await sleep(1500);
      assert.deepEqual(received, Array.from({ length: TOTAL }, (_, i) => i), "each message once, in order");
      assert.deepEqual(closed, []);
      assert.equal(connection.state, signalR.HubConnectionState.Connected);
      assert.equal(connection.connectionId, id, "the same connection");
      assert.ok(proxy.upgrades - upgrades >= 2, `the client opened a new socket after each reset (${proxy.upgrades - upgrades})`);

      // Its group and its user still reach it.
      assert.equal((await messages({ target: "check", arguments: ["group"], groupName: "team" })).status, 202);
      assert.equal((await messages({ target: "check", arguments: ["user"], userId: "ann" })).status, 202);
      await waitFor(() => checks.length === 2, 5000, "the group and user sends");
      assert.deepEqual(checks, ["group", "user"]);

      // The app heard of one connection, of ann, until the client stopped.
      const heard = () => hook.events.filter((e) => e.connectionId === id);
      assert.deepEqual(heard().map((e) => [e.event, e.userId]), [["connected", "ann"]]);
      await connection.stop();
      await waitFor(() => heard().length === 2, 10000, "disconnected");
      assert.deepEqual(heard().map((e) => e.event), ["connected", "disconnected"]);
    });
  });
}
