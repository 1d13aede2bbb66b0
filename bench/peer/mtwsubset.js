// SPDX-License-Identifier: MIT
// The subset of the mtw protocol that bench/run measures (docs/protocol.md), shared by the peers
// (server.js on `ws`, uws-server.js on uWebSockets.js, bun-server.js on Bun): opening ack,
// subscribe/unsubscribe, publish (fan-out to every other subscriber with metadata.from, response
// {published, recipients}), request without action (echo), ping -> pong, disconnect. Each peer
// supplies its transport: send, subscribe/unsubscribe, publish (returns the recipients), close.
'use strict';

const crypto = require('node:crypto');

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

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

function openingAck(connId) {
  return envelope('ack', { kind: 'Json', data: { conn_id: connId } }, { metadata: { conn_id: connId } });
}

// transport: { send(ws, text), subscribe(ws, channel) -> members, unsubscribe(ws, channel),
//              publish(ws, channel, text) -> recipients or -1 (no such channel), close(ws) }
// ws.connId is the connection's id. onMessage(ws, text, isBinary) handles one client message.
function createHandler(transport) {
  function respond(ws, message, data) {
    const extra = { ref_id: message.id };
    if (message.channel !== undefined) extra.channel = message.channel;
    transport.send(ws, envelope('response', { kind: 'Json', data }, extra));
  }

  function handle(ws, message) {
    switch (message.type) {
      case 'ping':
        transport.send(ws, envelope('pong', { kind: 'None' }, { ref_id: message.id }));
        return;
      case 'connect':
        transport.send(ws, envelope('ack', { kind: 'Json', data: { conn_id: ws.connId } },
          { metadata: { conn_id: ws.connId }, ref_id: message.id }));
        return;
      case 'subscribe': {
        if (typeof message.channel !== 'string' || message.channel === '') {
          transport.send(ws, error(400, 'subscribe needs a channel', message.id));
          return;
        }
        const members = transport.subscribe(ws, message.channel);
        respond(ws, message, { subscribed: message.channel, members });
        return;
      }
      case 'unsubscribe':
        transport.unsubscribe(ws, message.channel);
        respond(ws, message, { unsubscribed: message.channel });
        return;
      case 'publish': {
        message.metadata = Object.assign({}, message.metadata, { from: ws.connId });
        const recipients = transport.publish(ws, message.channel, JSON.stringify(message));
        if (recipients < 0) {
          transport.send(ws, error(404, `channel '${message.channel}' not found`, message.id));
          return;
        }
        respond(ws, message, { published: message.channel, recipients });
        return;
      }
      case 'request': {
        if (message.metadata && message.metadata.action !== undefined) {
          transport.send(ws, error(404, `unknown action '${message.metadata.action}'`, message.id));
          return;
        }
        const extra = { ref_id: message.id };
        if (message.channel !== undefined) extra.channel = message.channel;
        transport.send(ws, envelope('response', message.payload, extra));
        return;
      }
      case 'disconnect':
        transport.close(ws);
        return;
      default:
        return;
    }
  }

  return function onMessage(ws, text, isBinary) {
    if (isBinary) {
      transport.send(ws, error(400, 'binary frames are not supported by the bench peer'));
      return;
    }
    let message;
    try {
      message = JSON.parse(text);
    } catch (e) {
      transport.send(ws, error(400, `invalid JSON: ${e.message}`));
      return;
    }
    if (message === null || typeof message !== 'object' || typeof message.id !== 'string') {
      transport.send(ws, error(400, 'expected an object with a string id'));
      return;
    }
    handle(ws, message);
  };
}

// Members per channel, for the peers whose native publish does not count recipients.
class Membership {
  constructor() {
    this.counts = new Map(); // channel -> members
  }

  join(ws, channel) {
    if (ws.channels.has(channel)) return this.counts.get(channel);
    ws.channels.add(channel);
    const count = (this.counts.get(channel) || 0) + 1;
    this.counts.set(channel, count);
    return count;
  }

  leave(ws, channel) {
    if (!ws.channels.delete(channel)) return;
    this.counts.set(channel, this.counts.get(channel) - 1);
  }

  leaveAll(ws) {
    for (const channel of [...ws.channels]) this.leave(ws, channel);
  }

  // Subscribers of `channel` other than `ws`; -1 when nobody ever joined it.
  recipients(ws, channel) {
    const count = this.counts.get(channel);
    if (count === undefined) return -1;
    return count - (ws.channels.has(channel) ? 1 : 0);
  }
}

module.exports = { option, newId, openingAck, createHandler, Membership };
