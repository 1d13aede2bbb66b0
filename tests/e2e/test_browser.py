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

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
from mtwproc import ServerProcess, TestFailure, server_binary  # noqa: E402
from tlscerts import make_certs, spki_hash  # noqa: E402

CHROMIUM_TIMEOUT = 30.0
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
CHANNEL = "chat.browser"
PAGE = "browser_page.html"

CONFIG = """\
[server]
workers = 2
shutdown_timeout = 5
"""


def find_chromium():
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise TestFailure("$CHROMIUM=%r is not an executable file" % explicit)
    candidates = ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                  shutil.which("google-chrome")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise TestFailure("Chromium not found (looked for /usr/bin/chromium, chromium, "
                      "chromium-browser, google-chrome). Install it: "
                      "apt-get install -y --no-install-recommends chromium "
                      "(scripts/bootstrap.sh test does). This test does not skip.")


class ResultServer:
    """Serves the page and receives the page's POST /result."""

    def __init__(self, page=PAGE, routes=None):
        self.result = None
        self.received = threading.Event()
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                outer.requests.append(fmt % args)

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                if path != "/" + page:
                    self.send_error(404)
                    return
                with open(os.path.join(HERE, page), "rb") as f:
                    body = f.read()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if routes and self.path in routes:  # a page's step: the driver acts, then 204
                    routes[self.path](json.loads(body.decode("utf-8")))
                    self.send_response(204)
                    self.end_headers()
                    return
                if self.path != "/result":
                    self.send_error(404)
                    return
                self.send_response(204)
                self.end_headers()
                try:
                    outer.result = json.loads(body.decode("utf-8"))
                except ValueError:
                    outer.result = {"done": True, "ok": False, "error": "unparsable result %r" % body[:200]}
                outer.received.set()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Checks:
    def __init__(self):
        self.passed = 0

    def equal(self, label, actual, expected):
        if actual != expected or type(actual) is not type(expected):
            raise TestFailure("%s:\n  expected: %s\n  actual:   %s" % (label, json.dumps(expected),
                                                                      json.dumps(actual)))
        self.passed += 1

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


def run_chromium(chromium, url, result_server, profile_dir, extra_args=()):
    args = [chromium, *extra_args, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-quic", "--disable-extensions", "--disable-default-apps",
            "--no-default-browser-check", "--mute-audio", "--password-store=basic",
            "--user-data-dir=" + profile_dir,
            # No --dump-dom: it prints the DOM at the load event, before the sockets have done
            # anything, and --virtual-time-budget does not wait for WebSocket traffic (virtual
            # time runs ahead, so the page's own timeouts fire at once: tried with Chromium 156).
            # The page POSTs its result; the driver then ends Chromium.
            url]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    output = {}

    def pump(name, stream):
        output[name] = stream.read().decode("utf-8", "replace")

    pumps = [threading.Thread(target=pump, args=(n, s), daemon=True)
             for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for t in pumps:
        t.start()
    started = time.monotonic()
    # Done when the page has POSTed its result, or Chromium exited, or after 30 s.
    while time.monotonic() - started < CHROMIUM_TIMEOUT:
        if result_server.received.is_set() or proc.poll() is not None:
            break
        time.sleep(0.05)
    timed_out = not result_server.received.is_set() and proc.poll() is None
    if proc.poll() is None:
        # End the whole process group we started (Chromium's zygote and renderers with it).
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    for t in pumps:
        t.join(5)
    return proc.returncode, timed_out, output.get("stdout", ""), output.get("stderr", ""), \
        time.monotonic() - started


def check_result(result, checks):
    if not result.get("ok"):
        raise TestFailure("the page reported a failure: %s\n  steps: %s\n  observed: %s"
                          % (result.get("error"), result.get("steps"), json.dumps(result.get("observed"))))
    checks.passed += 1
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
    checks.passed += 1
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


def main():
    tls = "--tls" in sys.argv[2:]
    started = time.monotonic()
    checks = Checks()
    failed = 0
    server = None
    web = None
    profile = None
    try:
        binary = server_binary()
        chromium = find_chromium()
        profile = tempfile.TemporaryDirectory(prefix="mtw-e2e-chromium-")
        config, scheme, host, chromium_args = CONFIG, "ws", "127.0.0.1", []
        if tls:
            certs = make_certs(os.path.join(profile.name, "certs"))
            config += '\n[server.tls]\ncert = "%s"\nkey = "%s"\n' % (certs["server.pem"],
                                                                   certs["server.key"])
            scheme, host = "wss", "localhost"
            chromium_args = ["--ignore-certificate-errors-spki-list=" + spki_hash(certs["server.pem"])]
        server = ServerProcess(binary, config)
        ws_port = server.wait_listening()
        web = ResultServer()
        url = "http://127.0.0.1:%d/%s?ws=%s://%s:%d/ws" % (web.port, PAGE, scheme, host, ws_port)
        code, timed_out, stdout, stderr, took = run_chromium(chromium, url, web, profile.name,
                                                             chromium_args)
        print("chromium: %s, exit %s after %.1f s, page socket %s" % (chromium, code, took,
                                                                     url.split("ws=")[1]))
        result = web.result
        if result is None:
            raise TestFailure(
                "no result from the page (%s); chromium exit code %s\n  page requests: %s\n"
                "  chromium stdout (tail): %s\n  chromium stderr (tail):\n%s"
                % ("killed after %.0f s" % CHROMIUM_TIMEOUT if timed_out else "chromium exited early",
                   code, web.requests, stdout[-2000:], stderr[-3000:]))
        print("page result: %s" % json.dumps(result)[:400])
        check_result(result, checks)
        exit_code = server.terminate(15)
        checks.equal("mtwserver exit code after SIGTERM", exit_code, 0)
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
    # One browser scenario; its individual checks are counted in the detail line.
    print("checks: %d passed" % checks.passed)
    print("%d passed, %d failed" % (0 if failed else 1, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
