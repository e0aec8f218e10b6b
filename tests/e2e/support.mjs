// Shared helpers of the e2e tests: start the real `handler emulator`, mint HS256 tokens with
// Node's crypto (independently of the Rust code), call the REST API with fetch, and build
// unmodified @microsoft/signalr connections.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { createInterface } from "node:readline";
import * as signalR from "@microsoft/signalr";

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
  const bin = process.env.HANDLER_BIN;
  if (!bin) throw new Error("HANDLER_BIN must point at the built `handler` binary");
  const child = spawn(bin, ["emulator", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the emulator printed nothing within 20 s")), 20000);
    // Log lines may come first; the connection string is the first line that starts with Endpoint=.
    lines.on("line", (line) => { if (line.startsWith("Endpoint=")) { clearTimeout(timer); resolve(line); } });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the emulator exited with ${code}`)); });
  });
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
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
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
