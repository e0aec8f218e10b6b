// The unmodified @microsoft/signalr client pointed at the *function app*: it negotiates through
// /api/negotiate (identity from Easy Auth headers), is redirected to the embedded emulator, and
// receives what backend services POST to the app's messages and groups routes — on each transport.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { signalR, sleep, waitFor } from "./support.mjs";
import { connectViaApp, startApp } from "./app-support.mjs";

const TARGETS = ["broadcast", "direct", "group", "conn", "after"];
let app;

before(async () => { app = await startApp({ SIGNALR_EASY_AUTH: "true" }); });
after(async () => { await app?.stop(); });

const transports = {
  WebSockets: signalR.HttpTransportType.WebSockets,
  ServerSentEvents: signalR.HttpTransportType.ServerSentEvents,
  LongPolling: signalR.HttpTransportType.LongPolling,
};

for (const [name, transport] of Object.entries(transports)) {
  describe(`through the app over ${name}`, () => {
    const hub = `app${name}`;
    const open = [];
    const start = async (userId) => {
      const c = await connectViaApp(app, transport, { hub, userId, targets: TARGETS });
      open.push(c);
      return c;
    };
    const messages = (body) => app.call("POST", `/api/hubs/${hub}/messages`, body);
    const groups = (body) => app.call("POST", `/api/hubs/${hub}/groups`, body);
    after(async () => { await Promise.all(open.map((c) => c.connection.stop())); });

    test("broadcast, user, group, connection and excluded sends arrive exactly", async () => {
      const ann1 = await start("ann");
      const ann2 = await start("ann");
      const bob = await start("bob");
      for (const c of [ann1, ann2, bob]) assert.equal(c.connection.state, signalR.HubConnectionState.Connected);

      assert.deepEqual(await messages({ target: "broadcast", arguments: ["hello", { n: 1 }] }), { status: 202, body: { hub: hub.toLowerCase(), sent: 1 } });
      for (const c of [ann1, ann2, bob]) {
        await waitFor(() => c.received.some((m) => m.target === "broadcast"), 5000, "broadcast");
        assert.deepEqual(c.received.filter((m) => m.target === "broadcast"), [{ target: "broadcast", args: ["hello", { n: 1 }] }]);
      }

      // Both connections of ann receive a user send; bob does not.
      assert.equal((await messages({ Target: "direct", Arguments: [42], UserId: "ann" })).status, 202);
      await waitFor(() => ann1.received.some((m) => m.target === "direct") && ann2.received.some((m) => m.target === "direct"), 5000, "user send");
      assert.deepEqual(ann1.received.filter((m) => m.target === "direct"), [{ target: "direct", args: [42] }]);
      assert.deepEqual(ann2.received.filter((m) => m.target === "direct"), [{ target: "direct", args: [42] }]);

      // Group membership through the app's groups route: bob's connection joins, receives, leaves.
      const bobId = bob.connection.connectionId;
      assert.equal((await groups({ action: "add", connectionId: bobId, groupName: "team" })).status, 202);
      assert.equal((await messages({ target: "group", arguments: ["g1"], groupName: "team" })).status, 202);
      await waitFor(() => bob.received.some((m) => m.target === "group"), 5000, "group send");
      assert.deepEqual(bob.received.filter((m) => m.target === "group"), [{ target: "group", args: ["g1"] }]);
      assert.equal((await groups({ action: "remove", connectionId: bobId, groupName: "team" })).status, 202);
      assert.equal((await messages({ target: "group", arguments: ["g2"], groupName: "team" })).status, 202);

      // A user joined to a group receives through every connection.
      assert.equal((await groups({ action: "add", userId: "ann", groupName: "anns" })).status, 202);
      assert.equal((await messages({ target: "group", arguments: ["for anns"], groupName: "anns" })).status, 202);
      await waitFor(() => ann1.received.some((m) => m.target === "group") && ann2.received.some((m) => m.target === "group"), 5000, "user group send");
      for (const c of [ann1, ann2]) assert.deepEqual(c.received.filter((m) => m.target === "group"), [{ target: "group", args: ["for anns"] }]);

      const annId = ann1.connection.connectionId;
      assert.equal((await messages({ target: "conn", arguments: [], connectionId: annId })).status, 202);
      await waitFor(() => ann1.received.some((m) => m.target === "conn"), 5000, "connection send");
      assert.deepEqual(ann1.received.filter((m) => m.target === "conn"), [{ target: "conn", args: [] }]);

      assert.equal((await messages({ target: "after", arguments: ["x"], excluded: [annId, bobId] })).status, 202);
      await waitFor(() => ann2.received.some((m) => m.target === "after"), 5000, "excluded send");
      assert.deepEqual(ann2.received.filter((m) => m.target === "after"), [{ target: "after", args: ["x"] }]);

      await sleep(300);
      assert.deepEqual(bob.received.filter((m) => m.target === "group"), [{ target: "group", args: ["g1"] }]);
      assert.deepEqual(bob.received.filter((m) => ["direct", "conn", "after"].includes(m.target)), []);
      for (const c of [ann1, ann2]) assert.deepEqual(c.received.filter((m) => m.target === "group"), [{ target: "group", args: ["for anns"] }]);
      assert.deepEqual(ann1.received.filter((m) => m.target === "conn"), [{ target: "conn", args: [] }]);
      assert.deepEqual(ann2.received.filter((m) => m.target === "conn"), []);
      assert.deepEqual(ann2.received.filter((m) => m.target === "after"), [{ target: "after", args: ["x"] }]);
      assert.deepEqual(ann1.received.filter((m) => m.target === "after"), []);
    });

    test("a close with a reason through the app makes the client reconnect through the app", async () => {
      const c = await start("carol");
      const firstId = c.connection.connectionId;
      const exists = await app.call("GET", `/api/hubs/${hub}/connections/${firstId}`);
      assert.deepEqual(exists, { status: 200, body: { hub: hub.toLowerCase(), exists: true } });
      const closed = await app.call("DELETE", `/api/hubs/${hub}/connections/${firstId}?reason=maintenance`);
      assert.equal(closed.status, 200);
      await waitFor(() => c.events.reconnecting.length > 0, 5000, "reconnecting");
      assert.match(c.events.reconnecting[0], /maintenance/);
      await waitFor(() => c.events.reconnected.length > 0, 10000, "reconnected");
      assert.equal(c.connection.state, signalR.HubConnectionState.Connected);
      assert.notEqual(c.events.reconnected[0], firstId);
      assert.equal((await messages({ target: "after", arguments: ["back"], userId: "carol" })).status, 202);
      await waitFor(() => c.received.some((m) => m.target === "after"), 5000, "message after reconnect");
      assert.deepEqual(c.received.filter((m) => m.target === "after"), [{ target: "after", args: ["back"] }]);
      assert.deepEqual(c.events.closed, []);
      assert.deepEqual((await app.call("GET", `/api/hubs/${hub}/users/carol`)).body.exists, true);
    });
  });
}
