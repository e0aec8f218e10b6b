// Reliability runs driven by benches/reliability.py; prints one JSON line of counts.
//
//   node reliability.js sends   '<json options>'   sends through the app under injected faults
//   node reliability.js clients '<json options>'   many WebSocket clients held, then a broadcast
//
// Clients are raw WebSockets speaking the JSON hub protocol (as @microsoft/signalr does), each
// with a client token minted with the emulator's key (the app's negotiate mints the same token).
// Every phase is bounded in time.
'use strict';
const WebSocket = require('ws');
const jwt = require('jsonwebtoken');

const RS = '\x1e';
const mode = process.argv[2];
const options = JSON.parse(process.argv[3] || '{}');
const hub = options.hub || 'default';
const overall = (options.deadlineSeconds || 900) * 1000;
setTimeout(() => { console.error(`reliability: overall deadline (${overall / 1000} s) passed`); process.exit(2); }, overall).unref();

function token(user) {
  const claims = { aud: `http://${new URL(options.emulator).hostname}/client/?hub=${hub}` };
  if (user) claims['asrs.s.uid'] = user;
  return jwt.sign(claims, options.key, { algorithm: 'HS256', expiresIn: 3600 });
}

// A client: counts of each message id it received, and whether it was dropped.
function connect(user) {
  const emu = new URL(options.emulator);
  const url = `ws://${emu.host}/client/?hub=${hub}&access_token=${token(user)}`;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const client = { user, socket, counts: new Map(), dropped: false, closedByServer: null };
    let handshaken = false;
    const timer = setTimeout(() => { socket.terminate(); reject(new Error('handshake timed out')); }, 30_000);
    socket.on('open', () => socket.send(JSON.stringify({ protocol: 'json', version: 1 }) + RS));
    socket.on('error', (e) => { if (!handshaken) { clearTimeout(timer); reject(e); } });
    socket.on('close', () => { if (!client.ending) client.dropped = true; });
    socket.on('message', (data) => {
      for (const record of data.toString().split(RS)) {
        if (!record) continue;
        if (!handshaken) {
          handshaken = true;
          clearTimeout(timer);
          if (record !== '{}') return reject(new Error(`handshake refused: ${record}`));
          // Keep-alive as @microsoft/signalr: a ping every 15 s (the service drops a client
          // silent for 30 s); the first one at a random point so they do not all go at once.
          const ping = () => { if (socket.readyState === WebSocket.OPEN) socket.send('{"type":6}' + RS); };
          client.pinger = setTimeout(() => { ping(); client.pinger = setInterval(ping, 15_000); }, Math.random() * 15_000);
          socket.on('close', () => { clearTimeout(client.pinger); clearInterval(client.pinger); });
          resolve(client);
          continue;
        }
        const message = JSON.parse(record);
        if (message.type === 7) client.closedByServer = message.error || 'closed';
        if (message.type !== 1 || message.target !== 'm') continue;
        const id = message.arguments[0];
        client.counts.set(id, (client.counts.get(id) || 0) + 1);
      }
    });
  });
}

async function connectAll(users, batch) {
  const clients = [];
  let failures = 0;
  const errors = new Map();
  for (let i = 0; i < users.length; i += batch) {
    const results = await Promise.allSettled(users.slice(i, i + batch).map(connect));
    for (const r of results) {
      if (r.status === 'fulfilled') clients.push(r.value);
      else {
        failures += 1;
        const key = String(r.reason && (r.reason.code || r.reason.message)).slice(0, 80);
        errors.set(key, (errors.get(key) || 0) + 1);
      }
    }
  }
  return { clients, failures, errors: Object.fromEntries(errors) };
}

const total = (clients) => clients.reduce((n, c) => n + [...c.counts.values()].reduce((a, b) => a + b, 0), 0);

async function settle(clients, quietMs, maxMs) {
  const deadline = Date.now() + maxMs;
  let last = -1;
  while (Date.now() < deadline) {
    const now = total(clients);
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

async function http(method, url, body, headers = {}) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, text };
}

// What the service did, as the app's error message names it.
function serviceOutcome(text) {
  let message = text;
  try { message = JSON.parse(text).error.message; } catch (_) { /* not JSON */ }
  const status = /answered (\d{3})/.exec(message);
  if (status) return `service answered ${status[1]}`;
  if (/connection was lost/.test(message)) return 'connection lost (reset)';
  if (/cannot reach/.test(message)) return 'service unreachable';
  if (/did not answer in time/.test(message)) return 'timeout';
  return `not named: ${String(message).slice(0, 120)}`;
}

async function sends() {
  const { app, sends: n, users: userCount, groups, perUser, concurrency, faults } = options;
  const appHeaders = options.functionKey ? { 'x-functions-key': options.functionKey } : {};
  // `/api/messages` sends to the app's default hub; a named hub goes through its own routes.
  const api = options.hubRoutes ? `${app}/api/hubs/${encodeURIComponent(hub)}` : `${app}/api`;
  const users = [];
  for (let k = 0; k < userCount * perUser; k++) users.push(`u${k % userCount}`);
  const { clients, failures } = await connectAll(users, 50);
  if (failures) throw new Error(`${failures} clients could not connect`);
  for (let u = 0; u < userCount; u++) {
    const r = await http('POST', `${api}/groups`, { action: 'add', userId: `u${u}`, groupName: `g${u % groups}` }, appHeaders);
    if (r.status >= 300) throw new Error(`adding u${u} to a group answered ${r.status} ${r.text}`);
  }
  const put = await http('PUT', `${options.emulator}/admin/faults`, faults);
  if (put.status !== 200) throw new Error(`PUT /admin/faults answered ${put.status} ${put.text}`);

  // Message i: a broadcast (i % 10 < 6), a user send (6, 7) or a group send (8, 9).
  const audience = (i) => {
    const k = i % 10;
    if (k < 6) return { body: {}, is: () => true, kind: 'broadcast' };
    if (k < 8) { const u = `u${i % userCount}`; return { body: { userId: u }, is: (c) => c.user === u, kind: 'user' }; }
    const g = i % groups;
    return { body: { groupName: `g${g}` }, is: (c) => Number(c.user.slice(1)) % groups === g, kind: 'group' };
  };
  const answers = new Array(n);
  let next = 0;
  const started = Date.now();
  async function worker() {
    while (next < n) {
      const i = next++;
      const { body } = audience(i);
      try {
        answers[i] = await http('POST', `${api}/messages`, { target: 'm', arguments: [i], ...body }, appHeaders);
      } catch (e) {
        answers[i] = { status: 0, text: String(e && e.message) };
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const sendSeconds = (Date.now() - started) / 1000;
  await settle(clients, 500, 30_000);
  const report = JSON.parse((await http('GET', `${options.emulator}/admin/faults`)).text);
  await http('DELETE', `${options.emulator}/admin/faults`);

  const out = {
    sends: n, clients: clients.length, send_seconds: sendSeconds,
    by_kind: {}, answered_2xx: 0, answered_error: 0, error_status: {}, error_service_outcome: {},
    delivered: 0, delivered_exactly_once: 0, partially_delivered: 0, not_delivered: 0,
    duplicate_deliveries: 0, sends_with_duplicates: 0,
    answered_error_but_delivered: 0, answered_2xx_but_not_delivered_once: 0,
    dropped_clients: clients.filter((c) => c.dropped || c.closedByServer).length,
    injected: report.counts.rest, seed: report.config.seed, examples: {},
  };
  for (let i = 0; i < n; i++) {
    const { is, kind } = audience(i);
    out.by_kind[kind] = (out.by_kind[kind] || 0) + 1;
    const counts = clients.filter(is).map((c) => c.counts.get(i) || 0);
    const reached = counts.filter((c) => c > 0).length;
    const once = counts.every((c) => c === 1);
    const dups = counts.filter((c) => c > 1).length;
    out.duplicate_deliveries += counts.reduce((a, c) => a + Math.max(0, c - 1), 0);
    if (dups) out.sends_with_duplicates += 1;
    if (reached === counts.length) out.delivered += 1;
    else if (reached > 0) out.partially_delivered += 1;
    else out.not_delivered += 1;
    if (once) out.delivered_exactly_once += 1;
    const { status, text } = answers[i];
    if (status >= 200 && status < 300) {
      out.answered_2xx += 1;
      if (!once) out.answered_2xx_but_not_delivered_once += 1;
    } else {
      out.answered_error += 1;
      out.error_status[status] = (out.error_status[status] || 0) + 1;
      const outcome = serviceOutcome(text);
      out.error_service_outcome[outcome] = (out.error_service_outcome[outcome] || 0) + 1;
      if (!out.examples[outcome]) {
        let message = text;
        try { message = JSON.parse(text).error.message; } catch (_) { /* not JSON */ }
        out.examples[outcome] = String(message).slice(0, 400);
      }
      if (reached > 0) out.answered_error_but_delivered += 1;
    }
  }
  for (const c of clients) { c.ending = true; c.socket.terminate(); }
  return out;
}

async function clients() {
  const { count, holdSeconds } = options;
  const users = Array.from({ length: count }, (_, k) => `u${k}`);
  const started = Date.now();
  const { clients: connected, failures, errors } = await connectAll(users, options.batch || 200);
  const connectSeconds = (Date.now() - started) / 1000;
  process.stderr.write(`[clients] ${connected.length} connected in ${connectSeconds} s; holding ${holdSeconds} s\n`);
  if (options.readyFile) require('fs').writeFileSync(options.readyFile, 'ready');
  await new Promise((r) => setTimeout(r, holdSeconds * 1000));
  const droppedDuringHold = connected.filter((c) => c.dropped || c.closedByServer).length;
  const broadcast = await http('POST', `${options.emulator}/api/hubs/${hub}/:send?api-version=2022-06-01`,
    { target: 'm', arguments: [1] },
    { authorization: `Bearer ${jwt.sign({ aud: `http://127.0.0.1/api/hubs/${hub}/:send` }, options.key, { algorithm: 'HS256', expiresIn: 3600 })}` });
  await settle(connected, 500, 60_000);
  const reached = connected.filter((c) => c.counts.get(1) === 1).length;
  const out = {
    clients: count, connected: connected.length, connect_failures: failures, connect_errors: errors,
    connect_seconds: connectSeconds, hold_seconds: holdSeconds, dropped_during_hold: droppedDuringHold,
    broadcast_status: broadcast.status, broadcast_reached: reached,
  };
  for (const c of connected) { c.ending = true; c.socket.terminate(); }
  return out;
}

(mode === 'sends' ? sends : clients)().then(
  (out) => { console.log(JSON.stringify(out)); process.exit(0); },
  (e) => { console.error(`reliability: ${e.stack || e}`); process.exit(1); },
);
