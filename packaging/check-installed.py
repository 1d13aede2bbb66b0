#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Runs the installed mtwserver the way its systemd unit would, without systemd.

Reads the installed unit: ExecStart=, User=, Group=, Environment=, EnvironmentFile=,
WorkingDirectory=, RuntimeDirectory=(Mode), LimitNOFILE=. Creates the runtime directory as
systemd would, starts ExecStart (plus --extra arguments) as User/Group with that environment
and limit, and plays the service manager on NOTIFY_SOCKET. Then: READY=1, GET /status, a
WebSocket round trip (subscribe, publish, fan-out to a second client), the generated admin
token, ExecReload (RELOADING=1, READY=1), SIGTERM, STOPPING=1, exit status 0.

Used by packaging/check-packages.sh; needs root (it changes user) and python3-websockets.
"""
import argparse
import asyncio
import grp
import json
import os
import pwd
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

TIMEOUT = 10.0


def fail(message):
    print("check-installed: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def parse_unit(path):
    """The [Service] assignments of a unit file, each key to the list of its values."""
    values = {}
    section = None
    with open(path, encoding="utf-8") as unit:
        for line in unit:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                key, value = line.split("=", 1)
                values.setdefault(key.strip(), []).append(value.strip())
    return values


def environment_of(unit):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for assignment in unit.get("Environment", []):
        for word in shlex.split(assignment):
            key, value = word.split("=", 1)
            env[key] = value
    for name in unit.get("EnvironmentFile", []):
        optional = name.startswith("-")
        name = name.lstrip("-")
        if not os.path.exists(name):
            if optional:
                continue
            fail("EnvironmentFile %s does not exist" % name)
        with open(name, encoding="utf-8") as env_file:
            for line in env_file:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, value = line.split("=", 1)
                    env[key.strip()] = value.strip().strip('"')
    return env


def http_get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=TIMEOUT) as reply:
        return reply.status, reply.read().decode()


def envelope(message_id, kind, channel=None, payload=None):
    message = {"id": message_id, "type": kind, "payload": payload or {"kind": "None"},
               "timestamp": int(time.time() * 1000)}
    if channel:
        message["channel"] = channel
    return json.dumps(message)


async def receive(ws, predicate):
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if predicate(message):
            return message


async def round_trip(port):
    url = "ws://127.0.0.1:%d/ws" % port
    async with websockets.connect(url, open_timeout=TIMEOUT) as a, \
            websockets.connect(url, open_timeout=TIMEOUT) as b:
        for ws in (a, b):
            ack = await receive(ws, lambda m: True)
            if ack.get("type") != "ack":
                fail("first message is not an ack: %r" % ack)
        await b.send(envelope("s1", "subscribe", "pkg.check"))
        reply = await receive(b, lambda m: m.get("ref_id") == "s1")
        if reply.get("type") != "response":
            fail("subscribe: %r" % reply)
        await a.send(envelope("p1", "publish", "pkg.check", {"kind": "Text", "data": "hello"}))
        reply = await receive(a, lambda m: m.get("ref_id") == "p1")
        if reply.get("payload", {}).get("data", {}).get("recipients") != 1:
            fail("publish: %r" % reply)
        delivered = await receive(b, lambda m: m.get("type") == "publish")
        if delivered.get("payload", {}).get("data") != "hello":
            fail("fan-out: %r" % delivered)
        await a.send(envelope("q1", "ping"))
        if (await receive(a, lambda m: m.get("ref_id") == "q1")).get("type") != "pong":
            fail("ping: no pong")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", required=True)
    parser.add_argument("--port", type=int, required=True, help="the port MTW_PORT sets")
    parser.add_argument("--extra", default="", help="arguments appended to ExecStart")
    parser.add_argument("--expect-file", default="", help="a file the server must create")
    args = parser.parse_args()

    unit = parse_unit(args.unit)
    for key in ("Type", "ExecStart", "User", "Group"):
        if key not in unit:
            fail("%s has no %s=" % (args.unit, key))
    if unit["Type"] != ["notify"]:
        fail("Type= is %r, expected notify" % unit["Type"])
    user = pwd.getpwnam(unit["User"][0])
    group = grp.getgrnam(unit["Group"][0])
    env = environment_of(unit)
    env["HOME"] = user.pw_dir

    for name in unit.get("RuntimeDirectory", []):
        path = os.path.join("/run", name)
        mode = int(unit.get("RuntimeDirectoryMode", ["0755"])[0], 8)
        os.makedirs(path, exist_ok=True)
        os.chown(path, user.pw_uid, group.gr_gid)
        os.chmod(path, mode)
    workdir = unit.get("WorkingDirectory", ["/"])[0]
    nofile = int(unit.get("LimitNOFILE", ["0"])[0])

    manager_dir = tempfile.mkdtemp(prefix="mtw-notify-")
    os.chmod(manager_dir, 0o755)
    notify_path = os.path.join(manager_dir, "notify")
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(notify_path)
    os.chmod(notify_path, 0o777)
    manager.settimeout(TIMEOUT)
    env["NOTIFY_SOCKET"] = notify_path

    command = shlex.split(unit["ExecStart"][0]) + shlex.split(args.extra)

    def become_service():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        os.initgroups(user.pw_name, group.gr_gid)
        os.setgid(group.gr_gid)
        os.setuid(user.pw_uid)

    print("check-installed: %s as %s:%s in %s" % (" ".join(command), user.pw_name, group.gr_name,
                                                   workdir))
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(command, env=env, cwd=workdir, preexec_fn=become_service,
                              stdout=log, stderr=subprocess.STDOUT)
    states = []

    def wait_for(state, count=1):
        while states.count(state) < count:
            try:
                states.extend(manager.recv(4096).decode().split("\n"))
            except socket.timeout:
                server.kill()
                log.seek(0)
                fail("no %s from the server; its log:\n%s" % (state, log.read().decode()))

    try:
        wait_for("READY=1")
        print("check-installed: READY=1 (%s)" % [s for s in states if s.startswith("STATUS=")])
        status = http_get(args.port, "/status")
        if status != (200, "ok"):
            fail("/status answered %r" % (status,))
        print("check-installed: /status ok")
        asyncio.run(round_trip(args.port))
        print("check-installed: WebSocket subscribe/publish/fan-out/ping ok")
        token_path = os.path.join(env.get("XDG_RUNTIME_DIR", ""), "mtwserver",
                                  "admin-%d.token" % args.port)
        printed = subprocess.run(command + ["--admin-token"], env=env, cwd=workdir,
                                 preexec_fn=become_service, capture_output=True, text=True,
                                 check=False)
        if printed.returncode != 0 or not printed.stdout.strip():
            fail("--admin-token: %s%s" % (printed.stdout, printed.stderr))
        if not os.path.exists(token_path):
            fail("no admin token file at %s" % token_path)
        print("check-installed: admin token in %s, printed by --admin-token" % token_path)
        if args.expect_file and not os.path.exists(args.expect_file):
            fail("the server did not create %s" % args.expect_file)
        # systemctl reload: the unit's ExecReload= with $MAINPID, then RELOADING=1 and READY=1
        # again; the server still serves afterwards.
        reload_command = [part.replace("$MAINPID", str(server.pid))
                          for part in shlex.split(unit.get("ExecReload", [""])[0])]
        if not reload_command:
            fail("%s has no ExecReload=" % args.unit)
        subprocess.run(reload_command, check=True)
        wait_for("RELOADING=1")
        wait_for("READY=1", 2)
        if http_get(args.port, "/status") != (200, "ok"):
            fail("/status after the reload")
        print("check-installed: ExecReload -> RELOADING=1, READY=1 (%s), still serving"
              % [s for s in states if s.startswith("STATUS=")][-1])
        server.send_signal(signal.SIGTERM)
        wait_for("STOPPING=1")
        code = server.wait(timeout=TIMEOUT + 20)
        if code != 0:
            fail("exit status %d after SIGTERM" % code)
        print("check-installed: SIGTERM -> STOPPING=1, exit 0")
    finally:
        if server.poll() is None:
            server.kill()
        manager.close()
        os.unlink(notify_path)
        os.rmdir(manager_dir)
    log.seek(0)
    output = log.read().decode()
    if "warning" in output.lower() or "critical" in output.lower():
        fail("the server warned:\n" + output)


if __name__ == "__main__":
    main()
