// Helpers of the Web PubSub e2e tests: start the real `handler emulator` with its Web PubSub
// listener on a free port, read `WebPubSubConnectionString=…` from its stdout, and build
// unmodified @azure/web-pubsub-client clients whose URLs the unmodified @azure/web-pubsub server
// SDK mints.
import { createServer } from "node:net";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { WebPubSubClient, WebPubSubJsonProtocol } from "@azure/web-pubsub-client";
import { startHandler } from "../shared/process.mjs";

export const HUB = "chat";

/** Starts `$HANDLER_BIN emulator --port 0 --webpubsub-port 0 [extra…]` (extra may name the port). */
export async function startWebPubSub(extra = []) {
  const prefix = "WebPubSubConnectionString=";
  const port = extra.includes("--webpubsub-port") ? [] : ["--webpubsub-port", "0"];
  const emulator = await startHandler(["emulator", "--port", "0", ...port, ...extra], {
    ready: (line) => line.startsWith(prefix) && line.slice(prefix.length),
    what: "the emulator (printing its Web PubSub connection string)",
  });
  const connectionString = emulator.ready;
  const endpoint = /Endpoint=([^;]+)/.exec(connectionString)[1];
  const key = /AccessKey=([^;]+)/.exec(connectionString)[1];
  return {
    connectionString,
    endpoint,
    key,
    // The SDK refuses plain http unless told (the emulator is local and has no TLS).
    service: new WebPubSubServiceClient(connectionString, HUB, { allowInsecureConnection: true }),
    stop: emulator.stop,
  };
}

/**
 * A started client whose URL `service` mints for `userId` with `roles`; it records every
 * group and server message and its connected/disconnected events.
 */
export async function startClient(service, userId, roles = [], protocol = WebPubSubJsonProtocol()) {
  const messages = [];
  const events = { connected: [], disconnected: [], stopped: 0 };
  const client = new WebPubSubClient(
    { getClientAccessUrl: async () => (await service.getClientAccessToken({ userId, roles })).url },
    {
      protocol,
      reconnectRetryOptions: { maxRetries: 2, retryDelayInMs: 200 },
      messageRetryOptions: { maxRetries: 0 },
      // The client's keep-alive loops sleep a whole interval after stop(), which would keep Node
      // running for 20 s after the tests; short intervals let it exit (and exercise pings).
      keepAliveIntervalInMs: 500,
      keepAliveTimeoutInMs: 0,
    },
  );
  client.on("group-message", (e) => messages.push({ from: "group", ...e.message }));
  client.on("server-message", (e) => messages.push({ from: "server", ...e.message }));
  client.on("connected", (e) => events.connected.push(e));
  client.on("disconnected", (e) => events.disconnected.push(e));
  client.on("stopped", () => { events.stopped += 1; });
  const connected = new Promise((resolve) => client.on("connected", resolve));
  await client.start();
  const { connectionId } = await connected;
  return { client, messages, events, connectionId, userId };
}

/** Records every stream `client` sees in group `live`: its chunks, and how it ended. */
export function collect(client) {
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
export async function finished(streams, id, why, ms = 20000) {
  await until(() => streams.get(id)?.done || streams.get(id)?.error != null, why, ms)
    .catch((e) => { throw new Error(`${e.message} (${streams.get(id)?.chunks.length ?? "no"} chunks read)`); });
  return streams.get(id);
}

/**
 * Stands in for the server SDK in `startClient`: URLs from the app's Web PubSub negotiate for
 * `hub`, as Easy Auth user `userId` (the app's settings give the roles, so `roles` is unused).
 */
export function appNegotiate(app, hub) {
  return {
    async getClientAccessToken({ userId }) {
      const response = await fetch(`${app.base}/api/webpubsub/hubs/${hub}/negotiate`, {
        method: "POST",
        headers: { "x-ms-client-principal-id": userId },
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`negotiate answered ${response.status}: ${text}`);
      return JSON.parse(text);
    },
  };
}

/** Waits until `check()` is truthy (polling), or fails with `why` after `ms`. */
export async function until(check, why, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out: ${why}`);
}

/** A TCP proxy to `port` whose open connections can be cut at once (a dropped network). */
export async function startProxy(port) {
  const sockets = new Set();
  const server = createServer((inbound) => {
    const outbound = new (inbound.constructor)();
    outbound.connect(port, "127.0.0.1");
    for (const s of [inbound, outbound]) { sockets.add(s); s.on("error", () => {}); s.on("close", () => sockets.delete(s)); }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    cut() { for (const s of sockets) s.destroy(); },
    close() { this.cut(); server.close(); },
  };
}
