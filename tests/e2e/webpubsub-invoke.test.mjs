// `invokeEvent` of the unmodified @azure/web-pubsub-client 1.1.0 against the emulator, answered
// (1) by Microsoft's own CloudEvents handler, the unmodified @azure/web-pubsub-express 1.1.0 set
// up as its documentation says (`allowedEndpoints` = the emulator's endpoint, which passes the
// emulator's abuse protection), and (2) by the app's events route in the local stack. Also: a
// refusal, the emulator's event timeout, cancel via AbortSignal, and a flood of invocations that
// the emulator bounds.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import { WebPubSubEventHandler } from "@azure/web-pubsub-express";
import { WebPubSubClient } from "@azure/web-pubsub-client";
import { freePort } from "../shared/process.mjs";
import { startApp } from "./app-support.mjs";
import { HUB, startClient, startWebPubSub, until } from "./webpubsub-support.mjs";

const clientOptions = {
  reconnectRetryOptions: { maxRetries: 2, retryDelayInMs: 200 },
  messageRetryOptions: { maxRetries: 0 },
  keepAliveIntervalInMs: 500,
  keepAliveTimeoutInMs: 0,
};

/** The express app with Microsoft's handler; `seen` records each user event it handled. */
async function startExpressHandler(endpoint, seen) {
  const handler = new WebPubSubEventHandler(HUB, {
    allowedEndpoints: [endpoint],
    handleConnect: (req, res) => res.success({ userId: `express-${req.context.userId}` }),
    handleUserEvent: (req, res) => {
      seen.push({ event: req.context.eventName, data: req.data, dataType: req.dataType });
      switch (req.context.eventName) {
        case "add":
          return res.success(JSON.stringify({ sum: req.data.reduce((a, b) => a + b, 0) }), "json");
        case "echo":
          return res.success(`echo: ${req.data}`, "text");
        case "bad":
          return res.fail(400, "numbers only");
        case "slow":
          return setTimeout(() => res.success(), 5000);
        default:
          return res.success();
      }
    },
  });
  const app = express();
  app.use(handler.getMiddleware());
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return { url: `http://127.0.0.1:${server.address().port}${handler.path}`, close: () => server.closeAllConnections?.() ?? server.close() };
}

describe("invokeEvent answered by @azure/web-pubsub-express", () => {
  let wps;
  let handler;
  const seen = [];
  const clients = [];
  before(async () => {
    // The emulator's port first: the handler's allowedEndpoints must name it.
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    handler = await startExpressHandler(endpoint, seen);
    wps = await startWebPubSub([
      "--webpubsub-port", String(port),
      "--webpubsub-event-handler", handler.url,
      "--webpubsub-event-timeout-ms", "700",
    ]);
    assert.equal(wps.endpoint, endpoint);
  });
  after(async () => {
    for (const c of clients) c.client.stop();
    await wps?.stop();
    handler?.close();
  });
  const connect = async (user) => {
    const c = await startClient(wps.service, user);
    clients.push(c);
    return c;
  };

  test("connect, a user event and invocations go through Microsoft's handler", async () => {
    const ann = await connect("ann");
    assert.equal(ann.events.connected[0].userId, "express-ann", "the handler's connect answer");
    await ann.client.sendEvent("echo", "hi", "text");
    await until(() => ann.messages.some((m) => m.data === "echo: hi"), "the echo of the user event");
    const sum = await ann.client.invokeEvent("add", [1, 2, 3], "json");
    assert.equal(sum.dataType, "json");
    assert.deepEqual(sum.data, { sum: 6 });
    const echo = await ann.client.invokeEvent("echo", "there", "text");
    assert.deepEqual([echo.dataType, echo.data], ["text", "echo: there"]);
    assert.deepEqual(seen.find((s) => s.event === "add"), { event: "add", data: [1, 2, 3], dataType: "json" });
  });

  test("a refusal and the event timeout are InvocationErrors and the client stays connected", async () => {
    const bo = await connect("bo");
    await assert.rejects(bo.client.invokeEvent("bad", 1, "json"), (e) =>
      e.name === "InvocationError" && e.errorDetail?.name === "BadRequest" && e.errorDetail?.message === "numbers only");
    await assert.rejects(bo.client.invokeEvent("slow", "x", "text"), (e) => e.errorDetail?.name === "Timeout");
    const after = await bo.client.invokeEvent("add", [2, 2], "json");
    assert.deepEqual(after.data, { sum: 4 });
    assert.equal(bo.events.disconnected.length, 0);
  });

  test("an AbortSignal cancels, and a flood of invocations is bounded", async () => {
    const cy = await connect("cy");
    const controller = new AbortController();
    const started = Date.now();
    const pending = cy.client.invokeEvent("slow", "x", "text", { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(pending);
    assert.ok(Date.now() - started < 600, "rejected at the abort, not at the timeout");
    const flood = await Promise.allSettled(
      Array.from({ length: 100 }, () => cy.client.invokeEvent("slow", "x", "text")),
    );
    const names = flood.map((r) => r.reason?.errorDetail?.name ?? r.status);
    const count = (name) => names.filter((n) => n === name).length;
    assert.ok(count("TooManyRequests") >= 100 - 32, `refused beyond the bound: ${JSON.stringify(names)}`);
    assert.equal(count("TooManyRequests") + count("Timeout"), 100, JSON.stringify(names));
    const still = await cy.client.invokeEvent("add", [5], "json");
    assert.deepEqual(still.data, { sum: 5 });
  });
});

describe("invokeEvent answered by the app's events route", () => {
  let app;
  let client;
  before(async () => {
    app = await startApp({ WEBPUBSUB_EMULATOR_PORT: "0", SIGNALR_EASY_AUTH: "true", WEBPUBSUB_BROADCAST_EVENTS: "message" });
  });
  after(async () => {
    client?.stop();
    await app?.stop();
  });

  test("a broadcast event invoked is answered after the app broadcast it; other events too", async () => {
    const negotiate = async () => {
      const response = await fetch(`${app.base}/api/webpubsub/hubs/invokers/negotiate`, {
        method: "POST",
        headers: { "x-ms-client-principal-id": "dee" },
      });
      assert.equal(response.status, 200);
      return (await response.json()).url;
    };
    client = new WebPubSubClient({ getClientAccessUrl: negotiate }, clientOptions);
    const messages = [];
    client.on("server-message", (e) => messages.push(e.message));
    await client.start();
    const answer = await client.invokeEvent("message", { text: "to all" }, "json");
    assert.equal(answer.invocationId.length > 0, true);
    assert.equal(answer.data, undefined, "the app answers a broadcast event with 204");
    await until(() => messages.some((m) => m.data?.text === "to all"), "the broadcast reached the invoker");
    // An event the app neither broadcasts nor forwards is answered (204) too.
    const other = await client.invokeEvent("other", "x", "text");
    assert.equal(other.data, undefined);
  });
});
