// SPDX-License-Identifier: MIT
// One conformance case with the `ws` npm package's client (Debian node-ws), run by
// test_rfc6455.py:  node ws_peer.js <case> <port> [envelope id]
// Prints what went wrong and exits 1, or exits 0. Every case ends within 10 s.
'use strict';
const WebSocket = require('ws');

const [name, port, arg] = process.argv.slice(2);
const fail = (why) => { console.error(`${name}: ${why}`); process.exit(1); };
setTimeout(() => fail('no result within 10 s'), 10000).unref();

function open(protocols) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, protocols);
    ws.on('error', (e) => fail(`socket error: ${e.message}`));
    return new Promise((resolve) => {
        ws.once('message', (data, binary) => {
            const ack = binary ? null : JSON.parse(data.toString());
            if (!ack || ack.type !== 'ack') fail(`first message is not the ack: ${data}`);
            resolve(ws);
        });
    });
}

const cases = {
    // RFC 5.5.2/5.5.3: the pong carries the ping's application data.
    async ping_pong() {
        const ws = await open();
        ws.on('pong', (data) => {
            if (data.toString() !== 'ws-peer-ping') fail(`pong payload ${JSON.stringify(data.toString())}`);
            ws.close(1000);
        });
        ws.on('close', () => process.exit(0));
        ws.ping('ws-peer-ping');
    },
    // RFC 1.9/4.2.2 + 5.6: subprotocol mtw.v1 selected; a text envelope answered.
    async envelope() {
        const ws = await open(['mtw.v1']);
        if (ws.protocol !== 'mtw.v1') fail(`subprotocol ${JSON.stringify(ws.protocol)}`);
        ws.on('message', (data, binary) => {
            const msg = binary ? null : JSON.parse(data.toString());
            if (!msg || msg.type !== 'pong' || msg.ref_id !== arg) fail(`expected pong ${arg}, got ${data}`);
            ws.close(1000);
        });
        ws.on('close', () => process.exit(0));
        ws.send(`{"id":"${arg}","type":"ping","payload":{"kind":"None"},"timestamp":1}`);
    },
    // RFC 7.1.2: the client's Close 1000 is echoed with 1000.
    async close_1000() {
        const ws = await open();
        ws.on('close', (code) => (code === 1000 ? process.exit(0) : fail(`close code ${code}`)));
        ws.close(1000, 'bye');
    },
    // RFC 7.1.2: `disconnect` makes the server close with 1000, a clean close for ws.
    async server_close() {
        const ws = await open();
        ws.on('close', (code) => (code === 1000 ? process.exit(0) : fail(`close code ${code}`)));
        ws.send('{"id":"d","type":"disconnect","payload":{"kind":"None"},"timestamp":1}');
    },
    // RFC 5.6 + 8.1: a 60,000-byte envelope of 4-byte UTF-8 characters is valid text.
    async utf8_large() {
        const ws = await open();
        ws.on('message', (data, binary) => {
            const msg = binary ? null : JSON.parse(data.toString());
            if (!msg || msg.type !== 'pong' || msg.ref_id !== arg) fail(`expected pong ${arg}, got ${String(data).slice(0, 200)}`);
            ws.close(1000);
        });
        ws.on('close', () => process.exit(0));
        ws.send(`{"id":"${arg}","type":"ping","payload":{"kind":"None"},"timestamp":1,"pad":"${'\u{1F600}'.repeat(15000)}"}`);
    },
};

if (!cases[name]) fail('unknown case');
cases[name]();
