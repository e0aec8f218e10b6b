// Group streams (docs/webpubsub.md §9) with the unmodified @azure/web-pubsub-client 1.1.0
// against `handler emulator`: openGroupStream / onGroupStream with 1 000 chunks read in order by
// two members, a publisher whose socket is cut mid-stream (its reliable connection recovers and
// replays: nothing lost, nothing twice), a stream ended with the user's error, and a stream left
// idle that the emulator closes. Then the same 1 000 chunks with clients whose URLs come from the
// app's Web PubSub negotiate in the local stack (app + embedded emulators, as `cargo run`).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { WebPubSubJsonReliableProtocol } from "@azure/web-pubsub-client";
import { startApp } from "./app-support.mjs";
import { HUB, appNegotiate, collect, finished, startClient, startProxy, startWebPubSub, until } from "./webpubsub-support.mjs";

const ROLES = ["webpubsub.sendToGroup.live", "webpubsub.joinLeaveGroup.live"];

/** Opens a stream to group `live`, writes 1 000 text chunks in order and ends it. */
async function streamThousand(client) {
  const writer = await client.openGroupStream("live");
  const sent = Array.from({ length: 1000 }, (_, i) => `chunk ${i}`);
  for (const [i, chunk] of sent.entries()) {
    await writer.write(chunk, "text");
    // The 1.1.0 reliable client acknowledges about once a second, and a reliable connection
    // is dropped with 1000 messages unacknowledged (docs/webpubsub.md §8): at most ~500/s.
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
  }
  await writer.end();
  return { writer, sent };
}

describe("Web PubSub group streams with the official client", () => {
  let wps;
  const clients = [];
  const client = async (...args) => {
    const c = await startClient(...args);
    clients.push(c);
    return c;
  };
  const members = async () => {
    const a = await client(wps.service, "a", ROLES);
    const b = await client(wps.service, "b", ROLES, WebPubSubJsonReliableProtocol());
    await a.client.joinGroup("live");
    await b.client.joinGroup("live");
    return [collect(a.client), collect(b.client)];
  };
  before(async () => { wps = await startWebPubSub(); });
  after(async () => {
    for (const c of clients) c.client.stop();
    await wps?.stop();
  });

  test("1 000 chunks reach two members in order", async () => {
    const [a, b] = await members();
    const pub = await client(wps.service, "pub", ROLES);
    const { writer, sent } = await streamThousand(pub.client);
    for (const streams of [a, b]) {
      const seen = await finished(streams, writer.streamId, "a member reads the stream to its end");
      assert.equal(seen.error, undefined);
      assert.deepEqual(seen.chunks, sent);
    }
  });

  test("a stream ended with the user's error fails at the members with it", async () => {
    const [a] = await members();
    const pub = await client(wps.service, "pub", ROLES);
    const writer = await pub.client.openGroupStream("live");
    await writer.write({ step: 1 }, "json");
    await writer.abort({ message: "disk full", userErrorCode: "E42" });
    const seen = await finished(a, writer.streamId, "the member hears of the error");
    assert.deepEqual(seen.chunks, [{ step: 1 }]);
    assert.equal(seen.error.name, "UserError");
    assert.equal(seen.error.message, "disk full");
    assert.equal(seen.error.userErrorCode, "E42");
  });

  test("a stream left idle is closed by the emulator on both sides", async () => {
    const [a] = await members();
    const pub = await client(wps.service, "pub", ROLES);
    const writer = await pub.client.openGroupStream("live", { idleTimeoutInMs: 400 });
    const errors = [];
    writer.onError((e) => errors.push(e));
    await writer.write("only", "text");
    const seen = await finished(a, writer.streamId, "the member's stream times out", 5000);
    assert.deepEqual(seen.chunks, ["only"]);
    assert.equal(seen.error.name, "IdleTimeout");
    await until(() => errors.length === 1, "the publisher hears of the idle timeout");
    assert.equal(errors[0].name, "IdleTimeout");
    await assert.rejects(writer.write("too late", "text"));
  });

  test("a publisher whose socket is cut mid-stream recovers: nothing lost, nothing twice", async () => {
    const [a, b] = await members();
    const proxy = await startProxy(Number(new URL(wps.endpoint).port));
    try {
      // URLs minted for the proxy's port, so the token's audience is what the client dials.
      const viaProxy = new WebPubSubServiceClient(`Endpoint=http://127.0.0.1:${proxy.port};AccessKey=${wps.key};Version=1.0;`, HUB, { allowInsecureConnection: true });
      const pub = await client(viaProxy, "pub", ROLES, WebPubSubJsonReliableProtocol());
      const writer = await pub.client.openGroupStream("live");
      const sent = Array.from({ length: 400 }, (_, i) => `part ${i}`);
      const writes = [];
      for (const [i, chunk] of sent.entries()) {
        // Not awaited one by one: fragments are in flight, unacknowledged, when the socket goes.
        writes.push(writer.write(chunk, "text"));
        if (i === 200) proxy.cut();
        if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(writes);
      await writer.end();
      for (const streams of [a, b]) {
        const seen = await finished(streams, writer.streamId, "a member reads the recovered stream to its end");
        assert.equal(seen.error, undefined);
        assert.deepEqual(seen.chunks, sent);
      }
      assert.equal(pub.events.connected.length, 1, "recovered, not reconnected as a new connection");
      pub.client.stop();
      await until(() => pub.events.stopped === 1, "the client stops");
    } finally {
      proxy.close();
    }
  });
});

describe("Web PubSub group streams through the app's negotiate (the local stack)", () => {
  let app;
  const clients = [];
  before(async () => {
    // The local stack's tokens may join and send to any group (no WEBPUBSUB_TOKEN_ROLES).
    app = await startApp({ SIGNALR_EASY_AUTH: "true" });
  });
  after(async () => {
    for (const c of clients) c.client.stop();
    await app?.stop();
  });

  test("1 000 chunks reach two members in order", async () => {
    const service = appNegotiate(app, "streams");
    const client = async (...args) => {
      const c = await startClient(service, ...args);
      clients.push(c);
      return c;
    };
    const a = await client("a");
    const b = await client("b", [], WebPubSubJsonReliableProtocol());
    assert.equal(b.events.connected[0].userId, "b", "the user the app's negotiate gave");
    await a.client.joinGroup("live");
    await b.client.joinGroup("live");
    const members = [collect(a.client), collect(b.client)];
    const pub = await client("pub");
    const { writer, sent } = await streamThousand(pub.client);
    for (const streams of members) {
      const seen = await finished(streams, writer.streamId, "a member reads the stream to its end");
      assert.equal(seen.error, undefined);
      assert.deepEqual(seen.chunks, sent);
    }
  });
});
