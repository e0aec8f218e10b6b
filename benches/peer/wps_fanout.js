// Web PubSub fan-out benchmark: N `json.webpubsub.azure.v1` WebSocket clients (ws, as
// @azure/web-pubsub-client speaks it), each negotiated through the app's
// /api/webpubsub/hubs/<hub>/negotiate and connected to the embedded Web PubSub emulator; then R
// rounds of one `sendToAll` action through the app's POST /api/webpubsub/hubs/<hub>/actions (the
// app calls the emulator's REST `:send`) carrying the send time. Prints one JSON line: per round,
// the time from the send until the last of the N clients received it (p50/p95 over the rounds),
// and every single delivery's p50/p99. Bounded: every phase has a deadline.
// Usage: node wps_fanout.js <app base URL> [clients=1000] [rounds=20] [hub=bench]
'use strict';
const WebSocket = require('ws');

const app = process.argv[2];
const clients = Number(process.argv[3] || 1000);
const rounds = Number(process.argv[4] || 20);
const hub = process.argv[5] || 'bench';
const deadline = Date.now() + 120_000;

setTimeout(() => { console.error('wps_fanout: overall deadline (120 s) passed'); process.exit(2); }, 120_000).unref();

async function negotiate() {
  const response = await fetch(`${app}/api/webpubsub/hubs/${hub}/negotiate`, { method: 'POST' });
  if (!response.ok) throw new Error(`negotiate: ${response.status} ${await response.text()}`);
  return (await response.json()).url;
}

const latencies = []; // nanoseconds, every delivery of every round
const perRound = new Map(); // round → { received, last }

function connect(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'json.webpubsub.azure.v1', { perMessageDeflate: false });
    let connected = false;
    const timer = setTimeout(() => reject(new Error('no connected event within 10 s')), 10_000);
    socket.on('error', reject);
    socket.on('message', (data) => {
      const now = process.hrtime.bigint();
      const message = JSON.parse(data.toString());
      if (!connected) {
        if (message.type === 'system' && message.event === 'connected') {
          connected = true;
          clearTimeout(timer);
          resolve(socket);
        }
        return;
      }
      if (message.type !== 'message' || message.from !== 'server') return;
      const [round, sent] = message.data;
      const took = now - BigInt(sent);
      latencies.push(Number(took));
      const stats = perRound.get(round);
      stats.received += 1;
      if (took > stats.last) stats.last = took;
    });
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const started = Date.now();
  const sockets = [];
  const batch = 50;
  for (let i = 0; i < clients; i += batch) {
    const urls = await Promise.all(Array.from({ length: Math.min(batch, clients - i) }, negotiate));
    sockets.push(...(await Promise.all(urls.map(connect))));
    if (Date.now() > deadline) throw new Error('connecting took too long');
  }
  const connectSeconds = (Date.now() - started) / 1000;
  for (let round = 0; round < rounds; round++) {
    perRound.set(round, { received: 0, last: 0n });
    const sent = process.hrtime.bigint();
    const response = await fetch(`${app}/api/webpubsub/hubs/${hub}/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        actionName: 'sendToAll', dataType: 'json', data: JSON.stringify([round, sent.toString()]),
      }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`sendToAll answered ${response.status}: ${text}`);
    const roundDeadline = Date.now() + 5_000;
    while (perRound.get(round).received < clients && Date.now() < roundDeadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const sorted = latencies.slice().sort((a, b) => a - b);
  const complete = [...perRound.values()].filter((s) => s.received === sockets.length);
  const lasts = complete.map((s) => Number(s.last)).sort((a, b) => a - b);
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  console.log(JSON.stringify({
    clients: sockets.length,
    rounds,
    complete_rounds: complete.length,
    delivered: latencies.length,
    expected: sockets.length * rounds,
    connect_s: connectSeconds,
    p50_ms: ms(percentile(sorted, 50)),
    p99_ms: ms(percentile(sorted, 99)),
    all_delivered_p50_ms: lasts.length ? ms(percentile(lasts, 50)) : null,
    all_delivered_p95_ms: lasts.length ? ms(percentile(lasts, 95)) : null,
  }));
  for (const socket of sockets) socket.terminate();
}

main().then(() => process.exit(0), (e) => { console.error(`wps_fanout: ${e.stack || e}`); process.exit(1); });
