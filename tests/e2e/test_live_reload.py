#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: what a configuration reload changes live (docs/configuration.md#reload),
real mtwserver over plain ws://, Python `websockets` clients connected throughout.

usage: test_live_reload.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

Each step edits the file and sends SIGHUP, then checks what the connected and new clients see:
- [[channels]] max_members lowered: the current members stay and are served, a new one gets 409;
- history raised: the channel keeps more from then on (a new subscriber's history shows it);
- a pattern added: an existing channel it matches takes its settings, and so does a new one;
- a channel made auth = true: its anonymous member leaves with an `unsubscribe` notice
  (reason "auth_required"), an anonymous subscribe gets 401;
- transport.websocket.max_message_size lowered while another client sends: the next oversize
  message closes its connection with 1009, the other client keeps being served;
- allowed_origins: an origin removed is refused for new connections, its open one stays;
- server.trusted_proxies: a proxy added is believed for new connections (X-Forwarded-For);
- mtw-auth-jwt's secret rotated: new connections need a token signed with the new secret,
  a connection authenticated before stays;
- a bad value in any of these refuses the whole reload and the running settings stay.
Last line: "N passed, M failed".
"""

import asyncio
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, hs256_token, replace_file, wait_until  # noqa: E402
from tlscheck import TIMEOUT, check, check_true, ping, run_main, websockets  # noqa: E402

WAIT = 10.0
GOOD = "http://good.example"
OLD = "http://old.example"
SECRET_1 = "first-secret-of-the-live-reload-test-0123456789"
SECRET_2 = "second-secret-of-the-live-reload-test-987654321"


def config_text(max_members=3, history=2, patterns="", open_auth="false", max_message="64KB",
                origins=(GOOD, OLD), proxies=(), secret=SECRET_1, jwt_extra=""):
    return """\
[server]
workers = 2
trusted_proxies = [%s]

[transport.websocket]
max_message_size = "%s"
allowed_origins = [%s]

[logging]
rules = "mtw.transport.debug=true"

[[modules]]
name = "mtw-auth-jwt"
config = { secret = "%s"%s }

[[channels]]
name = "room"
max_members = %d
history = %d

[[channels]]
name = "open"
auth = %s
%s""" % (", ".join('"%s"' % p for p in proxies), max_message,
         ", ".join('"%s"' % o for o in origins), secret, jwt_extra, max_members, history, open_auth,
         patterns)


def token(secret, sub):
    return hs256_token(secret, {"sub": sub, "exp": int(time.time()) + 3600})


class Client:
    """One ws:// connection; answers are matched by ref_id, other messages are kept."""
    counter = 0
    opened = []  # closed at the end, so that the server's shutdown waits for nobody

    def __init__(self, ws, conn_id):
        self.ws = ws
        self.conn_id = conn_id
        self.inbox = []

    @classmethod
    async def open(cls, port, origin=GOOD, headers=None):
        ws = await websockets.connect("ws://127.0.0.1:%d/ws" % port, origin=origin,
                                      extra_headers=headers or {}, open_timeout=TIMEOUT,
                                      max_size=None)
        cls.opened.append(ws)
        ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        return cls(ws, ack["payload"]["data"]["conn_id"])

    async def call(self, type_, channel=None, data=None, metadata=None):
        Client.counter += 1
        ref = "r%d" % Client.counter
        m = {"id": ref, "type": type_, "timestamp": int(time.time() * 1000),
             "payload": {"kind": "Json", "data": data} if data is not None else {"kind": "None"}}
        if channel:
            m["channel"] = channel
        if metadata:
            m["metadata"] = metadata
        await self.ws.send(json.dumps(m))
        return await self.wait(lambda r: r.get("ref_id") == ref)

    async def wait(self, predicate):
        for i, m in enumerate(self.inbox):
            if predicate(m):
                return self.inbox.pop(i)
        while True:
            m = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if predicate(m):
                return m
            self.inbox.append(m)


def code_of(reply):
    return reply["payload"]["data"]["code"] if reply["type"] == "error" else reply["type"]


class Run:
    def __init__(self, server):
        self.server = server
        self.port = server.port
        self.mark = 0

    async def reload(self, text, expect, what):
        replace_file(self.server.config_path, text)
        self.mark = len(self.server.log())
        self.server.proc.send_signal(signal.SIGHUP)
        ok = await asyncio.to_thread(
            wait_until, lambda: expect in self.server.log()[self.mark:], WAIT)
        check_true(what, ok, "\n  expected in the log: %r\n  log since:\n%s"
                   % (expect, self.server.log()[self.mark:][-3000:]))
        return self.server.log()[self.mark:]

    async def in_log(self, text):
        return await asyncio.to_thread(
            wait_until, lambda: text in self.server.log()[self.mark:], WAIT)


async def scenario(run):
    port = run.port
    a, b, c = [await Client.open(port) for _ in range(3)]
    for client in (a, b, c):
        check("subscribe room", code_of(await client.call("subscribe", "room")), "response")

    # 1. max_members 3 -> 2 with three members: they stay, a fourth is refused.
    log = await run.reload(config_text(max_members=2), "configuration reloaded", "max_members")
    check_true("max_members: applied live", "applied live: channels[0].max_members;" in log, log)
    reply = await a.call("publish", "room", {"n": 1})
    check("max_members: the current members are served", reply["payload"]["data"]["recipients"], 2)
    got = await b.wait(lambda m: m.get("type") == "publish" and m.get("channel") == "room")
    check("max_members: a member receives", got["payload"]["data"], {"n": 1})
    await c.wait(lambda m: m.get("type") == "publish" and m.get("channel") == "room")
    d = await Client.open(port)
    reply = await d.call("subscribe", "room")
    check("max_members: a new member is refused", (code_of(reply), reply["payload"]["data"]["message"]),
          (409, "channel 'room' is full (max: 2)"))

    # 2. A bad value keeps the running settings (max_members stays 2).
    log = await run.reload(config_text(max_members=-1), "configuration reload refused", "bad value")
    check_true("bad value: the error names the key", "channels[0].max_members" in log, log)
    check("bad value: still full at 2", code_of(await d.call("subscribe", "room")), 409)

    # 3. history 2 -> 10: the ring keeps more from now on.
    for n in range(2, 5):
        await a.call("publish", "room", {"n": n})
    await run.reload(config_text(max_members=2, history=10), "applied live: channels[0].history",
                     "history raised")
    for n in range(5, 10):
        await a.call("publish", "room", {"n": n})
    reply = await c.call("request", "room", metadata={"action": "history"})
    kept = [json.loads(m)["payload"]["data"]["n"] if isinstance(m, str) else m["payload"]["data"]["n"]
            for m in reply["payload"]["data"]["messages"]]
    check("history raised: the two kept before, then every new one", kept, [3, 4, 5, 6, 7, 8, 9])

    # 4. A pattern added: live.a exists already (defaults), live.b is new.
    e = await Client.open(port)
    check("live.a before", code_of(await e.call("subscribe", "live.a")), "response")
    patterns = '\n[[channels]]\nname = "live.*"\nmax_members = 1\nhistory = 1\n'
    await run.reload(config_text(max_members=2, history=10, patterns=patterns),
                     "applied live: channels[2]", "pattern added")
    check("pattern: an existing channel takes it (full at 1)",
          code_of(await d.call("subscribe", "live.a")), 409)
    check("pattern: a new channel takes it", code_of(await d.call("subscribe", "live.b")), "response")
    check("pattern: and is full at 1", code_of(await e.call("subscribe", "live.b")), 409)

    # 5. auth = true on a channel with an anonymous member: it leaves, with a notice.
    check("open: anonymous subscribe", code_of(await e.call("subscribe", "open")), "response")
    await run.reload(config_text(max_members=2, history=10, patterns=patterns, open_auth="true"),
                     "applied live: channels[1].auth", "auth on")
    notice = await e.wait(lambda m: m.get("type") == "unsubscribe" and m.get("channel") == "open")
    check("auth on: the anonymous member is told", notice.get("metadata"), {"reason": "auth_required"})
    check("auth on: an anonymous subscribe is refused", code_of(await d.call("subscribe", "open")), 401)

    # 6. max_message_size 64KB -> 1KB while b keeps sending: a's next large message closes it
    #    with 1009, b is served throughout.
    async def keep_pinging():
        answered = 0
        for i in range(40):
            if await ping(b.ws, "keep-%d" % i) == "pong":
                answered += 1
        return answered
    pinger = asyncio.create_task(keep_pinging())
    await run.reload(config_text(max_members=2, history=10, patterns=patterns, open_auth="true",
                                 max_message="1KiB"),
                     "applied live: transport.websocket.max_message_size", "max_message_size")
    check("max_message_size: traffic during the reload is answered", await pinger, 40)
    await a.ws.send(json.dumps({"id": "big", "type": "publish", "channel": "room",
                                "payload": {"kind": "Text", "data": "x" * 2000}}))
    try:
        while True:
            await asyncio.wait_for(a.ws.recv(), TIMEOUT)
    except websockets.ConnectionClosed as closed:
        check("max_message_size: the next oversize message closes with 1009", closed.code, 1009)
    check("max_message_size: another client is served", await ping(c.ws, "after-big"), "pong")
    reply = await c.call("publish", "room", {"small": True})
    check("max_message_size: a small publish works", reply["type"], "response")

    # 7. allowed_origins without OLD: a new connection from it is refused, the open one stays.
    old = await Client.open(port, origin=OLD)
    await run.reload(config_text(max_members=2, history=10, patterns=patterns, open_auth="true",
                                 max_message="1KiB", origins=(GOOD,)),
                     "applied live: transport.websocket.allowed_origins", "origins")
    refused = False
    try:
        async with websockets.connect("ws://127.0.0.1:%d/ws" % port, origin=OLD,
                                      open_timeout=TIMEOUT) as ws:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    except (websockets.InvalidHandshake, websockets.ConnectionClosed, OSError):
        refused = True
    check_true("origins: a new connection from the removed origin is refused", refused)
    check_true("origins: the refusal is logged", await run.in_log("refused upgrade from origin"))
    check("origins: its open connection stays", await ping(old.ws, "old"), "pong")
    check("origins: an allowed origin connects", code_of(await (await Client.open(port)).call("ping")),
          "pong")

    # 8. trusted_proxies: X-Forwarded-For is believed from 127.0.0.1 after the reload only.
    xff = {"X-Forwarded-For": "203.0.113.7"}
    run.mark = len(run.server.log())
    before = await Client.open(port, headers=xff)
    check_true("proxies: before, the peer is the client",
               await run.in_log("connection %s from 127.0.0.1" % before.conn_id))
    await run.reload(config_text(max_members=2, history=10, patterns=patterns, open_auth="true",
                                 max_message="1KiB", origins=(GOOD,), proxies=("127.0.0.1",)),
                     "applied live: server.trusted_proxies", "proxies")
    after = await Client.open(port, headers=xff)
    check_true("proxies: after, X-Forwarded-For names the client",
               await run.in_log("connection %s from 203.0.113.7" % after.conn_id))

    # 9. mtw-auth-jwt's secret rotated (IReconfigurable): new connections need the new secret,
    #    the one authenticated before stays; a bad module table refuses the whole reload.
    rest = dict(max_members=2, history=10, patterns=patterns, open_auth="true", max_message="1KiB",
                origins=(GOOD,), proxies=("127.0.0.1",))
    before = await Client.open(port)
    check("jwt: authenticated with the first secret",
          code_of(await before.call("connect", metadata={"token": token(SECRET_1, "alice")})), "ack")
    log = await run.reload(config_text(secret=SECRET_2, **rest), "configuration reloaded",
                           "jwt: secret rotated")
    check_true("jwt: the module's secret applied live",
               "applied live: modules[0].config.secret; needs a restart: nothing" in log, log)
    old_token = await Client.open(port)
    check("jwt: a new connection with the old secret's token is refused",
          code_of(await old_token.call("connect", metadata={"token": token(SECRET_1, "bob")})), 401)
    fresh = await Client.open(port)
    check("jwt: the new secret's token is accepted",
          code_of(await fresh.call("connect", metadata={"token": token(SECRET_2, "carol")})), "ack")
    check("jwt: the connection authenticated before stays",
          code_of(await before.call("subscribe", "open")), "response")
    log = await run.reload(config_text(secret=SECRET_1, jwt_extra=', leeway = "soon"', **rest),
                           "configuration reload refused", "jwt: bad table")
    check_true("jwt: the error names the module", "modules.mtw-auth-jwt: " in log, log)
    again = await Client.open(port)
    check("jwt: a refused reload keeps the rotated secret",
          code_of(await again.call("connect", metadata={"token": token(SECRET_2, "dave")})), "ack")

    for ws in Client.opened:
        await ws.close()


def main(binary, tmp, servers):
    server = ServerProcess(binary, config_text())
    servers.append(server)
    server.wait_listening()
    asyncio.run(asyncio.wait_for(scenario(Run(server)), 120))
    check("mtwserver exit code after SIGTERM", server.terminate(15), 0)


if __name__ == "__main__":
    sys.exit(run_main(main, "mtw-e2e-live-reload-"))
