// The emulator dashboard: one snapshot, then changes from /dashboard/events (no polling).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const connections = new Map();
  const MAX_ROWS = 2000;
  const MAX_CALLS = 100;

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.append(td);
  }
  function render() {
    const body = $("connections");
    const rows = [];
    for (const c of [...connections.values()].slice(0, MAX_ROWS)) {
      const row = document.createElement("tr");
      row.dataset.id = c.id;
      for (const text of [c.hub, c.id, c.user ?? "—", c.transport, c.protocol, (c.groups || []).join(", "), new Date(c.since).toLocaleTimeString()]) {
        cell(row, text);
      }
      rows.push(row);
    }
    body.replaceChildren(...rows);
    $("count").textContent = String(connections.size);
    const hubs = new Map();
    for (const c of connections.values()) hubs.set(c.hub.toLowerCase(), (hubs.get(c.hub.toLowerCase()) || 0) + 1);
    $("hubs").replaceChildren(...[...hubs].sort().map(([name, n]) => {
      const li = document.createElement("li");
      li.textContent = `${name}: ${n} connection${n === 1 ? "" : "s"}`;
      return li;
    }));
  }
  function addCall(call) {
    const li = document.createElement("li");
    li.textContent = `${new Date(call.at).toLocaleTimeString()} ${call.method} ${call.path} → ${call.status}`;
    if (call.status >= 400) li.className = "error";
    $("calls").prepend(li);
    while ($("calls").children.length > MAX_CALLS) $("calls").lastChild.remove();
  }
  let pending = false;
  function scheduleRender() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(); });
  }

  const events = new EventSource("dashboard/events");
  events.addEventListener("open", () => { $("stream").textContent = "live"; });
  events.addEventListener("error", () => { $("stream").textContent = "reconnecting…"; });
  events.addEventListener("snapshot", (e) => {
    const snapshot = JSON.parse(e.data);
    connections.clear();
    for (const c of snapshot.connections) connections.set(c.id, c);
    $("calls").replaceChildren();
    for (const call of snapshot.calls) addCall(call);
    render();
    document.body.dataset.ready = "true";
  });
  events.addEventListener("change", (e) => {
    const change = JSON.parse(e.data);
    if (change.type === "connected") connections.set(change.id, change);
    else if (change.type === "disconnected") connections.delete(change.id);
    else if (change.type === "call") addCall(change);
    scheduleRender();
  });
})();
