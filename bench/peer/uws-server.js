// SPDX-License-Identifier: MIT
// A peer for bench/run: uWebSockets through its Node.js binding (@trufflesuite/uws-js-unofficial),
// with its native publish, speaking the mtw subset of mtwsubset.js. The package falls back to a
// JS shim when its native addon does not load; this loads the addon itself and exits otherwise, so
// a figure labelled uWS is always the native one.
//
//   node bench/peer/uws-server.js --host 127.0.0.1 --port 8090 [--path /ws]
'use strict';

const pathModule = require('node:path');
const { option, newId, openingAck, createHandler, Membership } = require('./mtwsubset');

const host = option('host', '127.0.0.1');
const port = Number(option('port', '8090'));
const path = option('path', '/ws');

const packageDir = pathModule.dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
const addon = pathModule.join(packageDir, 'binaries',
  `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
let uWS;
try {
  uWS = require(addon);
} catch (e) {
  console.error(`uws peer: the native addon ${addon} does not load (${e.message}); refusing the JS fallback`);
  process.exit(3);
}

const members = new Membership();
const decoder = new TextDecoder();
let app;

const onMessage = createHandler({
  send: (ws, text) => ws.send(text, false),
  subscribe(ws, channel) {
    ws.subscribe(channel);
    return members.join(ws, channel);
  },
  unsubscribe(ws, channel) {
    ws.unsubscribe(channel);
    members.leave(ws, channel);
  },
  publish(ws, channel, text) {
    const recipients = members.recipients(ws, channel);
    if (recipients < 0) return -1;
    // ws.publish skips the sender but does nothing for a sender subscribed to nothing.
    if (ws.channels.has(channel)) ws.publish(channel, text, false);
    else app.publish(channel, text, false);
    return recipients;
  },
  close: (ws) => ws.end(1000, 'goodbye'),
});

function upgrade(res, req, context) {
  res.upgrade({ connId: newId(), channels: new Set() },
    req.getHeader('sec-websocket-key'),
    req.getHeader('sec-websocket-protocol'),
    req.getHeader('sec-websocket-extensions'),
    context);
}

const behavior = {
  compression: uWS.DISABLED,
  maxPayloadLength: 16 * 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 0,
  upgrade,
  open: (ws) => ws.send(openingAck(ws.connId), false),
  message: (ws, message, isBinary) => onMessage(ws, decoder.decode(message), isBinary),
  close: (ws) => members.leaveAll(ws),
};

app = uWS.App()
  .ws(path, behavior)
  .ws('/', behavior)
  .get('/status', (res) => res.end('ok'))
  .any('/*', (res) => res.writeStatus('404 Not Found').end());

let listenSocket = null;
app.listen(host, port, (socket) => {
  if (!socket) {
    console.error(`uws peer: cannot listen on ${host}:${port}`);
    process.exit(1);
  }
  listenSocket = socket;
  console.log(`uws peer listening on ws://${host}:${port}${path} (native addon ${pathModule.basename(addon)}, ` +
    `${require('@trufflesuite/uws-js-unofficial/package.json').version}, node ${process.version})`);
});

function shutdown() {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
