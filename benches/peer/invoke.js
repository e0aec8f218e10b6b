// Client-results latency: one unmodified @microsoft/signalr client, negotiated through the app,
// answers `m` with its argument (`connection.on("m", x => x)`); the script then invokes it N times
// through the app's POST /api/hubs/<hub>/connections/<id>/invoke and N times through the emulator's
// POST /api/hubs/<hub>/connections/<id>/:invoke directly (HS256 token signed with the key in
// BENCH_ACCESS_KEY), alternating in blocks so both see the same machine, each call on a keep-alive
// connection and checked, and prints one JSON line {app: {p50_ms, p99_ms}, direct: {...}}.
// Usage: node invoke.js <app base URL> <emulator base URL> [calls=500] [hub=bench]
'use strict';
const signalR = require('@microsoft/signalr');
const jwt = require('jsonwebtoken');

const [app, emulator] = process.argv.slice(2, 4);
const calls = Number(process.argv[4] || 500);
const hub = process.argv[5] || 'bench';
const BLOCK = 50;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function timedCall(url, headers, value) {
  const started = process.hrtime.bigint();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ target: 'm', arguments: [value] }),
  });
  const text = await response.text();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200 || JSON.parse(text).result !== value) {
    throw new Error(`${url}: ${response.status} ${text.slice(0, 200)}`);
  }
  return ms;
}

async function main() {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${app}/api/hubs/${hub}`)
    .configureLogging(signalR.LogLevel.Error)
    .build();
  connection.on('m', (x) => x);
  await connection.start();
  const id = encodeURIComponent(connection.connectionId);
  const viaApp = `${app}/api/hubs/${hub}/connections/${id}/invoke`;
  const path = `/api/hubs/${hub}/connections/${id}/:invoke?api-version=2024-12-01`;
  const token = jwt.sign({ aud: `http://127.0.0.1${path}` }, process.env.BENCH_ACCESS_KEY,
    { algorithm: 'HS256', expiresIn: 3600 });
  const sides = {
    app: { url: viaApp, headers: {}, times: [] },
    direct: { url: `${emulator}${path}`, headers: { authorization: `Bearer ${token}` }, times: [] },
  };
  for (const side of Object.values(sides)) await timedCall(side.url, side.headers, -1); // warm-up
  for (let done = 0; done < calls; done += BLOCK) {
    for (const side of Object.values(sides)) {
      for (let i = done; i < Math.min(calls, done + BLOCK); i++) {
        side.times.push(await timedCall(side.url, side.headers, i));
      }
    }
  }
  await connection.stop();
  const summary = {};
  for (const [name, side] of Object.entries(sides)) {
    const sorted = side.times.sort((a, b) => a - b);
    summary[name] = { p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), calls: sorted.length };
  }
  console.log(JSON.stringify(summary));
}

main().catch((error) => {
  console.error(error.stack || String(error));
  process.exit(1);
});
