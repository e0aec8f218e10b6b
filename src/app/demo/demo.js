// The demo page's script: the official @microsoft/signalr browser client (signalr.min.js, loaded
// before this file) connected through the app's negotiate. No framework, no build step.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const fields = ["app", "hub", "transport", "token", "principal", "targets"];
  $("app").value = location.origin + "/api";
  for (const name of fields) {
    if (params.has(name)) $(name).value = params.get(name);
  }
  let connection = null;

  function log(text) {
    const item = document.createElement("li");
    item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
    $("log").prepend(item);
    while ($("log").children.length > 50) $("log").lastChild.remove();
  }
  function setState(text) {
    $("state").textContent = text;
    document.body.dataset.state = text;
  }
  function headers() {
    const principal = $("principal").value.trim();
    return principal ? { "x-ms-client-principal-id": principal } : {};
  }
  function appUrl() {
    return `${$("app").value.replace(/\/+$/, "")}/hubs/${encodeURIComponent($("hub").value)}`;
  }

  // Who the app says we are, and until when: a negotiate with the same credentials, its token's
  // `nameid` and `exp` claims (the client's own negotiate gets a token of the same lifetime).
  async function whoAmI() {
    const token = $("token").value.trim();
    const response = await fetch(`${appUrl()}/negotiate`, {
      method: "POST",
      credentials: "include",
      headers: { ...headers(), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : `negotiate: ${response.status}`);
    const part = body.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return { user: claims.nameid || "(anonymous)", expires: claims.exp };
  }
  async function showIdentity() {
    const { user, expires } = await whoAmI();
    $("user").textContent = user;
    $("token-expires").textContent = expires ? new Date(expires * 1000).toLocaleTimeString() : "—";
  }

  async function connect(event) {
    event.preventDefault();
    if (connection) await connection.stop();
    const transport = $("transport").value;
    const token = $("token").value.trim();
    setState("Connecting");
    $("connect").disabled = true;
    try {
      await showIdentity();
      connection = new signalR.HubConnectionBuilder()
        .withUrl(appUrl(), {
          transport: signalR.HttpTransportType[transport],
          headers: headers(),
          withCredentials: true,
          accessTokenFactory: token ? () => token : undefined,
        })
        .withAutomaticReconnect()
        .configureLogging(signalR.LogLevel.Warning)
        .build();
      for (const target of $("targets").value.split(",").map((t) => t.trim()).filter(Boolean)) {
        connection.on(target, (...args) => showMessage(target, args));
      }
      connection.onreconnecting((error) => {
        setState("Reconnecting");
        log(`reconnecting${error ? `: ${error.message}` : ""}`);
      });
      connection.onreconnected((id) => {
        setState("Connected");
        $("connection-id").textContent = id || "—";
        log("reconnected");
        showIdentity().catch((error) => log(`negotiate failed: ${error.message}`));
      });
      connection.onclose((error) => {
        setState("Disconnected");
        $("connect").disabled = false;
        $("disconnect").disabled = true;
        log(`closed${error ? `: ${error.message}` : ""}`);
      });
      await connection.start();
      setState("Connected");
      $("current-transport").textContent = transport;
      $("connection-id").textContent = connection.connectionId || "—";
      $("disconnect").disabled = false;
      log(`connected over ${transport}`);
    } catch (error) {
      setState("Disconnected");
      $("connect").disabled = false;
      log(`connect failed: ${error.message}`);
    }
  }

  function showMessage(target, args) {
    const item = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = target;
    item.append(name, ` ${args.map((a) => JSON.stringify(a)).join(", ")}`);
    item.dataset.target = target;
    $("messages").prepend(item);
    while ($("messages").children.length > 200) $("messages").lastChild.remove();
  }

  async function invoke(method, ...args) {
    if (!connection || connection.state !== signalR.HubConnectionState.Connected) {
      log(`${method}: connect first`);
      return;
    }
    try {
      const result = await connection.invoke(method, ...args);
      log(`${method} ${JSON.stringify(args)} → ${JSON.stringify(result)}`);
    } catch (error) {
      log(`${method} failed: ${error.message}`);
    }
  }

  async function joinGroup(event) {
    event.preventDefault();
    if (!connection || !connection.connectionId) {
      log("join: connect first");
      return;
    }
    const key = $("function-key").value.trim();
    const response = await fetch(`${appUrl()}/groups`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(key ? { "x-functions-key": key } : {}) },
      body: JSON.stringify({ action: "add", connectionId: connection.connectionId, groupName: $("group").value }),
    });
    log(`join ${$("group").value}: ${response.status}${response.ok ? "" : ` ${await response.text()}`}`);
  }

  $("connect-form").addEventListener("submit", connect);
  $("disconnect").addEventListener("click", () => connection && connection.stop());
  $("subscribe-form").addEventListener("submit", (event) => {
    event.preventDefault();
    invoke("subscribe", $("topic").value);
  });
  $("publish-form").addEventListener("submit", (event) => {
    event.preventDefault();
    invoke("publishToTopic", $("publish-topic").value, $("publish-text").value);
  });
  $("group-form").addEventListener("submit", joinGroup);
  setState("Disconnected");
})();
