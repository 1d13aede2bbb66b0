// SPDX-License-Identifier: MIT
// The reference peer for bench/run: the Node.js server a user would otherwise write with the `ws`
// package, speaking the subset of the mtw protocol that the benchmark uses (docs/protocol.md):
// opening ack, subscribe/unsubscribe, publish (fan-out to every other subscriber with
// metadata.from, response {published, recipients}), request without action (echo), ping -> pong.
//
//   node bench/peer/server.js --host 127.0.0.1 --port 8090 [--path /ws]
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');
const { WebSocketServer } = require('ws');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', '8090'));
const path = option('path', '/ws');

// Server-made ids: 26 Crockford base32 characters, like the ULIDs mtwserver makes (time + random).
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
let idCounter = 0;
const idPrefix = crypto.randomBytes(8).toString('hex');
function newId() {
  let time = Date.now();
  let text = '';
  for (let i = 0; i < 10; i++) {
    text = CROCKFORD[time % 32] + text;
    time = Math.floor(time / 32);
  }
  let n = ++idCounter;
  let tail = '';
  for (let i = 0; i < 16; i++) {
    tail = CROCKFORD[(n + idPrefix.charCodeAt(i)) % 32] + tail;
    n = Math.floor(n / 32);
  }
  return text + tail;
}

function envelope(type, payload, extra) {
  return JSON.stringify(Object.assign({ id: newId(), type, payload }, extra, { timestamp: Date.now() }));
}

function error(code, message, refId) {
  const extra = refId === undefined ? {} : { ref_id: refId };
  return envelope('error', { kind: 'Json', data: { code, message } }, extra);
}

const channels = new Map(); // name -> Set of sockets

const server = http.createServer((req, res) => {
  if (req.url === '/status') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  res.writeHead(404);
  res.end();
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const url = req.url.split('?')[0];
  if (url !== path && url !== '/') {
    socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

wss.on('connection', (ws) => {
  ws.connId = newId();
  ws.channels = new Set();
  ws.send(envelope('ack', { kind: 'Json', data: { conn_id: ws.connId } }, { metadata: { conn_id: ws.connId } }));

  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      ws.send(error(400, 'binary frames are not supported by the bench peer'));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (e) {
      ws.send(error(400, `invalid JSON: ${e.message}`));
      return;
    }
    if (message === null || typeof message !== 'object' || typeof message.id !== 'string') {
      ws.send(error(400, 'expected an object with a string id'));
      return;
    }
    handle(ws, message);
  });

  ws.on('close', () => {
    for (const name of ws.channels) {
      const members = channels.get(name);
      if (members) members.delete(ws);
    }
  });
  ws.on('error', () => {});
});

function respond(ws, message, data) {
  const extra = { ref_id: message.id };
  if (message.channel !== undefined) extra.channel = message.channel;
  ws.send(envelope('response', { kind: 'Json', data }, extra));
}

function handle(ws, message) {
  switch (message.type) {
    case 'ping':
      ws.send(envelope('pong', { kind: 'None' }, { ref_id: message.id }));
      return;
    case 'connect':
      ws.send(envelope('ack', { kind: 'Json', data: { conn_id: ws.connId } },
        { metadata: { conn_id: ws.connId }, ref_id: message.id }));
      return;
    case 'subscribe': {
      if (typeof message.channel !== 'string' || message.channel === '') {
        ws.send(error(400, 'subscribe needs a channel', message.id));
        return;
      }
      let members = channels.get(message.channel);
      if (!members) {
        members = new Set();
        channels.set(message.channel, members);
      }
      members.add(ws);
      ws.channels.add(message.channel);
      respond(ws, message, { subscribed: message.channel, members: members.size });
      return;
    }
    case 'unsubscribe': {
      const members = channels.get(message.channel);
      if (members) members.delete(ws);
      ws.channels.delete(message.channel);
      respond(ws, message, { unsubscribed: message.channel });
      return;
    }
    case 'publish': {
      const members = channels.get(message.channel);
      if (!members) {
        ws.send(error(404, `channel '${message.channel}' not found`, message.id));
        return;
      }
      message.metadata = Object.assign({}, message.metadata, { from: ws.connId });
      const text = JSON.stringify(message); // once, then the same string to everyone
      let recipients = 0;
      for (const member of members) {
        if (member !== ws && member.readyState === 1) {
          member.send(text);
          recipients++;
        }
      }
      respond(ws, message, { published: message.channel, recipients });
      return;
    }
    case 'request': {
      if (message.metadata && message.metadata.action !== undefined) {
        ws.send(error(404, `unknown action '${message.metadata.action}'`, message.id));
        return;
      }
      const extra = { ref_id: message.id };
      if (message.channel !== undefined) extra.channel = message.channel;
      ws.send(envelope('response', message.payload, extra));
      return;
    }
    case 'disconnect':
      ws.close(1000, 'goodbye');
      return;
    default:
      return;
  }
}

// The same listen backlog mtwserver uses, so that the connection storm compares servers and not
// kernel queue lengths.
server.listen({ host, port, backlog: 4096 }, () => {
  console.log(`bench peer listening on ws://${host}:${port}${path} (ws ${require('ws/package.json').version}, node ${process.version})`);
});

function shutdown() {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
