// Helpers of the app-level e2e tests: start the real `handler` (function app + embedded emulator,
// as `cargo run` does) on free ports, call its HTTP routes, and connect the unmodified
// @microsoft/signalr client to the *app* URL, so it negotiates through the app and is redirected
// to the emulator with the token the app minted.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import * as signalR from "@microsoft/signalr";

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `$HANDLER_BIN` with no connection string (the local stack) unless `env` sets one. */
export async function startApp(env = {}) {
  const bin = process.env.HANDLER_BIN;
  if (!bin) throw new Error("HANDLER_BIN must point at the built `handler` binary");
  const port = await freePort();
  const childEnv = { ...process.env, PORT: String(port), EMULATOR_PORT: "0" };
  delete childEnv.AzureSignalRConnectionString;
  delete childEnv.FUNCTIONS_CUSTOMHANDLER_PORT;
  Object.assign(childEnv, env); // may set AzureSignalRConnectionString: a remote service

  const child = spawn(bin, [], { stdio: ["ignore", "pipe", "inherit"], env: childEnv });
  const lines = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the app did not start within 20 s")), 20000);
    lines.on("line", (line) => { if (line.includes("function app listening")) { clearTimeout(timer); resolve(); } });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the app exited with ${code}`)); });
  });
  lines.on("line", () => {}); // keep draining stdout
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    async call(method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A connection made through the app's negotiate; Easy Auth headers say who the user is. */
export async function connectViaApp(app, transport, { hub, userId, targets }) {
  const received = [];
  const events = { reconnecting: [], reconnected: [], closed: [] };
  const url = hub ? `${app.base}/api/hubs/${hub}` : `${app.base}/api`;
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport, headers: userId ? { "x-ms-client-principal-id": userId } : {} })
    .withAutomaticReconnect([0, 200, 500, 1000])
    .configureLogging(signalR.LogLevel.None)
    .build();
  for (const target of targets) {
    connection.on(target, (...args) => received.push({ target, args }));
  }
  connection.onreconnecting((error) => events.reconnecting.push(error?.message ?? ""));
  connection.onreconnected((id) => events.reconnected.push(id));
  connection.onclose((error) => events.closed.push(error?.message ?? ""));
  await connection.start();
  return { connection, received, events };
}
