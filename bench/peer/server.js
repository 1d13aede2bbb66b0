// SPDX-License-Identifier: MIT
// The reference peer for bench/run: the Node.js server a user would otherwise write with the `ws`
// package, speaking the subset of the mtw protocol that the benchmark uses (mtwsubset.js).
//
//   node bench/peer/server.js --host 127.0.0.1 --port 8090 [--path /ws]
'use strict';

const http = require('node:http');
const { WebSocketServer } = require('ws');
const { option, newId, openingAck, createHandler } = require('./mtwsubset');

const host = option('host', '127.0.0.1');
const port = Number(option('port', '8090'));
const path = option('path', '/ws');

const channels = new Map(); // name -> Set of sockets

const onMessage = createHandler({
  send: (ws, text) => ws.send(text),
  subscribe(ws, channel) {
    let members = channels.get(channel);
    if (!members) {
      members = new Set();
      channels.set(channel, members);
    }
    members.add(ws);
    ws.channels.add(channel);
    return members.size;
  },
  unsubscribe(ws, channel) {
    const members = channels.get(channel);
    if (members) members.delete(ws);
    ws.channels.delete(channel);
  },
  publish(ws, channel, text) {
    const members = channels.get(channel);
    if (!members) return -1;
    let recipients = 0;
    for (const member of members) { // the same string to everyone
      if (member !== ws && member.readyState === 1) {
        member.send(text);
        recipients++;
      }
    }
    return recipients;
  },
  close: (ws) => ws.close(1000, 'goodbye'),
});

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
  ws.send(openingAck(ws.connId));
  ws.on('message', (data, isBinary) => onMessage(ws, data, isBinary));
  ws.on('close', () => {
    for (const name of ws.channels) {
      const members = channels.get(name);
      if (members) members.delete(ws);
    }
  });
  ws.on('error', () => {});
});

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
