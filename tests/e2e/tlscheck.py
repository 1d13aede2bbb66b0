# SPDX-License-Identifier: MIT
"""What the TLS and reload tests share: counted checks, the websockets import, wss helpers and
the main() frame (temporary directory, servers' logs on failure, the "N passed, M failed" line).
"""

import asyncio
import json
import ssl
import sys
import tempfile
import time
import traceback

from mtwproc import TestFailure, check, check_true, passed, server_binary  # noqa: F401

try:
    import websockets
except ImportError:
    print("FAIL: the Python module 'websockets' is missing (Debian: apt-get install python3-websockets)")
    print("0 passed, 1 failed")
    sys.exit(1)

TIMEOUT = 5.0


def trusting(ca):
    """A client TLS context that trusts the test CA."""
    return ssl.create_default_context(cafile=ca)


async def peer_common_name(port, ca):
    """Opens a wss:// connection and returns the CN of the certificate the server presented."""
    async with websockets.connect("wss://localhost:%d/ws" % port, ssl=trusting(ca),
                                  open_timeout=TIMEOUT) as ws:
        cert = ws.transport.get_extra_info("ssl_object").getpeercert()
        await asyncio.wait_for(ws.recv(), TIMEOUT)  # the opening ack
        return dict(x[0] for x in cert["subject"])["commonName"]


async def ping(ws, ref):
    """Sends a ping and returns the type of the answer with that ref_id."""
    await ws.send(json.dumps({"id": ref, "type": "ping", "timestamp": int(time.time() * 1000),
                              "payload": {"kind": "None"}}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if reply.get("ref_id") == ref:
            return reply["type"]


def run_main(body, prefix):
    """Runs body(binary, tmpdir, servers); a server appended to `servers` is stopped at the end
    and its log printed when something failed. Returns the exit code."""
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
