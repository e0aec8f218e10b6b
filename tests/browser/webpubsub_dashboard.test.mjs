// The Web PubSub emulator's dashboard in Chromium on a phone-sized viewport: it loads without
// console errors, and updates live when the demo page's Web PubSub tab connects (the
// connection's row, with its user and subprotocol) and when the app sends through the REST API
// (a row of recent sends); its screenshot is not blank. It and the SignalR dashboard link to
// each other.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withAppAndBrowser, screenshot } from "./support.mjs";

let app;
let browser;

withAppAndBrowser({ SIGNALR_EASY_AUTH: "true" }, (started) => ({ app, browser } = started));

test("the Web PubSub dashboard follows a client and a send live", { timeout: 120000 }, async () => {
  const line = app.banner.find((l) => l.includes("Web PubSub dashboard:"));
  assert.ok(line, `no Web PubSub dashboard in the banner:\n${app.banner.join("\n")}`);
  const dashboardUrl = /(http:\/\/\S+\/)/.exec(line)[1];
  const dashboard = await (await browser.createBrowserContext()).newPage();
  await dashboard.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  const errors = [];
  dashboard.on("console", (m) => {
    const where = m.location()?.url ?? "";
    if (m.type() === "error" && !where.endsWith("/favicon.ico")) errors.push(`${m.text()} ${where}`);
  });
  dashboard.on("pageerror", (e) => errors.push(String(e)));
  await dashboard.goto(dashboardUrl, { waitUntil: "load" });
  await dashboard.waitForSelector("body[data-ready=true]", { timeout: 30000 });
  assert.equal(await dashboard.$eval("#stream", (el) => el.textContent), "live");
  // It links to the SignalR emulator's dashboard, which links back.
  const signalr = /(http:\/\/\S+\/)/.exec(app.banner.find((l) => l.includes(" dashboard:") && !l.includes("Web PubSub")))[1];
  const link = await dashboard.$eval("#sibling", (a) => ({ href: a.href, text: a.textContent, shown: !a.parentElement.hidden }));
  assert.deepEqual(link, { href: signalr, text: "SignalR emulator dashboard", shown: true });
  const other = await (await browser.createBrowserContext()).newPage();
  await other.goto(signalr, { waitUntil: "load" });
  await other.waitForSelector("body[data-ready=true]", { timeout: 30000 });
  assert.equal(await other.$eval("#sibling", (a) => a.href), dashboardUrl);
  await other.close();

  // A browser client connects through the demo page's Web PubSub tab.
  const page = await (await browser.createBrowserContext()).newPage();
  await page.goto(`${app.base}/api/demo`, { waitUntil: "load" });
  await page.click("#tab-webpubsub");
  await page.type("#wps-principal", "dana");
  await page.click("#wps-connect");
  await page.waitForSelector("body[data-webpubsub-state=Connected]", { timeout: 15000 });
  await dashboard.waitForFunction(
    () => [...document.querySelectorAll("#connections tr")].some((tr) => tr.textContent.includes("dana") && tr.textContent.includes("json.webpubsub.azure.v1")),
    { timeout: 15000 },
  );

  // The app sends to everyone through the REST API.
  const sent = await app.call("POST", "/api/webpubsub/actions", { actionName: "sendToAll", data: "hello", dataType: "text" });
  assert.ok(sent.status < 300, JSON.stringify(sent));
  await dashboard.waitForFunction(
    () => [...document.querySelectorAll("#sends tr")].some((tr) => tr.textContent.includes("all") && tr.textContent.includes("text")),
    { timeout: 15000 },
  );
  // The page fits the phone's width (tables scroll inside their own box).
  const overflow = await dashboard.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the phone`);
  await screenshot(browser, dashboard, "webpubsub-dashboard-phone");
  assert.deepEqual(errors, []);
});
