// Shared helpers of the e2e tests: start the real `handler emulator`, mint HS256 tokens with
// Node's crypto (independently of the Rust code), call the REST API with fetch, and build
// unmodified @microsoft/signalr connections.
import { createHmac } from "node:crypto";
import * as signalR from "@microsoft/signalr";
import { startHandler } from "../shared/process.mjs";

export const HUB = "chat";

const b64url = (value) => Buffer.from(value).toString("base64url");

export function mint(key, claims, lifetimeSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ nbf: now, iat: now, exp: now + lifetimeSeconds, ...claims }));
  const signature = createHmac("sha256", Buffer.from(key, "utf8")).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** Starts `$HANDLER_BIN emulator --port 0` and reads the connection string from its first line. */
export async function startEmulator() {
  // Log lines may come first; the connection string is the first line that starts with Endpoint=.
  const emulator = await startHandler(["emulator", "--port", "0"], {
    ready: (line) => line.startsWith("Endpoint=") && line,
    what: "the emulator",
  });
  const first = emulator.ready;
  const parts = Object.fromEntries(first.split(";").filter(Boolean).map((p) => {
    const i = p.indexOf("=");
    return [p.slice(0, i).toLowerCase(), p.slice(i + 1)];
  }));
  const port = Number(parts.port);
  const key = parts.accesskey;
  if (parts.endpoint !== "http://127.0.0.1" || !port || !key) throw new Error(`unexpected connection string: ${first}`);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    key,
    stop: emulator.stop,
    /** A REST call with a server token whose audience is the path (no port, no query). */
    async rest(method, pathAndQuery, body) {
      const path = pathAndQuery.split("?")[0];
      const token = mint(key, { aud: `http://127.0.0.1${path}`, nameid: "e2e" });
      const response = await fetch(`${base}${pathAndQuery}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return response.status;
    },
  };
}

/** A started connection that records every `target` invocation it receives. */
export async function connect(emu, transport, userId) {
  const received = [];
  const events = { reconnecting: [], reconnected: [], closed: [] };
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${emu.base}/client/?hub=${HUB}`, {
      transport,
      skipNegotiation: false,
      accessTokenFactory: () => mint(emu.key, { aud: `http://127.0.0.1/client/?hub=${HUB}`, ...(userId ? { "asrs.s.uid": userId } : {}) }),
    })
    .withAutomaticReconnect([0, 200, 500, 1000])
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const target of ["broadcast", "direct", "group", "conn", "after"]) {
    connection.on(target, (...args) => received.push({ target, args }));
  }
  connection.onreconnecting((error) => events.reconnecting.push(error?.message ?? ""));
  connection.onreconnected((id) => events.reconnected.push(id));
  connection.onclose((error) => events.closed.push(error?.message ?? ""));
  await connection.start();
  return { connection, received, events };
}

/** Waits until `check()` is true, at most `ms`. */
export async function waitFor(check, ms = 5000, what = "condition") {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { signalR };
