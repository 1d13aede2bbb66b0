# SPDX-License-Identifier: MIT
"""What the TLS and reload tests share: the websockets import and wss helpers; mtwproc.py's counted
checks and main() frame (run_main) come with it.
"""

import asyncio
import json
import ssl
import time

from mtwproc import check, check_true, require, run_main  # noqa: F401 - the tests take them from here

websockets, = require("websockets")

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
