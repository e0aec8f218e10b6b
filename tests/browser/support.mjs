// Helpers of the browser tests: the real `handler` (app + embedded emulators, as `cargo run`
// starts it; from tests/shared/process.mjs), the system Chromium through puppeteer-core, and
// screenshots checked not to be blank.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, after } from "node:test";
import puppeteer from "puppeteer-core";
import { startApp } from "../shared/process.mjs";

export { freePort, startApp } from "../shared/process.mjs";

/**
 * Starts the app (`startApp(env)`) and Chromium before a test file's tests and stops both after
 * them; `started({ app, browser })` hands them to the file.
 */
export function withAppAndBrowser(env, started) {
  let app;
  let browser;
  before(async () => {
    app = await startApp(env);
    browser = await launchBrowser();
    started({ app, browser });
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });
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

/**
 * Opens the demo at `${base}/api/demo` in a browser context of its own, shows the Web PubSub tab,
 * connects as Easy Auth `user` and waits until connected. The page's failed requests and console
 * errors (but the browser's own try for /favicon.ico: the page has no icon) collect in
 * `page.failures`.
 */
export async function openWebPubSub(browser, base, user) {
  const page = await (await browser.createBrowserContext()).newPage();
  await page.setViewport({ width: 420, height: 900 });
  const failures = [];
  page.on("requestfailed", (r) => failures.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on("console", (m) => {
    const where = m.location()?.url ?? "";
    if (m.type() === "error" && !where.endsWith("/favicon.ico")) failures.push(`${m.text()} ${where}`);
  });
  await page.goto(`${base}/api/demo`, { waitUntil: "load" });
  await page.click("#tab-webpubsub");
  await page.type("#wps-principal", user);
  await page.click("#wps-connect");
  try {
    await page.waitForSelector("body[data-webpubsub-state=Connected]", { timeout: 15000 });
  } catch (e) {
    const log = await page.$eval("#wps-log", (el) => el.innerText);
    throw new Error(`${user}'s page never connected: ${log}\n${failures.join("\n")}`);
  }
  page.failures = failures;
  return page;
}

/** Waits until the Web PubSub tab's event log includes `wanted`. */
export function waitForWpsLog(page, wanted, timeout = 10000) {
  return page.waitForFunction((w) => document.getElementById("wps-log").textContent.includes(w), { timeout }, wanted);
}
