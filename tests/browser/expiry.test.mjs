// The demo page with a bearer token from an OIDC issuer (a local stand-in): the page shows the
// user id the app negotiated for the token, and with SIGNALR_CLOSE_ON_TOKEN_EXPIRY and the
// shortest token lifetime (60 s) the service closes the connection when its token expires and
// the page reconnects by itself, negotiating a fresh token, and keeps receiving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startApp, launchBrowser, screenshot, openDemo, waitForMessage, waitForLog } from "./support.mjs";
import { startIssuer } from "./oidc.mjs";

const AUDIENCE = "api://serverless-signalr-browser-test";
let issuer;
let app;
let browser;

before(async () => {
  issuer = await startIssuer(AUDIENCE);
  app = await startApp({
    SIGNALR_OIDC_ISSUER: issuer.issuer,
    SIGNALR_OIDC_AUDIENCE: AUDIENCE,
    SIGNALR_CLOSE_ON_TOKEN_EXPIRY: "true",
    SIGNALR_TOKEN_LIFETIME: "60",
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await app?.stop();
  await issuer?.close();
});

test("a bearer token names the user; the page reconnects when its SignalR token expires", { timeout: 150000 }, async () => {
  const token = issuer.token({ sub: "oidc-frank" });
  const page = await openDemo(browser, `${app.base}/api/demo`, { token, transport: "WebSockets" });
  assert.equal(await page.$eval("#user", (el) => el.textContent), "oidc-frank");
  // The token stays in its password field, never in the page's text.
  assert.ok(!(await page.$eval("body", (b) => b.innerText)).includes(token));
  const firstId = await page.$eval("#connection-id", (el) => el.textContent);
  const firstExpiry = await page.$eval("#token-expires", (el) => el.textContent);
  assert.notEqual(firstExpiry, "—", "the page shows when the token expires");
  await app.post("/api/messages", { target: "notify", arguments: ["before expiry"], userId: "oidc-frank" });
  await waitForMessage(page, "before expiry");

  // The SignalR token lives 60 s; the service closes with a reconnectable close, the client
  // negotiates again (with the same bearer token) and is connected under a new connection id.
  await waitForLog(page, "reconnecting", 90000);
  const log = await page.$eval("#log", (el) => el.textContent);
  assert.match(log, /reconnecting: .*expired/i, log);
  await waitForLog(page, "reconnected", 30000);
  await page.waitForSelector("body[data-state=Connected]", { timeout: 10000 });
  const secondId = await page.$eval("#connection-id", (el) => el.textContent);
  assert.notEqual(secondId, firstId, "a new connection after the reconnect");
  await page.waitForFunction((before) => document.getElementById("token-expires").textContent !== before, { timeout: 10000 }, firstExpiry);
  await app.post("/api/messages", { target: "notify", arguments: ["after the reconnect"], userId: "oidc-frank" });
  await waitForMessage(page, "after the reconnect");
  await screenshot(browser, page, "demo-reconnected-after-expiry");
});
