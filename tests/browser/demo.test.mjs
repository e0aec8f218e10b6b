// The demo page in headless Chromium: two pages on the app's origin (which differs from the
// emulator's, so the browser really does CORS with credentials), one per transport, plus a page
// served from another loopback port (a SPA on its own dev server).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { withAppAndBrowser, screenshot, freePort, openDemo as open, waitForMessage, messages, waitForLog } from "./support.mjs";

let app;
let browser;
const openDemo = (url, options) => open(browser, url, options);

withAppAndBrowser({ SIGNALR_EASY_AUTH: "true" }, (started) => ({ app, browser } = started));

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

  // A page served from another loopback port (its own "dev server", a different origin) connects
  // over each transport with no SIGNALR_CORS_ORIGINS: the local stack allows loopback origins.
  assert.ok(!app.env.SIGNALR_CORS_ORIGINS, "the app runs without SIGNALR_CORS_ORIGINS");
  const devPort = await freePort();
  const dev = createServer(async (req, res) => {
    const upstream = await fetch(`${app.base}${req.url.split("?")[0]}`);
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => dev.listen(devPort, "127.0.0.1", resolve));
  try {
    for (const [user, transport] of [["carol", "LongPolling"], ["dora", "ServerSentEvents"], ["ezra", "WebSockets"]]) {
      const page = await openDemo(`http://127.0.0.1:${devPort}/api/demo`, {
        user,
        transport,
        appUrl: `${app.base}/api`,
      });
      assert.equal(await page.evaluate(() => location.origin), `http://127.0.0.1:${devPort}`);
      assert.equal(await page.$eval("#user", (el) => el.textContent), user);
      assert.equal(await page.$eval("#current-transport", (el) => el.textContent), transport);
      await app.post("/api/messages", { target: "notify", arguments: [`to ${user} on the other origin`], userId: user });
      await waitForMessage(page, `to ${user} on the other origin`);
      await screenshot(browser, page, `demo-other-origin-${transport.toLowerCase()}`);
      await page.browserContext().close();
    }
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

  // Live, without a reload: dave subscribes to a topic (the app's upstream adds him to the
  // group `topic:news` over REST), a broadcast is listed with how many took it, and the upstream
  // calls with their URLs (no query) and statuses.
  await dave.click("#subscribe-form button");
  await waitForLog(dave, 'subscribe ["news"]');
  await dashboard.waitForFunction(
    (sel) => document.querySelector(sel)?.textContent.includes("topic:news"),
    { timeout: 10000 },
    row(ids[0]),
  );
  // Every listed connection takes a broadcast (the first test's pages are still open, too).
  const listed = Number(await dashboard.$eval("#count", (el) => el.textContent));
  assert.ok(listed >= 2, `${listed} connections listed`);
  await app.post("/api/messages", { target: "counted", arguments: ["x"] });
  await dashboard.waitForFunction(
    (n) => [...document.querySelectorAll("#sends tr")].some((tr) => tr.textContent.includes(`allcounted${n} connections`)),
    { timeout: 10000 },
    listed,
  );
  await dashboard.waitForFunction(
    (id) => [...document.querySelectorAll("#upstream tr")].some((tr) => tr.textContent.includes(id) && tr.textContent.includes("invocation") && tr.textContent.includes("subscribe") && tr.textContent.includes("200")),
    { timeout: 10000 },
    ids[0],
  );
  const upstreamText = await dashboard.$eval("#upstream", (el) => el.textContent);
  assert.ok(!upstreamText.includes("?"), `upstream URLs without their query: ${upstreamText}`);

  await erin.click("#disconnect");
  await erin.waitForSelector("body[data-state=Disconnected]", { timeout: 10000 });
  await dashboard.waitForSelector(row(ids[1]), { hidden: true, timeout: 10000 });
  assert.ok(await dashboard.$(row(ids[0])), "dave is still listed");
  const text = await dashboard.$eval("body", (b) => b.textContent);
  assert.ok(!/AccessKey|accessToken|Bearer/i.test(text), "no secrets on the dashboard");
  await screenshot(browser, dashboard, "dashboard");
});

test("accessible markup, keyboard only, readable on a phone", async () => {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 360, height: 740, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await page.goto(`${app.base}/api/demo`, { waitUntil: "load" });

  // Phone: nothing wider than the screen, text and controls at a readable size.
  // (The hidden Web PubSub tab's controls have no size; they are checked in webpubsub.test.mjs.)
  const layout = await page.evaluate(() => {
    const shown = (selector) => [...document.querySelectorAll(selector)].filter((el) => el.checkVisibility());
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      smallest: Math.min(...shown("input, select, button, label, p").map((el) => parseFloat(getComputedStyle(el).fontSize))),
      shortest: Math.min(...shown("input, select, button").map((el) => el.getBoundingClientRect().height)),
    };
  });
  assert.ok(layout.scrollWidth <= layout.innerWidth, `no sideways scrolling: ${JSON.stringify(layout)}`);
  assert.ok(layout.smallest >= 14, `readable text: ${JSON.stringify(layout)}`);
  assert.ok(layout.shortest >= 32, `controls large enough to tap: ${JSON.stringify(layout)}`);

  // Every control has a label, every button a name, the state is announced.
  const unlabeled = await page.$$eval("input, select, textarea", (els) => els.filter((el) => el.labels.length === 0 && !el.getAttribute("aria-label")).map((el) => el.id));
  assert.deepEqual(unlabeled, []);
  const unnamed = await page.$$eval("button", (els) => els.filter((el) => !el.textContent.trim()).length);
  assert.equal(unnamed, 0);
  assert.equal(await page.$eval("#state", (el) => el.getAttribute("role")), "status");
  assert.equal(await page.$eval("html", (el) => el.lang), "en");

  // Keyboard only: Tab to the SignalR tab (selected), then through the form in order, type the
  // user id, Enter connects; then Tab to the Subscribe button and press Enter.
  const order = [];
  for (let i = 0; i < 12 && !order.includes("principal"); i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  assert.deepEqual(order.slice(0, 6), ["tab-signalr", "app", "hub", "transport", "token", "principal"]);
  await page.keyboard.type("kim");
  await page.keyboard.press("Enter");
  await page.waitForSelector("body[data-state=Connected]", { timeout: 15000 });
  assert.equal(await page.$eval("#user", (el) => el.textContent), "kim");
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement.closest("#subscribe-form") && document.activeElement.tagName);
    if (focused === "BUTTON") break;
  }
  await page.keyboard.press("Enter");
  await waitForLog(page, 'subscribe ["news"]');
  const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(focusRing, "none", "the focused control shows where the focus is");
  await screenshot(browser, page, "demo-phone");
  await context.close();
});
