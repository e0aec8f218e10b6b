// The demo page's Web PubSub tab: the official @azure/web-pubsub-client (webpubsub-client.min.js,
// loaded before this file, built from the npm package by webpubsub-client/build.mjs) over
// json.webpubsub.azure.v1, its URL from the app's Web PubSub negotiate. Group chat goes straight
// from client to client through the service (joinGroup, sendToGroup, leaveGroup); what the app's
// actions route sends arrives as server messages; "Invoke" calls the app's events route
// (invokeEvent) and shows its answer. webpubsub-stream.js (group streams) builds on what this file
// shares as `window.DemoWebPubSub`.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  if (document.body.dataset.webpubsub !== "on") return;
  const { WebPubSubClient, WebPubSubJsonProtocol } = window.WebPubSubClientBundle;
  $("wps-app").value = location.origin + "/api";
  let client = null;
  const groups = new Set();
  // Called with every new client before it starts (webpubsub-stream.js subscribes to streams).
  const clientHooks = [];

  function log(text) {
    const item = document.createElement("li");
    item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    $("wps-log").prepend(item);
    while ($("wps-log").children.length > 50) $("wps-log").lastChild.remove();
  }
  function setState(text) {
    $("wps-state").textContent = text;
    document.body.dataset.webpubsubState = text;
  }
  function showGroups() {
    $("wps-groups").textContent = groups.size ? [...groups].join(", ") : "—";
  }
  function show(kind, from, data) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = from;
    const text = typeof data === "string" ? data : JSON.stringify(data);
    item.append(name, ` ${text}`);
    item.dataset.kind = kind;
    $("wps-messages").prepend(item);
    while ($("wps-messages").children.length > 200) $("wps-messages").lastChild.remove();
  }

  function negotiateUrl() {
    const base = $("wps-app").value.replace(/\/+$/, "");
    const hub = $("wps-hub").value.trim();
    return hub ? `${base}/webpubsub/hubs/${encodeURIComponent(hub)}/negotiate` : `${base}/webpubsub/negotiate`;
  }
  // The client calls this for its first connection and for every reconnect: a fresh URL and token.
  async function clientAccessUrl() {
    const token = $("wps-token").value.trim();
    const principal = $("wps-principal").value.trim();
    const response = await fetch(negotiateUrl(), {
      method: "POST",
      credentials: "include",
      headers: {
        ...(principal ? { "x-ms-client-principal-id": principal } : {}),
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `negotiate answered ${response.status}`);
    }
    return body.url;
  }
  const reason = (error) => error.errorDetail ? `${error.errorDetail.name}: ${error.errorDetail.message}` : error.message;

  function disconnected() {
    setState("Disconnected");
    $("wps-connect").disabled = false;
    $("wps-disconnect").disabled = true;
    $("wps-connection-id").textContent = "—";
    groups.clear();
    showGroups();
  }

  async function connect(event) {
    event.preventDefault();
    if (client) client.stop();
    setState("Connecting");
    $("wps-connect").disabled = true;
    const current = new WebPubSubClient({ getClientAccessUrl: clientAccessUrl }, { protocol: WebPubSubJsonProtocol() });
    client = current;
    for (const hook of clientHooks) hook(current);
    current.on("connected", (e) => {
      setState("Connected");
      $("wps-user").textContent = e.userId || "(anonymous)";
      $("wps-connection-id").textContent = e.connectionId;
      $("wps-disconnect").disabled = false;
      log(`connected as ${e.userId || "(anonymous)"}`);
    });
    current.on("disconnected", (e) => {
      if (client !== current) return;
      setState("Reconnecting");
      log(`disconnected${e.message ? `: ${e.message}` : ""}`);
    });
    current.on("stopped", () => {
      if (client !== current) return;
      disconnected();
      log("stopped");
    });
    current.on("group-message", (e) => show("group", `[${e.message.group}] ${e.message.fromUserId || "(anonymous)"}:`, e.message.data));
    current.on("server-message", (e) => show("server", "server:", e.message.data));
    current.on("rejoin-group-failed", (e) => log(`rejoin ${e.group} failed: ${reason(e.error)}`));
    try {
      await current.start();
    } catch (error) {
      if (client === current) {
        client = null;
        disconnected();
      }
      log(`connect failed: ${reason(error)}`);
    }
  }

  async function group(action) {
    const name = $("wps-group").value.trim();
    if (!connectedClient()) return log(`${action}: connect first`);
    try {
      await (action === "join" ? client.joinGroup(name) : client.leaveGroup(name));
      if (action === "join") groups.add(name);
      else groups.delete(name);
      showGroups();
      log(`${action} ${name}: ok`);
    } catch (error) {
      log(`${action} ${name} failed: ${reason(error)}`);
    }
  }

  async function send(event) {
    event.preventDefault();
    const name = $("wps-group").value.trim();
    const text = $("wps-text").value;
    if (!connectedClient()) return log("send: connect first");
    try {
      await client.sendToGroup(name, text, "text");
      $("wps-text").value = "";
      log(`sent to ${name}`);
    } catch (error) {
      log(`send to ${name} failed: ${reason(error)}`);
    }
  }

  /** The answer's data as text: text as is, JSON serialized, binary as its size. */
  function answerText(result) {
    if (result.data === undefined || result.data === null) return "(no data)";
    if (result.data instanceof ArrayBuffer) return `(${result.data.byteLength} bytes)`;
    return typeof result.data === "string" ? result.data : JSON.stringify(result.data);
  }

  async function invoke(event) {
    event.preventDefault();
    const name = $("wps-event").value.trim();
    const dataType = $("wps-invoke-type").value;
    const raw = $("wps-invoke-data").value;
    const current = connectedClient();
    if (!current) return log(`invoke ${name}: connect first`);
    let data = raw;
    if (dataType === "json") {
      try {
        data = JSON.parse(raw);
      } catch {
        $("wps-answer").textContent = "the data is not JSON";
        return log(`invoke ${name}: the data is not JSON`);
      }
    }
    $("wps-answer").textContent = "waiting…";
    try {
      const result = await current.invokeEvent(name, data, dataType);
      const text = answerText(result);
      $("wps-answer").textContent = result.dataType ? `${result.dataType}: ${text}` : text;
      show("answer", `answer to ${name}:`, text);
      log(`invoke ${name}: answered`);
    } catch (error) {
      $("wps-answer").textContent = `failed: ${reason(error)}`;
      log(`invoke ${name} failed: ${reason(error)}`);
    }
  }

  function connectedClient() {
    return client && $("wps-state").textContent === "Connected" ? client : null;
  }
  window.DemoWebPubSub = {
    log,
    reason,
    connectedClient,
    onClient: (hook) => clientHooks.push(hook),
    group: () => $("wps-group").value.trim(),
  };

  $("wps-connect-form").addEventListener("submit", connect);
  $("wps-invoke-form").addEventListener("submit", invoke);
  $("wps-disconnect").addEventListener("click", () => client && client.stop());
  $("wps-group-form").addEventListener("submit", (event) => {
    event.preventDefault();
    group("join");
  });
  $("wps-leave").addEventListener("click", () => group("leave"));
  $("wps-send-form").addEventListener("submit", send);
  setState("Disconnected");
})();
