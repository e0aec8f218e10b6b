// The demo page's Web PubSub "Invoke" and "Group stream" controls in headless Chromium, against
// the local stack: invokeEvent answered by the app's events route (a forwarded event gets the
// webhook's answer, a broadcast one is broadcast and answered without data, a webhook's refusal
// shows as the invocation's error), and a group stream of 150 chunks from one page that another
// page in the group shows whole, in order, with its end; then a stream ended with an error.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { startApp, launchBrowser, screenshot, openWebPubSub, waitForWpsLog } from "./support.mjs";

let app;
let browser;
let webhook;
const forwarded = [];

/** The app's WEBPUBSUB_FORWARD_URL: answers the user events the app forwards to it. */
async function startWebhook() {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => { body += chunk; });
    req.on("end", () => {
      const event = JSON.parse(body);
      forwarded.push(event);
      if (event.type !== "user") return res.writeHead(204).end();
      if (event.event === "echo") {
        return res.writeHead(200, { "content-type": "text/plain" }).end(`${event.userId} said ${event.data}`);
      }
      if (event.event === "add") {
        const sum = event.data.reduce((a, b) => a + b, 0);
        return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sum }));
      }
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: "not an event I know" }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/events`, close: () => server.close() };
}

before(async () => {
  webhook = await startWebhook();
  app = await startApp({
    SIGNALR_EASY_AUTH: "true",
    WEBPUBSUB_FORWARD_URL: webhook.url,
    WEBPUBSUB_BROADCAST_EVENTS: "announce",
  });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await app?.stop();
  webhook?.close();
});

const text = (page, selector) => page.$eval(selector, (el) => el.textContent);

/** Fills the invoke form (event, data, data type) and submits it from its button with Enter. */
async function invoke(page, event, data, dataType = "text") {
  for (const [selector, value] of [["#wps-event", event], ["#wps-invoke-data", data]]) {
    await page.click(selector, { clickCount: 3 });
    await page.keyboard.type(value);
  }
  await page.select("#wps-invoke-type", dataType);
  await page.$eval("#wps-answer", (el) => { el.textContent = "—"; });
  await page.focus("#wps-invoke");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => !["—", "waiting…"].includes(document.getElementById("wps-answer").textContent), { timeout: 15000 });
  return text(page, "#wps-answer");
}

test("Invoke gets the app's answer, or its error", async () => {
  const alice = await openWebPubSub(browser, app.base, "alice");
  const bob = await openWebPubSub(browser, app.base, "bob");
  const labels = await alice.$$eval("#wps-invoke-form :is(input, select)", (els) => els.map((el) => el.labels[0]?.textContent));
  assert.deepEqual(labels, ["Event name", "Data", "Data type"]);

  // Forwarded to the webhook: its answer (text, then JSON) is the invocation's.
  assert.equal(await invoke(alice, "echo", "hello app"), "text: alice said hello app");
  await alice.waitForFunction(() => [...document.querySelectorAll("#wps-messages li[data-kind=answer]")]
    .some((li) => li.textContent === "answer to echo: alice said hello app"));
  assert.equal(await invoke(alice, "add", "[1, 2, 3]", "json"), 'json: {"sum":6}');
  const add = forwarded.find((e) => e.event === "add");
  assert.deepEqual([add.userId, add.dataType, add.data], ["alice", "json", [1, 2, 3]]);

  // Broadcast: everyone (bob too) gets it, and the invocation is answered without data.
  assert.equal(await invoke(alice, "announce", "to everyone"), "(no data)");
  await bob.waitForFunction(() => [...document.querySelectorAll("#wps-messages li[data-kind=server]")]
    .some((li) => li.textContent === "server: to everyone"));

  // The webhook refuses: the app answers 502, which the invoker sees as the invocation's error.
  const refused = await invoke(alice, "unknown", "x");
  assert.match(refused, /^failed: InternalServerError: .*ForwardFailed/);
  await waitForWpsLog(alice, "invoke unknown failed: InternalServerError");
  // Not JSON where JSON was chosen: said on the page, nothing sent.
  const before = forwarded.length;
  assert.equal(await invoke(alice, "add", "{not json", "json"), "the data is not JSON");
  assert.equal(forwarded.length, before);
  assert.equal(await text(alice, "#wps-state"), "Connected", "errors leave the connection up");

  await alice.$eval("#wps-invoke-heading", (el) => el.scrollIntoView());
  await screenshot(browser, alice, "demo-webpubsub-invoke");
  for (const page of [alice, bob]) {
    assert.deepEqual(page.failures, [], "no failed request, no console error");
    await page.browserContext().close();
  }
});

/** The stream items' state, chunk count, error and chunk lines on `page`, newest first. */
const streams = (page) => page.$$eval("#wps-streams li", (items) => items.map((li) => ({
  id: li.dataset.streamId,
  state: li.dataset.state,
  chunks: Number(li.dataset.chunks),
  error: li.dataset.error,
  title: li.querySelector("strong").textContent,
  lines: li.querySelector("pre").textContent.split("\n").filter(Boolean),
})));

function waitForStream(page, state, chunks) {
  return page.waitForFunction(
    (s, n) => [...document.querySelectorAll("#wps-streams li")].some((li) => li.dataset.state === s && li.dataset.chunks === String(n)),
    { timeout: 30000 },
    state,
    chunks,
  );
}

/** Sets the stream form and submits it with Enter from the chunk count field. */
async function stream(page, count, end) {
  await page.select("#wps-stream-end", end);
  await page.click("#wps-stream-count", { clickCount: 3 });
  await page.keyboard.type(String(count));
  await page.keyboard.press("Enter");
}

test("a page streams 150 chunks to the group; the other shows them in order, and its end", async () => {
  const alice = await openWebPubSub(browser, app.base, "alice");
  const bob = await openWebPubSub(browser, app.base, "bob");
  const carol = await openWebPubSub(browser, app.base, "carol");
  for (const page of [alice, bob]) {
    await page.click("#wps-join");
    await waitForWpsLog(page, "join room-1: ok");
  }

  await stream(alice, 150, "end");
  await waitForStream(bob, "ended", 150);
  await waitForWpsLog(alice, "stream to room-1: 150 chunks, ended");
  assert.equal(await text(alice, "#wps-stream-state"), "sent 150 of 150, ended");
  const expected = Array.from({ length: 150 }, (_, i) => `chunk ${i + 1}`);
  const [received] = await streams(bob);
  assert.deepEqual(received.lines, expected, "every chunk, in order, once");
  assert.match(received.title, /^\[room-1\] alice: stream /);
  // The sender's page shows its own stream too (no noEcho); carol, not in the group, none.
  await waitForStream(alice, "ended", 150);
  assert.deepEqual((await streams(alice))[0].id, received.id);
  assert.deepEqual(await streams(carol), []);

  // Ended with an error: the member's page says so, with the sender's message and code.
  await stream(alice, 5, "abort");
  await waitForStream(bob, "failed", 5);
  const [failed] = await streams(bob);
  assert.notEqual(failed.id, received.id);
  assert.deepEqual(failed.lines, expected.slice(0, 5));
  assert.equal(failed.error, "stopped on purpose by the demo (DemoError)");
  assert.match(await bob.$eval("#wps-streams li .stream-state", (el) => el.textContent), /failed \(stopped on purpose by the demo \(DemoError\)\): 5 chunks/);
  assert.equal(await text(alice, "#wps-stream-state"), "sent 5 of 5, ended with an error");

  await bob.$eval("#wps-stream-heading", (el) => el.scrollIntoView());
  await screenshot(browser, bob, "demo-webpubsub-stream");
  for (const page of [alice, bob, carol]) {
    assert.deepEqual(page.failures, [], "no failed request, no console error");
    await page.browserContext().close();
  }
});
