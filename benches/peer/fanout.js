// Emulator fan-out benchmark: connects N raw WebSocket clients (ws + the JSON hub protocol
// handshake, as @microsoft/signalr does), each negotiated through the app and the emulator, then
// broadcasts through the app's POST /api/hubs/<hub>/messages R times with a send timestamp in the
// payload, and prints one JSON line of end-to-end delivery times (send → each client's receipt;
// fanout_rounds.js measures). Usage: node fanout.js <app base URL> [clients=1000] [rounds=20] [hub=bench]
'use strict';
const WebSocket = require('ws');
const { main } = require('./fanout_rounds');

const app = process.argv[2];
const hub = process.argv[5] || 'bench';
const RS = '\x1e';

async function negotiate() {
  const answer = await fetch(`${app}/api/hubs/${hub}/negotiate`, { method: 'POST' });
  if (!answer.ok) throw new Error(`negotiate: ${answer.status} ${await answer.text()}`);
  const info = await answer.json();
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

function connect(url, onTick) {
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
        onTick(round, sent, now);
      }
    });
  });
}

async function broadcast(round, sent) {
  const response = await fetch(`${app}/api/hubs/${hub}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ target: 'tick', arguments: [round, sent] }),
  });
  await response.arrayBuffer();
  if (response.status !== 202) throw new Error(`broadcast answered ${response.status}`);
}

main({
  name: 'fanout',
  clients: Number(process.argv[3] || 1000),
  rounds: Number(process.argv[4] || 20),
  negotiate,
  connect,
  broadcast,
});
