// SPDX-License-Identifier: MIT
// The load side of bench/cluster for Socket.IO: the fan-out scenario that mtw-loadgen runs
// against mtwserver, with socket.io-client 4 (WebSocket transport only). N subscribers, spread
// round-robin over --ports, join one room; one publisher on the first port emits --messages
// publishes to it, each {t: send time (steady clock, ns), seq}. A publish is in flight until its
// ack and all N deliveries have arrived; --window bounds how many are. --rate paces the
// publishes (per second, by the clock) instead of sending as fast as the window allows.
// Subscribers live in --threads worker threads (the publisher in the main thread); every delivery's
// latency goes into a log-linear histogram (< 0.8% error). Each subscriber checks that it sees
// every sequence once, in order. Prints one JSON object, the fields named as mtw-loadgen's.
//
//   node bench/peer/sio-load.js --ports 8091,8092,8093 --subscribers 3000 --messages 500
//        [--window 100] [--rate 0] [--threads 2] [--timeout 120] [--before-run CMD]
//        [--after-run CMD]
'use strict';

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { execSync } = require('node:child_process');
const { io } = require('socket.io-client');

const ROOM = 'bench.c0';
const SUB_BUCKETS = 128; // per power of two: < 0.8% error

function nowNs() {
  return Number(process.hrtime.bigint());
}

// --- a log-linear histogram of nanoseconds -----------------------------------------------------

function bucketOf(v) {
  v = Math.max(0, Math.floor(v));
  if (v < SUB_BUCKETS) return v;
  const e = Math.floor(Math.log2(v));
  const shift = e - 7;
  const sub = Math.floor(v / 2 ** shift) - SUB_BUCKETS; // 0..127
  return SUB_BUCKETS + shift * SUB_BUCKETS + sub;
}

function valueOf(index) {
  if (index < SUB_BUCKETS) return index;
  const shift = Math.floor((index - SUB_BUCKETS) / SUB_BUCKETS);
  const sub = (index - SUB_BUCKETS) % SUB_BUCKETS;
  const low = (SUB_BUCKETS + sub) * 2 ** shift;
  return low + 2 ** shift / 2;
}

class Histogram {
  constructor() {
    this.counts = new Float64Array(SUB_BUCKETS * 50);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }
  add(v) {
    this.counts[bucketOf(v)] += 1;
    this.count += 1;
    this.sum += v;
    if (v > this.max) this.max = v;
  }
  merge(other) {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }
  percentile(q) {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.max);
    }
    return this.max;
  }
  json() {
    // Microseconds, like mtw-loadgen.
    return {
      count: this.count,
      p50: this.percentile(0.5) / 1e3,
      p99: this.percentile(0.99) / 1e3,
      p999: this.percentile(0.999) / 1e3,
      max: this.max / 1e3,
      mean: this.count ? this.sum / this.count / 1e3 : 0,
    };
  }
}

function connect(port) {
  return io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: 30000,
  });
}

// --- a worker thread: its share of the subscribers ---------------------------------------------

function runWorker() {
  const { ports, indices, messages } = workerData;
  const histogram = new Histogram();
  const delivered = new Uint32Array(messages);
  const sockets = [];
  let subscribed = 0;
  let failed = 0;
  let deliveries = 0;
  let misordered = 0;
  let unexpected = 0;
  let watermark = 0; // sequences below it reached every subscriber of this thread
  let lastDeliveryNs = 0;
  let flushPending = false;
  let next = 0;
  let inProgress = 0;
  const concurrency = 128;

  const flush = () => {
    flushPending = false;
    parentPort.postMessage({ type: 'progress', watermark, lastDeliveryNs });
  };

  const openMore = () => {
    while (next < indices.length && inProgress < concurrency) {
      const index = indices[next++];
      const socket = connect(ports[index % ports.length]);
      sockets.push(socket);
      inProgress++;
      let expected = 0;
      socket.on('connect', () => {
        socket.emit('subscribe', ROOM, (answer) => {
          inProgress--;
          if (answer && answer.subscribed === ROOM) subscribed++;
          else failed++;
          if (subscribed + failed === indices.length) {
            parentPort.postMessage({ type: 'ready', subscribed, failed });
          }
          openMore();
        });
      });
      socket.on('connect_error', (e) => {
        failed++;
        inProgress--;
        parentPort.postMessage({ type: 'problem', text: `subscriber ${index}: ${e.message}` });
        if (subscribed + failed === indices.length) {
          parentPort.postMessage({ type: 'ready', subscribed, failed });
        }
        openMore();
      });
      socket.on('disconnect', (reason) => {
        if (reason !== 'io client disconnect') {
          failed++;
          parentPort.postMessage({ type: 'problem', text: `subscriber ${index}: ${reason}` });
        }
      });
      socket.on('message', (data) => {
        const now = nowNs();
        deliveries++;
        lastDeliveryNs = now;
        histogram.add(now - data.t);
        const seq = data.seq;
        if (seq !== expected) misordered++;
        expected = seq + 1;
        if (!(seq >= 0 && seq < messages)) {
          unexpected++;
          return;
        }
        if (++delivered[seq] === indices.length) {
          while (watermark < messages && delivered[watermark] >= indices.length) watermark++;
          if (!flushPending) {
            flushPending = true;
            setImmediate(flush);
          }
        }
      });
    }
  };

  parentPort.on('message', (message) => {
    if (message.type === 'finish') {
      parentPort.postMessage({
        type: 'result',
        histogram: { counts: histogram.counts, count: histogram.count, sum: histogram.sum, max: histogram.max },
        deliveries,
        misordered,
        unexpected,
        failed,
        lastDeliveryNs,
      });
      for (const socket of sockets) socket.close();
      setTimeout(() => process.exit(0), 50);
    }
  });
  if (indices.length === 0) parentPort.postMessage({ type: 'ready', subscribed: 0, failed: 0 });
  openMore();
}

// --- the main thread: the publisher and the bookkeeping ----------------------------------------

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function runMain() {
  const ports = option('ports', option('port', '8091')).split(',').map(Number);
  const subscribers = Number(option('subscribers', '100'));
  const messages = Number(option('messages', '100'));
  const window = Number(option('window', '1'));
  const rate = Number(option('rate', '0'));
  const threads = Math.max(1, Number(option('threads', '2')));
  const timeoutS = Number(option('timeout', '60'));
  const beforeRun = option('before-run', '');
  const afterRun = option('after-run', '');
  const problems = [];

  const workers = [];
  const watermarks = new Array(threads).fill(0);
  let ready = 0;
  let subscribed = 0;
  let failed = 0;
  let lastDeliveryNs = 0;
  const setupStart = nowNs();
  let runStart = 0;
  let firstPublishNs = 0;
  let lastPublishNs = 0;
  let sent = 0;
  let acked = 0;
  let finished = false;
  let publisher = null;
  let publisherReady = false;
  let pacer = null;

  const deadline = setTimeout(() => finish(false, 'timeout'), timeoutS * 1000);

  const completed = () => Math.min(acked, ...watermarks);

  const pump = () => {
    if (finished || !runStart) return;
    let due = messages;
    if (rate > 0) due = Math.min(messages, Math.floor(((nowNs() - runStart) / 1e9) * rate) + 1);
    const done = completed();
    while (sent < due && sent - done < window) {
      const seq = sent++;
      const t = nowNs();
      if (seq === 0) firstPublishNs = t;
      lastPublishNs = t;
      publisher.emit('publish', ROOM, { t, seq }, (answer) => {
        if (!answer || answer.published !== ROOM) problems.push(`odd publish ack ${JSON.stringify(answer)}`);
        acked++;
        check();
      });
    }
  };

  const check = () => {
    if (finished) return;
    if (completed() >= messages) finish(true);
    else pump();
  };

  const start = () => {
    if (!publisherReady || ready < threads) return;
    if (beforeRun) execSync(beforeRun, { stdio: 'ignore', shell: '/bin/sh' });
    runStart = nowNs();
    if (rate > 0) pacer = setInterval(pump, Math.max(1, Math.floor(1000 / rate)));
    pump();
  };

  const results = [];
  const finish = (ok, why) => {
    if (finished) return;
    finished = true;
    clearTimeout(deadline);
    if (pacer) clearInterval(pacer);
    if (why) problems.push(why);
    const endNs = Math.max(lastDeliveryNs, runStart);
    if (afterRun && runStart) execSync(afterRun, { stdio: 'ignore', shell: '/bin/sh' });
    let pending = workers.length;
    for (const worker of workers) worker.postMessage({ type: 'finish' });
    const report = () => {
      const histogram = new Histogram();
      let deliveries = 0;
      let misordered = 0;
      let unexpected = 0;
      for (const result of results) {
        const h = new Histogram();
        h.counts = result.histogram.counts;
        h.count = result.histogram.count;
        h.sum = result.histogram.sum;
        h.max = result.histogram.max;
        histogram.merge(h);
        deliveries += result.deliveries;
        misordered += result.misordered;
        unexpected += result.unexpected;
        failed = Math.max(failed, 0) + result.failed;
        lastDeliveryNs = Math.max(lastDeliveryNs, result.lastDeliveryNs);
      }
      const expected = subscribers * messages;
      const elapsed = Math.max(1, (lastDeliveryNs || endNs) - runStart) / 1e9;
      const complete = ok && deliveries === expected && acked === messages && misordered === 0
        && unexpected === 0 && failed === 0 && subscribed === subscribers;
      const out = {
        scenario: 'fanout',
        client: 'socket.io-client',
        complete,
        connections: subscribers + 1,
        subscribed,
        failed,
        threads,
        servers: ports.length,
        connect_s: runStart ? (runStart - setupStart) / 1e9 : null,
        subscribers_per_channel: subscribers,
        window,
        rate,
        messages,
        completed: completed(),
        acked,
        expected_deliveries: expected,
        deliveries,
        misordered,
        unexpected,
        elapsed_s: elapsed,
        publish_s: lastPublishNs ? (lastPublishNs - firstPublishNs) / 1e9 : 0,
        deliveries_per_s: deliveries / elapsed,
        messages_per_s: completed() / elapsed,
        latency_us: histogram.json(),
      };
      if (problems.length) out.problems = problems.slice(0, 5);
      console.log(JSON.stringify(out));
      if (publisher) publisher.close();
      setTimeout(() => process.exit(complete ? 0 : 1), 100);
    };
    if (pending === 0) report();
    for (const worker of workers) {
      worker.on('message', (message) => {
        if (message.type === 'result') {
          results.push(message);
          if (--pending === 0) report();
        }
      });
    }
  };

  for (let w = 0; w < threads; w++) {
    const indices = [];
    for (let i = w; i < subscribers; i += threads) indices.push(i);
    const worker = new Worker(__filename, { workerData: { ports, indices, messages } });
    worker.on('message', (message) => {
      if (message.type === 'ready') {
        subscribed += message.subscribed;
        failed += message.failed;
        ready++;
        if (message.failed) finish(false, 'subscribers failed');
        else start();
      } else if (message.type === 'progress') {
        watermarks[w] = message.watermark;
        lastDeliveryNs = Math.max(lastDeliveryNs, message.lastDeliveryNs);
        check();
      } else if (message.type === 'problem') {
        if (problems.length < 5) problems.push(message.text);
        if (runStart) finish(false, 'a subscriber failed');
      }
    });
    worker.on('error', (e) => finish(false, `worker: ${e.message}`));
    workers.push(worker);
  }
  // Workers with no subscribers have nothing to wait for.
  for (let w = 0; w < threads; w++) if (w >= subscribers) watermarks[w] = messages;

  publisher = connect(ports[0]);
  publisher.on('connect', () => {
    publisherReady = true;
    start();
  });
  publisher.on('connect_error', (e) => finish(false, `publisher: ${e.message}`));
}

if (isMainThread) runMain();
else runWorker();
