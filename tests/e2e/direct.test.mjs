// Connections the unmodified @microsoft/signalr client makes besides negotiate-then-connect:
// `skipNegotiation: true` + WebSockets straight to the `{url, accessToken}` of the app's
// negotiate (what other languages' clients always do), and a token that asks the service to close
// the connection when it expires (`asrs.s.coae`): `withAutomaticReconnect()` then negotiates
// again and goes on with a fresh token.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startApp } from "./app-support.mjs";
import { HUB, mint, signalR, startEmulator, waitFor } from "./support.mjs";

describe("skipNegotiation with the app's negotiate answer", () => {
  let app;
  before(async () => { app = await startApp({ SIGNALR_EASY_AUTH: "true" }); });
  after(async () => { await app?.stop(); });

  test("a WebSocket straight to the service URL receives broadcasts and user sends", async () => {
    const response = await fetch(`${app.base}/api/negotiate`, {
      method: "POST",
      headers: { "x-ms-client-principal-id": "skipper" },
    });
    assert.equal(response.status, 200);
    const { url, accessToken } = await response.json();
    const received = [];
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(url, {
        skipNegotiation: true,
        transport: signalR.HttpTransportType.WebSockets,
        accessTokenFactory: () => accessToken,
      })
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on("news", (...args) => received.push(["news", ...args]));
    connection.on("direct", (...args) => received.push(["direct", ...args]));
    await connection.start();
    try {
      const nested = { "ü": [1, { deep: null }] };
      assert.equal((await app.call("POST", "/api/messages", { target: "news", arguments: ["hi ✓", nested] })).status, 202);
      assert.equal((await app.call("POST", "/api/messages", { target: "direct", userId: "skipper", arguments: [42] })).status, 202);
      await waitFor(() => received.length === 2, 5000, "both messages");
      assert.deepEqual(received, [["news", "hi ✓", nested], ["direct", 42]]);
    } finally {
      await connection.stop();
    }
  });
});

describe("close on token expiry", () => {
  let emu;
  let negotiator;
  const minted = [];
  before(async () => {
    emu = await startEmulator();
    // A negotiate endpoint like the app's with SIGNALR_CLOSE_ON_TOKEN_EXPIRY=true, minting
    // 3-second tokens so the test need not wait for a real lifetime.
    negotiator = createServer((request, response) => {
      const exp = Math.floor(Date.now() / 1000) + 3;
      const token = mint(emu.key, {
        aud: `http://127.0.0.1/client/?hub=${HUB}`,
        "asrs.s.uid": "expiring",
        exp,
        "asrs.s.coae": "true",
        "asrs.s.aeo": String(exp),
      });
      minted.push(token);
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ url: `${emu.base}/client/?hub=${HUB}`, accessToken: token }));
    });
    await new Promise((resolve) => negotiator.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    await new Promise((resolve) => negotiator?.close(resolve));
    await emu?.stop();
  });

  test("the expired connection is closed with allowReconnect and reconnects with a new token", async () => {
    const events = { reconnecting: [], reconnected: [], closed: [] };
    const received = [];
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`http://127.0.0.1:${negotiator.address().port}/api`, { transport: signalR.HttpTransportType.WebSockets })
      .withAutomaticReconnect([0, 200, 500, 1000])
      .configureLogging(signalR.LogLevel.None)
      .build();
    connection.on("after", (...args) => received.push(args));
    connection.onreconnecting((error) => events.reconnecting.push(error?.message ?? ""));
    connection.onreconnected((id) => events.reconnected.push(id));
    connection.onclose((error) => events.closed.push(error?.message ?? ""));
    await connection.start();
    try {
      assert.equal(minted.length, 1);
      await waitFor(() => events.reconnected.length === 1, 8000, "a reconnect after the token expired");
      assert.equal(events.reconnecting.length, 1);
      assert.match(events.reconnecting[0], /access token expired/);
      assert.deepEqual(events.closed, []);
      assert.equal(minted.length, 2, "the reconnect negotiated again for a fresh token");
      assert.notEqual(minted[0], minted[1]);
      assert.equal(await emu.rest("POST", `/api/v1/hubs/${HUB}/users/expiring`, { target: "after", arguments: ["reconnected"] }), 202);
      await waitFor(() => received.length === 1, 5000, "a message after the reconnect");
      assert.deepEqual(received, [["reconnected"]]);
    } finally {
      await connection.stop();
    }
  });
});
