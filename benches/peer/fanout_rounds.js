// The measuring loop both fan-out benchmarks share (fanout.js for SignalR, wps_fanout.js for Web
// PubSub): connect N clients 50 at a time, then R rounds of one broadcast carrying its send time
// (process.hrtime in nanoseconds), waiting up to 5 s per round for every client to receive it.
// Prints one JSON line: every single delivery's p50/p99/max and, over the rounds every client
// received, the time until the last client had it (p50/p95). Bounded by a 120 s deadline
// (FANOUT_DEADLINE_S).
'use strict';

// FANOUT_DEADLINE_S raises it for large runs (benches/growth.py: 10 000 clients).
const DEADLINE_MS = Number(process.env.FANOUT_DEADLINE_S || 120) * 1000;

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// `negotiate()` → a URL to connect to; `connect(url, onTick)` → an open socket that calls
// onTick(round, sentNanoseconds, receivedNanoseconds) for each broadcast it receives (the
// receipt time taken as the frame arrives, before parsing); `broadcast(round, sent)` sends
// one round through the app and throws on a refused answer.
async function runRounds({ name, clients, rounds, negotiate, connect, broadcast }) {
  const deadline = Date.now() + DEADLINE_MS;
  setTimeout(() => { console.error(`${name}: overall deadline (${DEADLINE_MS / 1000} s) passed`); process.exit(2); }, DEADLINE_MS).unref();
  const latencies = []; // nanoseconds, every delivery of every round
  const perRound = new Map(); // round → { received, last }
  const onTick = (round, sent, now) => {
    const took = now - BigInt(sent);
    latencies.push(Number(took));
    const stats = perRound.get(round);
    if (!stats) return;
    stats.received += 1;
    if (took > stats.last) stats.last = took;
  };

  const started = Date.now();
  const sockets = [];
  const batch = 50;
  for (let i = 0; i < clients; i += batch) {
    const urls = await Promise.all(Array.from({ length: Math.min(batch, clients - i) }, negotiate));
    sockets.push(...(await Promise.all(urls.map((url) => connect(url, onTick)))));
    if (Date.now() > deadline) throw new Error('connecting took too long');
  }
  const connectSeconds = (Date.now() - started) / 1000;
  for (let round = 0; round < rounds; round++) {
    perRound.set(round, { received: 0, last: 0n });
    await broadcast(round, process.hrtime.bigint().toString());
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
    max_ms: ms(sorted[sorted.length - 1]),
    all_delivered_p50_ms: lasts.length ? ms(percentile(lasts, 50)) : null,
    all_delivered_p95_ms: lasts.length ? ms(percentile(lasts, 95)) : null,
  }));
  for (const socket of sockets) socket.terminate();
}

// Runs `runRounds` as the process's work: exit 0 when it printed its line, 1 with the error.
function main(options) {
  runRounds(options).then(() => process.exit(0), (e) => {
    console.error(`${options.name}: ${e.stack || e}`);
    process.exit(1);
  });
}

module.exports = { main };
