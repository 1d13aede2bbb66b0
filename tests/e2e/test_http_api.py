#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test of the server API (docs/http-api.md) against the real mtwserver binary, over
real sockets on 127.0.0.1: Python's http.client and raw sockets for HTTP, `websockets` for the
clients that see the effects.

usage: test_http_api.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

Every command with its effect on WebSocket clients (publish reaches a subscriber, disconnect
closes one, unsubscribe takes one out of a channel), keep-alive, pipelining, chunked bodies, the
batch; bad input: no key, a wrong key, malformed JSON, an unknown command (404), GET (405), an
unknown field, oversize bodies (413, Content-Length and chunked), a request that stops half-way
(408); a server with no key (401 for everything) and an insecure one (says so at start). Every
answer is validated against docs/api/openapi.yaml (python3-jsonschema, python3-yaml).
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import http.client
import json
import os
import socket
import sys
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mtwproc import (ServerProcess, TestFailure, check, count_passed, passed, require,  # noqa: E402
                     server_binary, serving, wait_until)

jsonschema, websockets, yaml = require("jsonschema", "websockets", "yaml",
                                      debian="python3-websockets python3-jsonschema python3-yaml")

TIMEOUT = 5.0
KEY = "test-api-key-0123456789"
CONFIG = """\
[server]
workers = 2

[transport.websocket]
handshake_timeout = 1

[transport.http]
enabled = true
api_key = "%s"
max_body_size = "4KB"

[[channels]]
name = "news"

[[channels]]
name = "room"
presence = true

[[kv]]
name = "prefs"
""" % KEY

SPEC = yaml.safe_load(open(os.path.join(HERE, "..", "..", "docs", "api", "openapi.yaml"),
                           encoding="utf-8"))


def conforms(command, status, body):
    """The answer matches the OpenAPI document: the command's 200 schema, or Error."""
    operation = SPEC["paths"]["/" + command]["post"]
    if status == 200:
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    else:
        ref = "#/components/schemas/Error"
        check("%s: error code equals the HTTP status" % command, body.get("code"), status)
    validator = jsonschema.Draft202012Validator({"$ref": ref, "components": SPEC["components"]})
    errors = sorted(validator.iter_errors(body), key=str)
    if errors:
        raise TestFailure("%s answer %d does not match %s: %s\n  body: %r"
                          % (command, status, ref, errors[0].message, body))
    count_passed()


class Api:
    """One keep-alive connection to the server API."""

    def __init__(self, port, key=KEY, scheme="apikey"):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.headers = {"Content-Type": "application/json"}
        if key is not None:
            self.headers["Authorization"] = "%s %s" % (scheme, key)

    def call(self, command, params=None, raw=None, method="POST", validate=True):
        body = raw if raw is not None else json.dumps(params if params is not None else {})
        self.conn.request(method, "/api/" + command, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        check("%s: content type" % command, response.getheader("Content-Type"), "application/json")
        answer = json.loads(data) if data else None
        if validate and command in ("batch",) + tuple(p[1:] for p in SPEC["paths"]):
            conforms(command, response.status, answer)
        return response.status, answer, response

    def close(self):
        self.conn.close()


def raw_exchange(port, data, read_until_close=True, timeout=TIMEOUT):
    """Sends bytes as they are, returns what the server answered until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close and b"\r\n\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def responses(raw):
    """Splits HTTP responses with Content-Length bodies: [(status, json body)]."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        out.append((status, json.loads(rest[:length]) if length else None))
        raw = rest[length:]
    return out


def request_bytes(command, body, headers=(), chunked=False):
    head = ["POST /api/%s HTTP/1.1" % command, "Host: 127.0.0.1",
            "Authorization: apikey %s" % KEY, "Content-Type: application/json", *headers]
    payload = body.encode()
    if chunked:
        head.append("Transfer-Encoding: chunked")
        pieces = [payload[i:i + 7] for i in range(0, len(payload), 7)]
        data = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        head.append("Content-Length: %d" % len(payload))
        data = payload
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


class Client:
    """A WebSocket client that records what it receives."""

    def __init__(self, ws):
        self.ws = ws
        self.messages = []
        self.closed = None
        self.conn_id = None

    @classmethod
    async def open(cls, port):
        client = cls(await websockets.connect("ws://127.0.0.1:%d/ws" % port))
        ack = json.loads(await asyncio.wait_for(client.ws.recv(), TIMEOUT))
        client.conn_id = ack["payload"]["data"]["conn_id"]
        client.reader = asyncio.ensure_future(client._read())
        return client

    async def _read(self):
        try:
            async for text in self.ws:
                self.messages.append(json.loads(text))
        except websockets.ConnectionClosed:
            pass
        self.closed = self.ws.close_code

    async def subscribe(self, channel):
        await self.ws.send(json.dumps({"id": "s-" + channel, "type": "subscribe", "channel": channel,
                                       "payload": {"kind": "None"}, "timestamp": 0}))
        await self.wait(lambda m: m.get("ref_id") == "s-" + channel)

    async def wait(self, predicate):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for message in self.messages:
                if predicate(message):
                    return message
            await asyncio.sleep(0.02)
        raise TestFailure("no matching message; got %r" % self.messages)


async def commands(server):
    port = server.port
    api = Api(port)
    sub = await Client.open(port)
    await sub.subscribe("news")
    await sub.subscribe("room")

    status, answer, response = api.call("publish", {"channel": "news", "data": {"n": 1}})
    check("publish status", status, 200)
    check("publish recipients", answer["recipients"], 1)
    check("publish offset", answer["offset"], 1)
    check("keep-alive answered", response.getheader("Connection"), "keep-alive")
    got = await sub.wait(lambda m: m.get("type") == "publish" and m.get("channel") == "news")
    check("subscriber got the data", got["payload"], {"kind": "Json", "data": {"n": 1}})
    check("the server API is its sender", got["metadata"]["from"], "api")

    # Same connection (keep-alive), Bearer works as well as apikey.
    bearer = Api(port, scheme="Bearer")
    status, answer, _ = bearer.call("publish", {"channel": "news", "data": "two"})
    check("Bearer key publish", (status, answer["offset"]), (200, 2))
    bearer.close()

    status, answer, _ = api.call("broadcast", {"channels": ["news", "room", "nowhere"], "data": 3})
    check("broadcast", status, 200)
    check("broadcast per channel", [(r["channel"], r.get("recipients"), r.get("error", {}).get("code"))
                                    for r in answer["responses"]],
          [("news", 1, None), ("room", 1, None), ("nowhere", None, 404)])

    status, answer, _ = api.call("history", {"channel": "news", "limit": 10})
    check("history", (status, [m["payload"]["data"] for m in answer["messages"]]),
          (200, [{"n": 1}, "two", 3]))
    status, answer, _ = api.call("history", {"channel": "news", "since": {"offset": 2, "epoch": answer["epoch"]}})
    check("history since", ([m["payload"]["data"] for m in answer["messages"]], answer["recovered"]), ([3], True))

    status, answer, _ = api.call("presence", {"channel": "room"})
    check("presence", (status, [m["conn_id"] for m in answer["members"]]), (200, [sub.conn_id]))
    status, answer, _ = api.call("presence_stats", {"channel": "room"})
    check("presence_stats", (status, answer["num_clients"], answer["num_users"]), (200, 1, 0))
    status, answer, _ = api.call("channels", {})
    check("channels", (status, sorted(c["name"] for c in answer["channels"])), (200, ["news", "room"]))
    status, answer, _ = api.call("info")
    check("info", (status, answer["node"]["connections"], answer["cluster"]), (200, 1, None))

    status, answer, _ = api.call("kv.put", {"bucket": "prefs", "key": "theme", "value": {"c": "dark"}})
    check("kv.put", (status, answer["version"]), (200, 1))
    status, answer, _ = api.call("kv.put", {"bucket": "prefs", "key": "theme", "value": 1, "version": 7})
    check("kv.put stale version", status, 409)
    status, answer, _ = api.call("kv.get", {"bucket": "prefs", "key": "theme"})
    check("kv.get", (status, answer["value"], answer["version"]), (200, {"c": "dark"}, 1))
    status, answer, _ = api.call("kv.batch", {"bucket": "prefs", "operations": [
        {"op": "put", "key": "a", "value": 1}, {"op": "put", "key": "b", "value": 2}]})
    check("kv.batch", (status, [r["key"] for r in answer["results"]]), (200, ["a", "b"]))
    status, answer, _ = api.call("kv.list", {"bucket": "prefs"})
    check("kv.list", (status, [k["key"] for k in answer["keys"]]), (200, ["a", "b", "theme"]))
    status, answer, _ = api.call("kv.delete", {"bucket": "prefs", "key": "a"})
    check("kv.delete", (status, answer["deleted"]), (200, True))
    status, answer, _ = api.call("kv.get", {"bucket": "nobucket", "key": "a"})
    check("kv.get unknown bucket", status, 404)
    status, answer, _ = api.call("kv.get", {"bucket": "prefs"})
    check("kv.get without key names the field", (status, answer["message"].startswith("key:")), (400, True))

    status, answer, _ = api.call("batch", {"commands": [
        {"method": "publish", "params": {"channel": "news", "data": "b1"}},
        {"method": "nope"},
        {"method": "publish", "params": {"channel": "news", "data": "b2"}}]})
    check("batch status", status, 200)
    check("batch replies in order", [r.get("result", {}).get("offset") or r["error"]["code"]
                                     for r in answer["replies"]], [4, 404, 5])

    status, answer, _ = api.call("unsubscribe", {"conn_id": sub.conn_id, "channel": "news"})
    check("unsubscribe", (status, answer), (200, {}))
    notice = await sub.wait(lambda m: m.get("type") == "unsubscribe")
    check("the client is told", notice.get("channel"), "news")
    status, answer, _ = api.call("publish", {"channel": "news", "data": "after"})
    check("no longer a recipient", answer["recipients"], 0)

    status, answer, _ = api.call("disconnect", {"conn_id": sub.conn_id, "reason": "bye"})
    check("disconnect", (status, answer), (200, {}))
    await asyncio.wait_for(sub.reader, TIMEOUT)
    check("the client was closed", sub.closed, 1008)
    status, answer, _ = api.call("disconnect", {"conn_id": "01NOSUCHCONNECTION00000000"})
    check("disconnect unknown", status, 404)
    api.close()


def bad_input(server):
    port = server.port
    status, answer, response = Api(port, key=None).call("publish", {"channel": "news", "data": 1})
    check("no key: 401", status, 401)
    check("no key: challenge", response.getheader("WWW-Authenticate"), "apikey")
    status, _, _ = Api(port, key="wrong").call("publish", {"channel": "news", "data": 1})
    check("wrong key: 401", status, 401)

    api = Api(port)
    status, answer, _ = api.call("publish", raw='{"channel": "news", "data": ')
    check("malformed JSON: 400", (status, answer["message"].startswith("malformed JSON")), (400, True))
    status, answer, _ = api.call("publish", raw='[1, 2]')
    check("not an object: 400", status, 400)
    status, answer, _ = api.call("frobnicate", {}, validate=False)
    check("unknown command: 404", (status, answer["code"]), (404, 404))
    status, answer, response = api.call("publish", {}, method="GET")
    check("GET: 405", (status, response.getheader("Allow")), (405, "POST"))
    status, answer, _ = api.call("publish", {"channel": "news", "data": 1, "chanel": "x"})
    check("unknown field: 400 naming it", (status, "'chanel'" in answer["message"]), (400, True))
    status, answer, _ = api.call("publish", {"channel": "news"})
    check("publish without data: 400", status, 400)
    status, answer, _ = api.call("publish", {"channel": "nowhere", "data": 1})
    check("unknown channel: 404", status, 404)
    status, answer, _ = api.call("batch", {"commands": []})
    check("empty batch: 400", status, 400)
    # The same keep-alive connection still serves after all of that.
    status, answer, _ = api.call("info")
    check("still serving on the same connection", status, 200)
    api.close()

    big = json.dumps({"channel": "news", "data": "x" * 5000})
    answers = responses(raw_exchange(port, request_bytes("publish", big)))
    check("oversize body: 413", [s for s, _ in answers], [413])
    check("413 says the limit", "max_body_size" in answers[0][1]["message"], True)
    answers = responses(raw_exchange(port, request_bytes("publish", big, chunked=True)))
    check("oversize chunked body: 413", [s for s, _ in answers], [413])

    # A chunked body, and two pipelined requests in one write: answered in order.
    chunked = request_bytes("publish", json.dumps({"channel": "news", "data": "chunked"}), chunked=True)
    second = request_bytes("history", json.dumps({"channel": "news", "limit": 1}),
                           headers=("Connection: close",))
    answers = responses(raw_exchange(port, chunked + second))
    check("pipelined answers", [s for s, _ in answers], [200, 200])
    check("chunked publish", "offset" in answers[0][1], True)
    check("then its history", answers[1][1]["messages"][0]["payload"]["data"], "chunked")

    # Half a body, then nothing: 408 after handshake_timeout (1 s here), and the server serves.
    small = json.dumps({"channel": "news", "data": "y" * 1000})
    started = raw_exchange(port, request_bytes("publish", small)[:400], timeout=TIMEOUT)
    check("slow request: 408", [s for s, _ in responses(started)], [408])
    status, _, _ = Api(port).call("info")
    check("serving after the slow one", status, 200)
    check("the key never reaches the log", KEY in server.log(), False)


def keyless(binary):
    for insecure, expected in ((False, 401), (True, 200)):
        config = "[transport.http]\nenabled = true\ninsecure = %s\n" % ("true" if insecure else "false")
        with serving(binary, config) as server:
            status, _, _ = Api(server.port, key=None).call("info")
            check("no api_key, insecure = %s" % insecure, status, expected)
            status, _, _ = Api(server.port, key="anything").call("info")
            check("no api_key, insecure = %s, any key" % insecure, status, expected)
            words = "OPEN TO EVERYONE" if insecure else "refuses every call"
            check("said at start (%s)" % words, wait_until(lambda: words in server.log(), TIMEOUT), True)
    # Each keep-alive connection holds one of its address's max_pending_handshakes_per_ip places.
    with serving(binary, "[transport.websocket]\nmax_pending_handshakes_per_ip = 2\n"
                         "[transport.http]\nenabled = true\ninsecure = true\n") as server:
        held = [Api(server.port, key=None), Api(server.port, key=None)]
        for api in held:
            check("a held connection is served", api.call("info")[0], 200)
        answer = raw_exchange(server.port, request_bytes("info", "{}"))
        check("a third from the same address: 429", answer.split(b" ")[1], b"429")
        held[0].close()
        check("a place is free again", wait_until(
            lambda: raw_exchange(server.port, request_bytes("info", "{}", headers=(
                "Connection: close",))).split(b" ")[1] == b"200", TIMEOUT), True)
        held[1].close()
    # Disabled (the default): the prefix is no endpoint.
    with serving(binary, "") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            s.sendall(b"POST /api/info HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            check("disabled: 404", s.recv(4096).split(b" ")[1], b"404")


def main():
    failed = 0
    binary = server_binary()
    server = ServerProcess(binary, CONFIG)
    try:
        server.wait_listening()
        for name, run in (("commands", lambda: asyncio.run(commands(server))),
                          ("bad input", lambda: bad_input(server)),
                          ("keyless", lambda: keyless(binary))):
            try:
                run()
                print("ok: %s" % name)
            except Exception:  # noqa: BLE001 - report and go on with the next group
                failed += 1
                print("FAIL: %s\n%s" % (name, traceback.format_exc()))
        code = server.terminate()
        check("clean exit", code, 0)
    except Exception:  # noqa: BLE001
        failed += 1
        print("FAIL: %s\nserver log:\n%s" % (traceback.format_exc(), server.log()))
    finally:
        server.stop()
    print("%d passed, %d failed" % (passed(), failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
