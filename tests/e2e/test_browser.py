#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: the real mtwserver binary against headless Chromium's native WebSocket.

usage: test_browser.py <path to mtwserver> [--tls]   (or MTW_SERVER_BIN=...; CHROMIUM=... picks the browser)

With --tls the server runs with [server.tls] (a test CA and certificate made with `openssl`,
tlscerts.py) and the page connects to wss://localhost:PORT/ws; Chromium trusts the certificate
through --ignore-certificate-errors-spki-list with the SHA-256 of its public key, nothing else.

Starts mtwserver on 127.0.0.1 port 0, serves browser_page.html from a stdlib HTTP server on
127.0.0.1, and loads it in headless Chromium with ?ws=ws://127.0.0.1:PORT/ws. The page opens a
subscriber and a publisher socket, subscribes to chat.browser, publishes a Json payload, and
reports what it observed by POST /result to this driver (also in document.title and <pre id=result>).
The driver checks every observed message exactly. Standard library only; Chromium is killed after
30 s at the latest. A missing Chromium is a failure, not a skip. Last line: "N passed, M failed".
"""

import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from mtwproc import (ResultServer, ServerProcess, TestFailure, count_passed, find_chromium,  # noqa: E402
                     run_main, run_page)
from tlscerts import make_certs, spki_hash  # noqa: E402

ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
CHANNEL = "chat.browser"
PAGE = "browser_page.html"

CONFIG = """\
[server]
workers = 2
shutdown_timeout = 5
"""


class Checks:
    def equal(self, label, actual, expected):
        if actual != expected or type(actual) is not type(expected):
            raise TestFailure("%s:\n  expected: %s\n  actual:   %s" % (label, json.dumps(expected),
                                                                      json.dumps(actual)))
        count_passed()

    def envelope(self, label, actual, expected, server_made=True):
        """expected without id/timestamp; server-made envelopes get a ULID id and a fresh timestamp."""
        if not isinstance(actual, dict):
            raise TestFailure("%s: expected an envelope object, got %s" % (label, json.dumps(actual)))
        rest = dict(actual)
        if server_made:
            id_ = rest.pop("id", None)
            ts = rest.pop("timestamp", None)
            if not (isinstance(id_, str) and ULID_RE.match(id_)):
                raise TestFailure("%s: id is not a ULID: %r (message %s)" % (label, id_, json.dumps(actual)))
            if not (isinstance(ts, int) and not isinstance(ts, bool) and abs(ts - time.time() * 1000) < 120000):
                raise TestFailure("%s: timestamp is not current integer ms: %r" % (label, ts))
        self.equal(label, rest, expected)


def check_result(result, checks):
    obs = result["observed"]
    sub_id = obs["subAck"].get("payload", {}).get("data", {}).get("conn_id")
    pub_id = obs["pubAck"].get("payload", {}).get("data", {}).get("conn_id")
    for label, ack, conn_id in (("subscriber opening ack", obs["subAck"], sub_id),
                                ("publisher opening ack", obs["pubAck"], pub_id)):
        checks.envelope(label, ack, {"type": "ack", "payload": {"kind": "Json", "data": {"conn_id": conn_id}},
                                     "metadata": {"conn_id": conn_id}})
        if not (isinstance(conn_id, str) and ULID_RE.match(conn_id)):
            raise TestFailure("%s: conn_id is not a ULID: %r" % (label, conn_id))
    if sub_id == pub_id:
        raise TestFailure("both sockets got the same conn_id %s" % sub_id)
    count_passed()
    # The channel's stream position: the subscriber joins at offset 0, the publish is offset 1,
    # all in the epoch the subscribe answer names.
    epoch = obs["subscribeReply"].get("payload", {}).get("data", {}).get("epoch")
    if not (isinstance(epoch, str) and len(epoch) == 8):
        raise TestFailure("subscribe response: no 8-character epoch: %s" % json.dumps(obs["subscribeReply"]))
    checks.envelope("subscribe response", obs["subscribeReply"],
                    {"type": "response", "ref_id": "sub-1",
                     "payload": {"kind": "Json", "data": {"subscribed": CHANNEL, "members": 1,
                                                          "offset": 0, "epoch": epoch}}})
    expected_delivery = dict(obs["sent"])
    expected_delivery["metadata"] = dict(expected_delivery.get("metadata", {}),
                                         **{"from": pub_id, "offset": 1, "epoch": epoch})
    checks.envelope("message the subscriber received (metadata.from = publisher's conn_id)",
                    obs["delivered"], expected_delivery, server_made=False)
    checks.envelope("publish response", obs["publishReply"],
                    {"type": "response", "ref_id": "pub-1",
                     "payload": {"kind": "Json", "data": {"published": CHANNEL, "recipients": 1,
                                                          "offset": 1, "epoch": epoch}}})
    checks.envelope("subscriber pong (nothing else arrived)", obs["subPong"],
                    {"type": "pong", "ref_id": "sub-ping", "payload": {"kind": "None"}})
    checks.envelope("publisher pong (no own publish echoed)", obs["pubPong"],
                    {"type": "pong", "ref_id": "pub-ping", "payload": {"kind": "None"}})
    checks.equal("publisher close code after disconnect", obs["publisherCloseCode"], 1000)


def main(binary, tmp, servers):
    tls = "--tls" in sys.argv[2:]
    checks = Checks()
    chromium = find_chromium()
    config, scheme, host, chromium_args = CONFIG, "ws", "127.0.0.1", []
    if tls:
        certs = make_certs(os.path.join(tmp, "certs"))
        config += '\n[server.tls]\ncert = "%s"\nkey = "%s"\n' % (certs["server.pem"],
                                                               certs["server.key"])
        scheme, host = "wss", "localhost"
        chromium_args = ["--ignore-certificate-errors-spki-list=" + spki_hash(certs["server.pem"])]
    server = ServerProcess(binary, config)
    servers.append(server)
    ws_port = server.wait_listening()
    with ResultServer(PAGE) as web:
        url = "http://127.0.0.1:%d/%s?ws=%s://%s:%d/ws" % (web.port, PAGE, scheme, host, ws_port)
        result = run_page(chromium, url, web, tmp, chromium_args)
    check_result(result, checks)
    exit_code = server.terminate(15)
    checks.equal("mtwserver exit code after SIGTERM", exit_code, 0)


if __name__ == "__main__":
    sys.exit(run_main(main, "mtw-e2e-chromium-"))
