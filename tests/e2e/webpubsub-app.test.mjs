// Web PubSub through the *function app* in the local stack (the real `handler` with no connection
// strings, as `cargo run` starts it): the unmodified @azure/web-pubsub-client gets its URL from
// the app's /api/webpubsub/negotiate, connects to the embedded Web PubSub emulator, receives what
// a backend POSTs to the app's /api/webpubsub/actions, chats in a group with the roles negotiate
// gave it, and the emulator's events reach the app's /api/webpubsub/events (announce, broadcast).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebPubSubClient, WebPubSubJsonProtocol } from "@azure/web-pubsub-client";
import { startApp } from "./app-support.mjs";
import { until } from "./webpubsub-support.mjs";

const HUB = "appchat";

describe("Web PubSub through the app in the local stack", () => {
  let app;
  const clients = [];
  before(async () => {
    app = await startApp({
      WEBPUBSUB_EMULATOR_PORT: "0",
      SIGNALR_EASY_AUTH: "true",
      WEBPUBSUB_TOKEN_ROLES: "webpubsub.joinLeaveGroup.room,webpubsub.sendToGroup.room",
      WEBPUBSUB_ANNOUNCE_CONNECTIONS: "true",
      WEBPUBSUB_BROADCAST_EVENTS: "message",
      WEBPUBSUB_CONNECT_GROUPS: "lobby-{userId}",
    });
  });
  after(async () => {
    for (const c of clients) c.client.stop();
    await app?.stop();
  });

  /** Negotiates through the app as `userId` (Easy Auth header) and returns the JSON. */
  const negotiate = async (userId) => {
    const response = await fetch(`${app.base}/api/webpubsub/hubs/${HUB}/negotiate`, {
      method: "POST",
      headers: { "x-ms-client-principal-id": userId },
    });
    const text = await response.text();
    assert.equal(response.status, 200, `negotiate answered ${response.status}: ${text}`);
    return JSON.parse(text);
  };

  /** A started client whose URL comes from the app's negotiate; it records every message. */
  const connect = async (userId, protocol) => {
    const negotiated = [];
    const messages = [];
    const client = new WebPubSubClient(
      { getClientAccessUrl: async () => { const n = await negotiate(userId); negotiated.push(n); return n.url; } },
      {
        ...(protocol ? { protocol } : {}),
        reconnectRetryOptions: { maxRetries: 2, retryDelayInMs: 200 },
        messageRetryOptions: { maxRetries: 0 },
        keepAliveIntervalInMs: 500,
        keepAliveTimeoutInMs: 0,
      },
    );
    client.on("group-message", (e) => messages.push({ from: "group", ...e.message }));
    client.on("server-message", (e) => messages.push({ from: "server", ...e.message }));
    const connected = new Promise((resolve) => client.on("connected", resolve));
    await client.start();
    const { connectionId, userId: connectedAs } = await connected;
    const c = { client, messages, connectionId, connectedAs, negotiated, userId };
    clients.push(c);
    return c;
  };
  const actions = (body) => app.call("POST", `/api/webpubsub/hubs/${HUB}/actions`, body);
  const serverTexts = (c) => c.messages.filter((m) => m.from === "server").map((m) => m.data);

  test("the client negotiates through the app and connects to the embedded emulator", async () => {
    const ann = await connect("ann");
    assert.equal(ann.negotiated.length, 1);
    const { baseUrl, url, accessToken } = ann.negotiated[0];
    assert.match(baseUrl, new RegExp(`^ws://127\\.0\\.0\\.1:\\d+/client/hubs/${HUB}$`));
    assert.ok(url.startsWith(`${baseUrl}?access_token=`), url);
    assert.ok(accessToken);
    assert.ok(ann.connectionId);
    assert.equal(ann.connectedAs, "ann");
    const exists = await app.call("GET", `/api/webpubsub/hubs/${HUB}/users/ann`);
    assert.deepEqual(exists, { status: 200, body: { hub: HUB, exists: true } });
  });

  test("backend actions POSTed to the app reach the client with the exact data", async () => {
    const cal = await connect("cal");
    const sent = await actions([
      { actionName: "sendToAll", data: "plain text for all", dataType: "text" },
      { actionName: "sendToAll", data: JSON.stringify({ n: 1, list: ["a", "b"] }), dataType: "json" },
      { actionName: "sendToUser", userId: "cal", data: "just for cal", dataType: "text" },
      { actionName: "addUserToGroup", userId: "cal", group: "news" },
      { actionName: "sendToGroup", group: "news", data: JSON.stringify({ headline: "hi" }), dataType: "json" },
    ]);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const wanted = (m) => m.from === "server" && m.data !== undefined && !/ (dis)?connected$/.test(m.data);
    await until(() => cal.messages.filter(wanted).length >= 4, "four sends to cal");
    const got = cal.messages.filter(wanted);
    assert.deepEqual(got.map((m) => [m.dataType, m.data]), [
      ["text", "plain text for all"],
      ["json", { n: 1, list: ["a", "b"] }],
      ["text", "just for cal"],
      ["json", { headline: "hi" }],
    ]);
  });

  test("two clients chat in a group with the roles negotiate gave them", async () => {
    const dan = await connect("dan");
    const eve = await connect("eve");
    await dan.client.joinGroup("room");
    await eve.client.joinGroup("room");
    await dan.client.sendToGroup("room", "hi eve", "text", { noEcho: true });
    await eve.client.sendToGroup("room", { reply: "hi dan" }, "json");
    const inRoom = (c) => c.messages.filter((m) => m.from === "group" && m.group === "room");
    await until(() => inRoom(eve).length === 2 && inRoom(dan).length === 1, "both chat messages");
    assert.deepEqual(inRoom(eve).map((m) => [m.fromUserId, m.data]), [["dan", "hi eve"], ["eve", { reply: "hi dan" }]]);
    assert.deepEqual(inRoom(dan).map((m) => [m.fromUserId, m.data]), [["eve", { reply: "hi dan" }]]);
    // Only `room` was granted: another group is refused.
    await assert.rejects(dan.client.joinGroup("other"), (e) => e.errorDetail?.name === "Forbidden");
  });

  test("the app's events handler answers connect, announces connects and disconnects and broadcasts user events", async () => {
    const fay = await connect("fay");
    // The plain JSON subprotocol: a reliable client's connection outlives its socket for the
    // recovery window, so its `disconnected` event would come only after that.
    const gus = await connect("gus", WebPubSubJsonProtocol());
    // `connected` → the app announces it to everyone.
    await until(() => serverTexts(fay).includes("gus connected"), "fay hears that gus connected");
    // `connect` → the app's answer joined each client to its own lobby group.
    const sent = await actions({ actionName: "sendToGroup", group: "lobby-gus", data: "to gus's lobby", dataType: "text" });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    await until(() => serverTexts(gus).includes("to gus's lobby"), "the lobby message");
    assert.ok(!serverTexts(fay).includes("to gus's lobby"), "fay is not in gus's lobby");
    // A user event named in WEBPUBSUB_BROADCAST_EVENTS goes to everyone with its dataType.
    await gus.client.sendEvent("message", { text: "hello all" }, "json");
    const heard = (c) => c.messages.find((m) => m.from === "server" && m.data?.text === "hello all");
    await until(() => heard(fay) && heard(gus), "the broadcast event reaches both");
    assert.equal(heard(fay).dataType, "json");
    assert.deepEqual(heard(fay).data, { text: "hello all" });
    // `disconnected` → announced too.
    gus.client.stop();
    await until(() => serverTexts(fay).includes("gus disconnected"), "fay hears that gus disconnected");
  });
});
