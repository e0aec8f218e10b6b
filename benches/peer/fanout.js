// Emulator fan-out benchmark: connects N raw WebSocket clients (ws + the JSON hub protocol
// handshake, as @microsoft/signalr does), then broadcasts through the app's POST
// /api/hubs/<hub>/messages R times with a send timestamp in the payload, and prints one JSON line
// of end-to-end delivery times (send → each client's receipt). Bounded: every phase has a deadline.
// Usage: node fanout.js <app base URL> [clients=1000] [rounds=20] [hub=bench]
'use strict';
const WebSocket = require('ws');

const app = process.argv[2];
const clients = Number(process.argv[3] || 1000);
const rounds = Number(process.argv[4] || 20);
const hub = process.argv[5] || 'bench';
const RS = '\x1e';
const deadline = Date.now() + 120_000;

setTimeout(() => { console.error('fanout: overall deadline (120 s) passed'); process.exit(2); }, 120_000).unref();

async function negotiate() {
  const info = await (await fetch(`${app}/api/hubs/${hub}/negotiate`, { method: 'POST' })).json();
  const url = new URL(info.url);
  url.pathname = url.pathname.replace(/\/?$/, '/negotiate').replace('//negotiate', '/negotiate');
  url.searchParams.set('negotiateVersion', '1');
  const response = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${info.accessToken}` } });
  if (!response.ok) throw new Error(`service negotiate: ${response.status} ${await response.text()}`);
  const negotiated = await response.json();
  const ws = new URL(info.url);
  ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.searchParams.set('id', negotiated.connectionToken);
  ws.searchParams.set('access_token', info.accessToken);
  return ws.toString();
}

const latencies = []; // nanoseconds, every delivery of every round
const perRound = new Map(); // round → { received, last }

function connect(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    let handshaken = false;
    const timer = setTimeout(() => reject(new Error('handshake timed out')), 10_000);
    socket.on('open', () => socket.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS));
    socket.on('error', reject);
    socket.on('message', (data) => {
      const now = process.hrtime.bigint();
      for (const record of data.toString().split(RS)) {
        if (!record) continue;
        if (!handshaken) {
          handshaken = true;
          clearTimeout(timer);
          if (record !== '{}') return reject(new Error(`handshake refused: ${record}`));
          resolve(socket);
          continue;
        }
        const message = JSON.parse(record);
        if (message.type !== 1 || message.target !== 'tick') continue;
        const [round, sent] = message.arguments;
        const took = now - BigInt(sent);
        latencies.push(Number(took));
        const stats = perRound.get(round);
        stats.received += 1;
        if (took > stats.last) stats.last = took;
      }
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
    const response = await fetch(`${app}/api/hubs/${hub}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ target: 'tick', arguments: [round, sent.toString()] }),
    });
    await response.arrayBuffer();
    if (response.status !== 202) throw new Error(`broadcast answered ${response.status}`);
    const roundDeadline = Date.now() + 5_000;
    while (perRound.get(round).received < clients && Date.now() < roundDeadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const sorted = latencies.slice().sort((a, b) => a - b);
  const lasts = [...perRound.values()].map((s) => Number(s.last)).sort((a, b) => a - b);
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  console.log(JSON.stringify({
    clients: sockets.length,
    rounds,
    delivered: latencies.length,
    expected: sockets.length * rounds,
    connect_s: connectSeconds,
    p50_ms: ms(percentile(sorted, 50)),
    p99_ms: ms(percentile(sorted, 99)),
    max_ms: ms(sorted[sorted.length - 1]),
    all_delivered_p50_ms: ms(percentile(lasts, 50)),
  }));
  for (const socket of sockets) socket.terminate();
}

main().then(() => process.exit(0), (e) => { console.error(`fanout: ${e.stack || e}`); process.exit(1); });
