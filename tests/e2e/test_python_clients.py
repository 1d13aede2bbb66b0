#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: the real mtwserver binary against Python `websockets` clients (10.4 API).

usage: test_python_clients.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

Plays a scripted multi-client session over 127.0.0.1 and checks every reply exactly against the
wire contract (docs/protocol.md): opening acks, subscribe with history, publish fan-out (sender
excluded, metadata.from set), presence join/leave, the core request actions, malformed input, MTW
binary framing, disconnect (1000), the protocol-error limit (1008), ten concurrent clients on both
workers, and graceful shutdown (1001, exit 0).
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import base64
import json
import os
import re
import struct
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, TestFailure, count_passed, envelope, require, run_main  # noqa: E402

websockets, _ = require("websockets", "websockets.exceptions")

TIMEOUT = 5.0          # every single wait
QUIET = 0.3            # how long "nothing else arrives" is watched
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

CONFIG = """\
[server]
workers = 2
shutdown_timeout = 5

[transport.websocket]
max_protocol_errors = 5

[[channels]]
name = "room.*"
presence = true
history = 5
"""

# ---------------------------------------------------------------------------------------------
# Exact matching with a few wildcards


class _Ulid:
    def __repr__(self):
        return "<ULID>"


class _Timestamp:
    def __repr__(self):
        return "<timestamp ms, now>"


class Contains:
    def __init__(self, *parts):
        self.parts = parts

    def __repr__(self):
        return "<non-empty string containing %s>" % ", ".join(repr(p) for p in self.parts)


class _Any:
    def __repr__(self):
        return "<anything>"


class _Offset:
    def __repr__(self):
        return "<offset: a non-negative integer>"


class _Epoch:
    def __repr__(self):
        return "<epoch: 8 Crockford base32 chars>"


ULID = _Ulid()
TS = _Timestamp()
ANY = _Any()
OFFSET = _Offset()
EPOCH = _Epoch()
EPOCH_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{8}$")


def diff(actual, expected, path="$"):
    """The first difference between actual and expected as a sentence, or None."""
    if expected is ANY:
        return None
    if expected is ULID:
        if isinstance(actual, str) and ULID_RE.match(actual):
            return None
        return "%s: expected a ULID (26 Crockford base32 chars), got %r" % (path, actual)
    if expected is OFFSET:
        if isinstance(actual, int) and not isinstance(actual, bool) and actual >= 0:
            return None
        return "%s: expected an offset (a non-negative integer), got %r" % (path, actual)
    if expected is EPOCH:
        if isinstance(actual, str) and EPOCH_RE.match(actual):
            return None
        return "%s: expected an epoch (8 Crockford base32 chars), got %r" % (path, actual)
    if expected is TS:
        now = int(time.time() * 1000)
        if isinstance(actual, int) and not isinstance(actual, bool) and abs(actual - now) < 120000:
            return None
        return "%s: expected integer milliseconds near %d, got %r" % (path, now, actual)
    if isinstance(expected, Contains):
        if isinstance(actual, str) and actual.strip() and all(p in actual for p in expected.parts):
            return None
        return "%s: expected %r, got %r" % (path, expected, actual)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return "%s: expected an object, got %r" % (path, actual)
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            return "%s: keys differ: missing %s, unexpected %s (got %s)" % (
                path, missing, {k: actual[k] for k in extra}, json.dumps(actual))
        for key in expected:
            d = diff(actual[key], expected[key], "%s.%s" % (path, key))
            if d:
                return d
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return "%s: expected an array, got %r" % (path, actual)
        if len(actual) != len(expected):
            return "%s: expected %d elements, got %d: %s" % (path, len(expected), len(actual),
                                                             json.dumps(actual))
        for i, (a, e) in enumerate(zip(actual, expected)):
            d = diff(a, e, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if type(actual) is not type(expected) or actual != expected:
        return "%s: expected %r, got %r" % (path, expected, actual)
    return None


class Checker:
    def equal(self, label, actual, expected):
        d = diff(actual, expected)
        if d:
            raise TestFailure("%s: %s\n  expected: %r\n  actual:   %s" % (
                label, d, expected, json.dumps(actual) if not isinstance(actual, bytes) else actual))
        count_passed()

    def true(self, label, condition, detail=""):
        if not condition:
            raise TestFailure("%s%s" % (label, (": " + detail) if detail else ""))
        count_passed()


CHECK = Checker()

# ---------------------------------------------------------------------------------------------
# Envelopes and MTW frames


def now_ms():
    return int(time.time() * 1000)


def response(ref_id, data, channel=None, payload=None):
    # Replies never carry `channel` (PROTOCOL.md section 7): the TypeScript client routes any
    # message with a channel to that channel's handlers. `channel` names what the request was
    # about and is checked to be absent (the comparison is key for key).
    del channel
    if isinstance(data, dict) and ("subscribed" in data or "published" in data
                                   or "messages" in data):
        # Subscribe and publish answers say where the channel's stream is (offsets are checked
        # for their values in test_recovery.py).
        data = dict({"offset": OFFSET, "epoch": EPOCH}, **data)
    return {"id": ULID, "type": "response", "payload": payload or {"kind": "Json", "data": data},
            "timestamp": TS, "ref_id": ref_id}


def error(ref_id, code, message):
    m = {"id": ULID, "type": "error",
         "payload": {"kind": "Json", "data": {"code": code, "message": message}}, "timestamp": TS}
    if ref_id is not None:
        m["ref_id"] = ref_id
    return m


def presence_event(channel, event, conn_id):
    return {"id": ULID, "type": "ack", "channel": channel, "payload": {"kind": "None"},
            "metadata": {"event": event, "conn_id": conn_id}, "timestamp": TS}


def pong(ref_id):
    return {"id": ULID, "type": "pong", "payload": {"kind": "None"}, "timestamp": TS, "ref_id": ref_id}


def as_delivered(sent, sender_conn_id):
    """A publish as other subscribers get it: metadata.from = sender, user_id dropped."""
    out = dict(sent)
    meta = dict(sent.get("metadata") or {})
    meta.pop("user_id", None)
    meta["from"] = sender_conn_id
    meta["offset"] = OFFSET
    meta["epoch"] = EPOCH
    out["metadata"] = meta
    return out


def mtw_frame(frame_type, payload=b""):
    return b"MTW\x01" + bytes([frame_type]) + struct.pack(">I", len(payload)) + payload


def parse_mtw(data):
    if not isinstance(data, bytes) or len(data) < 9 or data[:4] != b"MTW\x01":
        raise TestFailure("expected an MTW v1 frame, got %r" % (data[:80],))
    (length,) = struct.unpack(">I", data[5:9])
    if length != len(data) - 9:
        raise TestFailure("MTW frame length field %d but %d payload bytes" % (length, len(data) - 9))
    return data[4], data[9:]


# ---------------------------------------------------------------------------------------------
# A client


class Client:
    def __init__(self, name, ws):
        self.name = name
        self.ws = ws
        self.conn_id = None
        self.binary = False   # we send MTW frames
        self.seq = 0

    @classmethod
    async def open(cls, name, url, **kwargs):
        try:
            ws = await asyncio.wait_for(
                websockets.connect(url, open_timeout=TIMEOUT, close_timeout=2, ping_interval=None,
                                   max_size=None, **kwargs), TIMEOUT)
        except Exception as e:  # noqa: BLE001 - reported as a test failure
            raise TestFailure("%s: cannot connect to %s: %r" % (name, url, e))
        return cls(name, ws)

    def next_id(self, what):
        self.seq += 1
        return "%s-%s-%d" % (self.name, what, self.seq)

    async def raw(self, timeout=TIMEOUT):
        try:
            return await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise TestFailure("%s: nothing received within %.1f s" % (self.name, timeout))
        except websockets.exceptions.ConnectionClosed as e:
            raise TestFailure("%s: connection closed while waiting for a message: code %s reason %r"
                              % (self.name, e.code, e.reason))

    async def recv(self, timeout=TIMEOUT):
        """The next message; text frames in text mode, MTW 0x01 binary frames in binary mode."""
        data = await self.raw(timeout)
        if self.binary:
            if isinstance(data, str):
                raise TestFailure("%s: in binary mode but got a text frame: %s" % (self.name, data))
            ftype, payload = parse_mtw(data)
            if ftype != 0x01:
                raise TestFailure("%s: expected an MTW 0x01 JSON frame, got type 0x%02x" % (self.name, ftype))
            text = payload.decode("utf-8")
        else:
            if isinstance(data, bytes):
                raise TestFailure("%s: expected a text frame, got binary %r" % (self.name, data[:80]))
            text = data
        try:
            return json.loads(text)
        except ValueError:
            raise TestFailure("%s: received invalid JSON: %r" % (self.name, text))

    async def expect(self, label, expected, timeout=TIMEOUT):
        msg = await self.recv(timeout)
        CHECK.equal("%s: %s" % (self.name, label), msg, expected)
        return msg

    async def send(self, message):
        text = json.dumps(message)
        if self.binary:
            await self.ws.send(mtw_frame(0x01, text.encode("utf-8")))
        else:
            await self.ws.send(text)

    async def call(self, label, message, expected):
        await self.send(message)
        return await self.expect(label, expected)

    async def quiet(self, label):
        """Nothing unexpected is pending: a ping's pong is the very next message, and nothing
        follows it for a moment."""
        pid = self.next_id("quiet")
        await self.send(envelope(pid, "ping"))
        await self.expect("%s (nothing before the pong)" % label, pong(pid))
        try:
            data = await asyncio.wait_for(self.ws.recv(), QUIET)
        except asyncio.TimeoutError:
            CHECK.true("%s: %s" % (self.name, label), True)
            return
        except websockets.exceptions.ConnectionClosed as e:
            raise TestFailure("%s: %s: connection closed (code %s)" % (self.name, label, e.code))
        raise TestFailure("%s: %s: unexpected message %r" % (self.name, label, data))

    async def closed_with(self, label, code, timeout=TIMEOUT):
        try:
            await asyncio.wait_for(self.ws.wait_closed(), timeout)
        except asyncio.TimeoutError:
            raise TestFailure("%s: %s: still open after %.1f s" % (self.name, label, timeout))
        CHECK.equal("%s: %s: close code" % (self.name, label), self.ws.close_code, code)


# ---------------------------------------------------------------------------------------------
# The session


async def opening_ack(client):
    msg = await client.recv()
    CHECK.equal("%s: opening ack" % client.name, msg, {
        "id": ULID, "type": "ack", "payload": {"kind": "Json", "data": {"conn_id": ULID}},
        "metadata": {"conn_id": ULID}, "timestamp": TS})
    CHECK.equal("%s: opening ack metadata.conn_id = payload conn_id" % client.name,
                msg["metadata"]["conn_id"], msg["payload"]["data"]["conn_id"])
    client.conn_id = msg["payload"]["data"]["conn_id"]


async def session(server):
    port = server.port
    base = "ws://127.0.0.1:%d" % port
    url = base + "/ws"
    ch = "room.lobby"

    # -- plain HTTP on the same port
    with urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=TIMEOUT) as r:
        CHECK.equal("GET /status", [r.status, r.read().decode()], [200, "ok"])
    try:
        await asyncio.wait_for(websockets.connect(base + "/nope", open_timeout=TIMEOUT), TIMEOUT)
        raise TestFailure("upgrade on /nope: expected HTTP 404, the upgrade succeeded")
    except websockets.exceptions.InvalidStatusCode as e:
        CHECK.equal("upgrade on /nope: HTTP status", e.status_code, 404)

    # -- three clients, each gets an opening ack with a distinct conn_id
    a = await Client.open("A", url)
    b = await Client.open("B", url)
    c = await Client.open("C", url)
    for cl in (a, b, c):
        await opening_ack(cl)
    CHECK.true("three distinct conn_ids", len({a.conn_id, b.conn_id, c.conn_id}) == 3,
               str([a.conn_id, b.conn_id, c.conn_id]))

    # -- connect gets an ack with ref_id
    cid = a.next_id("connect")
    await a.call("connect", envelope(cid, "connect"), {
        "id": ULID, "type": "ack", "payload": {"kind": "Json", "data": {"conn_id": a.conn_id}},
        "metadata": {"conn_id": a.conn_id}, "timestamp": TS, "ref_id": cid})

    # -- A subscribes first (empty history), then publishes three messages nobody receives
    sid = a.next_id("sub")
    await a.call("subscribe with empty history",
                 envelope(sid, "subscribe", ch, metadata={"history": 5}),
                 response(sid, {"subscribed": ch, "members": 1, "history": []}, ch))
    early = [
        envelope("A-m1", "publish", ch, {"kind": "Json", "data": {"n": 1, "nested": {"ok": True}}}),
        envelope("A-m2", "publish", ch, {"kind": "Text", "data": "hello \u00e9\u4e16"}),
        envelope("A-m3", "publish", ch, {"kind": "Binary",
                                         "data": base64.b64encode(b"\x00\x01\x02\xff").decode()},
                 metadata={"tag": "bin"}),
    ]
    for m in early:
        await a.call("publish %s with no other subscriber" % m["id"], m,
                     response(m["id"], {"published": ch, "recipients": 0}, ch))
    early_delivered = [as_delivered(m, a.conn_id) for m in early]

    # -- B subscribes with history: gets the three, oldest first, as full envelopes; A sees join(B)
    sid = b.next_id("sub")
    await b.call("subscribe with history 5", envelope(sid, "subscribe", ch, metadata={"history": 5}),
                 response(sid, {"subscribed": ch, "members": 2, "history": early_delivered}, ch))
    await a.expect("presence join of B", presence_event(ch, "join", b.conn_id))

    # -- C subscribes with history 1: only the newest; A and B see join(C)
    sid = c.next_id("sub")
    await c.call("subscribe with history 1", envelope(sid, "subscribe", ch, metadata={"history": 1}),
                 response(sid, {"subscribed": ch, "members": 3, "history": early_delivered[-1:]}, ch))
    await a.expect("presence join of C", presence_event(ch, "join", c.conn_id))
    await b.expect("presence join of C", presence_event(ch, "join", c.conn_id))

    # -- subscribing again is not a second join
    sid = c.next_id("sub")
    await c.call("subscribe again", envelope(sid, "subscribe", ch),
                 response(sid, {"subscribed": ch, "members": 3}, ch))

    # -- A publishes with spoofed from/user_id: B and C get it with from = A, A does not
    m4 = envelope("A-m4", "publish", ch, {"kind": "Json", "data": {"text": "hi all", "list": [1, 2.5, None]}},
                  metadata={"from": "spoofed", "user_id": "spoofed", "trace": "t-1"})
    await a.call("publish to two subscribers", m4, response("A-m4", {"published": ch, "recipients": 2}, ch))
    m4_delivered = as_delivered(m4, a.conn_id)
    await b.expect("fan-out of A-m4", m4_delivered)
    await c.expect("fan-out of A-m4", m4_delivered)
    for cl in (a, b, c):
        await cl.quiet("no stray message after the publish (A never gets its own)")

    # -- B publishes (publisher need not differ from A): A and C get it
    m5 = envelope("B-m5", "publish", ch, {"kind": "Text", "data": "from B"})
    await b.call("publish from B", m5, response("B-m5", {"published": ch, "recipients": 2}, ch))
    await a.expect("fan-out of B-m5", as_delivered(m5, b.conn_id))
    await c.expect("fan-out of B-m5", as_delivered(m5, b.conn_id))

    # -- per-connection order: a burst of 20 publishes without waiting
    burst = [envelope("A-burst-%d" % i, "publish", ch, {"kind": "Json", "data": i}) for i in range(20)]
    for m in burst:
        await a.send(m)
    for m in burst:
        await a.expect("burst response in order", response(m["id"], {"published": ch, "recipients": 2}, ch))
    for cl in (b, c):
        for m in burst:
            await cl.expect("burst fan-out in order", as_delivered(m, a.conn_id))

    # -- request actions
    hist_all = [as_delivered(m, a.conn_id) for m in burst[-5:]]   # history = 5 for room.*
    rid = b.next_id("req")
    await b.call("request history (ring of 5)",
                 envelope(rid, "request", ch, metadata={"action": "history"}),
                 response(rid, {"channel": ch, "messages": hist_all}, ch))
    rid = b.next_id("req")
    await b.call("request history limit 2",
                 envelope(rid, "request", ch, metadata={"action": "history", "limit": 2}),
                 response(rid, {"channel": ch, "messages": hist_all[-2:]}, ch))
    rid = b.next_id("req")
    members = sorted([{"conn_id": x.conn_id} for x in (a, b, c)], key=lambda e: e["conn_id"])
    msg = await b.call("request presence",
                       envelope(rid, "request", ch, metadata={"action": "presence"}),
                       response(rid, {"channel": ch, "members": [{"conn_id": ULID}] * 3}, ch))
    CHECK.equal("B: presence members are A, B, C",
                sorted(msg["payload"]["data"]["members"], key=lambda e: e["conn_id"]), members)
    rid = b.next_id("req")
    await b.call("request channels", envelope(rid, "request", metadata={"action": "channels"}),
                 response(rid, {"channels": [{"name": ch, "members": 3}]}))
    rid = b.next_id("req")
    await b.call("request with an unknown action",
                 envelope(rid, "request", metadata={"action": "frobnicate"}),
                 error(rid, 404, Contains("frobnicate")))
    rid = b.next_id("req")
    await b.call("request without action echoes the payload",
                 envelope(rid, "request", payload={"kind": "Json", "data": {"echo": [1, "two"]}}),
                 response(rid, None, payload={"kind": "Json", "data": {"echo": [1, "two"]}}))
    rid = b.next_id("ping")
    await b.call("ping", envelope(rid, "ping"), pong(rid))

    # -- publish to a channel that is neither configured nor subscribed
    pid = b.next_id("pub")
    await b.call("publish to an unknown channel",
                 envelope(pid, "publish", "nowhere.x", {"kind": "Text", "data": "?"}),
                 error(pid, 404, "channel 'nowhere.x' not found"))

    # -- malformed input: 400, ref_id when an id is readable, the socket stays usable
    await b.ws.send("{not json")
    await b.expect("malformed JSON", error(None, 400, Contains("")))
    await b.ws.send(json.dumps({"id": "B-bad-1", "type": "publish", "channel": ch}))
    await b.expect("missing payload", error("B-bad-1", 400, Contains("payload")))
    await b.ws.send(json.dumps({"id": "B-bad-2", "type": "bogus", "payload": {"kind": "None"},
                                "timestamp": now_ms()}))
    await b.expect("unknown type", error("B-bad-2", 400, Contains("bogus")))
    await b.ws.send(json.dumps({"id": "B-bad-3", "type": "ping", "payload": {"kind": "None"},
                                "timestamp": now_ms(), "metadata": None}))
    await b.expect("metadata: null", error("B-bad-3", 400, Contains("metadata")))
    await b.quiet("socket still usable after four malformed messages")

    # -- unsubscribe: C leaves, A and B see leave(C); a second unsubscribe still answers
    uid = c.next_id("unsub")
    await c.call("unsubscribe", envelope(uid, "unsubscribe", ch), response(uid, {"unsubscribed": ch}, ch))
    await a.expect("presence leave of C", presence_event(ch, "leave", c.conn_id))
    await b.expect("presence leave of C", presence_event(ch, "leave", c.conn_id))
    uid = c.next_id("unsub")
    await c.call("unsubscribe when not subscribed", envelope(uid, "unsubscribe", ch),
                 response(uid, {"unsubscribed": ch}, ch))

    # -- binary mode: C sends an MTW 0x01 frame and from then on gets MTW 0x01 replies
    c.binary = True
    sid = c.next_id("sub")
    await c.call("subscribe over MTW (binary reply)",
                 envelope(sid, "subscribe", ch, metadata={"history": 0}),
                 response(sid, {"subscribed": ch, "members": 3, "history": []}, ch))
    await a.expect("presence join of C (text)", presence_event(ch, "join", c.conn_id))
    await b.expect("presence join of C (text)", presence_event(ch, "join", c.conn_id))
    await c.ws.send(json.dumps(envelope("C-textping", "ping")))
    await c.expect("text message in binary mode is answered in MTW", pong("C-textping"))
    await c.ws.send(mtw_frame(0x03))
    data = await c.raw()
    CHECK.equal("C: MTW ping 0x03 -> pong 0x04 with empty payload", data, mtw_frame(0x04))
    await c.ws.send(mtw_frame(0x04))   # a pong is ignored
    m6 = envelope("A-m6", "publish", ch, {"kind": "Text", "data": "to text and binary"})
    await a.call("publish to a text and a binary subscriber", m6,
                 response("A-m6", {"published": ch, "recipients": 2}, ch))
    await b.expect("fan-out of A-m6 (text)", as_delivered(m6, a.conn_id))
    await c.expect("fan-out of A-m6 (MTW binary)", as_delivered(m6, a.conn_id))
    m7 = envelope("C-m7", "publish", ch, {"kind": "Json", "data": {"via": "mtw"}})
    await c.call("publish over MTW", m7, response("C-m7", {"published": ch, "recipients": 2}, ch))
    await a.expect("fan-out of C-m7 (text)", as_delivered(m7, c.conn_id))
    await b.expect("fan-out of C-m7 (text)", as_delivered(m7, c.conn_id))
    # A raw 0x02 frame (the TypeScript client's publishBinary()) is no protocol error: without a
    # module to take it, it is dropped and nothing comes back (the next reply is the next error).
    await c.ws.send(mtw_frame(0x02, b"raw bytes"))
    await c.ws.send(b"XYZ\x01\x01\x00\x00\x00\x00")
    await c.expect("undecodable binary frame", error(None, 400, Contains("")))
    await c.quiet("binary connection still usable")

    # -- D: subprotocol mtw.v1 and the query-string form on "/"; protocol-error limit -> 1008
    d = await Client.open("D", base + "/?token=abc&api_key=k", subprotocols=["mtw.v1"])
    await opening_ack(d)
    CHECK.equal("D: selected subprotocol", d.ws.subprotocol, "mtw.v1")
    for i in range(4):
        await d.ws.send("garbage %d" % i)
        await d.expect("garbage %d" % i, error(None, 400, Contains("")))
    await d.ws.send("garbage 4")
    await d.expect("fifth garbage still answered", error(None, 400, Contains("")))
    await d.closed_with("after max_protocol_errors = 5", 1008)

    # -- disconnect: B gets Close 1000; A sees leave(B) as text, C as MTW
    await b.send(envelope(b.next_id("bye"), "disconnect"))
    await b.closed_with("disconnect", 1000)
    await a.expect("presence leave of B", presence_event(ch, "leave", b.conn_id))
    await c.expect("presence leave of B (MTW)", presence_event(ch, "leave", b.conn_id))
    for cl in (a, c):
        await cl.quiet("nothing else after B left")
    rid = a.next_id("req")
    await a.call("channels after B left", envelope(rid, "request", metadata={"action": "channels"}),
                 response(rid, {"channels": [{"name": ch, "members": 2}]}))

    # -- a crowd on both workers at once: 10 clients subscribe concurrently to an unconfigured
    #    channel, then all publish concurrently; nobody is lost, order per sender is kept
    await crowd(url, a)

    # -- graceful shutdown: SIGTERM -> the remaining clients get 1001, exit code 0
    loop = asyncio.get_running_loop()
    exit_future = loop.run_in_executor(None, server.terminate, 15.0)
    await a.closed_with("server shutdown", 1001, timeout=10)
    await c.closed_with("server shutdown", 1001, timeout=10)
    code = await asyncio.wait_for(exit_future, 20)
    CHECK.equal("mtwserver exit code after SIGTERM", code, 0)


async def crowd(url, observer):
    crowd_ch = "crowd.x"
    n, per = 10, 5
    clients = await asyncio.gather(*(Client.open("E%d" % i, url) for i in range(n)))
    await asyncio.gather(*(opening_ack(cl) for cl in clients))

    async def subscribe(cl):
        sid = cl.next_id("sub")
        await cl.send(envelope(sid, "subscribe", crowd_ch))
        return sid, await cl.recv()

    replies = await asyncio.gather(*(subscribe(cl) for cl in clients))
    counts = []
    for cl, (sid, msg) in zip(clients, replies):
        members = msg.get("payload", {}).get("data", {}).get("members")
        counts.append(members)
        CHECK.equal("%s: concurrent subscribe" % cl.name, msg,
                    response(sid, {"subscribed": crowd_ch, "members": members}, crowd_ch))
    CHECK.equal("member counts seen by 10 concurrent subscribers", sorted(counts), list(range(1, n + 1)))

    sent = {cl.name: [envelope("%s-c%d" % (cl.name, k), "publish", crowd_ch,
                               {"kind": "Json", "data": {"k": k}}) for k in range(per)] for cl in clients}

    async def publish_and_drain(cl):
        for m in sent[cl.name]:
            await cl.send(m)
        got = []
        for _ in range(per + (n - 1) * per):
            got.append(await cl.recv())
        return got

    results = await asyncio.gather(*(publish_and_drain(cl) for cl in clients))
    for cl, got in zip(clients, results):
        own = [m for m in got if m.get("type") == "response"]
        CHECK.equal("%s: publish responses in order, 9 recipients each" % cl.name, own,
                    [response(m["id"], {"published": crowd_ch, "recipients": n - 1}, crowd_ch)
                     for m in sent[cl.name]])
        others = [m for m in got if m.get("type") != "response"]
        for sender in clients:
            if sender is cl:
                continue
            from_sender = [m for m in others if m.get("metadata", {}).get("from") == sender.conn_id]
            CHECK.equal("%s: messages from %s, all and in order" % (cl.name, sender.name), from_sender,
                        [as_delivered(m, sender.conn_id) for m in sent[sender.name]])
        CHECK.equal("%s: nothing but the crowd's messages" % cl.name, len(others), (n - 1) * per)

    rid = observer.next_id("req")
    msg = await observer.call("presence of the crowd",
                              envelope(rid, "request", crowd_ch, metadata={"action": "presence"}),
                              response(rid, {"channel": crowd_ch, "members": [{"conn_id": ULID}] * n}, crowd_ch))
    CHECK.equal("crowd presence lists exactly the 10 clients",
                sorted(e["conn_id"] for e in msg["payload"]["data"]["members"]),
                sorted(cl.conn_id for cl in clients))
    rid = observer.next_id("req")
    msg = await observer.call("history of the crowd (default history 50 keeps all 50)",
                              envelope(rid, "request", crowd_ch, metadata={"action": "history"}),
                              response(rid, {"channel": crowd_ch, "messages": [ANY] * (n * per)}, crowd_ch))
    stored = msg["payload"]["data"]["messages"]
    for sender in clients:
        CHECK.equal("crowd history: %s's messages, in order" % sender.name,
                    [m for m in stored if m.get("metadata", {}).get("from") == sender.conn_id],
                    [as_delivered(m, sender.conn_id) for m in sent[sender.name]])
    await asyncio.gather(*(cl.ws.close() for cl in clients))
    for cl in clients:
        CHECK.equal("%s: closed by the client" % cl.name, cl.ws.close_code, 1000)


def main(binary, _tmp, servers):
    server = ServerProcess(binary, CONFIG)
    servers.append(server)
    server.wait_listening()
    CHECK.equal("workers from the log", server.workers, 2)
    asyncio.run(asyncio.wait_for(session(server), 60))


if __name__ == "__main__":
    sys.exit(run_main(main))
