// The emulator dashboard in Chromium with 1 000 connections (the official client in Node.js,
// WebSockets, negotiated through the app): it lists every one, and it still follows changes
// live: a page connecting, joining a group, and a connection closing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as signalR from "@microsoft/signalr";
import { startApp, launchBrowser, screenshot, openDemo, waitForLog } from "./support.mjs";

const CONNECTIONS = 1000;
let app;
let browser;
const clients = [];

before(async () => {
  app = await startApp({});
  browser = await launchBrowser();
});
after(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()));
  await browser?.close();
  await app?.stop();
});

test(`the dashboard with ${CONNECTIONS} connections lists them all and stays live`, { timeout: 240000 }, async () => {
  const dashboardUrl = /(http:\/\/\S+\/)/.exec(app.banner.find((l) => l.includes("dashboard:")))[1];
  for (let i = 0; i < CONNECTIONS; i += 100) {
    const batch = Array.from({ length: 100 }, () =>
      new signalR.HubConnectionBuilder()
        .withUrl(`${app.base}/api`, { transport: signalR.HttpTransportType.WebSockets })
        .configureLogging(signalR.LogLevel.Error)
        .build(),
    );
    await Promise.all(batch.map((c) => c.start()));
    clients.push(...batch);
  }
  const dashboard = await (await browser.createBrowserContext()).newPage();
  await dashboard.setViewport({ width: 1000, height: 700 });
  const started = Date.now();
  await dashboard.goto(dashboardUrl, { waitUntil: "load" });
  await dashboard.waitForSelector("body[data-ready=true]", { timeout: 30000 });
  console.log(`dashboard with ${CONNECTIONS} connections ready after ${Date.now() - started} ms`);
  const listed = await dashboard.evaluate(() => ({
    count: document.getElementById("count").textContent,
    rows: [...document.querySelectorAll("#connections tr")].map((tr) => tr.dataset.id),
  }));
  assert.equal(listed.count, String(CONNECTIONS));
  assert.deepEqual(new Set(listed.rows), new Set(clients.map((c) => c.connectionId)));

  // Live: a demo page connects and joins a group; a Node connection closes.
  const page = await openDemo(browser, `${app.base}/api/demo`, { transport: "WebSockets" });
  const id = await page.$eval("#connection-id", (el) => el.textContent);
  const row = `#connections tr[data-id="${id}"]`;
  await dashboard.waitForSelector(row, { timeout: 30000 });
  await page.click("#group-form button");
  await waitForLog(page, "join room-1: 202");
  await dashboard.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes("room-1"), { timeout: 30000 }, row);
  const gone = clients.pop();
  const goneId = gone.connectionId;
  await gone.stop();
  await dashboard.waitForSelector(`#connections tr[data-id="${goneId}"]`, { hidden: true, timeout: 30000 });
  assert.equal(await dashboard.$eval("#count", (el) => el.textContent), String(CONNECTIONS));
  await screenshot(browser, dashboard, "dashboard-1000-connections");
});
