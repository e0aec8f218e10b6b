// The SignalR emulator's dashboard: one snapshot, then changes from /dashboard/events:
// connections (and their groups), REST calls, sends and upstream calls. Injected-fault counts
// are polled every 2 s (/dashboard/faults), as they change with every request.
"use strict";
(() => {
  const { $, cell, time, prepend, prependRow, renderConnections, batched, follow } = window.dashboard;
  const connections = new Map();

  function render() {
    renderConnections(connections, (c) => {
      // A connection whose socket dropped waits for its client (stateful reconnect).
      const transport = c.away ? `${c.transport} (away, may reconnect)` : c.transport;
      return [c.hub, c.id, c.user ?? "—", transport, c.protocol, (c.groups || []).join(", "), time(c.since)];
    });
  }
  function addSend(send) {
    const recipients = send.name === null || send.name === undefined ? send.recipients : `${send.recipients} ${send.name}`;
    const received = `${send.received} connection${send.received === 1 ? "" : "s"}${send.excluded ? ` (${send.excluded} excluded)` : ""}`;
    prependRow("sends", [time(send.at), send.hub, recipients, send.target, received], false);
  }
  function addUpstream(call) {
    const status = call.status === null || call.status === undefined ? "—" : String(call.status);
    const outcome = call.error ? `${status} (${call.error})` : status;
    const failed = call.error || !(call.status >= 200 && call.status < 300);
    prependRow("upstream", [time(call.at), call.hub, call.connection, call.kind, call.event, call.url, outcome, `${call.durationMs} ms`], failed);
  }
  function addCall(call) {
    const li = document.createElement("li");
    li.textContent = `${time(call.at)} ${call.method} ${call.path} → ${call.status}`;
    if (call.status >= 400) li.className = "error";
    prepend("calls", li);
  }
  const scheduleRender = batched(render);

  const KINDS = ["503", "429", "reset-before", "reset-after", "latency", "down"];
  async function pollFaults() {
    try {
      const report = await (await fetch("dashboard/faults", { cache: "no-store" })).json();
      const c = report.config;
      const rates = ["rest", "connect", "upstream"].map((k) => `${k} ${Math.round(c[k].rate * 1000) / 10} %`);
      $("faults-config").textContent = `${c.down ? "service DOWN; " : ""}rates: ${rates.join(", ")}; seed ${c.seed}`;
      $("faults").replaceChildren(...Object.entries(report.counts).map(([name, counts]) => {
        const row = document.createElement("tr");
        cell(row, name);
        cell(row, String(counts.seen));
        for (const kind of KINDS) cell(row, String(counts.injected[kind]));
        return row;
      }));
    } catch (e) {
      $("faults-config").textContent = "unavailable";
    }
  }
  pollFaults();
  setInterval(pollFaults, 2000);

  follow((snapshot) => {
    connections.clear();
    for (const c of snapshot.connections) connections.set(c.id, c);
    $("calls").replaceChildren();
    for (const call of snapshot.calls) addCall(call);
    $("sends").replaceChildren();
    for (const send of snapshot.sends) addSend(send);
    $("upstream").replaceChildren();
    for (const call of snapshot.upstream) addUpstream(call);
    render();
  }, (change) => {
    if (change.type === "connected") connections.set(change.id, change);
    else if (change.type === "disconnected") connections.delete(change.id);
    else if (change.type === "groups") {
      const c = connections.get(change.id);
      if (c) c.groups = change.groups;
    } else if (change.type === "socket") {
      const c = connections.get(change.id);
      if (c) c.away = change.away;
    } else if (change.type === "call") addCall(change);
    else if (change.type === "send") addSend(change);
    else if (change.type === "upstream") addUpstream(change);
    scheduleRender();
  });
})();
