#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: headless Chromium's native EventSource on mtwserver's Server-Sent Events.

usage: test_browser_sse.py <path to mtwserver>   (or MTW_SERVER_BIN=...; CHROMIUM=... picks the browser)

sse_page.html (served from another origin, so the stream's CORS header is needed) opens
EventSource(http://127.0.0.1:PORT/api/events?channel=chat.sse) and tells the driver its conn_id
once subscribed. The driver publishes "a1", drops the stream with the server API's disconnect and
publishes "b1".."b3" while it is down; EventSource reconnects by itself with Last-Event-ID, the
page says so, and the driver publishes "last". The page must have seen a1, b1, b2, b3, last
exactly once each and in order, with the ids the server gave, and the second subscribe answer must
say recovered: true. A missing Chromium is a failure, not a skip. Last line: "N passed, M failed".
"""

import http.client
import json
import os
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from mtwproc import (ResultServer, ServerProcess, TestFailure, check, check_true,  # noqa: E402
                     find_chromium, run_main, run_page)

KEY = "sse-browser-key-0123456789"
CHANNEL = "chat.sse"
CONFIG = """\
[server]
workers = 2
shutdown_timeout = 5

[transport.http]
enabled = true
api_key = "%s"

[transport.sse]
enabled = true
retry_ms = 500

[[channels]]
name = "%s"
""" % (KEY, CHANNEL)


def main(binary, tmp, servers):
    published = []  # (data, offset, epoch) in publish order
    lock = threading.Lock()

    def api(command, params):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/api/" + command, body=json.dumps(params),
                     headers={"Authorization": "apikey " + KEY})
        response = conn.getresponse()
        body = json.loads(response.read() or b"null")
        conn.close()
        if response.status != 200:
            raise TestFailure("server API %s: %d %r" % (command, response.status, body))
        return body

    def publish(data):
        answer = api("publish", {"channel": CHANNEL, "data": data})
        with lock:
            published.append((data, answer["offset"], answer["epoch"]))

    def ready(body):
        publish("a1")
        api("disconnect", {"conn_id": body["conn_id"], "reason": "test drops the stream"})
        for name in ("b1", "b2", "b3"):
            publish(name)

    def resumed(_body):
        publish("last")

    chromium = find_chromium()
    server = ServerProcess(binary, CONFIG)
    servers.append(server)
    port = server.wait_listening()
    with ResultServer("sse_page.html", {"/ready": ready, "/resumed": resumed}) as web:
        events = "http://127.0.0.1:%d/api/events?channel=%s" % (port, CHANNEL)
        url = "http://127.0.0.1:%d/sse_page.html?events=%s" % (web.port, events)
        observed = run_page(chromium, url, web, tmp)["observed"]
    names = [p[0] for p in published]
    check("publications seen by EventSource (each exactly once, in order)",
          observed["publications"], names)
    ids = ["%s:%s:%d" % (CHANNEL, epoch, offset) for _, offset, epoch in published]
    check("lastEventId of each", observed["ids"], ids)
    check_true("one drop and one reconnect",
               len(observed["acks"]) == 2 and observed["reconnects"] >= 1,
               "%d acks, %d reconnects" % (len(observed["acks"]), observed["reconnects"]))
    second = observed["responses"][1]["payload"]["data"]
    check_true("the reconnect's subscribe answer says recovered: true",
               second.get("recovered") is True, repr(second))
    check_true("the server log shows the drop",
               "kicked" in server.log() or "test drops the stream" in server.log())
    check("mtwserver exit code after SIGTERM", server.terminate(15), 0)


if __name__ == "__main__":
    sys.exit(run_main(main, "mtw-e2e-chromium-"))
