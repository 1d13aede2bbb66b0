#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SSE fan-out next to WebSocket fan-out, on loopback (docs/performance.md#sse-fan-out).

    bench/sse_fanout.py [--build-dir build/ci] [--subscribers 200] [--messages 2000] [--size 100]

For each transport a fresh mtwserver (bench/mtwserver-bench.toml plus [transport.sse]) gets N
subscribers of one channel (SSE: GET /api/events?channel=bench; WebSocket: /ws and a subscribe),
then one WebSocket publisher sends M publishes of `size` bytes as fast as the server takes them.
Prints deliveries/s (N * M over the time from the first publish to the last delivery) and the
server's CPU time per delivery (utime + stime from /proc). Standard library only; the readers
count a marker in the raw bytes, so the client side stays cheap.
"""
import argparse
import base64
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(BENCH_DIR)
MARKER = b"@@mark@@"


def ws_frame(text):
    data = text.encode()
    head = bytearray([0x81])
    if len(data) < 126:
        head.append(0x80 | len(data))
    elif len(data) < 65536:
        head.append(0x80 | 126)
        head += struct.pack(">H", len(data))
    else:
        head.append(0x80 | 127)
        head += struct.pack(">Q", len(data))
    return bytes(head) + b"\0\0\0\0" + data  # a zero mask leaves the payload as it is


def ws_connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    if not buf.startswith(b"HTTP/1.1 101"):
        raise SystemExit("upgrade refused: %r" % buf[:200])
    return s


def message(kind, channel, data=None, mid="m"):
    return json.dumps({"id": mid, "type": kind, "channel": channel, "timestamp": 0,
                       "payload": {"kind": "Json", "data": data} if data is not None else {"kind": "None"}})


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(binary, transport, subscribers, messages, size):
    tmp = tempfile.TemporaryDirectory(prefix="mtw-sse-bench-")
    config = open(os.path.join(BENCH_DIR, "mtwserver-bench.toml")).read()
    config += "\n[transport.sse]\nenabled = true\n\n[[channels]]\nname = \"bench\"\n"
    path = os.path.join(tmp.name, "mtw.toml")
    with open(path, "w") as f:
        f.write(config)
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", "0", "--config", path],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=tmp.name)
    port = None
    for raw in proc.stderr:
        line = raw.decode(errors="replace")
        if "listening on 127.0.0.1:" in line:
            port = int(line.split("listening on 127.0.0.1:")[1].split()[0])
            break
    if port is None:
        raise SystemExit("mtwserver did not start")
    sel = selectors.DefaultSelector()
    counts = {}
    tails = {}
    readers = []
    for i in range(subscribers):
        if transport == "sse":
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /api/events?channel=bench HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        else:
            s = ws_connect(port)
            s.sendall(ws_frame(message("subscribe", "bench", mid="s%d" % i)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        counts[s] = 0
        tails[s] = b""
        readers.append(s)
    publisher = ws_connect(port)
    publisher.setblocking(False)
    sel.register(publisher, selectors.EVENT_READ)

    def pump(timeout):
        for key, _ in sel.select(timeout):
            s = key.fileobj
            try:
                chunk = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if s is publisher:
                continue
            data = tails[s] + chunk
            counts[s] += data.count(MARKER)
            tails[s] = data[-(len(MARKER) - 1):]

    # Every subscriber is in once the channel has N members (the server API would say; here:
    # publish a probe until everyone has one).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        publisher.setblocking(True)
        publisher.sendall(ws_frame(message("publish", "bench", {"probe": MARKER.decode()})))
        publisher.setblocking(False)
        t = time.monotonic() + 0.3
        while time.monotonic() < t:
            pump(0.05)
        if all(counts[s] > 0 for s in readers):
            break
    else:
        raise SystemExit("%s: not every subscriber got the probe" % transport)
    base = {s: counts[s] for s in readers}
    payload = "x" * max(0, size - 40)
    frames = [ws_frame(message("publish", "bench", {"m": MARKER.decode(), "p": payload, "i": i},
                               mid="p%d" % i)) for i in range(messages)]
    cpu0 = cpu_seconds(proc.pid)
    t0 = time.monotonic()
    out = b"".join(frames)
    publisher.setblocking(True)
    sent = 0
    while sent < len(out):  # interleaved with reading, so that nobody's queue fills
        n = publisher.send(out[sent:sent + 65536])
        sent += n
        pump(0)
    publisher.setblocking(False)
    want = subscribers * messages
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and sum(counts[s] - base[s] for s in readers) < want:
        pump(0.2)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(proc.pid) - cpu0
    got = sum(counts[s] - base[s] for s in readers)
    for s in readers + [publisher]:
        s.close()
    proc.terminate()
    proc.wait(15)
    tmp.cleanup()
    return {"transport": transport, "subscribers": subscribers, "messages": messages, "size": size,
            "deliveries": got, "expected": want, "seconds": round(elapsed, 3),
            "deliveries_per_s": round(got / elapsed), "server_cpu_us_per_delivery":
            round(cpu / max(got, 1) * 1e6, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(SOURCE_DIR, "build", "ci"))
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    binary = os.path.join(args.build_dir, "bin", "mtwserver")
    results = [run(binary, t, args.subscribers, args.messages, args.size) for t in ("websocket", "sse")]
    print("%-10s %6s %6s %12s %10s %14s %12s" % ("transport", "subs", "msgs", "deliveries", "seconds",
                                                 "deliveries/s", "cpu us/deliv"))
    for r in results:
        print("%-10s %6d %6d %12d %10.2f %14d %12.2f" % (
            r["transport"], r["subscribers"], r["messages"], r["deliveries"], r["seconds"],
            r["deliveries_per_s"], r["server_cpu_us_per_delivery"]))
    print(json.dumps(results))
    return 0 if all(r["deliveries"] == r["expected"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
