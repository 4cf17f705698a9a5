"""A loopback HTTP proxy in front of the test hub that answers the first `failures`
requests for every distinct (method, path) with a transient error (429 with Retry-After:
0, then 503, alternating) and forwards the rest to olah unchanged: the busy hub that a
long mirror meets. Runs in a thread of the test process; the Ray workers reach it on
127.0.0.1."""

from __future__ import annotations

import collections
import http.client
import http.server
import threading

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


class FlakyProxy:
    def __init__(self, upstream_port: int, failures: int = 1):
        self.upstream_port, self.failures = upstream_port, failures
        self.seen = collections.Counter()
        self.refused = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                key = (self.command, self.path.split("?", 1)[0])
                with proxy.lock:
                    proxy.seen[key] += 1
                    n = proxy.seen[key]
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                if n <= proxy.failures:
                    with proxy.lock:
                        proxy.refused += 1
                    status = 429 if n % 2 else 503
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
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_POST = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
