// Helpers of the browser tests: start the real `handler` (app + embedded emulator, as `cargo run`
// does), the system Chromium through puppeteer-core, and screenshots checked not to be blank.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

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

/** Starts `$HANDLER_BIN` with no connection string (the local stack); `env` adds settings. */
export async function startApp(env = {}) {
  const bin = process.env.HANDLER_BIN;
  if (!bin) throw new Error("HANDLER_BIN must point at the built `handler` binary");
  const port = await freePort();
  const childEnv = { ...process.env, PORT: String(port), EMULATOR_PORT: "0", ...env };
  delete childEnv.AzureSignalRConnectionString;
  delete childEnv.FUNCTIONS_CUSTOMHANDLER_PORT;
  const child = spawn(bin, [], { stdio: ["ignore", "pipe", "inherit"], env: childEnv });
  const lines = createInterface({ input: child.stdout });
  const banner = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the app did not start within 20 s")), 20000);
    lines.on("line", (line) => {
      banner.push(line);
      if (line.includes("function app listening")) { clearTimeout(timer); resolve(); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`the app exited with ${code}`)); });
  });
  const emulatorLine = banner.find((line) => line.includes("Endpoint=")) ?? "";
  const emulator = /Endpoint=(http:\/\/[^;]+);.*Port=(\d+)/.exec(emulatorLine);
  return {
    base: `http://127.0.0.1:${port}`,
    emulator: emulator ? `${emulator[1].replace(/:\d+$/, "")}:${emulator[2]}` : null,
    banner,
    async post(path, body) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return response.json();
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

/** Headless Chromium from `$CHROMIUM_BIN` (the system package; never downloaded). */
export function launchBrowser() {
  const executablePath = process.env.CHROMIUM_BIN;
  if (!executablePath) throw new Error("CHROMIUM_BIN must point at Chromium (apt-get install -y chromium)");
  return puppeteer.launch({
    executablePath,
    headless: true,
    protocolTimeout: 30000,
    // root in containers has no user namespaces for the sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/**
 * Saves a PNG of `page` to `$ARTIFACTS_DIR/<name>.png` and checks it is not blank: a blank page of
 * the same size compresses to a few hundred bytes, a rendered one to many times that.
 */
export async function screenshot(browser, page, name) {
  const png = await page.screenshot({ fullPage: false });
  const blankPage = await browser.newPage();
  await blankPage.setViewport(page.viewport());
  const blank = await blankPage.screenshot();
  await blankPage.close();
  const dir = process.env.ARTIFACTS_DIR ?? ".";
  const path = join(dir, `${name}.png`);
  await writeFile(path, png);
  if (png.length < 10 * blank.length) {
    throw new Error(`${path} looks blank: ${png.length} bytes, a blank page is ${blank.length}`);
  }
  return path;
}
