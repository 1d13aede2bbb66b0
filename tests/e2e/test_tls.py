#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: [server.tls] (docs/tls.md) against the real mtwserver binary.

usage: test_tls.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

Certificates are made by the test with `openssl` (tlscerts.py). Checked:
- config errors stop the start and name the key and the file: a missing certificate, an expired
  one, a key that does not match, a file without a key;
- every route over TLS: wss:// clients (Python `websockets` trusting the test CA) subscribe and
  publish, https:// /status, the admin API over wss;
- a plain-HTTP request on the TLS port gets a clear 400 in clear text, plain ws:// too;
- a client that starts a TLS handshake and stalls is dropped at handshake_timeout;
- mutual TLS (client_auth = "require", min_version = "1.3"): no client certificate or TLS 1.2
  is refused, the CA-signed client certificate is let in.
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, TestFailure, wait_until  # noqa: E402
from tlscerts import make_certs  # noqa: E402
from tlscheck import TIMEOUT, check, check_true, run_main, websockets  # noqa: E402

ADMIN_TOKEN = "tls-test-admin-token-0123456789"


def tls_config(cert, key, extra=""):
    return """\
[server]
workers = 2

[server.tls]
cert = "%s"
key = "%s"
%s
[transport.websocket]
handshake_timeout = 1

[admin]
token = "%s"
""" % (cert, key, extra, ADMIN_TOKEN)


def client_context(certs, client_cert=False, max_version=None):
    context = ssl.create_default_context(cafile=certs["ca.pem"])
    if client_cert:
        context.load_cert_chain(certs["client.pem"], certs["client.key"])
    if max_version is not None:
        context.maximum_version = max_version
    return context


def start_failure(binary, config_text):
    """Runs mtwserver with a config that must not start; returns (exit code, stderr)."""
    with tempfile.TemporaryDirectory(prefix="mtw-e2e-tls-") as tmp:
        path = os.path.join(tmp, "mtw.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(config_text)
        done = subprocess.run([binary, "--host", "127.0.0.1", "--port", "0", "--config", path],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=tmp, timeout=20)
        return done.returncode, done.stderr.decode("utf-8", "replace")


def config_errors(binary, certs, tmp):
    missing = os.path.join(tmp, "missing.pem")
    cases = [
        ("missing certificate file", tls_config(missing, certs["server.key"]),
         'server.tls.cert: cannot read "%s"' % missing),
        ("expired certificate", tls_config(certs["expired.pem"], certs["server.key"]),
         'server.tls.cert: the certificate in "%s" expired on' % certs["expired.pem"]),
        ("key of another certificate", tls_config(certs["server.pem"], certs["other.key"]),
         'server.tls.key: the key in "%s" does not match the certificate in "%s"'
         % (certs["other.key"], certs["server.pem"])),
        ("a certificate where the key belongs", tls_config(certs["server.pem"], certs["ca.pem"]),
         'server.tls.key: "%s" holds no unencrypted PEM private key' % certs["ca.pem"]),
        ("client_auth without ca",
         tls_config(certs["server.pem"], certs["server.key"], 'client_auth = "require"\n'),
         'server.tls.client_auth: "require" needs server.tls.ca'),
        ("min_version out of its choices",
         tls_config(certs["server.pem"], certs["server.key"], 'min_version = "1.1"\n'),
         "server.tls.min_version"),
    ]
    for label, text, expected in cases:
        code, stderr = start_failure(binary, text)
        check("%s: mtwserver exits with EX_CONFIG" % label, code, 78)
        check_true("%s: the error names key and file" % label, expected in stderr,
                   "\n  expected in stderr: %r\n  stderr: %s" % (expected, stderr[-1500:]))


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def until_ref(ws, ref_id):
    while True:
        message = await recv_json(ws)
        if message.get("ref_id") == ref_id:
            return message


def envelope(msg_id, msg_type, channel=None, data=None):
    message = {"id": msg_id, "type": msg_type, "timestamp": int(time.time() * 1000),
               "payload": {"kind": "Json", "data": data} if data is not None else {"kind": "None"}}
    if channel:
        message["channel"] = channel
    return message


async def wss_clients(port, certs):
    url = "wss://localhost:%d/ws" % port
    context = client_context(certs)
    async with websockets.connect(url, ssl=context, open_timeout=TIMEOUT) as sub, \
            websockets.connect(url, ssl=context, open_timeout=TIMEOUT) as pub:
        check("wss: opening ack", (await recv_json(sub))["type"], "ack")
        await recv_json(pub)
        await sub.send(json.dumps(envelope("s1", "subscribe", "room.tls")))
        reply = await until_ref(sub, "s1")
        check("wss: subscribe answer", reply["payload"]["data"]["subscribed"], "room.tls")
        await pub.send(json.dumps(envelope("p1", "publish", "room.tls", {"text": "over TLS"})))
        check("wss: publish answer", (await until_ref(pub, "p1"))["payload"]["data"]["recipients"], 1)
        delivered = await recv_json(sub)
        check("wss: delivery", delivered["payload"]["data"], {"text": "over TLS"})
        # A large message goes through the TLS write path and the queue accounting.
        big = "x" * 200000
        await pub.send(json.dumps(envelope("p2", "publish", "room.tls", {"text": big})))
        await until_ref(pub, "p2")
        check("wss: 200 KB delivery", len((await recv_json(sub))["payload"]["data"]["text"]), len(big))


async def admin_over_wss(port, certs):
    async with websockets.connect("wss://localhost:%d/admin" % port, ssl=client_context(certs),
                                  extra_headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                                  open_timeout=TIMEOUT, max_size=None) as admin:
        check("admin API over wss: the first message is the snapshot",
              (await recv_json(admin))["type"], "snapshot")


async def plain_ws_refused(port):
    try:
        async with websockets.connect("ws://127.0.0.1:%d/ws" % port, open_timeout=TIMEOUT):
            raise TestFailure("plain ws:// was accepted on a TLS port")
    except websockets.exceptions.InvalidStatusCode as e:
        check("plain ws:// on a TLS port: HTTP status", e.status_code, 400)


def https_status(port, certs):
    conn = http.client.HTTPSConnection("localhost", port, timeout=TIMEOUT,
                                       context=client_context(certs))
    conn.request("GET", "/status")
    response = conn.getresponse()
    check("https /status: status", response.status, 200)
    check("https /status: body", response.read(), b"ok")
    conn.close()


def plain_http_refused(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("GET", "/status")
    response = conn.getresponse()
    check("plain http on a TLS port: status", response.status, 400)
    check("plain http on a TLS port: body", response.read(),
          b"this port speaks TLS only: use https:// or wss://\n")
    conn.close()


def stalled_handshake_dropped(port, server):
    """A ClientHello that never finishes holds the connection only for handshake_timeout."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(b"\x16\x03\x01\x00\x50")  # a TLS record header, then nothing
    started = time.monotonic()
    try:
        data = sock.recv(100)
    except ConnectionResetError:
        data = b""
    finally:
        sock.close()
    check("stalled TLS handshake: closed by the server", data, b"")
    check_true("stalled TLS handshake: closed before the client's own 5 s timeout",
               time.monotonic() - started < TIMEOUT)
    check_true("stalled TLS handshake: logged as a handshake timeout",
               wait_until(lambda: "handshake timeout for 127.0.0.1" in server.log(), TIMEOUT))


async def mutual_tls(port, certs):
    url = "wss://localhost:%d/ws" % port
    for label, context in (("no client certificate", client_context(certs)),
                           ("TLS 1.2 with a client certificate",
                            client_context(certs, True, ssl.TLSVersion.TLSv1_2))):
        try:
            async with websockets.connect(url, ssl=context, open_timeout=TIMEOUT) as ws:
                await recv_json(ws)
            raise TestFailure("mutual TLS: %s was let in" % label)
        except (ssl.SSLError, OSError, websockets.exceptions.WebSocketException, EOFError,
                asyncio.TimeoutError) as e:
            check_true("mutual TLS: %s refused (%s)" % (label, type(e).__name__), True)
    async with websockets.connect(url, ssl=client_context(certs, True), open_timeout=TIMEOUT) as ws:
        check("mutual TLS: the CA-signed client certificate is let in",
              (await recv_json(ws))["type"], "ack")


def scenario(binary, tmp, servers):
    certs = make_certs(tmp)
    config_errors(binary, certs, tmp)

    server = ServerProcess(binary, tls_config(certs["server.pem"], certs["server.key"]))
    servers.append(server)
    port = server.wait_listening()
    check_true("the log says the port is TLS only", wait_until(
        lambda: "TLS only on this port (https, wss), certificate localhost" in server.log(),
        TIMEOUT))
    asyncio.run(asyncio.wait_for(wss_clients(port, certs), 30))
    https_status(port, certs)
    asyncio.run(asyncio.wait_for(admin_over_wss(port, certs), 30))
    plain_http_refused(port)
    asyncio.run(asyncio.wait_for(plain_ws_refused(port), 30))
    stalled_handshake_dropped(port, server)
    https_status(port, certs)  # still serving everyone else
    check("mtwserver exit code after SIGTERM", server.terminate(15), 0)

    mtls = ServerProcess(binary, tls_config(
        certs["server.pem"], certs["server.key"],
        'ca = "%s"\nclient_auth = "require"\nmin_version = "1.3"\n' % certs["ca.pem"]))
    servers.append(mtls)
    asyncio.run(asyncio.wait_for(mutual_tls(mtls.wait_listening(), certs), 30))
    check("mtwserver (mutual TLS) exit code after SIGTERM", mtls.terminate(15), 0)


if __name__ == "__main__":
    sys.exit(run_main(scenario, "mtw-e2e-tls-"))
