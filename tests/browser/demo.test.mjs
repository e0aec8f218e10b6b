// The demo page in headless Chromium: two pages on the app's origin (which differs from the
// emulator's, so the browser really does CORS with credentials), one per transport, plus a page
// served from another loopback port (a SPA on its own dev server).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startApp, launchBrowser, screenshot, freePort } from "./support.mjs";

let app;
let browser;

before(async () => {
  app = await startApp({ SIGNALR_EASY_AUTH: "true" });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await app?.stop();
});

/** Opens the demo at `url`, fills the form from `query`, connects and waits until connected. */
async function openDemo(url, { user, transport, appUrl }) {
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
  await page.click("#connect");
  try {
    await page.waitForSelector("body[data-state=Connected]", { timeout: 15000 });
  } catch (e) {
    const log = await page.$eval("#log", (el) => el.innerText);
    throw new Error(`${transport} page never connected: ${log}\n${failures.join("\n")}`);
  }
  return page;
}

function waitForMessage(page, text, timeout = 10000) {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes(t)),
    { timeout },
    text,
  );
}

async function messages(page) {
  return page.$$eval("#messages li", (items) => items.map((li) => li.textContent));
}

async function waitForLog(page, text) {
  await page.waitForFunction(
    (t) => document.getElementById("log").textContent.includes(t),
    { timeout: 10000 },
    text,
  );
}

test("two pages on the app's origin: broadcast, user send, topics, groups; then a page on another origin", async () => {
  const alice = await openDemo(`${app.base}/api/demo`, { user: "alice", transport: "WebSockets" });
  const bob = await openDemo(`${app.base}/api/demo`, { user: "bob", transport: "ServerSentEvents" });
  assert.equal(await alice.$eval("#user", (el) => el.textContent), "alice");
  assert.equal(await bob.$eval("#user", (el) => el.textContent), "bob");
  assert.equal(await alice.$eval("#current-transport", (el) => el.textContent), "WebSockets");
  assert.equal(await bob.$eval("#current-transport", (el) => el.textContent), "ServerSentEvents");

  // A broadcast reaches both, with its target.
  await app.post("/api/messages", { target: "newMessage", arguments: ["hello everyone"] });
  await waitForMessage(alice, "hello everyone");
  await waitForMessage(bob, "hello everyone");
  assert.ok((await messages(alice)).some((m) => m.startsWith("newMessage")));

  // A user send only reaches that user's page: a later broadcast to both proves alice had time.
  await app.post("/api/messages", { target: "notify", arguments: ["only for bob"], userId: "bob" });
  await app.post("/api/messages", { target: "newMessage", arguments: ["after the user send"] });
  await waitForMessage(bob, "only for bob");
  await waitForMessage(alice, "after the user send");
  assert.ok(!(await messages(alice)).some((m) => m.includes("only for bob")));

  // Topic publish from one page reaches the other (both subscribed through the form).
  for (const page of [alice, bob]) {
    await page.click("#subscribe-form button");
    await waitForLog(page, 'subscribe ["news"]');
  }
  await alice.$eval("#publish-text", (el) => { el.value = "topic from alice"; });
  await alice.click("#publish-form button");
  await waitForMessage(bob, "topic from alice");

  // Joining a group with the form (open in the local stack), then a group send.
  await bob.click("#group-form button");
  await waitForLog(bob, "join room-1: 202");
  await app.post("/api/messages", { target: "notify", arguments: ["room news"], groupName: "room-1" });
  await waitForMessage(bob, "room news");

  // A page served from another loopback port (its own "dev server") connects over long polling.
  const devPort = await freePort();
  const dev = createServer(async (req, res) => {
    const upstream = await fetch(`${app.base}${req.url.split("?")[0]}`);
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => dev.listen(devPort, "127.0.0.1", resolve));
  try {
    const carol = await openDemo(`http://127.0.0.1:${devPort}/api/demo`, {
      user: "carol",
      transport: "LongPolling",
      appUrl: `${app.base}/api`,
    });
    assert.equal(await carol.$eval("#user", (el) => el.textContent), "carol");
    await app.post("/api/messages", { target: "newMessage", arguments: ["to the other origin"] });
    await waitForMessage(carol, "to the other origin");
    await screenshot(browser, carol, "demo-other-origin-longpolling");
  } finally {
    dev.close();
  }

  await screenshot(browser, alice, "demo-alice-websockets");
  await screenshot(browser, bob, "demo-bob-sse");
});

test("the emulator dashboard lists both connections and updates when one closes", async () => {
  const line = app.banner.find((l) => l.includes("dashboard:"));
  assert.ok(line, `the banner names the dashboard:\n${app.banner.join("\n")}`);
  const dashboardUrl = /(http:\/\/\S+\/)/.exec(line)[1];
  const dashboard = await (await browser.createBrowserContext()).newPage();
  await dashboard.setViewport({ width: 1000, height: 700 });
  await dashboard.goto(dashboardUrl, { waitUntil: "load" });
  await dashboard.waitForSelector("body[data-ready=true]", { timeout: 10000 });

  const dave = await openDemo(`${app.base}/api/demo`, { user: "dave", transport: "WebSockets" });
  const erin = await openDemo(`${app.base}/api/demo`, { user: "erin", transport: "LongPolling" });
  const ids = [];
  for (const page of [dave, erin]) ids.push(await page.$eval("#connection-id", (el) => el.textContent));
  const row = (id) => `#connections tr[data-id="${id}"]`;
  for (const id of ids) await dashboard.waitForSelector(row(id), { timeout: 10000 });
  const daveRow = await dashboard.$eval(row(ids[0]), (tr) => tr.textContent);
  assert.ok(daveRow.includes("dave") && daveRow.includes("WebSockets") && daveRow.includes("json"), daveRow);
  const erinRow = await dashboard.$eval(row(ids[1]), (tr) => tr.textContent);
  assert.ok(erinRow.includes("erin") && erinRow.includes("LongPolling"), erinRow);

  await erin.click("#disconnect");
  await erin.waitForSelector("body[data-state=Disconnected]", { timeout: 10000 });
  await dashboard.waitForSelector(row(ids[1]), { hidden: true, timeout: 10000 });
  assert.ok(await dashboard.$(row(ids[0])), "dave is still listed");
  const text = await dashboard.$eval("body", (b) => b.textContent);
  assert.ok(!/AccessKey|accessToken|Bearer/i.test(text), "no secrets on the dashboard");
  await screenshot(browser, dashboard, "dashboard");
});
