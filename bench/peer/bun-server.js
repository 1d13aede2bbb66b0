// SPDX-License-Identifier: MIT
// A peer for bench/run: Bun's WebSocket server (Bun.serve, built on uWebSockets) with its native
// publish, speaking the mtw subset of mtwsubset.js. Runs under the bun binary of the npm package
// `bun` (bench/peer/node_modules/bun/bin/bun.exe, from its optional dependency).
//
//   bun bench/peer/bun-server.js --host 127.0.0.1 --port 8090 [--path /ws]
'use strict';

const { option, newId, openingAck, createHandler, Membership } = require('./mtwsubset');

const host = option('host', '127.0.0.1');
const port = Number(option('port', '8090'));
const path = option('path', '/ws');

const members = new Membership();
let server;

const onMessage = createHandler({
  send: (ws, text) => ws.sendText(text),
  subscribe(ws, channel) {
    ws.subscribe(channel);
    return members.join(ws.data, channel);
  },
  unsubscribe(ws, channel) {
    ws.unsubscribe(channel);
    members.leave(ws.data, channel);
  },
  publish(ws, channel, text) {
    const recipients = members.recipients(ws.data, channel);
    if (recipients < 0) return -1;
    // ws.publish skips the sender; server.publish reaches every subscriber.
    if (ws.data.channels.has(channel)) ws.publishText(channel, text);
    else server.publish(channel, text);
    return recipients;
  },
  close: (ws) => ws.close(1000, 'goodbye'),
});

// The handler reads ws.connId; Bun keeps per-socket state in ws.data.
function withId(ws) {
  ws.connId = ws.data.connId;
  return ws;
}

server = Bun.serve({
  hostname: host,
  port,
  fetch(req, srv) {
    const url = new URL(req.url);
    if (url.pathname === '/status') return new Response('ok');
    if ((url.pathname === path || url.pathname === '/')
        && srv.upgrade(req, { data: { connId: newId(), channels: new Set() } })) {
      return undefined;
    }
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    maxPayloadLength: 16 * 1024 * 1024,
    backpressureLimit: 64 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => ws.sendText(openingAck(ws.data.connId)),
    message: (ws, message) => onMessage(withId(ws), message, typeof message !== 'string'),
    close: (ws) => members.leaveAll(ws.data),
  },
});
console.log(`bun peer listening on ws://${host}:${port}${path} (bun ${Bun.version})`);

function shutdown() {
  server.stop(true);
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
