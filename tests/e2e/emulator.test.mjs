// The unmodified @microsoft/signalr client against `handler emulator`, over each transport:
// broadcast, users, groups, connections, excluded, close with reason and automatic reconnect,
// with the messages sent through the emulator's REST API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, HUB, signalR, sleep, startEmulator, waitFor } from "./support.mjs";

const V = "api-version=2022-06-01";
let emu;

before(async () => { emu = await startEmulator(); });
after(async () => { await emu?.stop(); });

const transports = {
  WebSockets: signalR.HttpTransportType.WebSockets,
  ServerSentEvents: signalR.HttpTransportType.ServerSentEvents,
  LongPolling: signalR.HttpTransportType.LongPolling,
};

for (const [name, transport] of Object.entries(transports)) {
  describe(`${name} transport`, () => {
    const open = [];
    const start = async (user) => { const c = await connect(emu, transport, user); open.push(c); return c; };
    after(async () => { await Promise.all(open.map((c) => c.connection.stop())); });

    test("broadcast, user, group, connection and excluded sends arrive exactly", async () => {
      const ann1 = await start(`ann-${name}`);
      const ann2 = await start(`ann-${name}`);
      const bob = await start(`bob-${name}`);
      for (const c of [ann1, ann2, bob]) assert.equal(c.connection.state, signalR.HubConnectionState.Connected);

      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/:send?${V}`, { target: "broadcast", arguments: ["hello", { n: 1 }] }), 202);
      for (const c of [ann1, ann2, bob]) {
        await waitFor(() => c.received.some((m) => m.target === "broadcast"), 5000, "broadcast");
        assert.deepEqual(c.received.filter((m) => m.target === "broadcast"), [{ target: "broadcast", args: ["hello", { n: 1 }] }]);
      }

      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/users/ann-${name}/:send?${V}`, { Target: "direct", Arguments: [42] }), 202);
      await waitFor(() => ann1.received.some((m) => m.target === "direct") && ann2.received.some((m) => m.target === "direct"), 5000, "user send");
      assert.deepEqual(ann1.received.filter((m) => m.target === "direct"), [{ target: "direct", args: [42] }]);
      assert.deepEqual(ann2.received.filter((m) => m.target === "direct"), [{ target: "direct", args: [42] }]);

      const bobId = bob.connection.connectionId;
      assert.ok(bobId);
      assert.equal(await emu.rest("PUT", `/api/hubs/${HUB}/groups/team/connections/${bobId}?${V}`), 200);
      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/groups/team/:send?${V}`, { target: "group", arguments: ["g"] }), 202);
      await waitFor(() => bob.received.some((m) => m.target === "group"), 5000, "group send");
      assert.deepEqual(bob.received.filter((m) => m.target === "group"), [{ target: "group", args: ["g"] }]);
      assert.equal(await emu.rest("DELETE", `/api/hubs/${HUB}/groups/team/connections/${bobId}?${V}`), 200);

      const annId = ann1.connection.connectionId;
      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/connections/${annId}/:send?${V}`, { target: "conn", arguments: [] }), 202);
      await waitFor(() => ann1.received.some((m) => m.target === "conn"), 5000, "connection send");
      assert.deepEqual(ann1.received.filter((m) => m.target === "conn"), [{ target: "conn", args: [] }]);

      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/:send?${V}&excluded=${annId}&excluded=${bobId}`, { target: "after", arguments: ["x"] }), 202);
      await waitFor(() => ann2.received.some((m) => m.target === "after"), 5000, "excluded send");
      assert.deepEqual(ann2.received.filter((m) => m.target === "after"), [{ target: "after", args: ["x"] }]);

      await sleep(300);
      assert.deepEqual(bob.received.filter((m) => m.target === "direct" || m.target === "conn" || m.target === "after"), []);
      assert.deepEqual(ann2.received.filter((m) => m.target === "group" || m.target === "conn"), []);
      assert.deepEqual(ann1.received.filter((m) => m.target === "group" || m.target === "after"), []);
      assert.deepEqual(ann1.received.filter((m) => m.target === "conn"), [{ target: "conn", args: [] }]);
      assert.deepEqual(ann2.received.filter((m) => m.target === "after"), [{ target: "after", args: ["x"] }]);
    });

    test("a REST close with a reason makes the client reconnect automatically", async () => {
      const c = await start(`carol-${name}`);
      const firstId = c.connection.connectionId;
      assert.equal(await emu.rest("DELETE", `/api/hubs/${HUB}/connections/${firstId}?${V}&reason=maintenance`), 200);
      await waitFor(() => c.events.reconnecting.length > 0, 5000, "reconnecting");
      assert.match(c.events.reconnecting[0], /maintenance/);
      await waitFor(() => c.events.reconnected.length > 0, 10000, "reconnected");
      assert.equal(c.connection.state, signalR.HubConnectionState.Connected);
      assert.notEqual(c.events.reconnected[0], firstId);
      assert.equal(await emu.rest("POST", `/api/hubs/${HUB}/users/carol-${name}/:send?${V}`, { target: "after", arguments: ["back"] }), 202);
      await waitFor(() => c.received.some((m) => m.target === "after"), 5000, "message after reconnect");
      assert.deepEqual(c.received.filter((m) => m.target === "after"), [{ target: "after", args: ["back"] }]);
      assert.deepEqual(c.events.closed, []);
    });
  });
}
