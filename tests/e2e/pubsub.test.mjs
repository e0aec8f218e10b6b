// Topic pub/sub end to end with the unmodified @microsoft/signalr client, over each transport:
// the local stack (`handler` with no connection string = function app + embedded emulator whose
// upstream is the app's /api/upstream). Clients negotiate at the app, connect to the emulator and
// invoke subscribe / unsubscribe / publish / publishToTopic, which reach the app as upstream calls.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as signalR from "@microsoft/signalr";
import { startHandler } from "../shared/process.mjs";
import { sleep, waitFor } from "./support.mjs";

/** Starts `$HANDLER_BIN` (serve) on free ports and reads the app's URL from its banner. */
async function startStack() {
  const env = { ...process.env, PORT: "0", EMULATOR_PORT: "0", AzureSignalRConnectionString: "" };
  for (const name of ["FUNCTIONS_CUSTOMHANDLER_PORT", "SIGNALR_FUNCTION_KEYS", "SIGNALR_PUBSUB_PUBLISHERS", "SIGNALR_PUBSUB_TOPICS", "SIGNALR_PUBSUB_TARGET"]) delete env[name];
  const stack = await startHandler([], {
    env,
    ready: (line) => line.match(/function app:\s+(http:\/\/\S+)\/api\s*$/)?.[1],
    what: "the local stack (printing its app URL)",
  });
  return { url: stack.ready, stop: stack.stop };
}

/** A started connection through the app's negotiate that records every `message` it receives. */
async function connect(stack, transport) {
  const received = [];
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${stack.url}/api`, { transport })
    .configureLogging(signalR.LogLevel.None)
    .build();
  connection.on("message", (...args) => received.push(args));
  await connection.start();
  return { connection, received };
}

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

const transports = {
  WebSockets: signalR.HttpTransportType.WebSockets,
  ServerSentEvents: signalR.HttpTransportType.ServerSentEvents,
  LongPolling: signalR.HttpTransportType.LongPolling,
};

for (const [name, transport] of Object.entries(transports)) {
  describe(`${name} transport`, () => {
    let a;
    let b;
    before(async () => { a = await connect(stack, transport); b = await connect(stack, transport); });
    after(async () => { await Promise.all([a?.connection.stop(), b?.connection.stop()]); });

    test("A subscribes to orders, B publishes to orders and billing: A gets only orders", async () => {
      const bId = b.connection.connectionId;
      assert.ok(bId);
      assert.equal(await a.connection.invoke("subscribe", "orders"), "orders");
      assert.equal(await b.connection.invoke("publishToTopic", "billing", { id: 1 }), true);
      assert.equal(await b.connection.invoke("PublishToTopic", "orders", { id: 2 }), true);
      await waitFor(() => a.received.length > 0, 5000, "the orders message");
      await sleep(300);
      assert.deepEqual(a.received, [["orders", { id: 2 }, bId]]);
      assert.deepEqual(b.received, []);

      assert.equal(await a.connection.invoke("unsubscribe", "orders"), "orders");
      assert.equal(await b.connection.invoke("publishToTopic", "orders", { id: 3 }), true);
      await sleep(500);
      assert.deepEqual(a.received, [["orders", { id: 2 }, bId]]);
      a.received.length = 0;
    });

    test("publish reaches everyone with a null topic", async () => {
      const aId = a.connection.connectionId;
      assert.equal(await a.connection.invoke("publish", "hello"), true);
      for (const c of [a, b]) await waitFor(() => c.received.length > 0, 5000, "the broadcast");
      await sleep(200);
      assert.deepEqual(a.received, [[null, "hello", aId]]);
      assert.deepEqual(b.received, [[null, "hello", aId]]);
      a.received.length = 0;
      b.received.length = 0;
    });

    test("invoke errors arrive as completion errors; sends need no answer", async () => {
      // Fire-and-forget: no completion; a failing one does not break the connection. The
      // emulator calls the upstream in order per connection, so the invokes below follow them.
      await a.connection.send("subscribe", "billing");
      await a.connection.send("subscribe");
      await assert.rejects(a.connection.invoke("publishToTopic", "orders"),
        { message: "publishToTopic expects (topic, payload); got 1 argument" });
      await assert.rejects(a.connection.invoke("subscribe", 42),
        { message: "subscribe expects (topic); the topic must be a string" });
      await assert.rejects(a.connection.invoke("nope"),
        { message: 'unknown method "nope": this app offers subscribe, unsubscribe, publish and publishToTopic' });
      assert.equal(await b.connection.invoke("publishToTopic", "billing", "late"), true);
      await waitFor(() => a.received.length > 0, 5000, "the billing message");
      assert.deepEqual(a.received, [["billing", "late", b.connection.connectionId]]);
      assert.equal(a.connection.state, signalR.HubConnectionState.Connected);
    });
  });
}
