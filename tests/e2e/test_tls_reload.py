#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End-to-end test: certificate reload on a TLS port (docs/tls.md#renewal), real mtwserver.

usage: test_tls_reload.py <path to mtwserver>   (or MTW_SERVER_BIN=...)

The configured files are symlinks through a `..data` symlink, as Kubernetes mounts a secret.
Checked, with wss:// clients (Python `websockets`) connected throughout:
- a renewal swapped in by renaming `..data` (atomic, as Kubernetes does it): new connections get
  the new certificate, the connected clients stay and keep being served;
- a broken pair (a key that does not match) swapped in the same way is refused with a log line
  naming the key file, and new connections keep getting the last good certificate;
- plain files replaced by rename (certbot-like `mv new.pem cert.pem`): picked up too.
Exits non-zero on the first failure; the last line is "N passed, M failed".
"""

import asyncio
import os
import shutil
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mtwproc import ServerProcess, wait_until  # noqa: E402
from tlscerts import make_certs  # noqa: E402
from tlscheck import (TIMEOUT, check, check_true, peer_common_name, ping, run_main,  # noqa: E402
                      trusting, websockets)

RELOAD_WAIT = 10.0


def config(cert, key):
    return '[server]\nworkers = 2\n\n[server.tls]\ncert = "%s"\nkey = "%s"\n' % (cert, key)


def generation(live, name, cert, key):
    """A new `..<name>` directory with the pair, then `..data` renamed onto it (atomic)."""
    target = os.path.join(live, ".." + name)
    os.mkdir(target)
    shutil.copy(cert, os.path.join(target, "tls.crt"))
    shutil.copy(key, os.path.join(target, "tls.key"))
    tmp_link = os.path.join(live, "..data_tmp")
    os.symlink(".." + name, tmp_link)
    os.rename(tmp_link, os.path.join(live, "..data"))


async def still_served(ws, label, ref):
    check("%s: pong on the connection opened before" % label, await ping(ws, ref), "pong")


async def scenario(server, port, certs, live):
    ca = certs["ca.pem"]
    check("first certificate", await peer_common_name(port, ca), "localhost")
    async with websockets.connect("wss://localhost:%d/ws" % port, ssl=trusting(ca),
                                  open_timeout=TIMEOUT) as early:
        await asyncio.wait_for(early.recv(), TIMEOUT)

        # 1. A renewal, Kubernetes style.
        generation(live, "gen2", certs["renewed.pem"], certs["renewed.key"])
        check_true("renewal logged", await asyncio.to_thread(
            wait_until, lambda: "TLS certificate reloaded: renewed.localhost" in server.log(),
            RELOAD_WAIT), "\n" + server.log()[-1500:])
        check("new connections get the renewed certificate", await peer_common_name(port, ca),
              "renewed.localhost")
        await still_served(early, "after the renewal", "ping-1")

        # 2. A broken pair: refused, the renewed one stays.
        generation(live, "gen3", certs["server.pem"], certs["other.key"])
        refused = "TLS certificate reload refused: server.tls.key: the key in"
        check_true("broken pair refused with a log line", await asyncio.to_thread(
            wait_until, lambda: refused in server.log(), RELOAD_WAIT), "\n" + server.log()[-1500:])
        check_true("the refusal says what stays in use",
                   "- still using renewed.localhost" in server.log())
        check("after a refused pair new connections still get the last good one",
              await peer_common_name(port, ca), "renewed.localhost")
        await still_served(early, "after the refused pair", "ping-2")

        # 3. Fixed again: the good first pair comes back.
        generation(live, "gen4", certs["server.pem"], certs["server.key"])
        check_true("fixed pair reloaded", await asyncio.to_thread(
            wait_until, lambda: "TLS certificate reloaded: localhost" in server.log(),
            RELOAD_WAIT))
        check("new connections get the fixed pair", await peer_common_name(port, ca), "localhost")
        await still_served(early, "after the fixed pair", "ping-3")


def run(binary, tmp, servers):
    certs = make_certs(os.path.join(tmp, "certs"))

    # Kubernetes layout: live/tls.crt -> ..data/tls.crt, live/..data -> ..gen1
    live = os.path.join(tmp, "live")
    os.mkdir(live)
    generation(live, "gen1", certs["server.pem"], certs["server.key"])
    for name in ("tls.crt", "tls.key"):
        os.symlink(os.path.join("..data", name), os.path.join(live, name))
    server = ServerProcess(binary, config(os.path.join(live, "tls.crt"),
                                          os.path.join(live, "tls.key")))
    servers.append(server)
    port = server.wait_listening()
    asyncio.run(asyncio.wait_for(scenario(server, port, certs, live), 90))
    check("mtwserver exit code after SIGTERM", server.terminate(15), 0)

    # Plain files replaced by rename (certbot-like): key first, then the certificate.
    plain_dir = os.path.join(tmp, "plain")
    os.mkdir(plain_dir)
    cert, key = os.path.join(plain_dir, "cert.pem"), os.path.join(plain_dir, "key.pem")
    shutil.copy(certs["server.pem"], cert)
    shutil.copy(certs["server.key"], key)
    plain = ServerProcess(binary, config(cert, key))
    servers.append(plain)
    port = plain.wait_listening()
    check("plain files: first certificate",
          asyncio.run(peer_common_name(port, certs["ca.pem"])), "localhost")
    for source, dest in ((certs["renewed.key"], key), (certs["renewed.pem"], cert)):
        shutil.copy(source, dest + ".new")
        os.rename(dest + ".new", dest)
    check_true("plain files: renewal logged", wait_until(
        lambda: "TLS certificate reloaded: renewed.localhost" in plain.log(), RELOAD_WAIT),
        "\n" + plain.log()[-1500:])
    check("plain files: new connections get the renewed certificate",
          asyncio.run(peer_common_name(port, certs["ca.pem"])), "renewed.localhost")
    check("mtwserver (plain files) exit code after SIGTERM", plain.terminate(15), 0)


if __name__ == "__main__":
    sys.exit(run_main(run, "mtw-e2e-tls-reload-"))
