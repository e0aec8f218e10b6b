// Web PubSub fan-out benchmark: N `json.webpubsub.azure.v1` WebSocket clients (ws, as
// @azure/web-pubsub-client speaks it), each negotiated through the app's
// /api/webpubsub/hubs/<hub>/negotiate and connected to the embedded Web PubSub emulator; then R
// rounds of one `sendToAll` action through the app's POST /api/webpubsub/hubs/<hub>/actions (the
// app calls the emulator's REST `:send`) carrying the send time. Prints one JSON line (per round,
// the time until the last of the N clients received it; every delivery's p50/p99; measured by
// fanout_rounds.js). Usage: node wps_fanout.js <app base URL> [clients=1000] [rounds=20] [hub=bench]
'use strict';
const WebSocket = require('ws');
const { main } = require('./fanout_rounds');

const app = process.argv[2];
const hub = process.argv[5] || 'bench';

async function negotiate() {
  const response = await fetch(`${app}/api/webpubsub/hubs/${hub}/negotiate`, { method: 'POST' });
  if (!response.ok) throw new Error(`negotiate: ${response.status} ${await response.text()}`);
  return (await response.json()).url;
}

function connect(url, onTick) {
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
      onTick(round, sent, now);
    });
  });
}

async function broadcast(round, sent) {
  const response = await fetch(`${app}/api/webpubsub/hubs/${hub}/actions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      actionName: 'sendToAll', dataType: 'json', data: JSON.stringify([round, sent]),
    }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`sendToAll answered ${response.status}: ${text}`);
}

main({
  name: 'wps_fanout',
  clients: Number(process.argv[3] || 1000),
  rounds: Number(process.argv[4] || 20),
  negotiate,
  connect,
  broadcast,
});
