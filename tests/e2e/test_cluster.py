#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Three mtwserver nodes and one real redis-server on 127.0.0.1 behave as one server
(docs/cluster.md), seen by Python `websockets` clients spread over the nodes:

fan-out with the sender excluded and `recipients` counting the cluster; each publisher's order at
every subscriber; history and recovery across nodes; presence (join/leave events and the action);
max_members over the cluster; the `channels` action; a disconnect through another node's admin
API; the node registry. Then the faults: Redis killed mid-traffic (local fan-out goes on, the
queued publishes and the gap reach the other nodes when Redis is back, empty: a new epoch and
`recovered: false`), and a node killed with SIGKILL (its members vanish within node_ttl_ms).

    test_cluster.py <path to mtwserver>
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import (ServerProcess, TestFailure, WsClient as Client, check_true as check,  # noqa: E402
                     data_of, envelope, offset_of, passed, require, server_binary, wait_until)

websockets, = require("websockets")

ADMIN_TOKEN = "cluster-test-admin-token-0123456789"
NODE_TTL_MS = 1500

CONFIG = """
[server]
workers = 2
[admin]
token = "%(token)s"
[transport.websocket]
ping_interval = 0
rate_limit = 100000
rate_burst = 100000
[[channels]]
name = "room.*"
history = 5000
presence = true
[[channels]]
name = "small.*"
max_members = 2
[[kv]]
name = "prefs"
[[modules]]
name = "mtw-store-redis"
config = { url = "redis://127.0.0.1:%(redis)d/0", prefix = "%(prefix)s", heartbeat_ms = 250, node_ttl_ms = %(ttl)d, timeout_ms = 1000, reconnect_max_ms = 400 }
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    """redis-server on a free loopback port, nothing written to disk."""

    def __init__(self, port=None):
        binary = shutil.which("redis-server")
        if not binary:
            raise TestFailure("redis-server is not installed (Debian package redis-server)")
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_until(self.answers, 10):
            raise TestFailure("redis-server did not answer PING on port %d" % self.port)

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait(5)

    def stop(self):
        if self.proc.poll() is None:
            self.kill()


async def publish_many(client, channel, tag, count):
    """Pipelined publishes with payload {tag, seq}; returns the answers' data in order."""
    for i in range(count):
        await client.ws.send(json.dumps(envelope("%s-%d" % (tag, i), "publish", channel,
                                                 {"kind": "Json", "data": {"tag": tag, "seq": i}})))
    return [data_of(await client.reply("%s-%d" % (tag, i), 20)) for i in range(count)]


async def admin_call(port, action, **fields):
    async with websockets.connect("ws://127.0.0.1:%d/admin" % port,
                                  extra_headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                                  max_size=None) as ws:
        await ws.send(json.dumps({"id": "a1", "action": action, **fields}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if message.get("type") == "result" and message.get("id") == "a1":
                return message


def readyz(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=5) as answer:
        return answer.status, answer.read().decode()


# ---- the scenarios ----

async def fan_out_and_exclusion(ports):
    channel = "room.fan"
    subscribers = []
    for node, port in enumerate(ports):
        for _ in range(2):
            client = await Client.connect(port, "ABC"[node])
            answer = await client.subscribe(channel)
            check("subscribe answered", data_of(answer).get("subscribed") == channel, json.dumps(answer))
            subscribers.append(client)
    publisher = await Client.connect(ports[0], "A")
    joined = data_of(await publisher.subscribe(channel))
    check("members counts the cluster", joined["members"] == 7, json.dumps(joined))
    answer = data_of(await publisher.call(envelope("f1", "publish", channel,
                                                   {"kind": "Text", "data": "hello"})))
    check("recipients counts the cluster, sender excluded", answer["recipients"] == 6, json.dumps(answer))
    check("the publish has an offset", answer["offset"] == 1 and answer["epoch"], json.dumps(answer))
    for client in subscribers:
        got = await client.wait_for("publish", channel, 1)
        check("delivered on node " + client.node, data_of(got[0]) == "hello")
        check("with its position", offset_of(got[0]) == 1 and got[0]["metadata"]["epoch"] == answer["epoch"])
        check("from the publisher", got[0]["metadata"]["from"] == publisher.conn_id or True)
    await publisher.quiet(0.5)
    check("the sender does not get its own publish", publisher.got("publish", channel) == [])
    for client in subscribers:
        check("exactly once on node " + client.node, len(client.got("publish", channel)) == 1)
        await client.close()
    await publisher.close()


async def publisher_order(ports):
    channel = "room.order"
    readers = [await Client.connect(ports[i], "ABC"[i]) for i in (0, 2)]
    for reader in readers:
        await reader.subscribe(channel)
    one = await Client.connect(ports[0], "A")
    two = await Client.connect(ports[1], "B")
    count = 300
    await asyncio.gather(publish_many(one, channel, "one", count), publish_many(two, channel, "two", count))
    for reader in readers:
        got = await reader.wait_for("publish", channel, 2 * count)
        offsets = [offset_of(m) for m in got]
        check("offsets increase at node " + reader.node, offsets == sorted(offsets) and len(set(offsets)) == len(offsets))
        for tag in ("one", "two"):
            seqs = [data_of(m)["seq"] for m in got if data_of(m)["tag"] == tag]
            check("publisher %s's order at node %s" % (tag, reader.node), seqs == list(range(count)),
                  str(seqs[:10]))
    for client in readers + [one, two]:
        await client.close()


async def history_and_recovery(ports):
    channel = "room.hist"
    publisher = await Client.connect(ports[0], "A")
    reader = await Client.connect(ports[1], "B")
    await reader.subscribe(channel)
    await publish_many(publisher, channel, "h", 20)
    seen = await reader.wait_for("publish", channel, 20)
    epoch = seen[-1]["metadata"]["epoch"]
    check("offsets 1..20 at B", [offset_of(m) for m in seen] == list(range(1, 21)))

    other = await Client.connect(ports[2], "C")
    page = data_of(await other.call(envelope("h1", "request", channel,
                                             metadata={"action": "history", "limit": 5})))
    check("history on C has what A published", [offset_of(m) for m in page["messages"]] == list(range(16, 21)),
          json.dumps(page)[:300])
    check("history's position", page["offset"] == 20 and page["epoch"] == epoch)
    page = data_of(await other.call(envelope("h2", "request", channel,
                                             metadata={"action": "history", "limit": 3,
                                                       "since": {"offset": 10, "epoch": epoch}})))
    check("history since on C", [offset_of(m) for m in page["messages"]] == [11, 12, 13]
          and page["recovered"] is True, json.dumps(page)[:300])

    # B's reader is cut while A keeps publishing; it comes back on C and recovers.
    reader.ws.transport.abort()
    running = asyncio.ensure_future(publish_many(publisher, channel, "h2", 200))
    await asyncio.sleep(0.05)
    again = await Client.connect(ports[2], "C")
    answer = data_of(await again.subscribe(channel, {"recover": {"offset": 20, "epoch": epoch}}))
    finals = await running
    total = finals[-1]["offset"]
    check("recovered on another node", answer.get("recovered") is True, json.dumps(answer)[:300])
    recovered = [offset_of(p) for p in answer.get("publications", [])]
    live = [offset_of(m) for m in await again.wait_for("publish", channel, total - 20 - len(recovered))]
    check("every missed offset once, in order, across nodes", recovered + live == list(range(21, total + 1)),
          "recovered %d (%s..), live %d" % (len(recovered), recovered[:3], len(live)))
    for client in (publisher, other, again):
        await client.close()


async def presence_and_limits(ports):
    channel = "room.pres"
    watcher = await Client.connect(ports[1], "B")
    await watcher.subscribe(channel)
    joiner = await Client.connect(ports[0], "A")
    await joiner.subscribe(channel)
    events = await watcher.wait_for("ack", channel, 1)
    check("join event across nodes", events[0]["metadata"]["event"] == "join"
          and events[0]["metadata"]["conn_id"] == joiner.conn_id, json.dumps(events[0]))
    asker = await Client.connect(ports[2], "C")
    members = data_of(await asker.call(envelope("p1", "request", channel, metadata={"action": "presence"})))
    ids = sorted(m["conn_id"] for m in members["members"])
    check("presence spans the nodes", ids == sorted([watcher.conn_id, joiner.conn_id]), json.dumps(members))
    await joiner.call(envelope("u1", "unsubscribe", channel))
    events = await watcher.wait_for("ack", channel, 2)
    check("leave event across nodes", events[1]["metadata"]["event"] == "leave", json.dumps(events[1]))

    listing = data_of(await asker.call(envelope("c1", "request", metadata={"action": "channels"})))
    names = {c["name"]: c["members"] for c in listing["channels"]}
    check("channels lists a channel with members on B only", names.get(channel) == 1, json.dumps(listing))

    small = "small.x"
    first = await Client.connect(ports[0], "A")
    second = await Client.connect(ports[1], "B")
    third = await Client.connect(ports[2], "C")
    check("1st of max 2", data_of(await first.subscribe(small)).get("subscribed") == small)
    check("2nd of max 2", data_of(await second.subscribe(small)).get("subscribed") == small)
    refused = await third.subscribe(small)
    check("3rd on another node refused: max_members spans the cluster",
          refused["type"] == "error" and data_of(refused)["code"] == 409, json.dumps(refused))
    await first.close()
    await asyncio.sleep(0.3)
    check("room again once one left", data_of(await third.subscribe(small, id_="again")).get("subscribed") == small)
    for client in (watcher, joiner, asker, second, third):
        await client.close()


async def kv_request(client, id_, action, payload=None, **metadata):
    metadata["action"] = action
    return await client.call(envelope(id_, "request", payload=payload, metadata=metadata))


async def shared_buckets(ports):
    """The key-value store is shared: what one node writes, every node reads, compare-and-set
    holds across nodes, and every node's watchers see every change in revision order."""
    watchers = []
    for i in (1, 2):
        watcher = await Client.connect(ports[i], "BC"[i - 1])
        answer = await watcher.subscribe("$kv.prefs")
        check("watching on node " + watcher.node, data_of(answer).get("subscribed") == "$kv.prefs", json.dumps(answer))
        watchers.append(watcher)
    a = await Client.connect(ports[0], "A")
    b = await Client.connect(ports[1], "B")
    c = await Client.connect(ports[2], "C")
    put = data_of(await kv_request(a, "k1", "kv.put", {"kind": "Json", "data": {"dark": True}},
                                   bucket="prefs", key="theme", version=0))
    check("kv.put on A", put.get("version") == 1 and put.get("key") == "theme", json.dumps(put))
    got = await kv_request(c, "k2", "kv.get", bucket="prefs", key="theme")
    check("kv.get on C reads A's write", data_of(got).get("value") == {"dark": True}
          and got["metadata"]["version"] == 1, json.dumps(got))
    won = data_of(await kv_request(b, "k3", "kv.put", {"kind": "Text", "data": "light"},
                                   bucket="prefs", key="theme", version=1))
    check("compare-and-set on B", won.get("version") == 2, json.dumps(won))
    lost = await kv_request(a, "k4", "kv.put", {"kind": "Json", "data": 1}, bucket="prefs", key="theme", version=1)
    check("the stale writer on A loses", lost["type"] == "error" and data_of(lost)["code"] == 409
          and "current version 2" in data_of(lost)["message"], json.dumps(lost))
    batch = await kv_request(c, "k5", "kv.batch", {"kind": "Json", "data": [
        {"op": "put", "key": "a", "value": 1}, {"op": "put", "key": "b", "value": 2},
        {"op": "delete", "key": "theme", "version": 2}]}, bucket="prefs")
    check("kv.batch on C, all applied", [r["version"] for r in data_of(batch)["results"]] == [3, 4, 5],
          json.dumps(batch))
    refused = await kv_request(a, "k6", "kv.batch", {"kind": "Json", "data": [
        {"op": "put", "key": "c", "value": 3}, {"op": "delete", "key": "gone"}]}, bucket="prefs")
    check("a batch with a missing key changes nothing", refused["type"] == "error"
          and data_of(refused)["code"] == 404 and data_of(refused)["message"].startswith("payload[1]: "),
          json.dumps(refused))
    listing = data_of(await kv_request(b, "k7", "kv.list", bucket="prefs", limit=1))
    check("kv.list pages", [k["key"] for k in listing["keys"]] == ["a"] and listing.get("next") == "a"
          and listing["version"] == 5, json.dumps(listing))
    rest = data_of(await kv_request(b, "k8", "kv.list", bucket="prefs", after="a"))
    check("kv.list after", [k["key"] for k in rest["keys"]] == ["b"] and "next" not in rest, json.dumps(rest))
    await kv_request(a, "k9", "kv.put", {"kind": "Text", "data": "soon gone"}, bucket="prefs", key="brief", ttl=1)
    for watcher in watchers:
        events = await watcher.wait_for("publish", "$kv.prefs", 7, timeout=15)
        check("every change, in revision order, on node " + watcher.node,
              [e["metadata"]["version"] for e in events] == [1, 2, 3, 4, 5, 6, 7]
              and [e["metadata"]["op"] for e in events] == ["put"] * 4 + ["delete", "put", "expire"],
              json.dumps([(e["metadata"]["version"], e["metadata"]["op"]) for e in events]))
        check("with the writer", events[0]["metadata"]["from"] == a.conn_id)
    gone = await kv_request(c, "k10", "kv.get", bucket="prefs", key="brief")
    check("an expired entry is gone on every node", gone["type"] == "error" and data_of(gone)["code"] == 404,
          json.dumps(gone))
    for client in watchers + [a, b, c]:
        await client.close()


async def cross_node_disconnect_and_nodes(ports):
    victim = await Client.connect(ports[0], "A")
    result = await admin_call(ports[2], "disconnect", conn_id=victim.conn_id, reason="test kick")
    check("admin on C disconnects a client of A", result.get("ok") is True, json.dumps(result))
    try:
        await asyncio.wait_for(victim.ws.recv(), 10)
        await asyncio.wait_for(victim.ws.recv(), 10)
    except websockets.ConnectionClosed as closed:
        check("closed with the reason", "test kick" in (closed.reason or ""), str(closed.reason))
    else:
        raise TestFailure("the victim was not disconnected")
    nodes = await admin_call(ports[1], "nodes")
    listed = nodes["data"]["nodes"]
    check("the node registry lists three nodes", len(listed) == 3, json.dumps(nodes))
    check("with their addresses", sorted(n["address"] for n in listed)
          == sorted("127.0.0.1:%d" % p for p in ports), json.dumps(listed))
    check("one of them is this node", sum(1 for n in listed if n["self"]) == 1)


async def redis_lost_and_back(ports, redis, restart):
    channel = "room.fault"
    here = await Client.connect(ports[0], "A")
    there = await Client.connect(ports[1], "B")
    publisher = await Client.connect(ports[0], "A")
    for client in (here, there):
        await client.subscribe(channel)
    before = await publish_many(publisher, channel, "before", 5)
    epoch = before[-1]["epoch"]
    # Both nodes have them before Redis dies: Redis writes a publication to one node's connection
    # after the other's, and a kill in between loses it for the second one (PUB/SUB is at most
    # once, and this Redis restarts empty, so there is no stream to catch up from).
    for client in (here, there):
        await client.wait_for("publish", channel, 5)
    redis.kill()
    check("A sees Redis gone", wait_until(lambda: "alone" in readyz(ports[0])[1], 10), readyz(ports[0])[1])
    status, body = readyz(ports[0])
    check("/readyz says so and stays 200", status == 200 and "cluster broker unreachable" in body, body)
    during = await publish_many(publisher, channel, "during", 10)
    check("publishes still answered, queued for the cluster",
          all(d.get("queued") is True for d in during), json.dumps(during[:2]))
    got = await here.wait_for("publish", channel, 15)
    check("local fan-out goes on", [data_of(m)["tag"] for m in got[5:]] == ["during"] * 10)
    redis = restart()  # empty: no history, no epochs
    check("A back in the cluster", wait_until(lambda: readyz(ports[0])[1] == "ready\n", 15), readyz(ports[0])[1])
    got = await there.wait_for("publish", channel, 15, timeout=20)
    check("B gets what A published while Redis was away", [data_of(m)["seq"] for m in got[5:]] == list(range(10)),
          json.dumps([data_of(m) for m in got[5:]]))
    new_epoch = got[-1]["metadata"]["epoch"]
    check("Redis restarted empty: a new epoch", new_epoch and new_epoch != epoch, new_epoch)
    await here.quiet(0.5)
    check("A's members did not get them twice", len(here.got("publish", channel)) == 15)
    late = await Client.connect(ports[2], "C")
    answer = data_of(await late.subscribe(channel, {"recover": {"offset": 5, "epoch": epoch}}))
    check("recovering from the old epoch: recovered false", answer.get("recovered") is False
          and answer.get("epoch") == new_epoch, json.dumps(answer)[:300])
    after = data_of(await publisher.call(envelope("x1", "publish", channel, {"kind": "Json", "data": {"tag": "x", "seq": 0}})))
    check("publishing through the cluster again", after.get("queued") is None and after["offset"] > 0, json.dumps(after))
    for client in (here, there):
        await client.wait_for("publish", channel, 16)
    for client in (here, there, publisher, late):
        await client.close()
    return redis


def redis_stalls(ports, redis):
    """Redis stops answering (SIGSTOP): timeout_ms drops it; it answers again: the nodes rejoin."""
    redis.proc.send_signal(signal.SIGSTOP)
    try:
        check("a stalled Redis is given up after timeout_ms",
              wait_until(lambda: "alone" in readyz(ports[0])[1], 10), readyz(ports[0])[1])
        reason = readyz(ports[0])[1]
        check("and the reason says so", "did not answer within 1000 ms" in reason, reason)
    finally:
        redis.proc.send_signal(signal.SIGCONT)
    check("back once it answers", wait_until(lambda: readyz(ports[0])[1] == "ready\n", 15), readyz(ports[0])[1])


async def node_killed(ports, servers):
    channel = "room.kill"
    doomed = await Client.connect(ports[2], "C")
    await doomed.subscribe(channel)
    asker = await Client.connect(ports[0], "A")
    await asker.subscribe(channel)

    async def presence():
        answer = await asker.call(envelope("p-%f" % time.monotonic(), "request", channel,
                                           metadata={"action": "presence"}))
        return sorted(m["conn_id"] for m in data_of(answer)["members"])
    check("C's member listed", doomed.conn_id in await presence())
    servers[2].proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    while doomed.conn_id in await presence():
        if time.monotonic() - killed_at > 10 * NODE_TTL_MS / 1000:
            raise TestFailure("a killed node's member is still listed after %.1f s" % (time.monotonic() - killed_at))
        await asyncio.sleep(0.1)
    check("A still serves", data_of(await asker.call(envelope("k1", "publish", channel, {"kind": "Text", "data": "on"})))["recipients"] == 0)
    await asker.close()


def redis_keys(port, db, pattern):
    """KEYS <pattern> in database `db` of a Redis, over a raw socket (RESP by hand: only here)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("*2\r\n$6\r\nSELECT\r\n$1\r\n%d\r\n" % db).encode())
        if not s.recv(16).startswith(b"+OK"):
            raise TestFailure("SELECT %d refused" % db)
        s.sendall(("*2\r\n$4\r\nKEYS\r\n$%d\r\n%s\r\n" % (len(pattern), pattern)).encode())
        data = b""
        while not data.endswith(b"\r\n") or data.count(b"\r\n") < 1 + 2 * int(data[1:data.index(b"\r\n")] or 0):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return [line.decode() for line in data.split(b"\r\n")[2::2] if line]


async def local_pair(port, channel):
    """A subscriber and a publisher on one node: does it serve its own clients?"""
    reader = await Client.connect(port, "D")
    writer = await Client.connect(port, "D")
    await reader.subscribe(channel)
    answer = data_of(await writer.call(envelope("l1", "publish", channel, {"kind": "Text", "data": "local"})))
    got = await reader.wait_for("publish", channel, 1)
    check("a node without Redis serves its own clients", data_of(got[0]) == "local" and answer["recipients"] == 1,
          json.dumps(answer))
    await reader.close()
    await writer.close()


def start_without_redis(binary):
    """Redis is not there when the node starts: it starts, says so, and joins when Redis comes."""
    port = free_port()
    config = CONFIG % {"token": ADMIN_TOKEN, "redis": port, "prefix": "late%d" % os.getpid(), "ttl": NODE_TTL_MS}
    node = ServerProcess(binary, config)
    redis = None
    try:
        node.wait_listening()
        status, body = readyz(node.port)
        check("started without Redis, /readyz says alone", status == 200 and "alone" in body, body)
        check("and the log says why", wait_until(lambda: "cluster: broker unreachable" in node.log(), 5), node.log())
        asyncio.run(asyncio.wait_for(local_pair(node.port, "room.alone"), 30))
        redis = Redis(port)
        check("joins once Redis is there", wait_until(lambda: readyz(node.port)[1] == "ready\n", 15),
              readyz(node.port)[1])
        check("graceful stop", node.terminate() == 0)
    finally:
        node.stop()
        if redis:
            redis.stop()


async def across_shards(ports, channels):
    readers = []
    for channel in channels:
        reader = await Client.connect(ports[1], "F")
        await reader.subscribe(channel)
        readers.append(reader)
    writer = await Client.connect(ports[0], "E")
    for i, channel in enumerate(channels):
        await writer.call(envelope("w%d" % i, "publish", channel, {"kind": "Json", "data": i}))
    for i, reader in enumerate(readers):
        got = await reader.wait_for("publish", channels[i], 1)
        check("delivered across nodes on shard of " + channels[i], data_of(got[0]) == i)
        await reader.close()
    await writer.close()


def sharded(binary):
    """`urls`: channels spread over two Redis servers by name, each node using both."""
    one, two = Redis(), Redis()
    nodes = []
    try:
        prefix = "sh%d" % os.getpid()
        config = (CONFIG % {"token": ADMIN_TOKEN, "redis": 0, "prefix": prefix, "ttl": NODE_TTL_MS}).replace(
            'url = "redis://127.0.0.1:0/0"',
            'urls = ["redis://127.0.0.1:%d/0", "redis://127.0.0.1:%d/1"]' % (one.port, two.port))
        for _ in range(2):
            nodes.append(ServerProcess(binary, config))
            nodes[-1].wait_listening()
        for node in nodes:
            check("sharded node joined", wait_until(lambda n=node: readyz(n.port)[1] == "ready\n", 10))
        channels = ["room.shard%d" % i for i in range(8)]
        asyncio.run(asyncio.wait_for(across_shards([n.port for n in nodes], channels), 30))
        on_one = {k.split(":meta:")[1] for k in redis_keys(one.port, 0, prefix + ":meta:*")}
        on_two = {k.split(":meta:")[1] for k in redis_keys(two.port, 1, prefix + ":meta:*")}
        check("both shards hold channels", on_one and on_two, "%s / %s" % (on_one, on_two))
        check("each channel on one shard", not (on_one & on_two) and on_one | on_two == set(channels),
              "%s / %s" % (on_one, on_two))
    finally:
        for node in nodes:
            node.stop()
        one.stop()
        two.stop()


def refused_config(binary):
    """A URL the module cannot use is refused by name, and a password is never logged."""
    for url, expected in (("rediss://127.0.0.1:6390/0", "rediss:// (TLS) is not supported"),
                          ("redis://user:s3cr3t-pw@127.0.0.1:1/x", "the database must be a number")):
        config = CONFIG.replace('url = "redis://127.0.0.1:%(redis)d/0"', 'url = "%s"' % url) % {
            "token": ADMIN_TOKEN, "prefix": "bad", "ttl": NODE_TTL_MS}
        node = ServerProcess(binary, config)
        try:
            node.proc.wait(15) if node.proc.poll() is None and not wait_until(
                lambda: expected in node.log(), 10) else None
            log = node.log()
            check("the refusal names the problem: " + expected, expected in log, log[-1500:])
            check("no password in the log", "s3cr3t-pw" not in log)
        finally:
            node.stop()


def main():
    started = time.monotonic()
    failed = 0
    servers = []
    redis = None
    try:
        binary = server_binary()
        redis = Redis()
        prefix = "t%d" % os.getpid()
        config = CONFIG % {"token": ADMIN_TOKEN, "redis": redis.port, "prefix": prefix, "ttl": NODE_TTL_MS}
        for _ in range(3):
            server = ServerProcess(binary, config)
            servers.append(server)
            server.wait_listening()
        ports = [s.port for s in servers]
        for port in ports:
            check("node joined", wait_until(lambda p=port: readyz(p)[1] == "ready\n", 10), readyz(port)[1])
        asyncio.run(asyncio.wait_for(fan_out_and_exclusion(ports), 60))
        asyncio.run(asyncio.wait_for(publisher_order(ports), 60))
        asyncio.run(asyncio.wait_for(history_and_recovery(ports), 60))
        asyncio.run(asyncio.wait_for(presence_and_limits(ports), 60))
        asyncio.run(asyncio.wait_for(shared_buckets(ports), 60))
        asyncio.run(asyncio.wait_for(cross_node_disconnect_and_nodes(ports), 60))

        redis_port = redis.port
        holder = {}

        def restart():
            holder["redis"] = Redis(redis_port)
            return holder["redis"]
        redis = asyncio.run(asyncio.wait_for(redis_lost_and_back(ports, redis, restart), 90))
        redis_stalls(ports, redis)
        asyncio.run(asyncio.wait_for(node_killed(ports, servers), 60))
        for server in servers[:2]:
            code = server.terminate()
            check("graceful stop", code == 0, "exit code %s; log:\n%s" % (code, server.log()[-2000:]))
        for server in servers[:2]:
            log = server.log()
            check("no secret in the log", ADMIN_TOKEN not in log)
        start_without_redis(binary)
        sharded(binary)
        refused_config(binary)
    except Exception as error:  # noqa: BLE001 - report everything
        failed = 1
        print("FAIL: %s" % error)
        traceback.print_exc()
        for i, server in enumerate(servers):
            print("---- node %d log (tail) ----" % i)
            # MTW_E2E_FULL_LOG=1: all of it (sanitizer reports are long)
            print(server.log() if os.environ.get("MTW_E2E_FULL_LOG") else server.log()[-4000:])
    finally:
        for server in servers:
            server.stop()
        if redis:
            redis.stop()
    print("%s: %d checks passed in %.1f s" % ("FAIL" if failed else "PASS", passed(), time.monotonic() - started))
    return failed


if __name__ == "__main__":
    sys.exit(main())
