// The `handler` processes of the Node tests, shared by tests/e2e and tests/browser (each imports
// this file by relative path, so it uses Node's built-in modules only): start `$HANDLER_BIN` with
// some arguments, wait for the line on its stdout that says it is ready, and stop it again;
// `startApp` is the local stack (`cargo run`) on free ports.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

/** The built `handler` binary the Rust test runner passes in `$HANDLER_BIN`. */
export function handlerBin() {
  const bin = process.env.HANDLER_BIN;
  if (!bin) throw new Error("HANDLER_BIN must point at the built `handler` binary");
  return bin;
}

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

/**
 * Starts `$HANDLER_BIN ...args` and waits (at most 20 s) until `ready(line)` returns something
 * truthy for a line of its stdout; `what` names the process in errors. Returns that value as
 * `ready`, the stdout lines up to it as `banner`, the child, and `stop()`: SIGTERM, then SIGKILL
 * if it has not exited 5 s later. Stdout keeps being read, so the child never blocks on it.
 */
export async function startHandler(args, { env = process.env, ready, what, stderr = "inherit" }) {
  const child = spawn(handlerBin(), args, { env, stdio: ["ignore", "pipe", stderr] });
  const lines = createInterface({ input: child.stdout });
  const banner = [];
  let found;
  try {
    found = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what} was not ready within 20 s`)), 20000);
      lines.on("line", (line) => {
        if (found !== undefined) return;
        banner.push(line);
        const value = ready(line);
        if (value) { clearTimeout(timer); resolve(value); }
      });
      child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}`)); });
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    child,
    ready: found,
    banner,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Starts `$HANDLER_BIN` as `cargo run` does (function app + embedded emulators) on a free port,
 * its emulators on free ports too. No connection string, CORS origins or host port comes from the
 * environment; `env` adds settings, connection strings included (then a remote service is used).
 */
export async function startApp(env = {}) {
  const port = await freePort();
  const childEnv = { ...process.env, PORT: String(port), EMULATOR_PORT: "0", WEBPUBSUB_EMULATOR_PORT: "0" };
  delete childEnv.AzureSignalRConnectionString;
  delete childEnv.WebPubSubConnectionString;
  delete childEnv.FUNCTIONS_CUSTOMHANDLER_PORT;
  // Loopback origins must pass CORS by default in the local stack (issue #13 item 4).
  delete childEnv.SIGNALR_CORS_ORIGINS;
  Object.assign(childEnv, env);
  const app = await startHandler([], {
    env: childEnv,
    ready: (line) => line.includes("function app listening"),
    what: "the app",
  });
  const emulatorLine = app.banner.find((line) => line.includes("Endpoint=")) ?? "";
  const emulator = /Endpoint=(http:\/\/[^;]+);.*Port=(\d+)/.exec(emulatorLine);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    env: childEnv,
    emulator: emulator ? `${emulator[1].replace(/:\d+$/, "")}:${emulator[2]}` : null,
    banner: app.banner,
    stop: app.stop,
    /** A JSON call: `{status, body}` (body `null` when empty). */
    async call(method, path, body) {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null };
    },
    /** A JSON POST that must succeed; its answer. */
    async post(path, body) {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return response.json();
    },
  };
}
