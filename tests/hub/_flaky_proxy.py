"""Loopback HTTP proxies in front of the test hub (olah), run in a thread of the test
process (the Ray workers reach them on 127.0.0.1):

- ForwardingProxy forwards every request to olah unchanged; subclasses decide what to
  refuse (`refusal`) and how a body goes out (`send_body`).
- FlakyProxy answers the first `failures` requests for every distinct (method, path)
  with a transient error (429 with Retry-After: 0, then 503, alternating) and forwards
  the rest: the busy hub that a long mirror meets.
- HoldingProxy sends the first `hold_at` bytes of a GET for a path ending in `name`,
  then waits for `release` before sending the rest (`resumed`): a download caught half
  way, for as long as the test needs."""

from __future__ import annotations

import collections
import http.client
import http.server
import threading

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


class ForwardingProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                status = proxy.refusal(self.command, self.path.split("?", 1)[0])
                if status is not None:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP | {"host"}}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP | {"content-length"}:
                            self.send_header(k, v)
                    # a HEAD answer says the size of what a GET would send
                    size = resp.getheader("content-length") if self.command == "HEAD" else None
                    self.send_header("Content-Length", size or str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        proxy.send_body(self, data)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def refusal(self, method: str, path: str) -> int | None:
        """The status to answer instead of forwarding, or None to forward."""
        return None

    def send_body(self, handler, data: bytes) -> None:
        handler.wfile.write(data)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class FlakyProxy(ForwardingProxy):
    def __init__(self, upstream_port: int, failures: int = 1):
        super().__init__(upstream_port)
        self.failures = failures
        self.seen = collections.Counter()
        self.refused = 0

    def refusal(self, method, path):
        with self.lock:
            self.seen[method, path] += 1
            n = self.seen[method, path]
            if n > self.failures:
                return None
            self.refused += 1
        return 429 if n % 2 else 503


class HoldingProxy(ForwardingProxy):
    def __init__(self, upstream_port: int, name: str, hold_at: int):
        super().__init__(upstream_port)
        self.name, self.hold_at = name, hold_at
        self.holding, self.release, self.resumed = threading.Event(), threading.Event(), threading.Event()

    def send_body(self, handler, data):
        held = handler.command == "GET" and handler.path.split("?", 1)[0].endswith(self.name) and \
            len(data) > self.hold_at and not self.holding.is_set()
        if held:
            handler.wfile.write(data[: self.hold_at])
            handler.wfile.flush()
            self.holding.set()
            self.release.wait(120)  # a deadlock guard, not a time limit on the work
            self.resumed.set()
            data = data[self.hold_at :]
        handler.wfile.write(data)

    def __exit__(self, *exc):
        self.release.set()
        super().__exit__(*exc)
