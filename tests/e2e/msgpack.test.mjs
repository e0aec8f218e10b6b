// The MessagePack hub protocol end to end with the unmodified @microsoft/signalr client and
// @microsoft/signalr-protocol-msgpack, over WebSockets and long polling, through the app's
// negotiate: broadcast, user and group sends arrive with exact payloads, a group mixes JSON and
// MessagePack clients, and the topic methods (upstream calls the app decodes from MessagePack)
// answer with MessagePack completions.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { startApp } from "./app-support.mjs";
import { sleep, waitFor } from "./support.mjs";

let app;
before(async () => { app = await startApp({ SIGNALR_EASY_AUTH: "true" }); });
after(async () => { await app?.stop(); });

async function open(hub, transport, userId, packed) {
  const received = [];
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${app.base}/api/hubs/${hub}`, { transport, headers: { "x-ms-client-principal-id": userId } })
    .configureLogging(signalR.LogLevel.None);
  if (packed) builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  for (const target of ["news", "direct", "team", "message"]) {
    connection.on(target, (...args) => received.push({ target, args }));
  }
  await connection.start();
  return { connection, received };
}

const payload = ["héllo 😀", { nested: { list: [1, -2, 3.5, null, true, "x"] }, empty: {} }, 9007199254740991];

for (const [name, transport] of Object.entries({
  WebSockets: signalR.HttpTransportType.WebSockets,
  LongPolling: signalR.HttpTransportType.LongPolling,
})) {
  describe(`MessagePack over ${name}`, () => {
    const hub = `pack${name}`;
    const messages = (body) => app.call("POST", `/api/hubs/${hub}/messages`, body);
    const groups = (body) => app.call("POST", `/api/hubs/${hub}/groups`, body);
    let ann;
    let bob;
    before(async () => {
      ann = await open(hub, transport, "ann", true);
      bob = await open(hub, transport, "bob", false);
    });
    after(async () => { await Promise.all([ann?.connection.stop(), bob?.connection.stop()]); });

    test("the client negotiated MessagePack on the requested transport", () => {
      assert.equal(ann.connection.state, signalR.HubConnectionState.Connected);
      assert.equal(ann.connection._protocol.name, "messagepack");
      assert.equal(ann.connection.connection.transport.constructor.name,
        name === "WebSockets" ? "WebSocketTransport" : "LongPollingTransport");
    });

    test("broadcast, user and mixed-group sends arrive with exact payloads", async () => {
      assert.equal((await messages({ target: "news", arguments: payload })).status, 202);
      for (const c of [ann, bob]) await waitFor(() => c.received.some((m) => m.target === "news"), 5000, "broadcast");
      assert.deepEqual(ann.received.filter((m) => m.target === "news"), [{ target: "news", args: payload }]);
      assert.deepEqual(bob.received.filter((m) => m.target === "news"), [{ target: "news", args: payload }]);

      assert.equal((await messages({ target: "direct", arguments: [42, "ann only"], userId: "ann" })).status, 202);
      await waitFor(() => ann.received.some((m) => m.target === "direct"), 5000, "user send");
      assert.deepEqual(ann.received.filter((m) => m.target === "direct"), [{ target: "direct", args: [42, "ann only"] }]);

      for (const c of [ann, bob]) {
        assert.equal((await groups({ action: "add", connectionId: c.connection.connectionId, groupName: "mixed" })).status, 202);
      }
      for (let i = 0; i < 50; i++) {
        assert.equal((await messages({ target: "team", arguments: [i, { i }], groupName: "mixed" })).status, 202);
      }
      const expected = Array.from({ length: 50 }, (_, i) => ({ target: "team", args: [i, { i }] }));
      for (const c of [ann, bob]) {
        await waitFor(() => c.received.filter((m) => m.target === "team").length === 50, 10000, "50 group sends");
        assert.deepEqual(c.received.filter((m) => m.target === "team"), expected);
      }
      await sleep(200);
      assert.deepEqual(bob.received.filter((m) => m.target === "direct"), []);
    });

    test("topic methods reach the app's upstream and answer in MessagePack", async () => {
      assert.equal(await ann.connection.invoke("subscribe", "orders"), "orders");
      assert.equal(await bob.connection.invoke("subscribe", "orders"), "orders");
      assert.equal(await ann.connection.invoke("publishToTopic", "orders", { id: 7, tags: ["a", "é"] }), true);
      for (const c of [ann, bob]) await waitFor(() => c.received.some((m) => m.target === "message"), 5000, "topic message");
      for (const c of [ann, bob]) {
        assert.deepEqual(c.received.filter((m) => m.target === "message"), [{ target: "message", args: ["orders", { id: 7, tags: ["a", "é"] }, "ann"] }]);
      }
      await assert.rejects(ann.connection.invoke("subscribe", 42),
        { message: "subscribe expects (topic); the topic must be a string" });
      assert.equal(ann.connection.state, signalR.HubConnectionState.Connected);
    });
  });
}
