// SPDX-License-Identifier: MIT
// The mtwRequest TypeScript client's agent calls against a real mtwserver (e2e_ts_client). This
// file is bundled by esbuild with the client's own, unchanged sources ("mtw-client" is an alias
// for its packages/client/src/index.ts, fetched by test_ts_client.py at a pinned commit).
//
//   node agent_calls.bundle.mjs ws://127.0.0.1:PORT/ws
//
// The server's agent "helper" runs on a fake provider scripted by the driver: two text streams
// ("Hello", ", wor", "ld!"), then two overloaded (529) answers. Prints "ok: ..." per check and
// "FAIL: ..." on the first failure (exit code 1).
import NodeWebSocket from 'ws';
import { MtwClient, MtwConnection, MtwError } from 'mtw-client';

// The client uses the WebSocket global: browsers and Node >= 22 have it, Node 18 and 20 do not.
// This one also counts the client's MTW pings (frame type 0x03) and the server's pongs (0x04).
const frames = { pings: 0, pongs: 0 };
const frameType = (data) => (data instanceof ArrayBuffer || ArrayBuffer.isView(data))
  ? new Uint8Array(data instanceof ArrayBuffer ? data : data.buffer)[4] : -1;
class CountingWebSocket extends (globalThis.WebSocket ?? NodeWebSocket) {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      if (frameType(event.data) === 0x04) frames.pongs += 1;
    });
  }
  send(data) {
    if (frameType(data) === 0x03) frames.pings += 1;
    super.send(data);
  }
}
globalThis.WebSocket = CountingWebSocket;

const url = process.argv[2];
let passed = 0;

function check(what, actual, expected) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}:\n  actual:   ${a}\n  expected: ${e}`);
  passed += 1;
  console.log(`ok: ${what}`);
}

// The promise's rejection (or a failure saying it resolved).
async function rejection(promise) {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (err) {
    return err;
  }
}

// Short timeouts: a server that never answers fails the test in seconds, not in 120 s.
const options = { timeout: 10000 };

async function main() {
  // connect() with its error events heard from the start; pings every 200 ms (the client's
  // pong timeout must stay below its ping interval: it keeps one pong timer).
  const connection = new MtwConnection({
    url, reconnect: false, connectTimeout: 5000, pingInterval: 200, pongTimeout: 150,
  });
  const errors = [];
  connection.on('error', (err) => errors.push(err));
  const client = new MtwClient(connection, await connection.connect());
  check('connected, with the server-assigned conn_id', typeof client.connectionId, 'string');
  const helper = client.agent('helper');

  // send(): the whole answer, and the provider's usage copied from agent_complete.
  const answer = await helper.send('Hi', options);
  check('send() resolves with the full text', answer.text, 'Hello, world!');
  check('send() result carries usage', answer.metadata.usage, { input_tokens: 25, output_tokens: 15 });
  check('send() result carries stop_reason', answer.metadata.stop_reason, 'end_turn');

  // stream(): each chunk in order, then the generator completes with the whole response.
  const chunks = [];
  const stream = helper.stream('Hi again', options);
  let step = await stream.next();
  while (!step.done) {
    chunks.push(step.value.text);
    check(`chunk ${chunks.length} is not the last`, step.value.done, false);
    step = await stream.next();
  }
  check('stream() yields the chunks in order', chunks, ['Hello', ', wor', 'ld!']);
  check('stream() completes with the full text', step.value.text, 'Hello, world!');
  check('stream() completion carries the model', step.value.metadata.model, 'claude-sonnet-4-5');
  check('no stream left open', helper.isStreaming, false);

  // An unknown agent: the server's error 404 rejects, as the client surfaces it.
  const unknown = await rejection(client.agent('nobody').send('Hi', options));
  check('unknown agent rejects with an MtwError', unknown instanceof MtwError, true);
  check('unknown agent: error code', unknown.code, 'AGENT_ERROR');
  check('unknown agent: message', unknown.message, "agent 'nobody' not found");
  check('unknown agent: details', unknown.details.code, 404);

  // The provider fails (529 overloaded, no retries): send() rejects and stream() throws.
  const failed = await rejection(helper.send('Hi', options));
  check('provider failure rejects send() with AGENT_ERROR', failed.code, 'AGENT_ERROR');
  check('provider failure: details code', failed.details.code, 503);
  check(
    'provider failure: message says what happened',
    failed.message.startsWith("agent 'helper': the provider is unavailable (HTTP 529 overloaded"),
    true,
  );
  const seen = [];
  const thrown = await rejection(
    (async () => {
      for await (const chunk of helper.stream('Hi', options)) seen.push(chunk.text);
    })(),
  );
  check('provider failure throws from stream()', [thrown.code, thrown.details.code], ['AGENT_ERROR', 503]);
  check('no chunk before the failure', seen, []);

  // The connection still serves after the failures, and every ping got its pong.
  const deadline = Date.now() + 5000;
  while (frames.pings < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  check('the client pinged', frames.pings >= 3, true);
  check('every ping but the one in flight got a pong', frames.pongs >= frames.pings - 1, true);
  check('still connected', client.connected, true);
  // The only error event: the client decodes every message as an MTW frame, the opening ack
  // (always text, PROTOCOL.md section 4) included.
  check('error events', errors.map((e) => [e.code, e.message]),
    [['DECODE_ERROR', 'Failed to decode message: MtwError: Frame too short (need at least 9 bytes)']]);
  await client.close();
  console.log(`${passed} passed, 0 failed`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.log(`FAIL: ${err && err.stack ? err.stack : err}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  },
);
