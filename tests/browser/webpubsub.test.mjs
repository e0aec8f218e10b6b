// The demo page's Web PubSub tab in headless Chromium: two pages negotiate through the app, connect
// to the local stack's Web PubSub emulator with the bundled @azure/web-pubsub-client over
// json.webpubsub.azure.v1, chat in a group (typed with the keyboard), receive the app's
// broadcasts, and stop receiving the group once they leave it. Then the tabs with the keyboard on
// a phone, and an app without Web PubSub, whose page says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withAppAndBrowser, startApp, screenshot, openWebPubSub as openWps, waitForWpsLog } from "./support.mjs";

let app;
let browser;

withAppAndBrowser({ SIGNALR_EASY_AUTH: "true" }, (started) => ({ app, browser } = started));

const openWebPubSub = (user) => openWps(browser, app.base, user);

const text = (page, selector) => page.$eval(selector, (el) => el.textContent);

/** The page's received messages of `kind` (group, server), newest first. */
const received = (page, kind) =>
  page.$$eval(`#wps-messages li[data-kind=${kind}]`, (items) => items.map((li) => li.textContent));

function waitForReceived(page, kind, wanted, timeout = 10000) {
  return page.waitForFunction(
    (k, w) => [...document.querySelectorAll(`#wps-messages li[data-kind=${k}]`)].some((li) => li.textContent === w),
    { timeout },
    kind,
    wanted,
  );
}

const waitForLog = waitForWpsLog;

/** Keyboard only: Tab until the message field has the focus, type `message`, Enter. */
async function typeMessage(page, message) {
  for (let i = 0; i < 10; i++) {
    if (await page.evaluate(() => document.activeElement.id === "wps-text")) break;
    await page.keyboard.press("Tab");
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), "wps-text", "Tab reaches the message field");
  await page.keyboard.type(message);
  await page.keyboard.press("Enter");
}

const broadcast = (data) => app.post("/api/webpubsub/actions", { actionName: "sendToAll", data, dataType: "text" });

test("two pages chat in a group over json.webpubsub.azure.v1, get the app's broadcasts, and leave", async () => {
  const alice = await openWebPubSub("alice");
  const bob = await openWebPubSub("bob");
  for (const [page, user] of [[alice, "alice"], [bob, "bob"]]) {
    assert.equal(await text(page, "#wps-user"), user);
    assert.equal(await text(page, "#wps-state"), "Connected");
    assert.equal(await text(page, "#wps-protocol"), "json.webpubsub.azure.v1");
    assert.equal(await page.$eval("#panel-signalr", (el) => el.hidden), true, "the SignalR panel is hidden");
  }
  const ids = [await text(alice, "#wps-connection-id"), await text(bob, "#wps-connection-id")];
  assert.ok(ids.every((id) => id && id !== "—") && ids[0] !== ids[1], `two connection ids: ${ids}`);
  const exists = await fetch(`${app.base}/api/webpubsub/hubs/default/connections/${ids[1]}`).then((r) => r.json());
  assert.equal(exists.exists, true, "the app's service knows bob's connection");

  // Both join the same group through the client (the local stack's tokens may join any group).
  for (const page of [alice, bob]) {
    await page.click("#wps-join");
    await waitForLog(page, "join room-1: ok");
    assert.equal(await text(page, "#wps-groups"), "room-1");
  }

  // Keyboard only: from the Join button, Tab to the message field, type, Enter. Bob gets it with
  // its sender; alice gets her own echo.
  await typeMessage(alice, "hello from alice");
  await waitForReceived(bob, "group", "[room-1] alice: hello from alice");
  await waitForReceived(alice, "group", "[room-1] alice: hello from alice");
  assert.equal(await alice.$eval("#wps-text", (el) => el.value), "", "the field is cleared after sending");
  await typeMessage(bob, "hi alice");
  await waitForReceived(alice, "group", "[room-1] bob: hi alice");

  // A broadcast POSTed to the app's actions route reaches both, as a server message.
  await broadcast("server says hi");
  await waitForReceived(alice, "server", "server: server says hi");
  await waitForReceived(bob, "server", "server: server says hi");

  // Bob leaves: alice's next group message reaches only alice. The broadcast after it reaches
  // bob later on the same socket, so by then the group message would have come.
  await bob.click("#wps-leave");
  await waitForLog(bob, "leave room-1: ok");
  assert.equal(await text(bob, "#wps-groups"), "—");
  await typeMessage(alice, "after bob left");
  await waitForReceived(alice, "group", "[room-1] alice: after bob left");
  await broadcast("after the leave");
  await waitForReceived(bob, "server", "server: after the leave");
  const bobs = await received(bob, "group");
  assert.ok(!bobs.some((m) => m.includes("after bob left")), `bob left the group: ${bobs}`);

  await screenshot(browser, alice, "demo-webpubsub-alice");
  await screenshot(browser, bob, "demo-webpubsub-bob");
  for (const page of [alice, bob]) {
    assert.deepEqual(page.failures, [], "no failed request, no console error (the CSP lets the client connect)");
    await page.click("#wps-disconnect");
    await page.waitForSelector("body[data-webpubsub-state=Disconnected]", { timeout: 10000 });
    await page.browserContext().close();
  }
});

test("keyboard: arrow keys switch tabs; the Web PubSub tab connects with Tab and Enter on a phone", async () => {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 360, height: 740, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  await page.goto(`${app.base}/api/demo`, { waitUntil: "load" });
  const state = () => page.evaluate(() => ({
    focused: document.activeElement.id,
    selected: [...document.querySelectorAll('[role="tab"]')].filter((t) => t.getAttribute("aria-selected") === "true").map((t) => t.id),
    visible: [...document.querySelectorAll('[role="tabpanel"]')].filter((p) => !p.hidden).map((p) => p.id),
    inTabOrder: [...document.querySelectorAll('[role="tab"]')].filter((t) => t.tabIndex === 0).map((t) => t.id),
  }));
  assert.equal(await page.$eval('[role="tablist"]', (el) => el.getAttribute("aria-label")), "Service");
  for (const tab of ["tab-signalr", "tab-webpubsub"]) {
    const panel = await page.$eval(`#${tab}`, (el) => el.getAttribute("aria-controls"));
    assert.equal(await page.$eval(`#${panel}`, (el) => el.getAttribute("aria-labelledby")), tab);
  }

  // The first Tab lands on the selected tab; arrows, Home and End move and select.
  await page.keyboard.press("Tab");
  assert.deepEqual(await state(), { focused: "tab-signalr", selected: ["tab-signalr"], visible: ["panel-signalr"], inTabOrder: ["tab-signalr"] });
  await page.keyboard.press("ArrowRight");
  assert.deepEqual(await state(), { focused: "tab-webpubsub", selected: ["tab-webpubsub"], visible: ["panel-webpubsub"], inTabOrder: ["tab-webpubsub"] });
  await page.keyboard.press("ArrowRight");
  assert.equal((await state()).focused, "tab-signalr", "ArrowRight wraps around");
  await page.keyboard.press("End");
  assert.equal((await state()).selected[0], "tab-webpubsub");
  await page.keyboard.press("Home");
  assert.equal((await state()).selected[0], "tab-signalr");
  await page.keyboard.press("ArrowLeft");
  assert.deepEqual(await state(), { focused: "tab-webpubsub", selected: ["tab-webpubsub"], visible: ["panel-webpubsub"], inTabOrder: ["tab-webpubsub"] });

  // Phone: nothing wider than the screen, readable text, controls large enough to tap.
  const layout = await page.evaluate(() => {
    const shown = (els) => [...els].filter((el) => el.checkVisibility());
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      smallest: Math.min(...shown(document.querySelectorAll("#panel-webpubsub :is(input, button, label, p), [role=tab]")).map((el) => parseFloat(getComputedStyle(el).fontSize))),
      shortest: Math.min(...shown(document.querySelectorAll("#panel-webpubsub :is(input, button), [role=tab]")).map((el) => el.getBoundingClientRect().height)),
    };
  });
  assert.ok(layout.scrollWidth <= layout.innerWidth, `no sideways scrolling: ${JSON.stringify(layout)}`);
  assert.ok(layout.smallest >= 14, `readable text: ${JSON.stringify(layout)}`);
  assert.ok(layout.shortest >= 32, `controls large enough to tap: ${JSON.stringify(layout)}`);
  const unlabeled = await page.$$eval("#panel-webpubsub input", (els) => els.filter((el) => el.labels.length === 0).map((el) => el.id));
  assert.deepEqual(unlabeled, []);
  assert.equal(await page.$eval("#wps-state", (el) => el.getAttribute("role")), "status");

  // Tab from the tab into its panel, through the form in order; Enter connects.
  const order = [];
  for (let i = 0; i < 4; i++) {
    await page.keyboard.press("Tab");
    order.push(await page.evaluate(() => document.activeElement.id));
  }
  assert.deepEqual(order, ["wps-app", "wps-hub", "wps-token", "wps-principal"]);
  await page.keyboard.type("pat");
  await page.keyboard.press("Enter");
  await page.waitForSelector("body[data-webpubsub-state=Connected]", { timeout: 15000 });
  assert.equal(await text(page, "#wps-user"), "pat");
  const focusRing = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(focusRing, "none", "the focused control shows where the focus is");
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360, "still no sideways scrolling");
  await screenshot(browser, page, "demo-webpubsub-phone");
  await context.close();
});

test("without Web PubSub the tab is disabled and the page says why", async () => {
  // A SignalR service that is not the local stack (nothing listens there; the page never calls
  // it) and no WebPubSubConnectionString: no Web PubSub at all. The development key.
  const other = await startApp({
    AzureSignalRConnectionString: "Endpoint=http://127.0.0.1:9;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;",
  });
  try {
    const page = await (await browser.createBrowserContext()).newPage();
    await page.setViewport({ width: 420, height: 900 });
    const response = await page.goto(`${other.base}/api/demo`, { waitUntil: "load" });
    assert.ok(!/ws:\/\/127\.0\.0\.1:(?!9\b)/.test(response.headers()["content-security-policy"]), "no Web PubSub socket in the CSP");
    const tab = await page.$eval("#tab-webpubsub", (el) => ({ disabled: el.disabled, aria: el.getAttribute("aria-disabled"), described: el.getAttribute("aria-describedby") }));
    assert.deepEqual(tab, { disabled: true, aria: "true", described: "webpubsub-off" });
    const note = await page.$eval("#webpubsub-off", (el) => ({ visible: el.checkVisibility(), text: el.textContent }));
    assert.ok(note.visible, "the note is shown");
    assert.match(note.text, /Web PubSub is not configured on this app: set\s+WebPubSubConnectionString/);
    // Neither a click nor the arrow keys open it.
    await page.click("#tab-webpubsub").catch(() => {});
    await page.focus("#tab-signalr");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("End");
    const shown = await page.evaluate(() => ({
      focused: document.activeElement.id,
      webpubsubHidden: document.getElementById("panel-webpubsub").hidden,
      signalrHidden: document.getElementById("panel-signalr").hidden,
    }));
    assert.deepEqual(shown, { focused: "tab-signalr", webpubsubHidden: true, signalrHidden: false });
    await screenshot(browser, page, "demo-webpubsub-off");
    await page.browserContext().close();
  } finally {
    await other.stop();
  }
});
