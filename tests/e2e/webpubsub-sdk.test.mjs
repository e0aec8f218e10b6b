// Cross-check with the official npm server SDK (issue #11): the real `handler` runs as a function
// app whose WebPubSubConnectionString points at a recording HTTP server here, not a real service.
// The app's /api/webpubsub/negotiate token must carry what @azure/web-pubsub's
// getClientAccessToken gives for the same inputs, and each action POSTed to
// /api/webpubsub/actions must make the same REST request as the SDK's equivalent call: method,
// path, query, content type, body bytes and the token audience (the whole request URL).
// One known difference: the SDK 1.2.0 sends api-version 2024-12-01 and cannot be told otherwise;
// the app sends the GA 2024-01-01, whose operations are the same. api-version is therefore
// compared to those two values, and every other part of the request exactly.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { startApp } from "./app-support.mjs";

const HUB = "sdkcheck";
// A made-up key for this test only (Web PubSub signs with its UTF-8 bytes).
const KEY = "sdk-cross-check-test-key-not-a-secret-0123456789";
const FUNCTION_KEY = "sdk-check-function-key";
const OUR_API_VERSION = "2024-01-01";
const SDK_API_VERSION = "2024-12-01";

/** A stand-in for the service: answers every call as the service would, and records it. */
async function startRecorder() {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
      const path = req.url.split("?")[0];
      // The statuses of the swagger, which the SDK insists on.
      const status = req.method === "POST" && path.endsWith("/:send") ? 202 : req.method === "PUT" ? 200 : 204;
      res.writeHead(status, { "Content-Length": "0" });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    /** Runs `fn` and returns the one request it made. */
    async one(what, fn) {
      requests.length = 0;
      await fn();
      assert.equal(requests.length, 1, `${what}: expected one request, got ${requests.map((r) => `${r.method} ${r.url}`).join(", ")}`);
      return requests[0];
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const b64url = (s) => Buffer.from(s, "base64url");

/** Decodes a JWT and checks its HS256 signature with the access key. */
function verifyJwt(token) {
  const [h, p, s] = token.split(".");
  const header = JSON.parse(b64url(h).toString());
  const payload = JSON.parse(b64url(p).toString());
  const expected = createHmac("sha256", KEY).update(`${h}.${p}`).digest();
  assert.ok(expected.equals(b64url(s)), "the token's HS256 signature does not verify with the access key");
  return { header, payload };
}

/** The comparable shape of one recorded request, and the token audience checked against it. */
function shape(recorded, base, apiVersion) {
  const url = new URL(recorded.url, base);
  const auth = recorded.headers.authorization ?? "";
  assert.match(auth, /^Bearer /, "the request carries no bearer token");
  const { header, payload } = verifyJwt(auth.slice("Bearer ".length));
  assert.equal(header.alg, "HS256");
  // The audience is the whole request URL.
  assert.equal(payload.aud, url.href, "the token audience is not the request URL");
  const query = [...url.searchParams].filter(([k]) => k !== "api-version").map(([k, v]) => `${k}=${v}`).sort();
  assert.deepEqual(url.searchParams.getAll("api-version"), [apiVersion]);
  const aud = new URL(payload.aud);
  aud.searchParams.delete("api-version");
  aud.searchParams.sort();
  return {
    method: recorded.method,
    path: url.pathname,
    query,
    contentType: recorded.headers["content-type"]?.split(";")[0].trim().toLowerCase() ?? null,
    body: recorded.body.toString("base64"),
    aud: aud.href,
  };
}

describe("the app's Web PubSub tokens and REST calls match @azure/web-pubsub", () => {
  let recorder;
  let app;
  let sdk;
  before(async () => {
    recorder = await startRecorder();
    const connectionString = `Endpoint=${recorder.base};AccessKey=${KEY};Version=1.0;`;
    app = await startApp({
      WebPubSubConnectionString: connectionString,
      WebPubSubHub: HUB,
      SIGNALR_FUNCTION_KEYS: FUNCTION_KEY,
      SIGNALR_EASY_AUTH: "true",
      WEBPUBSUB_TOKEN_ROLES: "webpubsub.joinLeaveGroup.room,webpubsub.sendToGroup",
      WEBPUBSUB_TOKEN_GROUPS: "room,user-{userId}",
      WEBPUBSUB_TOKEN_LIFETIME: "3600",
    });
    sdk = new WebPubSubServiceClient(connectionString, HUB, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
  });
  after(async () => {
    await app?.stop();
    await recorder?.close();
  });

  const post = async (path, body, headers = {}) => {
    const response = await fetch(`${app.base}${path}`, {
      method: "POST",
      headers: { "x-functions-key": FUNCTION_KEY, ...headers, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, text };
  };

  test("negotiate's token and URL are the SDK's for the same user, roles and groups", async () => {
    const { status, text } = await post("/api/webpubsub/negotiate", null, { "x-ms-client-principal-id": "ann" });
    assert.equal(status, 200, text);
    const ours = JSON.parse(text);
    const theirs = await sdk.getClientAccessToken({
      userId: "ann",
      roles: ["webpubsub.joinLeaveGroup.room", "webpubsub.sendToGroup"],
      groups: ["room", "user-ann"],
    });
    assert.equal(ours.baseUrl, theirs.baseUrl);
    assert.equal(ours.url, `${ours.baseUrl}?access_token=${ours.accessToken}`);
    assert.equal(theirs.url, `${theirs.baseUrl}?access_token=${theirs.token}`);
    const o = verifyJwt(ours.accessToken);
    const t = verifyJwt(theirs.token);
    assert.equal(o.header.alg, t.header.alg);
    assert.equal(o.header.alg, "HS256");
    assert.equal(o.payload.aud, t.payload.aud);
    assert.equal(o.payload.sub, t.payload.sub);
    assert.deepEqual(o.payload.role, t.payload.role);
    assert.deepEqual(o.payload["webpubsub.group"], t.payload["webpubsub.group"]);
    assert.equal(o.payload.exp - o.payload.iat, t.payload.exp - t.payload.iat);
  });

  // Each action as the app takes it, and the SDK call that should make the same request.
  const buffer = (bytes) => ({ type: "Buffer", data: bytes });
  const group = () => sdk.group("room 1");
  const cases = [
    ["sendToAll json", { actionName: "sendToAll", dataType: "json", data: '{"a":[1,"é"]}' }, () => sdk.sendToAll({ a: [1, "é"] })],
    ["sendToAll text excluded", { actionName: "sendToAll", dataType: "text", data: "hi é", excluded: ["c1", "c 2"] },
      () => sdk.sendToAll("hi é", { contentType: "text/plain", excludedConnections: ["c1", "c 2"] })],
    ["sendToAll binary", { actionName: "sendToAll", dataType: "binary", data: buffer([0, 1, 254, 255]) },
      () => sdk.sendToAll(new Uint8Array([0, 1, 254, 255]))],
    ["sendToUser text", { actionName: "sendToUser", userId: "alice/b", data: "to you" },
      () => sdk.sendToUser("alice/b", "to you", { contentType: "text/plain" })],
    ["sendToUser json", { actionName: "sendToUser", userId: "bob", dataType: "json", data: '"s"' }, () => sdk.sendToUser("bob", "s")],
    ["sendToGroup excluded", { actionName: "sendToGroup", group: "room 1", dataType: "binary", data: buffer([7, 8]), excluded: ["c3"] },
      () => group().sendToAll(new Uint8Array([7, 8]), { excludedConnections: ["c3"] })],
    ["sendToConnection", { actionName: "sendToConnection", connectionId: "conn 1", dataType: "text", data: "t" },
      () => sdk.sendToConnection("conn 1", "t", { contentType: "text/plain" })],
    ["addUserToGroup", { actionName: "addUserToGroup", userId: "alice", group: "room 1" }, () => group().addUser("alice")],
    ["removeUserFromGroup", { actionName: "removeUserFromGroup", userId: "alice", group: "room 1" }, () => group().removeUser("alice")],
    ["removeUserFromAllGroups", { actionName: "removeUserFromAllGroups", userId: "alice" }, () => sdk.removeUserFromAllGroups("alice")],
    ["addConnectionToGroup", { actionName: "addConnectionToGroup", connectionId: "conn-1", group: "room 1" }, () => group().addConnection("conn-1")],
    ["removeConnectionFromGroup", { actionName: "removeConnectionFromGroup", connectionId: "conn-1", group: "room 1" },
      () => group().removeConnection("conn-1")],
    ["closeAllConnections", { actionName: "closeAllConnections", excluded: ["c1"], reason: "bye now" },
      () => sdk.closeAllConnections({ excluded: ["c1"], reason: "bye now" })],
    ["closeClientConnection", { actionName: "closeClientConnection", connectionId: "conn-1", reason: "go" },
      () => sdk.closeConnection("conn-1", { reason: "go" })],
    ["closeGroupConnections", { actionName: "closeGroupConnections", group: "room 1", excluded: ["c1", "c2"], reason: "done" },
      () => group().closeAllConnections({ excluded: ["c1", "c2"], reason: "done" })],
    ["grantPermission", { actionName: "grantPermission", connectionId: "conn-1", permission: "sendToGroup", targetName: "room 1" },
      () => sdk.grantPermission("conn-1", "sendToGroup", { targetName: "room 1" })],
    ["revokePermission", { actionName: "revokePermission", connectionId: "conn-1", permission: "joinLeaveGroup" },
      () => sdk.revokePermission("conn-1", "joinLeaveGroup")],
  ];

  for (const [name, action, call] of cases) {
    test(`action ${name} makes the SDK's request`, async () => {
      const ours = await recorder.one(`the app's ${name}`, async () => {
        const { status, text } = await post(`/api/webpubsub/actions`, action);
        assert.equal(status, 202, text);
      });
      const theirs = await recorder.one(`the SDK's ${name}`, call);
      assert.deepEqual(shape(ours, recorder.base, OUR_API_VERSION), shape(theirs, recorder.base, SDK_API_VERSION));
    });
  }
});
