#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test of Server-Sent Events (docs/http-api.md#server-sent-events) against the real
mtwserver binary over raw sockets on 127.0.0.1, read incrementally as a browser would.

usage: test_sse.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

The stream's head, retry and greeting; envelopes byte-for-byte what a WebSocket subscriber of the
same channel gets; ids for one and for several channels; keep-alive comments; refusals as HTTP
errors with a JSON body (no channel, a bad Last-Event-ID, a channel that needs auth, a bad token,
a forbidden origin, the per-address limit) and a good JWT (mtw-auth-jwt) from the header and from
?token= (never in the log); resume with Last-Event-ID (exactly the publications in between, and
recovered: false for an id of another epoch); the server API's disconnect; a client that never
reads cut as a slow consumer while the server's memory stays bounded and another stream goes on;
client publish over HTTP with the sender's own stream excluded; shutdown flushing what was
published. Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import http.client
import json
import os
import re
import socket
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mtwproc import (ServerProcess, TestFailure, check, check_true as ok, hs256_token,  # noqa: E402
                     require, run_main, wait_until)

websockets, = require("websockets")

TIMEOUT = 10.0
KEY = "sse-api-key-0123456789"
SECRET = "sse-test-secret-0123456789abcdef0123"
CONFIG = """\
[server]
workers = 2
shutdown_timeout = 5

[transport.websocket]
max_queue_size = "64KB"
max_message_size = "64KB"

[transport.http]
enabled = true
api_key = "%s"

[transport.sse]
enabled = true
keepalive_interval = 1
retry_ms = 250
max_streams_per_ip = 40

[[modules]]
name = "mtw-auth-jwt"
config = { secret = "%s", allow_no_exp = true }

[[channels]]
name = "news"

[[channels]]
name = "room"

[[channels]]
name = "bulk"

[[channels]]
name = "private"
auth = true
""" % (KEY, SECRET)


def jwt(sub):
    return hs256_token(SECRET, {"sub": sub})


class Stream:
    """GET <prefix>/events, read event by event; `events` holds what came so far."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.status = None
        self.headers = {}
        self.body = b""
        self.events = []
        self.comments = []
        self.retry = None
        self.closed = False
        self.task = None

    @classmethod
    async def open(cls, port, query, headers=(), read=True):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = ["GET /api/events?%s HTTP/1.1" % query, "Host: 127.0.0.1:%d" % port,
                 "Accept: text/event-stream", *headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        stream = cls(reader, writer)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        first, *rest = head.decode().split("\r\n")
        stream.status = int(first.split()[1])
        for line in rest:
            if ":" in line:
                name, _, value = line.partition(":")
                stream.headers[name.strip().lower()] = value.strip()
        if stream.status != 200:
            length = int(stream.headers.get("content-length", "0"))
            stream.body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
            writer.close()
            return stream
        if read:
            stream.task = asyncio.ensure_future(stream._read())
        return stream

    def error(self):
        return json.loads(self.body)

    async def _read(self):
        event = {}
        try:
            while True:
                raw = await self.reader.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\n")
                if line == "":
                    if "data" in event:
                        self.events.append(event)
                    event = {}
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "retry":
                    self.retry = int(value)
                else:
                    event[field] = value
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        self.closed = True

    def data(self):
        return [json.loads(e["data"]) for e in self.events]

    async def wait(self, predicate, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if predicate(e)]
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise TestFailure("stream: no %s within %.0f s; events: %r" % (what, timeout, self.events))

    async def wait_count(self, predicate, count, what, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len([e for e in self.events if predicate(e)]) >= count:
                break
            await asyncio.sleep(0.02)
        found = [e for e in self.events if predicate(e)]
        if len(found) < count:
            raise TestFailure("stream: %d of %d %s within %.0f s" % (len(found), count, what, timeout))
        return found

    async def wait_closed(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed:
            await asyncio.sleep(0.02)
        return self.closed

    def close(self):
        if self.task:
            self.task.cancel()
        self.writer.close()


def publications(stream, channel=None):
    return [e for e in stream.events if "event" not in e
            and (channel is None or json.loads(e["data"]).get("channel") == channel)]


def api(port, command, params, path=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    h = {"Content-Type": "application/json", "Authorization": "apikey " + KEY}
    if headers is not None:
        h = headers
    conn.request("POST", path or "/api/" + command, body=json.dumps(params), headers=h)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, json.loads(body) if body else None


async def api_async(port, command, params, path=None, headers=None):
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: api(port, command, params, path, headers))


async def until(predicate, timeout=TIMEOUT):
    """wait_until without blocking the event loop (the streams go on being read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def ws_subscriber(port, channel):
    ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port, max_size=None)
    await asyncio.wait_for(ws.recv(), TIMEOUT)  # ack
    await ws.send(json.dumps({"id": "s1", "type": "subscribe", "channel": channel,
                              "payload": {"kind": "None"}, "timestamp": 0}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if reply.get("ref_id") == "s1":
            return ws


async def test_stream_basics(server, port):
    stream = await Stream.open(port, "channel=news")
    check("200 for a stream", stream.status, 200)
    check("content type", stream.headers.get("content-type"), "text/event-stream; charset=utf-8")
    check("no caching", stream.headers.get("cache-control"), "no-cache, no-store")
    ack = await stream.wait(lambda e: e.get("event") == "ack", "ack")
    conn_id = json.loads(ack["data"])["payload"]["data"]["conn_id"]
    ok("ack carries a conn_id", len(conn_id) == 26, conn_id)
    check("retry from transport.sse.retry_ms", stream.retry, 250)
    response = await stream.wait(lambda e: e.get("event") == "response", "subscribe response")
    reply = json.loads(response["data"])["payload"]["data"]
    check("subscribed", reply["subscribed"], "news")
    epoch = reply["epoch"]
    check("the response's id is the channel's position",
          response.get("id"), "news:%s:%d" % (epoch, reply["offset"]))

    # The same envelope a WebSocket subscriber of the channel gets, byte for byte.
    ws = await ws_subscriber(port, "news")
    status, answer = await api_async(port, "publish", {"channel": "news", "data": {"n": 1}})
    check("server API publish", status, 200)
    ws_text = await asyncio.wait_for(ws.recv(), TIMEOUT)
    event = await stream.wait(lambda e: "event" not in e, "publication")
    check("data is exactly the WebSocket envelope", event["data"], ws_text)
    check("id: channel, epoch and offset", event["id"], "news:%s:%d" % (epoch, answer["offset"]))
    await ws.close()

    # Keep-alive comments on an idle stream (keepalive_interval = 1).
    ok("keep-alive comment", await until(lambda: ": ping" in stream.comments, 5), stream.comments)

    # The stream is a connection: the server API's info counts it, /metrics too.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    conn.close()
    line = [l for l in metrics.splitlines() if l.startswith("mtw_connections ")]
    ok("mtw_connections counts the stream", line and int(line[0].split()[1]) >= 1, line)
    stream.close()


async def test_multi_channel_ids(server, port):
    stream = await Stream.open(port, "channel=news&channel=room")
    check("200 for two channels", stream.status, 200)
    responses = await stream.wait_count(lambda e: e.get("event") == "response", 2, "responses")
    last = json.loads(responses[1]["data"])["payload"]["data"]
    first = json.loads(responses[0]["data"])["payload"]["data"]
    _, a = await api_async(port, "publish", {"channel": "room", "data": "r"})
    event = await stream.wait(lambda e: "event" not in e, "publication on room")
    check("multi-channel id holds every channel's position", event["id"],
          "news:%s:%d room:%s:%d" % (first["epoch"], first["offset"], last["epoch"], a["offset"]))

    # Single-channel streams of room share one event per publication (SseEventCache); the
    # streams of several channels in between must still get ids of their own.
    singles = [await Stream.open(port, "channel=room") for _ in range(3)]
    other = await Stream.open(port, "channel=room&channel=bulk")
    for s in singles + [other]:
        await s.wait_count(lambda e: e.get("event") == "response", 1 if s in singles else 2,
                           "responses")
    bulk = [json.loads(e["data"])["payload"]["data"] for e in other.events
            if e.get("event") == "response"]
    bulk = [r for r in bulk if r["subscribed"] == "bulk"][0]
    _, b = await api_async(port, "publish", {"channel": "room", "data": "r2"})
    for s in singles:
        got = await s.wait(lambda e: "event" not in e, "publication on room")
        check("single-channel stream's id", got["id"], "room:%s:%d" % (last["epoch"], b["offset"]))
    got = await other.wait(lambda e: "event" not in e, "publication on room")
    check("room+bulk stream's id", got["id"],
          "room:%s:%d bulk:%s:%d" % (last["epoch"], b["offset"], bulk["epoch"], bulk["offset"]))
    got = await stream.wait(lambda e: "event" not in e and json.loads(e["data"])["payload"]
                            ["data"] == "r2", "second publication on room")
    check("news+room stream's id", got["id"],
          "news:%s:%d room:%s:%d" % (first["epoch"], first["offset"], last["epoch"], b["offset"]))
    for s in singles + [other, stream]:
        s.close()


async def test_refusals(server, port):
    s = await Stream.open(port, "")
    check("no channel: 400", s.status, 400)
    check("no channel: JSON error", s.error()["code"], 400)
    ok("no channel: says what to do", "channel" in s.error()["message"], s.error())
    s = await Stream.open(port, "channel=news&colour=red")
    check("unknown parameter: 400", s.status, 400)
    ok("unknown parameter named", "colour" in s.error()["message"], s.error())
    s = await Stream.open(port, "channel=news", ["Last-Event-ID: garbage"])
    check("bad Last-Event-ID: 400", s.status, 400)
    s = await Stream.open(port, "channel=private")
    check("channel that needs auth, anonymous: 401", s.status, 401)
    check("401 body", s.error()["code"], 401)
    s = await Stream.open(port, "channel=news", ["Authorization: Bearer not.a.jwt"])
    check("bad token: 401", s.status, 401)
    check("bad token: JSON error", s.error()["code"], 401)
    s = await Stream.open(port, "channel=$kv.nothing")
    ok("reserved channel refused", s.status in (400, 403, 404), s.status)
    check("reserved channel: JSON error code = status", s.error()["code"], s.status)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("POST", "/api/events?channel=news", body="")
    response = conn.getresponse()
    check("POST on the stream path: 405", response.status, 405)
    check("405 is JSON", json.loads(response.read())["code"], 405)
    conn.close()

    good = jwt("alice")
    s = await Stream.open(port, "channel=private", ["Authorization: Bearer " + good])
    check("channel that needs auth, good token in the header: 200", s.status, 200)
    ack = await s.wait(lambda e: e.get("event") == "response", "subscribe response")
    check("subscribed to private", json.loads(ack["data"])["payload"]["data"]["subscribed"], "private")
    s.close()
    s = await Stream.open(port, "channel=private&token=" + urllib.parse.quote(good))
    check("good token in ?token=: 200", s.status, 200)
    await s.wait(lambda e: e.get("event") == "response", "subscribe response")
    s.close()
    ok("the token never appears in the log", good not in server.log() and
       good.split(".")[2] not in server.log())


async def test_resume(server, port):
    stream = await Stream.open(port, "channel=news")
    response = await stream.wait(lambda e: e.get("event") == "response", "response")
    last_id = response["id"]
    stream.close()
    sent = []
    for i in range(3):
        _, answer = await api_async(port, "publish", {"channel": "news", "data": {"missed": i}})
        sent.append(answer["offset"])
    resumed = await Stream.open(port, "channel=news", ["Last-Event-ID: " + last_id])
    check("resume: 200", resumed.status, 200)
    response = await resumed.wait(lambda e: e.get("event") == "response", "response")
    check("resume: recovered", json.loads(response["data"])["payload"]["data"]["recovered"], True)
    got = await resumed.wait_count(lambda e: "event" not in e, 3, "recovered publications")
    await asyncio.sleep(0.3)
    got = publications(resumed)
    check("resume: exactly the publications in between",
          [json.loads(e["data"])["payload"]["data"] for e in got],
          [{"missed": i} for i in range(3)])
    check("resume: their ids", [e["id"].rsplit(":", 1)[1] for e in got], [str(o) for o in sent])
    _, answer = await api_async(port, "publish", {"channel": "news", "data": "live"})
    live = await resumed.wait(lambda e: "event" not in e and '"live"' in e["data"], "live one")
    check("resume: then live", live["id"].rsplit(":", 1)[1], str(answer["offset"]))
    resumed.close()

    # The same through ?last_event_id= (a client that cannot set the header).
    q = urllib.parse.quote(got[0]["id"])
    again = await Stream.open(port, "channel=news&last_event_id=" + q)
    await again.wait_count(lambda e: "event" not in e, 3, "publications after the first missed")
    await asyncio.sleep(0.3)
    check("?last_event_id=: what followed that id",
          [json.loads(e["data"])["payload"]["data"] for e in publications(again)],
          [{"missed": 1}, {"missed": 2}, "live"])
    again.close()

    # An id of another epoch cannot be recovered: the response says so.
    other = await Stream.open(port, "channel=news", ["Last-Event-ID: news:0000000000000000:1"])
    response = await other.wait(lambda e: e.get("event") == "response", "response")
    check("another epoch: recovered false",
          json.loads(response["data"])["payload"]["data"]["recovered"], False)
    other.close()


async def test_server_api_disconnect(server, port):
    stream = await Stream.open(port, "channel=room")
    ack = await stream.wait(lambda e: e.get("event") == "ack", "ack")
    conn_id = json.loads(ack["data"])["payload"]["data"]["conn_id"]
    status, _ = await api_async(port, "disconnect", {"conn_id": conn_id, "reason": "test"})
    check("server API disconnect finds the stream", status, 200)
    ok("the stream is closed", await stream.wait_closed(), "")


async def test_slow_consumer(server, port):
    # A client that never reads, with a small receive buffer: the server's 64 KB queue fills.
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /api/events?channel=bulk HTTP/1.1\r\nHost: x\r\n\r\n")
    reader = await Stream.open(port, "channel=bulk")
    await reader.wait(lambda e: e.get("event") == "response", "response")
    before = rss_kb(server.proc.pid)
    payload = "x" * 30000
    count = 300  # 9 MB through a 64 KB queue
    statuses = set()
    for i in range(count):
        status, _ = await api_async(port, "publish", {"channel": "bulk", "data": {"i": i, "p": payload}})
        statuses.add(status)
    check("every bulk publish accepted", statuses, {200})
    ok("the server says it dropped a slow consumer",
       await until(lambda: "is a slow consumer" in server.log()), server.log()[-2000:])
    got = await reader.wait_count(lambda e: "event" not in e, count, "bulk publications", timeout=30)
    check("the reading stream got every publication", len(got), count)
    growth = rss_kb(server.proc.pid) - before
    # 9 MB went to the stream that never reads: it was cut at 64 KB, not buffered.
    queued = re.search(r"is a slow consumer: (\d+) bytes queued", server.log())
    ok("the slow stream's queue stayed within its limit", queued and int(queued.group(1)) <= 64000,
       server.log()[-2000:])
    if os.environ.get("MTW_TEST_SANITIZER"):
        # AddressSanitizer keeps freed memory in quarantine (256 MB): RSS says nothing there.
        print("slow consumer: server RSS grew by %d KB under %s (not checked)"
              % (growth, os.environ["MTW_TEST_SANITIZER"]))
    else:
        ok("the server's memory stayed bounded", growth < 4500,
           "(RSS grew by %d KB while 9 MB were published)" % growth)
        print("slow consumer: server RSS grew by %d KB while 9 MB were published" % growth)
    slow.settimeout(TIMEOUT)
    received = 0
    reset = False
    try:
        while True:
            chunk = slow.recv(65536)
            if not chunk:
                break
            received += len(chunk)
    except ConnectionResetError:
        reset = True
    except socket.timeout:
        pass
    ok("the slow stream was cut short", received < count * len(payload),
       "(%d bytes received)" % received)
    # Reset, not closed behind 9 MB it will never read: the kernel keeps no orphaned queue.
    ok("the server reset the slow stream", reset, "(%d bytes received, no reset)" % received)
    slow.close()
    reader.close()


async def test_client_publish(server, port):
    me = await Stream.open(port, "channel=room")
    other = await Stream.open(port, "channel=room")
    ack = await me.wait(lambda e: e.get("event") == "ack", "ack")
    await other.wait(lambda e: e.get("event") == "response", "response")
    await me.wait(lambda e: e.get("event") == "response", "response")
    my_id = json.loads(ack["data"])["payload"]["data"]["conn_id"]
    path = "/api/events/publish"
    status, body = await api_async(port, None, {"channel": "room", "data": {"hi": 1}}, path=path,
                                   headers={"Content-Type": "application/json"})
    check("client publish, anonymous: 200", status, 200)
    check("client publish answer", body["published"], "room")
    got = await other.wait(lambda e: "event" not in e and '"hi"' in e["data"], "client publish")
    check("the envelope's payload", json.loads(got["data"])["payload"]["data"], {"hi": 1})
    status, body = await api_async(port, None, {"channel": "room", "data": {"hi": 2},
                                                "conn_id": my_id}, path=path,
                                   headers={"Content-Type": "application/json"})
    check("client publish naming its stream: 200", status, 200)
    await other.wait(lambda e: "event" not in e and '"hi":2' in e["data"], "second publish")
    await asyncio.sleep(0.3)
    check("its own stream is excluded", [json.loads(e["data"])["payload"]["data"] for e in publications(me)],
          [{"hi": 1}])
    env = json.loads(got["data"])
    ok("metadata.from is set by the server", "from" in env.get("metadata", {}), env)
    status, body = await api_async(port, None, {"channel": "private", "data": 1}, path=path,
                                   headers={"Content-Type": "application/json"})
    check("client publish to an auth channel, anonymous: 401", status, 401)
    check("401 body", body["code"], 401)
    status, body = await api_async(port, None, {"channel": "private", "data": 1}, path=path,
                                   headers={"Content-Type": "application/json",
                                            "Authorization": "Bearer " + jwt("bob")})
    check("client publish with a good token: 200", status, 200)
    status, body = await api_async(port, None, {"channel": "room", "data": 1}, path=path,
                                   headers={"Content-Type": "application/json",
                                            "Authorization": "Bearer bad"})
    check("client publish with a bad token: 401", status, 401)
    status, body = await api_async(port, None, {"channel": "room", "data": 1, "x": 2}, path=path,
                                   headers={"Content-Type": "application/json"})
    check("client publish with an unknown field: 400", status, 400)
    status, body = await api_async(port, None, {"channel": "room", "data": 1}, path="/api/publish",
                                   headers={"Content-Type": "application/json"})
    check("the server API's publish still wants the key", status, 401)
    me.close()
    other.close()


async def test_per_ip_limit(server, port):
    streams = []
    refused = None
    for _ in range(41):
        s = await Stream.open(port, "channel=news", read=False)
        if s.status != 200:
            refused = s
            break
        streams.append(s)
    ok("max_streams_per_ip refuses the 41st", refused is not None and refused.status == 429,
       "(%d opened)" % len(streams))
    check("429 is JSON", refused.error()["code"], 429)
    for s in streams:
        s.close()
    # The places come back as the streams close.
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        s = await Stream.open(port, "channel=news", read=False)
        s.close()
        if s.status == 200:
            break
        await asyncio.sleep(0.1)
    check("a stream opens again once the others closed", s.status, 200)


async def test_shutdown(server, port):
    stream = await Stream.open(port, "channel=news")
    await stream.wait(lambda e: e.get("event") == "response", "response")
    _, answer = await api_async(port, "publish", {"channel": "news", "data": "before shutdown"})
    await asyncio.get_running_loop().run_in_executor(None, server.terminate)
    ok("stream closed on shutdown", await stream.wait_closed(), "")
    ok("what was published before arrived",
       any('"before shutdown"' in e["data"] for e in publications(stream)), stream.events)


async def run(server):
    port = server.wait_listening()
    ok("jwt module loaded", await until(lambda: "module mtw-auth-jwt" in server.log(), 5),
       server.log())
    for test in (test_stream_basics, test_multi_channel_ids, test_refusals, test_resume,
                 test_server_api_disconnect, test_client_publish, test_slow_consumer,
                 test_per_ip_limit, test_shutdown):
        await test(server, port)
        print("ok:", test.__name__)


def main(binary, _tmp, servers):
    server = ServerProcess(binary, CONFIG)
    servers.append(server)
    asyncio.run(run(server))


if __name__ == "__main__":
    sys.exit(run_main(main))
