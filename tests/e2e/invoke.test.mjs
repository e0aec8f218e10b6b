// Client results end to end: the unmodified @microsoft/signalr client (JSON and MessagePack)
// answers an invocation the app's invoke route sends through the embedded emulator's `:invoke`:
// results (objects keep their key order), a handler that throws, no handler, a client that never
// answers (504, and the connection still answers later), a client that leaves mid-invoke (410
// at once), an unknown connection (404). Then server-to-client streams: a stream the client opens
// with `connection.stream` gets items and its completion through the emulator's REST operations.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { startApp } from "./app-support.mjs";
import { HUB, mint, startEmulator, waitFor } from "./support.mjs";

async function open(base, hub, packed) {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${base}/api/hubs/${hub}`, { transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.None);
  if (packed) builder = builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  connection.on("ask", async (question) => ({ echo: question, zulu: 1, alpha: 2 }));
  connection.on("fail", () => { throw new Error("boom"); });
  connection.on("never", () => new Promise(() => {}));
  connection.on("leave", () => { setTimeout(() => connection.stop(), 100); return new Promise(() => {}); });
  await connection.start();
  return connection;
}

describe("client results through the app's invoke route", () => {
  let app;
  before(async () => { app = await startApp({ SIGNALR_INVOKE_TIMEOUT_SECONDS: "2" }); });
  after(async () => { await app?.stop(); });

  for (const packed of [false, true]) {
    const name = packed ? "MessagePack" : "JSON";
    test(`a ${name} client's result, error, missing handler and silence`, async () => {
      const hub = `invoke${name}`;
      const connection = await open(app.base, hub, packed);
      const invoke = (body, id = connection.connectionId) =>
        app.call("POST", `/api/hubs/${hub}/connections/${encodeURIComponent(id)}/invoke`, body);
      try {
        const question = { text: "hi", n: 1, list: [1, "é", null] };
        const ok = await invoke({ Target: "ask", arguments: [question] });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.deepEqual(ok.body, { result: { echo: question, zulu: 1, alpha: 2 } });
        assert.deepEqual(Object.keys(ok.body.result), ["echo", "zulu", "alpha"]);
        assert.deepEqual(Object.keys(ok.body.result.echo), ["text", "n", "list"]);

        const failed = await invoke({ target: "fail" });
        assert.equal(failed.status, 502);
        assert.equal(failed.body.error.code, "ClientError");
        assert.match(failed.body.error.message, /Error: boom/);

        const unknown = await invoke({ target: "nobodyListens", arguments: [] });
        assert.equal(unknown.status, 502);
        assert.match(unknown.body.error.message, /Client didn't provide a result/);

        const started = Date.now();
        const silent = await invoke({ target: "never" });
        assert.equal(silent.status, 504, JSON.stringify(silent.body));
        assert.equal(silent.body.error.code, "InvocationTimeout");
        assert.ok(Date.now() - started < 6000);
        // The connection still answers.
        assert.equal((await invoke({ target: "ask", arguments: [1] })).status, 200);

        assert.equal((await invoke({ target: "ask", extra: 1 })).status, 400);
        assert.equal((await invoke({ arguments: [] })).status, 400);
        const nobody = await invoke({ target: "ask" }, "no-such-connection");
        assert.equal(nobody.status, 404);
        assert.equal(nobody.body.error.code, "ConnectionNotFound");

        const before = Date.now();
        const left = await invoke({ target: "leave" });
        assert.equal(left.status, 410, JSON.stringify(left.body));
        assert.equal(left.body.error.code, "ConnectionClosed");
        assert.ok(Date.now() - before < 1500, "the answer comes when the client leaves, not at the timeout");
      } finally {
        await connection.stop();
      }
    });
  }
});

describe("server-to-client streams through the emulator's REST operations", () => {
  let emu;
  before(async () => { emu = await startEmulator(); });
  after(async () => { await emu?.stop(); });

  const rest = async (path, body, query = "") => {
    const token = mint(emu.key, { aud: `http://127.0.0.1${path}`, nameid: "e2e" });
    const response = await fetch(`${emu.base}${path}?api-version=2024-12-01${query}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return response.status;
  };

  for (const packed of [false, true]) {
    test(`a ${packed ? "MessagePack" : "JSON"} client's stream gets items and a completion`, async () => {
      let builder = new signalR.HubConnectionBuilder()
        .withUrl(`${emu.base}/client/?hub=${HUB}`, {
          transport: signalR.HttpTransportType.WebSockets,
          accessTokenFactory: () => mint(emu.key, { aud: `http://127.0.0.1/client/?hub=${HUB}` }),
        })
        .configureLogging(signalR.LogLevel.None);
      if (packed) builder = builder.withHubProtocol(new MessagePackHubProtocol());
      const connection = builder.build();
      await connection.start();
      try {
        const items = [];
        let ended = null;
        const subscriber = { next: (item) => items.push(item), complete: () => { ended = "complete"; }, error: (e) => { ended = `error: ${e.message}`; } };
        connection.stream("counter", 3).subscribe(subscriber);
        // The client's first invocation id is "0"; the stream is registered once its message arrived.
        const base = `/api/hubs/${HUB}/connections/${connection.connectionId}/streams`;
        let status = 404;
        for (let i = 0; i < 40 && status === 404; i++) {
          status = await rest(`${base}/0/:send`, { b: 1, a: 2 });
          if (status === 404) await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(status, 202);
        assert.equal(await rest(`${base}/0/:send`, [1, "two"]), 202);
        assert.equal(await rest(`${base}/0/:send`, "last", "&completed=true"), 202);
        await waitFor(() => ended !== null, 5000, "the stream's completion");
        assert.equal(ended, "complete");
        assert.deepEqual(items, [{ b: 1, a: 2 }, [1, "two"], "last"]);
        assert.deepEqual(Object.keys(items[0]), ["b", "a"]);
        // Completed: the stream is gone.
        assert.equal(await rest(`${base}/0/:send`, 1), 404);

        // A second stream ends with an error.
        let failed = null;
        connection.stream("counter").subscribe({ next: () => {}, complete: () => { failed = "complete"; }, error: (e) => { failed = e.message; } });
        status = 404;
        for (let i = 0; i < 40 && status === 404; i++) {
          status = await rest(`${base}/1/:complete`, undefined, "&error=" + encodeURIComponent("out of items"));
          if (status === 404) await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(status, 202);
        await waitFor(() => failed !== null, 5000, "the stream's error");
        assert.match(failed, /out of items/);

        // A cancelled stream is closed too.
        const cancelled = connection.stream("counter").subscribe({ next: () => {}, complete: () => {}, error: () => {} });
        status = 404;
        for (let i = 0; i < 40 && status === 404; i++) {
          status = await rest(`${base}/2/:send`, 0);
          if (status === 404) await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(status, 202);
        cancelled.dispose();
        let after = 202;
        for (let i = 0; i < 40 && after === 202; i++) {
          after = await rest(`${base}/2/:send`, 0);
          if (after === 202) await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(after, 404);
        assert.equal(await rest(`${base}/never-opened/:complete`), 404);
      } finally {
        await connection.stop();
      }
    });
  }
});
