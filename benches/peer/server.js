// The peer a user would otherwise write: a plain Node.js negotiate server that mints the same
// SignalR client token as ours with `jsonwebtoken` (HS256, aud = scheme://host/client/?hub=<hub>,
// nbf/iat/exp, one-hour lifetime) and answers {url, accessToken}. Also answers GET / with "ok".
// Settings: AzureSignalRConnectionString, AzureSignalRHubName (default "default"), PORT, and
// PEER_KEY_OBJECT=1 to sign with a KeyObject made once instead of the key string the docs show:
// jsonwebtoken 9 tries to parse a string secret as a PEM private key on every sign (~30× slower,
// auth0/node-jsonwebtoken#966), so the benchmark measures the peer both ways.
'use strict';
const crypto = require('node:crypto');
const http = require('node:http');
const jwt = require('jsonwebtoken');

function parseConnectionString(text) {
  const pairs = {};
  for (const segment of text.split(';')) {
    const at = segment.indexOf('=');
    if (at > 0) pairs[segment.slice(0, at).trim().toLowerCase()] = segment.slice(at + 1).trim();
  }
  if (!pairs.endpoint || !pairs.accesskey) throw new Error('AzureSignalRConnectionString needs Endpoint and AccessKey');
  const endpoint = new URL(pairs.endpoint);
  const audienceBase = `${endpoint.protocol}//${endpoint.hostname}/`;
  if (pairs.port) endpoint.port = pairs.port;
  const clientBase = `${endpoint.protocol}//${endpoint.host}/`;
  return { audienceBase, clientBase, key: pairs.accesskey };
}

const service = parseConnectionString(process.env.AzureSignalRConnectionString || '');
const signingKey = process.env.PEER_KEY_OBJECT === '1'
  ? crypto.createSecretKey(Buffer.from(service.key))
  : service.key;
const defaultHub = (process.env.AzureSignalRHubName || 'default').toLowerCase();
const negotiatePath = /^\/api\/(?:hubs\/([A-Za-z][A-Za-z0-9_.-]{0,127})\/)?negotiate\/?(?:\?.*)?$/;

const server = http.createServer((req, res) => {
  const match = negotiatePath.exec(req.url);
  if (match && (req.method === 'POST' || req.method === 'GET')) {
    req.resume();
    const hub = (match[1] || defaultHub).toLowerCase();
    const now = Math.floor(Date.now() / 1000);
    const accessToken = jwt.sign(
      { nbf: now, exp: now + 3600, iat: now, aud: `${service.audienceBase}client/?hub=${hub}` },
      signingKey,
      { algorithm: 'HS256', noTimestamp: true },
    );
    const body = JSON.stringify({ url: `${service.clientBase}client/?hub=${hub}`, accessToken });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(body);
  } else if (req.url === '/' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  } else {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"NotFound","message":"no such route"}}');
  }
});

server.listen(Number(process.env.PORT || 7072), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
