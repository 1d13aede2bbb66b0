# SPDX-License-Identifier: MIT
"""A local stand-in for an AI provider (Anthropic's or OpenAI's streaming API) for the
end-to-end tests: Python's http.server on 127.0.0.1, port 0, answering each POST with the next
scripted response (status, body), most often a recorded stream from tests/data/ai. It records
every request (path, headers, JSON body). Never a real provider. Standard library only.
"""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ai")


def fixture(name):
    """The bytes of a recorded provider stream or error body in tests/data/ai."""
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def stream(name):
    """A 200 response with the recorded Server-Sent Events stream `name`."""
    return (200, fixture(name))


def anthropic_text(deltas, input_tokens=5, output_tokens=2):
    """A 200 Anthropic Messages stream saying `deltas`, one text_delta each."""
    events = [
        ("message_start", {"type": "message_start", "message": {
            "model": "claude-test", "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
    ]
    for delta in deltas:
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": delta}}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                           "usage": {"output_tokens": output_tokens}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    body = "".join("event: %s\ndata: %s\n\n" % (name, json.dumps(data)) for name, data in events)
    return (200, body.encode())


def agent_config(port, agent="helper"):
    """The TOML of mtw-ai-anthropic at the fake provider on `port` (no retries) and one agent."""
    return ('[[modules]]\nname = "mtw-ai-anthropic"\n'
            'config = { api_key = "sk-test", base_url = "http://127.0.0.1:%d", retries = 0, '
            'timeout = 10 }\n\n'
            '[[agents]]\nname = "%s"\nprovider = "anthropic"\n' % (port, agent))


class FakeProvider:
    """Start with FakeProvider(script), read .port, .requests; stop() at the end. A request with
    nothing left in the script gets a 500 saying so."""

    def __init__(self, script=()):
        self.script = list(script)
        self.requests = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the test prints what matters
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with provider._lock:
                    provider.requests.append({
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body or b"{}"),
                    })
                    status, payload = (provider.script.pop(0) if provider.script else
                                       (500, b'{"error":{"message":"no scripted response"}}'))
                self.send_response(status)
                self.send_header("content-type",
                                 "text/event-stream" if status == 200 else "application/json")
                self.send_header("content-length", str(len(payload)))
                self.send_header("connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def push(self, response):
        with self._lock:
            self.script.append(response)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
