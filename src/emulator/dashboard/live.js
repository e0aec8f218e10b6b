// What both emulators' dashboards share: table cells, bounded recent lists, and following
// /dashboard/events (a snapshot, then changes; a lagging viewer is sent a new snapshot).
"use strict";
window.dashboard = (() => {
  const $ = (id) => document.getElementById(id);
  const MAX_RECENT = 100;
  const MAX_ROWS = 2000;

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.append(td);
  }
  function time(at) {
    return new Date(at).toLocaleTimeString();
  }
  // A table row of `texts`.
  function row(texts, error) {
    const tr = document.createElement("tr");
    for (const text of texts) cell(tr, text);
    if (error) tr.className = "error";
    return tr;
  }
  // Prepends `element` to the list or table body `id`, keeping the newest MAX_RECENT.
  function prepend(id, element) {
    $(id).prepend(element);
    while ($(id).children.length > MAX_RECENT) $(id).lastChild.remove();
  }
  function prependRow(id, texts, error) {
    prepend(id, row(texts, error));
  }
  // Lists `connections` (a Map by id; at most MAX_ROWS rows of `texts(c)`), their count and
  // how many each hub has (hub names lowercased).
  function renderConnections(connections, texts) {
    const rows = [];
    for (const c of [...connections.values()].slice(0, MAX_ROWS)) {
      const tr = row(texts(c), false);
      tr.dataset.id = c.id;
      rows.push(tr);
    }
    $("connections").replaceChildren(...rows);
    $("count").textContent = String(connections.size);
    const hubs = new Map();
    for (const c of connections.values()) hubs.set(c.hub.toLowerCase(), (hubs.get(c.hub.toLowerCase()) || 0) + 1);
    $("hubs").replaceChildren(...[...hubs].sort().map(([name, n]) => {
      const li = document.createElement("li");
      li.textContent = `${name}: ${n} connection${n === 1 ? "" : "s"}`;
      return li;
    }));
  }
  // Calls `render` once in the next frame, however many changes come before it.
  function batched(render) {
    let pending = false;
    return () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; render(); });
    };
  }
  // Shows the link to the other emulator's dashboard, on this page's host name, if it runs.
  function showSibling(sibling) {
    const link = $("sibling");
    if (!link || !sibling) return;
    link.href = `${location.protocol}//${location.hostname}:${sibling.port}/`;
    link.textContent = `${sibling.name} emulator dashboard`;
    link.parentElement.hidden = false;
  }
  // Follows the event stream: `onSnapshot(snapshot)` then `onChange(change)` for each change.
  function follow(onSnapshot, onChange) {
    const events = new EventSource("dashboard/events");
    events.addEventListener("open", () => { $("stream").textContent = "live"; });
    events.addEventListener("error", () => { $("stream").textContent = "reconnecting…"; });
    events.addEventListener("snapshot", (e) => {
      const snapshot = JSON.parse(e.data);
      showSibling(snapshot.sibling);
      onSnapshot(snapshot);
      document.body.dataset.ready = "true";
    });
    events.addEventListener("change", (e) => onChange(JSON.parse(e.data)));
  }
  return { $, cell, time, row, prepend, prependRow, renderConnections, batched, follow };
})();
