// The Web PubSub emulator's dashboard: one snapshot, then changes from /dashboard/events:
// connections (groups, roles, away), sends, event handler calls and invocations. The group
// streams in flight are polled every 2 s (/dashboard/streams): their sequence ids move with
// every fragment.
"use strict";
(() => {
  const { $, cell, time, prependRow, renderConnections, batched, follow } = window.dashboard;
  const connections = new Map();

  function render() {
    renderConnections(connections, (c) => {
      // A reliable client's connection outlives its socket for a while.
      const since = c.away ? `${time(c.since)} (away, may recover)` : time(c.since);
      return [c.hub, c.id, c.user ?? "—", c.subprotocol ?? "(simple)", c.groups.join(", "), c.roles.join(", "), since];
    });
  }
  const scheduleRender = batched(render);

  function addSend(send) {
    const recipients = send.name === null || send.name === undefined ? send.recipients : `${send.recipients} ${send.name}`;
    const received = `${send.received} connection${send.received === 1 ? "" : "s"}`;
    prependRow("sends", [time(send.at), send.hub, recipients, send.dataType, received], false);
  }
  function addEvent(call) {
    const status = call.status === null || call.status === undefined ? "—" : String(call.status);
    const outcome = call.error ? `${status} (${call.error})` : status;
    const failed = call.error || !(call.status >= 200 && call.status < 300);
    prependRow("events", [time(call.at), call.hub, call.connection, call.event, call.url, outcome, `${call.durationMs} ms`], failed);
  }
  function addInvocation(inv) {
    prependRow("invocations", [time(inv.at), inv.hub, inv.connection, inv.invocationId, inv.event ?? "—", inv.outcome], inv.outcome !== "success" && inv.outcome !== "cancelled");
  }

  async function pollStreams() {
    try {
      const { streams } = await (await fetch("dashboard/streams", { cache: "no-store" })).json();
      $("streams").replaceChildren(...streams.map((s) => {
        const row = document.createElement("tr");
        for (const text of [s.hub, s.group, s.connection, s.streamId, String(s.nextSequenceId), `${Math.round(s.ageMs / 1000)} s`]) cell(row, text);
        return row;
      }));
    } catch (e) {
      $("streams").replaceChildren();
    }
  }
  pollStreams();
  setInterval(pollStreams, 2000);

  follow((snapshot) => {
    connections.clear();
    for (const c of snapshot.connections) connections.set(c.id, c);
    for (const [id, list, add] of [["sends", snapshot.sends, addSend], ["events", snapshot.events, addEvent], ["invocations", snapshot.invocations, addInvocation]]) {
      $(id).replaceChildren();
      for (const item of list) add(item);
    }
    render();
  }, (change) => {
    if (change.type === "connection") connections.set(change.id, change);
    else if (change.type === "disconnected") connections.delete(change.id);
    else if (change.type === "send") addSend(change);
    else if (change.type === "event") addEvent(change);
    else if (change.type === "invocation") addInvocation(change);
    scheduleRender();
  });
})();
