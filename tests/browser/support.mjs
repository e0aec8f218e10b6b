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

/**
 * Starts `$HANDLER_BIN` with no connection string (the local stack, its Web PubSub emulator on a
 * free port); `env` adds settings, connection strings included.
 */
export async function startApp(env = {}) {
  const bin = process.env.HANDLER_BIN;
  if (!bin) throw new Error("HANDLER_BIN must point at the built `handler` binary");
  const port = await freePort();
  const childEnv = { ...process.env, PORT: String(port), EMULATOR_PORT: "0", WEBPUBSUB_EMULATOR_PORT: "0" };
  delete childEnv.AzureSignalRConnectionString;
  delete childEnv.WebPubSubConnectionString;
  delete childEnv.FUNCTIONS_CUSTOMHANDLER_PORT;
  Object.assign(childEnv, env);
  // Loopback origins must pass CORS by default in the local stack (issue #13 item 4).
  if (!("SIGNALR_CORS_ORIGINS" in env)) delete childEnv.SIGNALR_CORS_ORIGINS;
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
    env: childEnv,
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
    // Long enough for the token-expiry wait (one waitForFunction is one DevTools call).
    protocolTimeout: 120000,
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

/**
 * Opens the demo at `url` in a browser context of its own, fills the form (Easy Auth `user`,
 * bearer `token`, `transport`, `appUrl`), connects and waits until connected.
 */
export async function openDemo(browser, url, { user, token, transport, appUrl }) {
  console.log("open", url, transport);
  // A context (window) of its own per page: like two users, and never a throttled background tab.
  const page = await (await browser.createBrowserContext()).newPage();
  await page.setViewport({ width: 420, height: 900 });
  const failures = [];
  page.on("requestfailed", (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on("console", (m) => { if (m.type() === "error") failures.push(m.text()); });
  await page.goto(url, { waitUntil: "load" });
  if (appUrl) await page.$eval("#app", (el, v) => { el.value = v; }, appUrl);
  await page.select("#transport", transport);
  if (user) await page.type("#principal", user);
  if (token) await page.$eval("#token", (el, v) => { el.value = v; }, token);
  await page.click("#connect");
  try {
    await page.waitForSelector("body[data-state=Connected]", { timeout: 15000 });
  } catch (e) {
    const log = await page.$eval("#log", (el) => el.innerText);
    throw new Error(`${transport} page never connected: ${log}\n${failures.join("\n")}`);
  }
  return page;
}

/** Waits until a received message's text includes `text`. */
export function waitForMessage(page, text, timeout = 10000) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes(t)),
    { timeout },
    text,
  );
}

/** The received messages' texts, newest first. */
export async function messages(page) {
  return page.$$eval("#messages li", (items) => items.map((li) => li.textContent));
}

/** Waits until the page's event log includes `text`. */
export async function waitForLog(page, text, timeout = 10000) {
  await page.waitForFunction(
    (t) => document.getElementById("log").textContent.includes(t),
    { timeout },
    text,
  );
}
