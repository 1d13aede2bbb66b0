#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: the key-value store (docs/kv.md) from a third-party client, Python
`websockets` (10.4 API), against the real mtwserver binary.

usage: test_python_kv.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

put, get (Json and Binary), compare-and-set (a stale version gets 409 with ref_id), delete, list,
and a watcher on $kv.<bucket> that sees every change in order with increasing versions.
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import base64
import itertools
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, TestFailure, check, require, run_main  # noqa: E402

websockets, = require("websockets")

TIMEOUT = 5.0

CONFIG = """\
[server]
workers = 2

[[kv]]
name = "prefs"
max_value_size = "1KB"
"""

IDS = itertools.count(1)


class Client:
    def __init__(self, ws):
        self.ws = ws
        self.events = []  # publishes, in arrival order
        self.replies = {}
        self.conn_id = None
        self.changed = asyncio.Event()
        self.reader = None

    @classmethod
    async def open(cls, url):
        client = cls(await websockets.connect(url))
        ack = json.loads(await asyncio.wait_for(client.ws.recv(), TIMEOUT))
        client.conn_id = ack["payload"]["data"]["conn_id"]
        client.reader = asyncio.ensure_future(client._read())
        return client

    async def _read(self):
        async for text in self.ws:
            message = json.loads(text)
            if message.get("type") == "publish":
                self.events.append(message)
            elif "ref_id" in message:
                self.replies[message["ref_id"]] = message
            self.changed.set()

    async def wait_for(self, predicate, what):
        deadline = time.monotonic() + TIMEOUT
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("timed out waiting for %s" % what)
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        return True

    async def request(self, action, metadata, payload=None, type_="request"):
        id_ = "py%d" % next(IDS)
        message = {"id": id_, "type": type_, "timestamp": int(time.time() * 1000),
                   "payload": payload or {"kind": "None"}, "metadata": dict(metadata)}
        if action:
            message["metadata"]["action"] = action
        await self.ws.send(json.dumps(message))
        await self.wait_for(lambda: id_ in self.replies, "the reply to %s" % id_)
        reply = self.replies[id_]
        check("%s: ref_id" % id_, reply["ref_id"], id_)
        return reply


def json_payload(data):
    return {"kind": "Json", "data": data}


async def session(url):
    watcher = await Client.open(url)
    alice = await Client.open(url)
    bob = await Client.open(url)
    sub = watcher.ws.send(json.dumps({"id": "sub", "type": "subscribe", "channel": "$kv.prefs",
                                      "payload": {"kind": "None"}, "timestamp": 1}))
    await sub
    await watcher.wait_for(lambda: "sub" in watcher.replies, "the subscribe reply")
    check("subscribed", watcher.replies["sub"]["payload"]["data"]["subscribed"], "$kv.prefs")

    key = {"bucket": "prefs", "key": "theme"}
    put = await alice.request("kv.put", dict(key, version=0), json_payload({"dark": True}))
    check("put answer", put["payload"], json_payload({"bucket": "prefs", "key": "theme", "version": 1}))
    check("put metadata", put["metadata"], {"bucket": "prefs", "key": "theme", "version": 1})

    got = await bob.request("kv.get", key)
    check("get answer", got["payload"]["data"],
          {"bucket": "prefs", "key": "theme", "version": 1, "kind": "Json", "value": {"dark": True}})

    # Compare-and-set: bob updates from version 1; alice, still at version 1, loses.
    won = await bob.request("kv.put", dict(key, version=1), json_payload({"dark": False}))
    check("CAS winner", won["metadata"]["version"], 2)
    lost = await alice.request("kv.put", dict(key, version=1), json_payload({"dark": True}))
    check("CAS loser", lost["type"], "error")
    check("CAS loser payload", lost["payload"]["data"],
          {"code": 409, "message": "version conflict on key 'theme': expected version 1, current version 2"})

    blob = bytes(range(256))[:64]
    encoded = base64.b64encode(blob).decode()
    await alice.request("kv.put", {"bucket": "prefs", "key": "avatar"}, {"kind": "Binary", "data": encoded})
    got_blob = await bob.request("kv.get", {"bucket": "prefs", "key": "avatar"})
    check("binary value", base64.b64decode(got_blob["payload"]["data"]), blob)
    check("binary metadata", got_blob["metadata"], {"bucket": "prefs", "key": "avatar", "version": 3})

    too_big = await alice.request("kv.put", {"bucket": "prefs", "key": "big"},
                                  {"kind": "Text", "data": "x" * 1001})
    check("too large", too_big["payload"]["data"]["code"], 413)
    missing = await alice.request("kv.get", {"bucket": "nope", "key": "k"})
    check("unknown bucket", missing["payload"]["data"],
          {"code": 404, "message": "bucket 'nope' is not configured"})

    deleted = await alice.request("kv.delete", dict(key, version=2))
    check("delete", deleted["payload"]["data"],
          {"bucket": "prefs", "key": "theme", "version": 4, "deleted": True})
    listed = await bob.request("kv.list", {"bucket": "prefs"})
    check("list", listed["payload"]["data"],
          {"bucket": "prefs", "version": 4, "keys": [{"key": "avatar", "version": 3}]})

    await watcher.wait_for(lambda: len(watcher.events) == 4, "four change events")
    ops = [(e["metadata"]["op"], e["metadata"]["key"], e["metadata"]["version"], e["metadata"]["from"])
           for e in watcher.events]
    check("watch events", ops, [("put", "theme", 1, alice.conn_id), ("put", "theme", 2, bob.conn_id),
                                ("put", "avatar", 3, alice.conn_id), ("delete", "theme", 4, alice.conn_id)])
    check("event channel", {e["channel"] for e in watcher.events}, {"$kv.prefs"})
    check("delete event payload", watcher.events[3]["payload"]["data"],
          {"bucket": "prefs", "key": "theme", "version": 4, "deleted": True})

    forbidden = await alice.request(None, {}, json_payload(1), type_="publish")
    check("publish without channel", forbidden["type"], "error")
    for client in (watcher, alice, bob):
        await client.ws.close()
        client.reader.cancel()


async def publish_to_watch_channel(url):
    client = await Client.open(url)
    await client.ws.send(json.dumps({"id": "p1", "type": "publish", "channel": "$kv.prefs",
                                     "payload": json_payload(1), "timestamp": 1}))
    await client.wait_for(lambda: "p1" in client.replies, "the publish reply")
    check("publish to $kv", client.replies["p1"]["payload"]["data"],
          {"code": 403, "message": "channels starting with '$' are written by the server"})
    await client.ws.close()
    client.reader.cancel()


def main(binary, _tmp, servers):
    server = ServerProcess(binary, CONFIG)
    servers.append(server)
    port = server.wait_listening()
    url = "ws://127.0.0.1:%d/ws" % port
    asyncio.run(asyncio.wait_for(session(url), 60))
    asyncio.run(asyncio.wait_for(publish_to_watch_channel(url), 30))


if __name__ == "__main__":
    sys.exit(run_main(main))
