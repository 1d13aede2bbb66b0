// SPDX-License-Identifier: MIT
// The Socket.IO 4 side of bench/cluster: one Socket.IO server process, alone or, with --redis,
// one node of a cluster through @socket.io/redis-adapter (the adapter Socket.IO documents for
// several servers). What a user would write for "rooms with fan-out, the sender left out":
//
//   subscribe(room, ack)         socket.join(room); ack({subscribed: room})
//   publish(room, data, ack)     socket.to(room).emit('message', data): every member of the room
//                                on every node but the sender; then ack({published: room})
//
// WebSocket transport only (no HTTP long-polling), no per-message deflate (the Socket.IO default),
// no client bundle served.
//
//   node bench/peer/sio-server.js --host 127.0.0.1 --port 8091 [--redis redis://127.0.0.1:6379/0]
//                                 [--prefix socket.io]
'use strict';

const http = require('node:http');
const { Server } = require('socket.io');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option('host', '127.0.0.1');
const port = Number(option('port', '8091'));
const redisUrl = option('redis', '');
const prefix = option('prefix', 'socket.io');

async function main() {
  const httpServer = http.createServer((req, res) => {
    res.writeHead(404);
    res.end();
  });
  const io = new Server(httpServer, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    maxHttpBufferSize: 1e6,
  });
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) client.on('error', (e) => console.error('redis:', e.message));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub, { key: prefix }));
  }
  io.on('connection', (socket) => {
    socket.on('subscribe', (room, ack) => {
      socket.join(room);
      if (typeof ack === 'function') ack({ subscribed: room });
    });
    socket.on('publish', (room, data, ack) => {
      socket.to(room).emit('message', data);
      if (typeof ack === 'function') ack({ published: room });
    });
  });
  httpServer.listen({ host, port, backlog: 4096 }, () => {
    console.log(`sio-server listening on ${host}:${port}${redisUrl ? ' (redis adapter)' : ''}`);
  });
  const stop = () => {
    io.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
