#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""e2e_ts_client: the real mtwRequest TypeScript client's agent calls against the real mtwserver.

usage: test_ts_client.py <path to mtwserver> <cache dir>

The client (github fastslack/mtwRequest, packages/client, not published on npm) is used as its
authors wrote it, at a pinned commit: its sources are downloaded from GitHub into the cache (or
taken from MTW_TS_CLIENT_DIR, a checkout of that repository) and each file is checked against its
pinned SHA-256. esbuild (npm, pinned in package-lock.json) strips the TypeScript and bundles it
with agent_calls.mjs; ws (npm, pinned) is the WebSocket of Node < 22. Both are installed with
`npm ci` into the cache. No network, no npm, no GitHub: the test fails and says which.

The server runs mtw-ai-anthropic against fakeprovider.py (a local http.server replaying the
recorded stream) with one agent; agent_calls.mjs checks send(), stream(), an unknown agent and
a provider failure. The last line is "N passed, M failed".
"""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import traceback
import urllib.request

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from mtwproc import ServerProcess, TestFailure, server_binary  # noqa: E402
from fakeprovider import FakeProvider, agent_config, fixture, stream  # noqa: E402

CLIENT_REPO = "fastslack/mtwRequest"
CLIENT_COMMIT = "ee70b629b94de4c38905f79ad23d82882f84ea1f"  # 2026-03-27, client 0.2.0
CLIENT_FILES = {  # packages/client/src/<file>: SHA-256 at CLIENT_COMMIT
    "agent.ts": "5aba4355caf747b30c5bdf28a39b6816b882bd1a5541fb6901c57a14120dc6f1",
    "channel.ts": "778583780f912fac935a2cddd9ebebb7bc1a58efd1d8d8c52f2c0238cbcefae9",
    "connection.ts": "3b5e49dad19aa9705933e5e64c8ff93ea6962389b12a020286d0f150d2b27eef",
    "index.ts": "8d915ba0492464eaa25131068ac403dcef29766776f5203baa64d375e32466b5",
    "types.ts": "cf2fc34784c74afcc6bde1ce259ed4b6a667d60ad2bcfcc3c41f1da4cc6fd3ee",
}
TARBALL = "https://codeload.github.com/%s/tar.gz/%s" % (CLIENT_REPO, CLIENT_COMMIT)

CONFIG = "[server]\nworkers = 1\n\n"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(command, what, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    if result.returncode != 0:
        raise TestFailure("%s failed (exit %d): %s\n%s%s" % (what, result.returncode,
                                                           " ".join(command), result.stdout,
                                                           result.stderr))
    return result


def install_tools(cache):
    """npm ci of the pinned esbuild and ws into the cache, once per lock file."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise TestFailure("%s is missing (Debian: apt-get install nodejs npm)" % tool)
    lock = open(os.path.join(HERE, "package-lock.json"), "rb").read()
    stamp = os.path.join(cache, "node_modules", ".mtw-lock-sha256")
    if os.path.exists(stamp) and open(stamp).read() == sha256(lock):
        return
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(HERE, name), os.path.join(cache, name))
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                            cwd=cache, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise TestFailure(
            "npm ci could not install the pinned esbuild and ws (is the npm registry reachable? "
            "npm config get registry): exit %d\n%s%s" % (result.returncode, result.stdout,
                                                        result.stderr))
    with open(stamp, "w") as f:
        f.write(sha256(lock))


def client_sources(cache):
    """The directory of the client's src/, every file checked against its pinned hash."""
    local = os.environ.get("MTW_TS_CLIENT_DIR")
    if local:
        src = os.path.join(local, "packages", "client", "src")
        origin = "MTW_TS_CLIENT_DIR=%s" % local
    else:
        src = os.path.join(cache, "mtwRequest-%s" % CLIENT_COMMIT[:12], "src")
        origin = TARBALL
        if not all(os.path.exists(os.path.join(src, name)) for name in CLIENT_FILES):
            try:
                with urllib.request.urlopen(TARBALL, timeout=60) as reply:
                    data = reply.read()
            except OSError as err:
                raise TestFailure(
                    "could not download the mtwRequest client from GitHub (%s): %s\n"
                    "Without network, set MTW_TS_CLIENT_DIR to a checkout of "
                    "https://github.com/%s at commit %s." % (TARBALL, err, CLIENT_REPO,
                                                              CLIENT_COMMIT))
            os.makedirs(src, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
                for member in archive.getmembers():
                    parts = member.name.split("/")
                    if parts[1:4] == ["packages", "client", "src"] and parts[-1] in CLIENT_FILES:
                        with open(os.path.join(src, parts[-1]), "wb") as out:
                            out.write(archive.extractfile(member).read())
    for name, expected in CLIENT_FILES.items():
        path = os.path.join(src, name)
        if not os.path.exists(path):
            raise TestFailure("the client has no %s (from %s)" % (path, origin))
        actual = sha256(open(path, "rb").read())
        if actual != expected:
            raise TestFailure("%s is not the pinned one (commit %s): sha256 %s, expected %s "
                              "(from %s)" % (path, CLIENT_COMMIT, actual, expected, origin))
    return src


def bundle(cache, src):
    out = os.path.join(cache, "agent_calls.bundle.mjs")
    # Its install script swaps the JavaScript launcher for the native binary when it may run:
    # either way .bin/esbuild is an executable.
    esbuild = os.path.join(cache, "node_modules", ".bin", "esbuild")
    run([esbuild, os.path.join(HERE, "agent_calls.mjs"), "--bundle", "--platform=node",
         "--format=esm", "--target=node18", "--log-level=warning", "--external:ws",
         "--alias:mtw-client=" + os.path.join(src, "index.ts"), "--outfile=" + out],
        "esbuild (bundling the client)", cwd=cache)
    return out


def main():
    passed, failed = 0, 0
    server = provider = None
    try:
        binary = server_binary()
        if len(sys.argv) < 3:
            raise TestFailure("usage: %s <path to mtwserver> <cache dir>" % sys.argv[0])
        cache = os.path.abspath(sys.argv[2])
        os.makedirs(cache, exist_ok=True)
        install_tools(cache)
        src = client_sources(cache)
        script = bundle(cache, src)
        print("ok: the client at %s, bundled with esbuild" % CLIENT_COMMIT[:12])
        overloaded = (529, fixture("anthropic-overloaded.json"))
        provider = FakeProvider([stream("anthropic-text.sse"), stream("anthropic-text.sse"),
                                 overloaded, overloaded])
        server = ServerProcess(binary, CONFIG + agent_config(provider.port))
        server.wait_listening()
        result = subprocess.run(["node", script, "ws://127.0.0.1:%d/ws" % server.port],
                                capture_output=True, text=True, timeout=60, cwd=cache)
        sys.stdout.write(result.stdout)
        sys.stdout.write(result.stderr)
        last = (result.stdout.strip().splitlines() or [""])[-1]
        if result.returncode != 0 or not last.endswith(" passed, 0 failed"):
            raise TestFailure("agent_calls.mjs failed (exit %d)" % result.returncode)
        passed = int(last.split()[0])
        # What the client sent reached the provider as the agent's conversation.
        if len(provider.requests) != 4:
            raise TestFailure("the provider got %d requests, expected 4" % len(provider.requests))
        first = provider.requests[0]["body"]["messages"]
        if first != [{"role": "user", "content": "Hi"}]:
            raise TestFailure("the first task reached the provider as %r" % (first,))
        passed += 1
        check_exit = server.terminate()
        if check_exit != 0:
            raise TestFailure("mtwserver exited with %s" % check_exit)
        passed += 1
    except Exception:  # noqa: BLE001
        failed += 1
        print("FAIL: %s" % traceback.format_exc())
        if server:
            print("server log:\n%s" % server.log())
    finally:
        if server:
            server.stop()
        if provider:
            provider.stop()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
