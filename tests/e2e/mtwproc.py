# SPDX-License-Identifier: MIT
"""Shared helpers of the end-to-end tests: run the real mtwserver binary on 127.0.0.1, port 0.

Standard library only, so that both the websockets tests and the browser tests can use it: the
server process, counted checks, the main() frame, and headless Chromium loading a test page.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import http.server
import importlib
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
LISTENING_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+) path (\S+) with (\d+) I/O workers")


class TestFailure(Exception):
    """A check that did not hold; the message says what differed."""


# Counted checks: every test's last line says how many held ("N passed, M failed").
_passed = 0


def count_passed():
    """One more check held (for a test's own kinds of check)."""
    global _passed
    _passed += 1


def passed():
    """How many checks held so far."""
    return _passed


def check(what, actual, expected):
    """actual == expected, or a TestFailure that shows both."""
    if actual != expected:
        raise TestFailure("%s:\n  actual:   %r\n  expected: %r" % (what, actual, expected))
    count_passed()


def check_true(what, condition, detail=""):
    """condition holds, or a TestFailure naming `what` and `detail`."""
    if not condition:
        raise TestFailure("%s: %s" % (what, detail) if detail else what)
    count_passed()


def require(*names, debian="python3-websockets"):
    """Imports the named Python modules a test needs and returns them in order; a missing one
    fails the test at once: a "FAIL:" line with the Debian package(s) and the interpreter, then
    "0 passed, 1 failed", exit code 1."""
    try:
        return [importlib.import_module(name) for name in names]
    except ImportError as error:
        print("FAIL: a Python module is missing: %s (Debian: apt-get install %s); interpreter: %s"
              % (error, debian, sys.executable))
        print("0 passed, 1 failed")
        sys.exit(1)


def server_binary():
    """The mtwserver path: argv[1] or $MTW_SERVER_BIN."""
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MTW_SERVER_BIN", "")
    if not path:
        raise TestFailure("usage: %s <path to mtwserver> (or set MTW_SERVER_BIN)" % sys.argv[0])
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise TestFailure("mtwserver binary not found or not executable: %r" % path)
    return os.path.abspath(path)


class ServerProcess:
    """mtwserver --host 127.0.0.1 --port 0 --config <temp file>, its stderr collected."""

    def __init__(self, binary, config_text, extra_args=()):
        self.tmpdir = tempfile.TemporaryDirectory(prefix="mtw-e2e-")
        self.config_path = os.path.join(self.tmpdir.name, "mtw.toml")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(config_text)
        self.lines = []
        self.port = None
        self.workers = None
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--config", self.config_path, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.tmpdir.name,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            m = LISTENING_RE.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self.path = m.group(2)
                self.workers = int(m.group(3))
                self._listening.set()
        self._listening.set()  # EOF: wake a waiter so that it can report the exit

    def wait_listening(self, timeout=10.0):
        if not self._listening.wait(timeout) or self.port is None:
            code = self.proc.poll()
            raise TestFailure(
                "mtwserver did not log 'listening on 127.0.0.1:PORT path /ws with N I/O workers' "
                "within %.0f s (exit code %s); its log:\n%s" % (timeout, code, self.log()))
        return self.port

    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def terminate(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code, or raises if it does not exit in time."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("mtwserver did not exit within %.0f s of SIGTERM; its log:\n%s"
                              % (timeout, self.log()))

    def stop(self):
        """Make sure the process is gone (kill if still running) and remove the temp dir."""
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(2)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.tmpdir.cleanup()


def run_main(body, prefix="mtw-e2e-"):
    """Runs body(binary, tmpdir, servers): a server appended to `servers` is stopped at the end
    and its log printed when something failed; any exception is a "FAIL:" line. Prints the time
    and the "N passed, M failed" line; returns the exit code."""
    started = time.monotonic()
    failed = 0
    servers = []
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    try:
        body(server_binary(), tmp.name, servers)
    except TestFailure as e:
        failed = 1
        print("FAIL: %s" % e)
    except Exception:  # noqa: BLE001 - any crash of the test is a failure with its traceback
        failed = 1
        print("FAIL: unexpected exception:\n%s" % traceback.format_exc())
    finally:
        for server in servers:
            if failed:
                print("---- mtwserver log ----\n%s\n-----------------------" % server.log())
            server.stop()
        tmp.cleanup()
    print("time: %.1f s" % (time.monotonic() - started))
    print("%d passed, %d failed" % (passed(), failed))
    return 1 if failed else 0


@contextlib.contextmanager
def serving(binary, config_text, extra_args=()):
    """with serving(binary, config) as server: an mtwserver that listens for the block, then gets
    SIGTERM and is gone; its log is printed when the block fails."""
    server = ServerProcess(binary, config_text, extra_args)
    try:
        server.wait_listening()
        yield server
    except BaseException:
        print("---- mtwserver log ----\n%s\n-----------------------" % server.log())
        raise
    finally:
        try:
            server.terminate()
        finally:
            server.stop()


def hs256_token(secret, claims):
    """A JWT signed with HS256 by `secret` (what the mtw-auth-jwt module checks)."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret.encode(), head + b"." + body, hashlib.sha256).digest())
    return (head + b"." + body + b"." + signature).decode()


def replace_file(path, text):
    """As editors and deploy tools do: write a new file, rename it over the old one."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# The mtw protocol from a `websockets` client (test_cluster, test_recovery).


def envelope(id_, type_, channel=None, payload=None, metadata=None):
    """A client's message; `channel` and `metadata` are left out when None."""
    message = {"id": id_, "type": type_, "payload": payload or {"kind": "None"},
               "timestamp": int(time.time() * 1000)}
    if channel is not None:
        message["channel"] = channel
    if metadata is not None:
        message["metadata"] = metadata
    return message


class WsClient:
    """A `websockets` client of one server (`node` names it in failures) that keeps what
    arrives in `inbox` until a wait takes it."""

    def __init__(self, ws, node=""):
        self.ws = ws
        self.node = node
        self.inbox = []
        self.conn_id = None

    @classmethod
    async def connect(cls, port, node=""):
        import websockets  # the browser tests use this module without it
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port, max_size=None)
        client = cls(ws, node)
        ack = json.loads(await ws.recv())
        check_true("opening ack", ack.get("type") == "ack", json.dumps(ack))
        client.conn_id = ack.get("payload", {}).get("data", {}).get("conn_id") or \
            ack.get("metadata", {}).get("conn_id")
        return client

    async def call(self, message, timeout=10):
        await self.ws.send(json.dumps(message))
        return await self.reply(message["id"], timeout)

    async def _next(self, remaining):
        self.inbox.append(json.loads(await asyncio.wait_for(self.ws.recv(), remaining)))

    async def reply(self, ref_id, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            for i, message in enumerate(self.inbox):
                if message.get("ref_id") == ref_id:
                    return self.inbox.pop(i)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("no reply to %s within %d s (node %s)" % (ref_id, timeout, self.node))
            await self._next(remaining)

    def got(self, type_, channel):
        return [m for m in self.inbox if m.get("type") == type_ and m.get("channel") == channel]

    async def wait_for(self, type_, channel, count, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            got = self.got(type_, channel)
            if len(got) >= count:
                return got
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("%d of %d %s on %s within %d s (node %s): %s"
                                  % (len(got), count, type_, channel, timeout, self.node,
                                     json.dumps([data_of(m) for m in got])[:1500]))
            try:
                await self._next(remaining)
            except asyncio.TimeoutError:
                pass  # reported above, with what did arrive

    async def quiet(self, seconds):
        """Reads whatever arrives for `seconds` (to show that nothing more does)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                await self._next(remaining)
        except asyncio.TimeoutError:
            return

    async def publications(self, channel, count, timeout=20):
        """Waits until `count` publications on `channel` arrived; returns them in order."""
        return await self.wait_for("publish", channel, count, timeout)

    async def subscribe(self, channel, metadata=None, id_=None):
        answer = await self.call(envelope(id_ or "s-" + channel, "subscribe", channel,
                                          metadata=metadata))
        return answer

    async def close(self):
        await self.ws.close()


def data_of(message):
    return message.get("payload", {}).get("data")


def offset_of(message):
    return message.get("metadata", {}).get("offset")


# Headless Chromium (Debian chromium) for the browser tests: the driver serves a page from
# 127.0.0.1, the page reports what it observed by POST /result.
CHROMIUM_TIMEOUT = 30.0


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
    """Serves `page` (a file next to this module) on 127.0.0.1 and receives the page's POST
    /result; `routes` maps other POST paths to the driver's steps (each answered 204)."""

    def __init__(self, page, routes=None):
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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


def run_page(chromium, url, result_server, profile_dir, extra_args=()):
    """Loads `url` in headless Chromium until the page POSTs its result; returns the result, or
    raises when none came or the page reports a failure (which it says with ok: false)."""
    code, timed_out, stdout, stderr, took = run_chromium(chromium, url, result_server, profile_dir,
                                                         extra_args)
    print("chromium: %s, exit %s after %.1f s, page %s" % (chromium, code, took, url))
    result = result_server.result
    if result is None:
        raise TestFailure(
            "no result from the page (%s); chromium exit code %s\n  page requests: %s\n"
            "  chromium stdout (tail): %s\n  chromium stderr (tail):\n%s"
            % ("killed after %.0f s" % CHROMIUM_TIMEOUT if timed_out else "chromium exited early",
               code, result_server.requests, stdout[-2000:], stderr[-3000:]))
    print("page result: %s" % json.dumps(result)[:600])
    if not result.get("ok"):
        raise TestFailure("the page reported a failure: %s\n  steps: %s\n  observed: %s"
                          % (result.get("error"), result.get("steps"),
                             json.dumps(result.get("observed"))))
    count_passed()
    return result
