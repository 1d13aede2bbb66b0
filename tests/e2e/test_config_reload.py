#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: live configuration reload (docs/configuration.md#reload), real mtwserver.

usage: test_config_reload.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

With a wss:// client and an admin client (Python `websockets`) connected throughout:
- SIGHUP with a good change (logging.level): applied live, logged, announced to the admin API;
- SIGHUP with a bad file: every error logged as file:line:col, nothing applied (a good change
  in the same file included), the server keeps serving;
- SIGHUP with a restart-only change (server.workers): reported as needing a restart;
- SIGHUP with new TLS files in the file: new connections get the new certificate; a TLS key
  that does not match refuses the whole reload;
- server.watch_config = true: the file replaced by rename (as editors do) reloads by itself;
- the admin API's save_config reloads through the same path and answers what it applied.
The client connected at the start is served at the end. Last line: "N passed, M failed".
"""

import asyncio
import json
import os
import signal
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, replace_file, wait_until  # noqa: E402
from tlscerts import make_certs  # noqa: E402
from tlscheck import (TIMEOUT, check, check_true, peer_common_name, ping, run_main,  # noqa: E402
                      trusting, websockets)

WAIT = 10.0
ADMIN_TOKEN = "reload-test-admin-token-0123456789"


def config_text(certs, workers=2, level="info", cert="server", key="server", watch=False,
                extra=""):
    return """\
[server]
workers = %d
watch_config = %s

[server.tls]
cert = "%s"
key = "%s"

[logging]
level = "%s"

[admin]
token = "%s"
%s""" % (workers, "true" if watch else "false", certs[cert + ".pem"], certs[key + ".key"],
         level, ADMIN_TOKEN, extra)


class Run:
    def __init__(self, server, certs):
        self.server = server
        self.certs = certs
        self.port = server.port
        self.mark = 0

    def new_log(self):
        """The log since the previous call."""
        log = self.server.log()
        new, self.mark = log[self.mark:], len(log)
        return new

    async def wait_log(self, text, what):
        ok = await asyncio.to_thread(wait_until, lambda: text in self.server.log()[self.mark:], WAIT)
        check_true(what, ok, "\n  expected in the log: %r\n  log since:\n%s"
                   % (text, self.server.log()[self.mark:][-2000:]))

    async def sighup(self, text, expect, what):
        replace_file(self.server.config_path, text)
        self.new_log()
        self.server.proc.send_signal(signal.SIGHUP)
        await self.wait_log(expect, what)
        await asyncio.sleep(0.2)  # let the rest of the reload's lines arrive
        return self.new_log()

    def context(self):
        return trusting(self.certs["ca.pem"])

    async def common_name(self):
        return await peer_common_name(self.port, self.certs["ca.pem"])


async def admin_message(admin, wanted):
    while True:
        message = json.loads(await asyncio.wait_for(admin.recv(), TIMEOUT))
        if message.get("type") in wanted:
            return message


async def scenario(run):
    certs = run.certs
    url = "wss://localhost:%d" % run.port
    async with websockets.connect(url + "/ws", ssl=run.context(), open_timeout=TIMEOUT) as client, \
            websockets.connect(url + "/admin", ssl=run.context(), open_timeout=TIMEOUT, max_size=None,
                               extra_headers={"Authorization": "Bearer " + ADMIN_TOKEN}) as admin:
        await asyncio.wait_for(client.recv(), TIMEOUT)
        await admin_message(admin, {"snapshot"})

        # 1. A good change, live.
        log = await run.sighup(config_text(certs, level="debug"),
                               "configuration reloaded from", "good change: reloaded")
        check_true("good change: SIGHUP logged", "SIGHUP received: reloading the configuration" in log)
        check_true("good change: logging.level applied live, nothing needs a restart",
                   "applied live: logging.level; needs a restart: nothing" in log, "\n" + log)
        announced = await admin_message(admin, {"config_reloaded"})
        check("good change: the admin API announces it",
              (announced["applied"], announced["restart_required"]), (["logging.level"], []))

        # 2. A bad file: every error with file:line:col, nothing applied.
        bad = config_text(certs, level="warning").replace("workers = 2", 'workers = "two"') \
            + "\n[transport.websocket]\nping_interval = -5\n"
        log = await run.sighup(bad, "configuration reload refused", "bad file: refused")
        path = run.server.config_path
        check_true("bad file: 2 errors counted", "the running configuration stays: 2 error(s)" in log,
                   "\n" + log)
        lines = bad.splitlines()
        workers_line = lines.index('workers = "two"') + 1
        ping_line = lines.index("ping_interval = -5") + 1
        check_true("bad file: server.workers error with file:line:col",
                   "%s:%d:11: server.workers" % (path, workers_line) in log, "\n" + log)
        check_true("bad file: ping_interval error with file:line:col",
                   "%s:%d:17: transport.websocket.ping_interval" % (path, ping_line) in log,
                   "\n" + log)
        failed = await admin_message(admin, {"config_reload_failed"})
        check("bad file: the admin API announces both errors", len(failed["errors"]), 2)
        check("bad file: the client connected before is served", await ping(client, "p1"), "pong")
        # The good change of the bad file (level = warning) was not applied: a reload of the
        # first good file finds nothing to change.
        log = await run.sighup(config_text(certs, level="debug"), "configuration reloaded from",
                               "after the bad file: reloaded")
        check_true("bad file: nothing of it was applied", "- no change" in log, "\n" + log)
        announced = await admin_message(admin, {"config_reloaded"})
        check("no change: the admin API announces an empty reload",
              (announced["applied"], announced["restart_required"]), ([], []))

        # 3. A restart-only change.
        log = await run.sighup(config_text(certs, workers=3, level="debug"),
                               "configuration reloaded from", "restart-only change: reloaded")
        check_true("restart-only change: reported", "needs a restart: server.workers" in log, "\n" + log)
        announced = await admin_message(admin, {"config_reloaded"})
        check("restart-only change: the admin API says so", announced["restart_required"],
              ["server.workers"])

        # 4. New TLS files through the configuration.
        log = await run.sighup(config_text(certs, workers=3, level="debug", cert="renewed", key="renewed"),
                               "configuration reloaded from", "new TLS files: reloaded")
        check_true("new TLS files: applied live",
                   "applied live: server.tls.cert, server.tls.key" in log, "\n" + log)
        check("new TLS files: new connections get the new certificate", await run.common_name(),
              "renewed.localhost")
        log = await run.sighup(config_text(certs, workers=3, level="info", cert="server", key="other"),
                               "configuration reload refused", "mismatched TLS key: refused")
        check_true("mismatched TLS key: the error names the key file",
                   'server.tls.key: the key in "%s" does not match' % certs["other.key"] in log, "\n" + log)
        check("mismatched TLS key: the certificate stays", await run.common_name(), "renewed.localhost")

        # 5. server.watch_config, switched on by a reload, then the file replaced by rename.
        text = config_text(certs, workers=3, level="debug", cert="renewed", key="renewed", watch=True)
        log = await run.sighup(text, "configuration reloaded from", "watch_config on: reloaded")
        check_true("watch_config: applied live", "server.watch_config" in log and "watching" in log,
                   "\n" + log)
        run.new_log()
        replace_file(path, text.replace('level = "debug"', 'level = "info"'))
        await run.wait_log("changed: reloading the configuration", "watched file replaced: noticed")
        await run.wait_log("applied live: logging.level", "watched file replaced: applied")
        await admin_message(admin, {"config_reloaded"})

        # 6. The admin API's save goes through the same reload.
        run.new_log()
        saved_text = text.replace("workers = 3", "workers = 4")  # and level "info" -> "debug"
        await admin.send(json.dumps({"id": "save-1", "action": "save_config", "text": saved_text}))
        answer = await admin_message(admin, {"result"})
        check("save_config: ok", answer.get("ok"), True)
        data = answer["data"]
        check("save_config: saved and reloaded", (data["saved"], data["reloaded"]), (True, True))
        check("save_config: applied", data["applied"], ["logging.level"])
        check("save_config: needs a restart", data["restart_required"], ["server.workers"])
        await run.wait_log("configuration reloaded from", "save_config: logged as a reload")

        check("the client connected at the start is still served", await ping(client, "p2"), "pong")


def main(binary, tmp, servers):
    certs = make_certs(tmp)
    server = ServerProcess(binary, config_text(certs))
    servers.append(server)
    server.wait_listening()
    asyncio.run(asyncio.wait_for(scenario(Run(server, certs)), 120))
    check("mtwserver exit code after SIGTERM", server.terminate(15), 0)


if __name__ == "__main__":
    sys.exit(run_main(main, "mtw-e2e-reload-"))
