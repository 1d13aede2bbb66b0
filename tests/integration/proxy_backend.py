#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The application backend tst_proxy talks to through mtw-proxy-http: a threaded http.server on
loopback. Usage: proxy_backend.py <port> [<certfile> <keyfile>] (port 0 = any free one); prints
"PORT <n>" once it listens. What it answers depends on the path, the token, the channel or the
method (see tst_proxy.cpp); GET /stats says how many requests it saw and the most that were in
flight at once. Every POST must carry "Authorization: Bearer backend-secret" (the module's
backend_headers), else HTTP 401."""

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
stats = {"requests": 0, "in_flight": 0, "max_in_flight": 0}


def enter():
    with lock:
        stats["requests"] += 1
        stats["in_flight"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])


def leave():
    with lock:
        stats["in_flight"] -= 1


def connect(body, headers):
    token = body.get("token", "")
    if headers.get("X-Private") is not None:
        return {"error": {"code": 400, "message": "X-Private was forwarded"}}
    if token.startswith("user-"):
        tenant = headers.get("X-Tenant")
        user = token[len("user-"):] + ("@" + tenant if tenant else "")
        return {"result": {
            "user": user,
            "roles": ["member"],
            "expire_at": int(time.time()) + 600,
            "info": {"remote_addr": body.get("remote_addr", ""),
                     "transport": body.get("transport", "")}}}
    if token == "banned":
        return {"error": {"code": 403, "message": "banned by the backend"}}
    if token == "centrifugo-code":
        return {"error": {"code": 4501, "message": "custom refusal"}}
    return {"error": {"code": 401, "message": "unknown token"}}


def subscribe(body):
    channel = body.get("channel", "")
    if channel.startswith("slow."):
        time.sleep(5)
    if channel.startswith("denied."):
        return {"error": {"code": 403, "message": "no entry to " + channel}}
    if channel.startswith("kick."):
        return {"disconnect": {"code": 4500, "reason": "account suspended"}}
    return {"result": {}}


def publish(body):
    channel = body.get("channel", "")
    if channel.startswith("denied."):
        return {"error": {"code": 403, "message": "read-only channel"}}
    if channel.startswith("rewrite."):
        return {"result": {"data": {"rewritten": True, "original": body.get("data"),
                                    "by": body.get("user", "")}}}
    return {"result": {}}


def rpc(body):
    method = body.get("method", "")
    if method == "app.echo":
        return {"result": {"data": {"echo": body.get("data"), "user": body.get("user", ""),
                                    "channel": body.get("channel", "")}}}
    if method == "app.fail":
        return {"error": {"code": 409, "message": "conflict in the backend"}}
    if method == "app.hold":
        time.sleep(0.4)
        return {"result": {"data": {"held": True}}}
    if method == "app.slow":
        time.sleep(5)
        return {"result": {"data": {"late": True}}}
    if method == "app.broken":
        return {"something": "else"}
    return {"error": {"code": 404, "message": "no method " + method}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # head and body in one write: no Nagle + delayed-ACK stall per answer

    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with lock:
            self.answer(200, dict(stats))

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.headers.get("Authorization") != "Bearer backend-secret":
            self.answer(401, {"error": "missing backend credentials"})
            return
        enter()
        try:
            if self.path == "/connect":
                result = connect(body, self.headers)
            elif self.path == "/subscribe":
                result = subscribe(body)
            elif self.path == "/publish":
                result = publish(body)
            elif self.path == "/rpc":
                result = rpc(body)
            else:
                self.answer(404, {"error": "no route " + self.path})
                return
            self.answer(200, result)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            leave()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    if len(sys.argv) > 3:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
