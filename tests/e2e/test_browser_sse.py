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
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from mtwproc import ServerProcess, TestFailure, server_binary  # noqa: E402
from test_browser import ResultServer, find_chromium, run_chromium  # noqa: E402

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


def main():
    started = time.monotonic()
    failed = 0
    passed = 0
    server = None
    web = None
    profile = None
    published = []  # (data, offset) in publish order
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

    try:
        binary = server_binary()
        chromium = find_chromium()
        profile = tempfile.TemporaryDirectory(prefix="mtw-e2e-chromium-")
        server = ServerProcess(binary, CONFIG)
        port = server.wait_listening()
        web = ResultServer("sse_page.html", {"/ready": ready, "/resumed": resumed})
        events = "http://127.0.0.1:%d/api/events?channel=%s" % (port, CHANNEL)
        url = "http://127.0.0.1:%d/sse_page.html?events=%s" % (web.port, events)
        code, timed_out, stdout, stderr, took = run_chromium(chromium, url, web, profile.name)
        print("chromium: %s, exit %s after %.1f s" % (chromium, code, took))
        result = web.result
        if result is None:
            raise TestFailure("no result from the page (%s); page requests: %s\n  stderr (tail):\n%s"
                              % ("timed out" if timed_out else "chromium exited early",
                                 web.requests, stderr[-3000:]))
        print("page result: %s" % json.dumps(result)[:600])
        if not result.get("ok"):
            raise TestFailure("the page reported a failure: %s; observed %s"
                              % (result.get("error"), json.dumps(result.get("observed"))))
        passed += 1
        observed = result["observed"]
        names = [p[0] for p in published]
        if observed["publications"] != names:
            raise TestFailure("publications seen by EventSource: %r, published: %r (each exactly "
                              "once, in order)" % (observed["publications"], names))
        passed += 1
        ids = ["%s:%s:%d" % (CHANNEL, epoch, offset) for _, offset, epoch in published]
        if observed["ids"] != ids:
            raise TestFailure("lastEventId of each: %r, expected %r" % (observed["ids"], ids))
        passed += 1
        if len(observed["acks"]) != 2 or observed["reconnects"] < 1:
            raise TestFailure("expected one drop and one reconnect: %d acks, %d reconnects"
                              % (len(observed["acks"]), observed["reconnects"]))
        passed += 1
        second = observed["responses"][1]["payload"]["data"]
        if second.get("recovered") is not True:
            raise TestFailure("the reconnect's subscribe answer: %r (expected recovered: true)"
                              % second)
        passed += 1
        if "kicked" not in server.log() and "test drops the stream" not in server.log():
            raise TestFailure("the server log does not show the drop")
        passed += 1
        exit_code = server.terminate(15)
        if exit_code != 0:
            raise TestFailure("mtwserver exit code after SIGTERM: %s" % exit_code)
        passed += 1
    except TestFailure as e:
        failed = 1
        print("FAIL: %s" % e)
    except Exception:  # noqa: BLE001
        failed = 1
        print("FAIL: unexpected exception:\n%s" % traceback.format_exc())
    finally:
        if web is not None:
            web.close()
        if server is not None:
            if failed:
                print("---- mtwserver log ----\n%s\n-----------------------" % server.log())
            server.stop()
        if profile is not None:
            profile.cleanup()
    print("time: %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
