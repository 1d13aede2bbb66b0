#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Recovery as a third-party client does it (Python `websockets`, Debian python3-websockets),
against the real mtwserver binary on 127.0.0.1 (docs/protocol.md section 7):

1. a reader's connection is cut (no close frame) while a publisher keeps publishing; it connects
   again, subscribes with metadata.recover, and has every offset after its last one exactly once,
   in order, from the recovery and then live;
2. with the mtw-store-sqlite module, history written before a restart (SIGTERM) is recovered after
   it in the same epoch, and the stream goes on at the next offset.

    test_recovery.py <path to mtwserver>
"""

import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import (ServerProcess, WsClient as Client, check_true as check, envelope,  # noqa: E402
                     offset_of, require, run_main)

require("websockets")  # WsClient's

MEMORY_CONFIG = """
[server]
workers = 2
[transport.websocket]
ping_interval = 0
rate_limit = 100000
rate_burst = 100000
[[channels]]
name = "room.*"
history = 5000
"""

STORE_CONFIG = MEMORY_CONFIG + """
[[modules]]
name = "mtw-store-sqlite"
config = { path = "%s", flush_interval_ms = 5 }
"""


async def publish(client, channel, first, count):
    """Publishes without waiting, then collects the answers; returns the last answer's data."""
    for i in range(first, first + count):
        await client.ws.send(json.dumps(envelope("p%d" % i, "publish", channel,
                                                 {"kind": "Json", "data": i})))
    last = None
    for i in range(first, first + count):
        last = (await client.reply("p%d" % i))["payload"]["data"]
    return last


async def cut_connection_while_publishing(port):
    channel = "room.live"
    publisher = await Client.connect(port)
    reader = await Client.connect(port)
    await reader.call(envelope("s1", "subscribe", channel))
    await publish(publisher, channel, 1, 20)
    seen = await reader.publications(channel, 20)
    last = seen[-1]
    check("offsets while connected", [offset_of(m) for m in seen] == list(range(1, 21)),
          json.dumps([offset_of(m) for m in seen]))
    epoch = last["metadata"]["epoch"]
    reader.ws.transport.abort()  # cut: no close frame

    # The publisher keeps going while the reader is away and while it subscribes again.
    running = asyncio.ensure_future(publish(publisher, channel, 21, 400))
    await asyncio.sleep(0)
    again = await Client.connect(port)
    answer = await again.call(envelope("s2", "subscribe", channel,
                                       metadata={"recover": {"offset": 20, "epoch": epoch}}))
    final = await running
    total = final["offset"]
    check("all published", total == 420, json.dumps(final))
    data = answer["payload"]["data"]
    check("recovered", data.get("recovered") is True, json.dumps(data)[:300])
    check("same epoch", data.get("epoch") == epoch)
    recovered = [offset_of(p) for p in data.get("publications", [])]
    live = [offset_of(m) for m in await again.publications(channel, total - 20 - len(recovered))]
    check("every missed offset once, in order", recovered + live == list(range(21, total + 1)),
          "recovered %d (%s..), live %d" % (len(recovered), recovered[:3], len(live)))
    for client in (publisher, again):
        await client.ws.close()


async def write_before_restart(port, channel):
    client = await Client.connect(port)
    await client.call(envelope("s", "subscribe", channel))
    last = await publish(client, channel, 1, 10)
    await client.ws.close()
    return last


async def read_after_restart(port, channel, last):
    client = await Client.connect(port)
    answer = await client.call(envelope("s", "subscribe", channel,
                                        metadata={"recover": {"offset": 4, "epoch": last["epoch"]}}))
    data = answer["payload"]["data"]
    check("same epoch after the restart", data.get("epoch") == last["epoch"], json.dumps(data)[:300])
    check("recovered after the restart", data.get("recovered") is True)
    check("the publications 5..10", [offset_of(p) for p in data["publications"]] == list(range(5, 11)),
          json.dumps([offset_of(p) for p in data["publications"]]))
    check("their payloads", [p["payload"]["data"] for p in data["publications"]] == list(range(5, 11)))
    nxt = await publish(client, channel, 11, 1)
    check("the stream goes on", nxt["offset"] == 11 and nxt["epoch"] == last["epoch"], json.dumps(nxt))
    await client.ws.close()


def run_server(binary, config, servers):
    server = ServerProcess(binary, config)
    servers.append(server)
    server.wait_listening()
    return server


def main(binary, tmp, servers):
    server = run_server(binary, MEMORY_CONFIG, servers)
    asyncio.run(asyncio.wait_for(cut_connection_while_publishing(server.port), 60))
    check("graceful stop", server.terminate() == 0)

    config = STORE_CONFIG % os.path.join(tmp, "store.db")
    first = run_server(binary, config, servers)
    last = asyncio.run(asyncio.wait_for(write_before_restart(first.port, "room.kept"), 30))
    check("first run stops", first.terminate() == 0)
    second = run_server(binary, config, servers)
    asyncio.run(asyncio.wait_for(read_after_restart(second.port, "room.kept", last), 30))
    check("second run stops", second.terminate() == 0)


if __name__ == "__main__":
    sys.exit(run_main(main, "mtw-e2e-store-"))
