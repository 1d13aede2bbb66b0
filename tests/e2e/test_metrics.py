#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test of GET /metrics (docs/metrics.md) against the real mtwserver binary.

usage: test_metrics.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

Clients on 127.0.0.1 subscribe, publish, send garbage and leave, and give an agent (the real
mtw-ai-anthropic module against fakeprovider.py, a local HTTP server replaying a recorded
stream) one task that completes and one its provider refuses; the scrape must pass
`promtool check metrics` (Debian package prometheus) and its numbers must say what happened:
connections, subscriptions, channels, messages by type, errors by code, disconnects by reason,
the command and broadcast histograms, and the agent families (tasks running and queued, tasks
by outcome, tokens in and out, provider errors, task durations). [metrics] path moves it;
enabled = false removes it.
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, TestFailure, check, count_passed, require, run_main, serving  # noqa: E402
from fakeprovider import FakeProvider, agent_config, stream  # noqa: E402

websockets, = require("websockets")

TIMEOUT = 5.0
CONFIG = """\
[server]
workers = 2

[[channels]]
name = "news"

"""


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body.decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def promtool(text):
    tool = shutil.which("promtool")
    if not tool:
        raise TestFailure("promtool is missing (Debian: apt-get install prometheus)")
    result = subprocess.run([tool, "check", "metrics"], input=text.encode(), capture_output=True,
                            timeout=30)
    if result.returncode != 0:
        raise TestFailure("promtool check metrics failed (%d):\n%s%s"
                          % (result.returncode, result.stdout.decode(), result.stderr.decode()))
    count_passed()


async def traffic(port):
    url = "ws://127.0.0.1:%d/ws" % port
    a = await websockets.connect(url)
    b = await websockets.connect(url)
    for ws in (a, b):
        await asyncio.wait_for(ws.recv(), TIMEOUT)  # the opening ack
    for ws, name in ((a, "a"), (b, "b")):
        await ws.send(json.dumps({"id": "s" + name, "type": "subscribe", "channel": "news",
                                  "payload": {"kind": "None"}, "timestamp": 0}))
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    for i in range(3):
        await a.send(json.dumps({"id": "p%d" % i, "type": "publish", "channel": "news",
                                 "payload": {"kind": "Json", "data": i}, "timestamp": 0}))
        await asyncio.wait_for(a.recv(), TIMEOUT)  # its response
        await asyncio.wait_for(b.recv(), TIMEOUT)  # the delivery
    await a.send("this is not JSON")
    reply = json.loads(await asyncio.wait_for(a.recv(), TIMEOUT))
    check("garbage gets error 400", reply["payload"]["data"]["code"], 400)
    await a.send(json.dumps({"id": "x", "type": "publish", "channel": "nowhere",
                             "payload": {"kind": "None"}, "timestamp": 0}))
    reply = json.loads(await asyncio.wait_for(a.recv(), TIMEOUT))
    check("unknown channel gets 404", reply["payload"]["data"]["code"], 404)
    await b.close()
    return a


async def agent_tasks(port):
    """One task that completes (the recorded stream), one the provider refuses (401)."""
    async with websockets.connect("ws://127.0.0.1:%d/ws" % port) as ws:
        await asyncio.wait_for(ws.recv(), TIMEOUT)  # the opening ack
        for task in ("t-ok", "t-refused"):
            await ws.send(json.dumps({"id": task, "type": "agent_task",
                                      "payload": {"kind": "Text", "data": "Hi"},
                                      "metadata": {"agent": "helper"}, "timestamp": 0}))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if message.get("ref_id") == task and message["type"] in ("agent_complete", "error"):
                    break
            check("task %s ends with" % task, message["type"],
                  "agent_complete" if task == "t-ok" else "error")


async def run(server):
    port = server.port
    await agent_tasks(port)
    a = await traffic(port)
    # b's disconnect (and the agent client's) is counted when its worker has cleaned up: poll
    # the scrape.
    values = {}
    for _ in range(600):  # 30 s: a sanitizer build on a loaded machine takes its time
        status, text = http_get(port, "/metrics")
        values = samples(text)
        if (values.get('mtw_disconnects_total{reason="normal"}') == 2
                and values.get("mtw_connections") == 1):
            break
        await asyncio.sleep(0.05)
    check("GET /metrics", status, 200)
    promtool(text)
    check("connections", values["mtw_connections"], 1)
    check("connections accepted (the agent client's included)", values["mtw_connections_total"], 3)
    check("subscriptions", values["mtw_subscriptions"], 1)
    check("channels", values["mtw_channels"], 1)
    check("publishes received", values['mtw_messages_received_total{type="publish"}'], 4)
    check("subscribes received", values['mtw_messages_received_total{type="subscribe"}'], 2)
    check("undecodable received", values['mtw_messages_received_total{type="invalid"}'], 1)
    check("publishes delivered", values['mtw_messages_sent_total{type="publish"}'], 3)
    check("responses sent", values['mtw_messages_sent_total{type="response"}'], 5)
    check("errors 400", values['mtw_errors_total{code="400"}'], 1)
    check("errors 404", values['mtw_errors_total{code="404"}'], 1)
    check("disconnects normal", values['mtw_disconnects_total{reason="normal"}'], 2)
    check("agent tasks received", values['mtw_messages_received_total{type="agent_task"}'], 2)
    check("agent chunks sent", values['mtw_messages_sent_total{type="agent_chunk"}'], 3)
    check("errors 502 (the refused key)", values['mtw_errors_total{code="502"}'], 1)
    check("bytes in counted", values["mtw_received_bytes_total"] > 0, True)
    check("bytes out counted", values["mtw_sent_bytes_total"] > 0, True)
    check("publish handler timed", values['mtw_command_duration_seconds_count{type="publish"}'], 4)
    check("histogram +Inf equals count",
          values['mtw_command_duration_seconds_bucket{type="publish",le="+Inf"}'], 4)
    check("broadcasts timed (the 404 one included)", values["mtw_broadcast_duration_seconds_count"], 4)
    check("no slow consumers", values["mtw_slow_consumer_drops_total"], 0)
    # The agent families, each with its TYPE line (promtool checked them above).
    for family, kind in (("mtw_agent_tasks_running", "gauge"), ("mtw_agent_tasks_queued", "gauge"),
                         ("mtw_agent_tasks_total", "counter"),
                         ("mtw_agent_input_tokens_total", "counter"),
                         ("mtw_agent_output_tokens_total", "counter"),
                         ("mtw_agent_provider_errors_total", "counter"),
                         ("mtw_agent_task_duration_seconds", "histogram")):
        check("# TYPE of " + family, ("# TYPE %s %s" % (family, kind)) in text.splitlines(), True)
    check("agent tasks running", values['mtw_agent_tasks_running{agent="helper"}'], 0)
    check("agent tasks queued", values['mtw_agent_tasks_queued{agent="helper"}'], 0)
    check("agent tasks completed",
          values['mtw_agent_tasks_total{agent="helper",outcome="completed"}'], 1)
    check("agent tasks failed", values['mtw_agent_tasks_total{agent="helper",outcome="failed"}'], 1)
    check("input tokens (the fixture's usage)",
          values['mtw_agent_input_tokens_total{agent="helper"}'], 25)
    check("output tokens (the fixture's usage)",
          values['mtw_agent_output_tokens_total{agent="helper"}'], 15)
    check("provider refusal counted",
          values['mtw_agent_provider_errors_total{agent="helper",kind="bad_response"}'], 1)
    check("agent tasks timed", values['mtw_agent_task_duration_seconds_count{agent="helper"}'], 2)
    await a.close()


def moved(binary):
    with serving(binary, "[metrics]\npath = \"/internal/metrics\"\n") as server:
        check("moved path serves", http_get(server.port, "/internal/metrics")[0], 200)
        check("old path gone", http_get(server.port, "/metrics")[0], 404)
    with serving(binary, "[metrics]\nenabled = false\n") as server:
        check("disabled", http_get(server.port, "/metrics")[0], 404)


def main(binary, _tmp, servers):
    provider = FakeProvider([stream("anthropic-text.sse"),
                             (401, b'{"type":"error","error":{"type":"authentication_error",'
                                   b'"message":"invalid x-api-key"}}')])
    try:
        server = ServerProcess(binary, CONFIG + agent_config(provider.port))
        servers.append(server)
        server.wait_listening()
        asyncio.run(run(server))
        print("ok: counts")
        moved(binary)
        print("ok: path and enabled")
        check("clean exit", server.terminate(), 0)
    finally:
        provider.stop()


if __name__ == "__main__":
    sys.exit(run_main(main))
