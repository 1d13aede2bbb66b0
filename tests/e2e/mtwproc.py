# SPDX-License-Identifier: MIT
"""Shared helpers of the end-to-end tests: run the real mtwserver binary on 127.0.0.1, port 0.

Standard library only, so that both the websockets test and the browser test can use it.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

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


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
