// Entra ID end to end: `handler emulator --entra --disable-local-auth` (access-key tokens refused)
// and an app configured with `AuthType=azure.msi` whose managed identity is the emulator's App
// Service identity endpoint. The unmodified @microsoft/signalr client negotiates through the app
// (client token signed with the service's temporary key) and receives what the app sends (REST
// authorised by the Entra token). In the local stack the emulator's upstream calls carry its own
// managed identity's bearer token, which is all the app checks: hub methods and topics work with
// no key anywhere.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startHandler } from "../shared/process.mjs";
import { signalR, waitFor } from "./support.mjs";
import { connectViaApp, startApp } from "./app-support.mjs";

let emulator;
let app;

before(async () => {
  emulator = await startHandler(
    ["emulator", "--port", "0", "--entra", "--disable-local-auth", "--identity-header", "e2e-header"],
    { ready: (line) => /^Endpoint=.*Port=(\d+)/.exec(line)?.[1], what: "the Entra emulator", stderr: "ignore" },
  );
  const port = emulator.ready;
  const base = `http://127.0.0.1:${port}`;
  app = await startApp({
    AzureSignalRConnectionString: `Endpoint=${base};AuthType=azure.msi;Version=1.0;`,
    IDENTITY_ENDPOINT: `${base}/msi/token`,
    IDENTITY_HEADER: "e2e-header",
    SIGNALR_FUNCTION_KEYS: "e2e-key",
  });
});

after(async () => {
  await app?.stop();
  await emulator?.stop();
});

test("a managed-identity app negotiates and sends through the Entra emulator", async () => {
  const c = await connectViaApp(app, signalR.HttpTransportType.WebSockets, { targets: ["news"] });
  assert.equal(c.connection.state, signalR.HubConnectionState.Connected);
  const health = await fetch(`${app.base}/api/health`, { headers: { "x-functions-key": "e2e-key" } });
  const { service, identity } = await health.json();
  assert.deepEqual({ service, identity }, { service: "healthy", identity: "ok" });
  const sent = await fetch(`${app.base}/api/messages`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "x-functions-key": "e2e-key" },
    body: JSON.stringify({ target: "news", arguments: ["hello"] }),
  });
  assert.equal(sent.status, 202);
  await waitFor(() => c.received.length === 1, 5000, "the message to arrive");
  assert.deepEqual(c.received, [{ target: "news", args: ["hello"] }]);
  await c.connection.stop();
});

test("cargo run with SIGNALR_EMULATOR_ENTRA: the whole local stack runs with no key, upstream by bearer", async () => {
  const local = await startApp({ SIGNALR_EMULATOR_ENTRA: "disable-local-auth", SIGNALR_FUNCTION_KEYS: "e2e-key" });
  try {
    // The upstream calls carry the emulator's managed-identity token, the only thing the app
    // checks on /api/upstream here: the topic methods run there.
    const c = await connectViaApp(local, signalR.HttpTransportType.WebSockets, { targets: ["news", "message"] });
    const publisher = await connectViaApp(local, signalR.HttpTransportType.WebSockets, { targets: [] });
    assert.equal(await c.connection.invoke("subscribe", "orders"), "orders", "the upstream reaches the app");
    assert.equal(await publisher.connection.invoke("publishToTopic", "orders", { id: 7 }), true);
    await waitFor(() => c.received.length === 1, 5000, "the topic message to arrive");
    assert.deepEqual(c.received, [{ target: "message", args: ["orders", { id: 7 }, publisher.connection.connectionId] }]);
    c.received.length = 0;
    await publisher.connection.stop();
    const sent = await fetch(`${local.base}/api/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "x-functions-key": "e2e-key" },
      body: JSON.stringify({ target: "news", arguments: ["no key"] }),
    });
    assert.equal(sent.status, 202);
    await waitFor(() => c.received.length === 1, 5000, "the message to arrive");
    assert.deepEqual(c.received, [{ target: "news", args: ["no key"] }]);
    await c.connection.stop();
  } finally {
    await local.stop();
  }
});
