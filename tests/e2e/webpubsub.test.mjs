// Web PubSub end to end with the unmodified official clients against `handler emulator`: the
// server SDK @azure/web-pubsub (pointed at the emulator's connection string) mints client URLs
// and makes the REST calls; @azure/web-pubsub-client connects with them. Seed 004's scenarios.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { SendMessageError, WebPubSubJsonReliableProtocol } from "@azure/web-pubsub-client";
import { HUB, startClient, startProxy, startWebPubSub, until } from "./webpubsub-support.mjs";

const GROUP1_ROLES = ["webpubsub.sendToGroup.group1", "webpubsub.joinLeaveGroup.group1"];

describe("Web PubSub emulator with the official SDKs", () => {
  let wps;
  const clients = [];
  const client = async (...args) => {
    const c = await startClient(...args);
    clients.push(c);
    return c;
  };
  before(async () => { wps = await startWebPubSub(); });
  after(async () => {
    for (const c of clients) c.client.stop();
    await wps?.stop();
  });

  test("two users talk in group1 with its roles; a user without them is refused", async () => {
    const ann = await client(wps.service, "ann", GROUP1_ROLES);
    const bob = await client(wps.service, "bob", GROUP1_ROLES);
    await ann.client.joinGroup("group1");
    await bob.client.joinGroup("group1");
    await ann.client.sendToGroup("group1", "hi bob", "text", { noEcho: true });
    await bob.client.sendToGroup("group1", { reply: "hi ann" }, "json");
    await until(() => bob.messages.length === 2 && ann.messages.length === 1, "both messages");
    assert.equal(bob.messages[0].from, "group");
    assert.equal(bob.messages[0].data, "hi bob");
    assert.equal(bob.messages[0].fromUserId, "ann");
    assert.equal(bob.messages[0].group, "group1");
    assert.deepEqual(ann.messages[0].data, { reply: "hi ann" });
    assert.ok(!ann.messages.some((m) => m.data === "hi bob"), "noEcho keeps the sender out");

    const eve = await client(wps.service, "eve");
    await assert.rejects(eve.client.joinGroup("group1"), (e) => e instanceof SendMessageError && e.errorDetail?.name === "Forbidden");
    await assert.rejects(eve.client.sendToGroup("group1", "x", "text"), (e) => e.errorDetail?.name === "Forbidden");
  });

  test("the server sends to a connection, a user and everyone", async () => {
    const ann = await client(wps.service, "ann2");
    const bob = await client(wps.service, "bob2");
    await wps.service.sendToConnection(bob.connectionId, { to: "bob's connection" });
    await wps.service.sendToUser("ann2", "to ann", { contentType: "text/plain" });
    await wps.service.sendToAll(new Uint8Array([1, 2, 3]).buffer);
    await until(() => ann.messages.length >= 2 && bob.messages.length >= 2, "three sends");
    assert.deepEqual(bob.messages[0].data, { to: "bob's connection" });
    assert.equal(bob.messages[0].from, "server");
    assert.equal(ann.messages[0].data, "to ann");
    assert.equal(ann.messages[0].dataType, "text");
    assert.deepEqual(new Uint8Array(ann.messages[1].data), new Uint8Array([1, 2, 3]));
    assert.equal(await wps.service.userExists("ann2"), true);
    assert.equal(await wps.service.connectionExists(bob.connectionId), true);
    assert.equal(await wps.service.connectionExists("nobody"), false);
  });

  test("users are added to and removed from groups; a filter picks recipients", async () => {
    const cat = await client(wps.service, "cat");
    const dan = await client(wps.service, "dan");
    const g = wps.service.group("g2");
    await g.addUser("cat");
    assert.equal(await wps.service.groupExists("g2"), true);
    await g.sendToAll("to g2", { contentType: "text/plain" });
    await until(() => cat.messages.length === 1, "the group message");
    await g.removeUser("cat");
    assert.equal(await wps.service.groupExists("g2"), false);
    await wps.service.sendToAll("filtered", { contentType: "text/plain", filter: "userId eq 'dan'" });
    await until(() => dan.messages.length === 1, "the filtered message");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(cat.messages.length, 1);
    await assert.rejects(wps.service.sendToAll("x", { contentType: "text/plain", filter: "userId eq" }), (e) => e.statusCode === 400);
  });

  test("runtime grants let a user join a group", async () => {
    const fay = await client(wps.service, "fay");
    await assert.rejects(fay.client.joinGroup("vip"), (e) => e.errorDetail?.name === "Forbidden");
    await wps.service.grantPermission(fay.connectionId, "joinLeaveGroup", { targetName: "vip" });
    assert.equal(await wps.service.hasPermission(fay.connectionId, "joinLeaveGroup", { targetName: "vip" }), true);
    await fay.client.joinGroup("vip");
    const members = [];
    for await (const m of await wps.service.group("vip").listConnections()) members.push(m);
    assert.deepEqual(members.map((m) => m.userId), ["fay"]);
  });

  test("a user's connections are closed", async () => {
    const gus = await client(wps.service, "gus");
    await wps.service.closeUserConnections("gus", { reason: "bye" });
    await until(() => gus.events.disconnected.length > 0, "the disconnected event");
    assert.equal(gus.events.disconnected[0].message.message, "bye");
    assert.equal(await wps.service.connectionExists(gus.connectionId), false);
    // The client reconnects on its own, as a new connection.
    await until(() => gus.events.connected.length === 2, "the automatic reconnect");
  });

  test("a reliable client recovers after its socket is dropped without losing a message", async () => {
    const proxy = await startProxy(Number(new URL(wps.endpoint).port));
    try {
      // URLs minted for the proxy's port, so the token's audience is what the client dials.
      const viaProxy = new WebPubSubServiceClient(`Endpoint=http://127.0.0.1:${proxy.port};AccessKey=${wps.key};Version=1.0;`, HUB, { allowInsecureConnection: true });
      const hal = await client(viaProxy, "hal", [], WebPubSubJsonReliableProtocol());
      await wps.service.sendToUser("hal", { n: 1 });
      await until(() => hal.messages.length === 1, "the first message");
      proxy.cut();
      await wps.service.sendToUser("hal", { n: 2 });
      await wps.service.sendToUser("hal", { n: 3 });
      await until(() => hal.messages.length === 3, "the messages sent while the socket was down", 10000);
      await wps.service.sendToUser("hal", { n: 4 });
      await until(() => hal.messages.length === 4, "a message after recovery");
      assert.deepEqual(hal.messages.map((m) => m.data.n), [1, 2, 3, 4]);
      assert.equal(hal.events.connected.length, 1, "recovered, not reconnected as a new connection");
      assert.equal(hal.events.disconnected.length, 0);
      // Stopped before the proxy goes, or it would spend 30 s trying to recover.
      hal.client.stop();
      await until(() => hal.events.stopped === 1, "the client stops");
    } finally {
      proxy.close();
    }
  });
});

describe("Web PubSub event handler with the official SDKs", () => {
  let wps;
  let handler;
  const seen = [];
  const clients = [];
  before(async () => {
    // The app side: validates abuse protection, assigns roles at connect, announces connects and
    // disconnects, and broadcasts the `broadcast` user event to everyone.
    let service;
    handler = createServer(async (req, res) => {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const body = Buffer.concat(chunks).toString();
      if (req.method === "OPTIONS") {
        seen.push("OPTIONS");
        res.writeHead(200, { "WebHook-Allowed-Origin": "*" }).end();
        return;
      }
      const type = req.headers["ce-type"];
      seen.push(type);
      const user = req.headers["ce-userid"];
      if (type === "azure.webpubsub.sys.connect") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ roles: ["webpubsub.joinLeaveGroup"], groups: ["lobby"] }));
      } else if (type === "azure.webpubsub.sys.connected") {
        await service.sendToAll(`${user} joined`, { contentType: "text/plain" });
        res.writeHead(204).end();
      } else if (type === "azure.webpubsub.sys.disconnected") {
        // Also sent while the emulator stops, when nobody is left to hear it.
        await service.sendToAll(`${user} left`, { contentType: "text/plain" }).catch(() => {});
        res.writeHead(204).end();
      } else if (type === "azure.webpubsub.user.broadcast") {
        await service.sendToAll(body, { contentType: "text/plain" });
        res.writeHead(200, { "content-type": "text/plain" }).end("sent");
      } else {
        res.writeHead(400).end("unexpected event");
      }
    });
    await new Promise((resolve) => handler.listen(0, "127.0.0.1", resolve));
    wps = await startWebPubSub(["--webpubsub-event-handler", `http://127.0.0.1:${handler.address().port}/eventhandler/{event}`]);
    service = wps.service;
  });
  after(async () => {
    for (const c of clients) c.client.stop();
    await wps?.stop();
    handler?.close();
  });

  test("the handler broadcasts a user event to all and announces connects and disconnects", async () => {
    const ivy = await startClient(wps.service, "ivy");
    clients.push(ivy);
    const jon = await startClient(wps.service, "jon");
    clients.push(jon);
    assert.equal(seen[0], "OPTIONS", "abuse protection comes first");
    await until(() => ivy.messages.some((m) => m.data === "jon joined"), "ivy hears that jon joined");
    await jon.client.sendEvent("broadcast", "hello everyone", "text");
    await until(() => ivy.messages.some((m) => m.data === "hello everyone"), "ivy gets the broadcast");
    await until(() => jon.messages.some((m) => m.data === "sent"), "jon gets the handler's answer");
    await jon.client.joinGroup("anything"); // the role came from the connect handler
    assert.equal(await wps.service.groupExists("lobby"), true, "groups from the connect handler");
    jon.client.stop();
    await until(() => ivy.messages.some((m) => m.data === "jon left"), "ivy hears that jon left");
  });
});
