// Group streams (docs/webpubsub.md §9) with the unmodified @azure/web-pubsub-client 1.1.0
// against `handler emulator`: openGroupStream / onGroupStream with 1 000 chunks read in order by
// two members, a publisher whose socket is cut mid-stream (its reliable connection recovers and
// replays: nothing lost, nothing twice), a stream ended with the user's error, and a stream left
// idle that the emulator closes.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { WebPubSubJsonReliableProtocol } from "@azure/web-pubsub-client";
import { HUB, startClient, startProxy, startWebPubSub, until } from "./webpubsub-support.mjs";

const ROLES = ["webpubsub.sendToGroup.live", "webpubsub.joinLeaveGroup.live"];

/** Records every stream `client` sees in group `live`: its chunks, and how it ended. */
function collect(client) {
  const streams = new Map();
  client.onGroupStream(async (stream) => {
    const seen = { chunks: [], done: false, error: undefined };
    streams.set(stream.streamId, seen);
    try {
      for await (const message of stream) seen.chunks.push(message.data);
      seen.done = true;
    } catch (error) {
      seen.error = error;
    }
  }, { groupNames: ["live"] });
  return streams;
}

/** Waits until `streams` has `id` finished (read to its end or failed). */
async function finished(streams, id, why, ms = 20000) {
  await until(() => streams.get(id)?.done || streams.get(id)?.error != null, why, ms)
    .catch((e) => { throw new Error(`${e.message} (${streams.get(id)?.chunks.length ?? "no"} chunks read)`); });
  return streams.get(id);
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
    const writer = await pub.client.openGroupStream("live");
    const sent = Array.from({ length: 1000 }, (_, i) => `chunk ${i}`);
    for (const [i, chunk] of sent.entries()) {
      await writer.write(chunk, "text");
      // The 1.1.0 reliable client acknowledges about once a second, and a reliable connection
      // is dropped with 1000 messages unacknowledged (docs/webpubsub.md §8): at most ~500/s.
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
    }
    await writer.end();
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
