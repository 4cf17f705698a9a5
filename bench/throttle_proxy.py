"""A loopback HTTP proxy in front of a Hub-compatible server that serves byte ranges and
limits bandwidth: the link between a user and the Hub, for the hub benchmarks and tests.

    python bench/throttle_proxy.py --upstream http://127.0.0.1:PORT --mbit 100 [--port 0]

olah 0.5.4 ignores Range requests (it always answers 200 with the whole body), while the
Hub and its CDN serve ranges; so this proxy fetches a file body from upstream once (whole,
unthrottled, kept in memory per URL path) and answers GETs from that copy: a single range
(`bytes=a-b`, `bytes=a-`, `bytes=-n`) as 206 with Content-Range, anything else as 200 with
the whole body. HEAD and the JSON API are forwarded. Every body byte it sends goes through
one shared `Link`, paced to `rate` bytes per second (all connections together, as one
link), in slices of a few milliseconds; `rtt` delays every answer by one round trip
(connection set-up is not modelled: connections are reused).

For the tests it runs in a thread (`with ThrottleProxy(upstream) as p: p.endpoint`) and has
knobs that a flaky link or a broken server would turn: `honor_range=False` (answer ranges
with 200, as olah does), `cuts` (the next GET bodies are cut, the connection closed, after
so many bytes each), `refuse` (answer every request 503; `refuse_after_cut`: from the
first cut on, a server gone down), `hold_at` (stop sending a file
at this file offset until `release()`; `held` is set meanwhile), `flip` (serve the byte at
this file offset inverted). `log` records (method, path, Range header, status, body bytes
sent, the wall-clock time its last byte went) per request. The script form prints
`endpoint <url>` once it listens; GET /__zipw_proxy__/log answers the log as JSON (and
clears it), GET /__zipw_proxy__/warm/<path> fetches a body from upstream ahead of a
timed run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import http.server
import re
import sys
import threading
import time
import urllib.parse

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade",
       "content-length", "content-encoding", "content-range", "accept-ranges"}
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CONTROL = "/__zipw_proxy__/"


class Link:
    """One link's bandwidth, shared by every connection: each slice reserves the link
    for len/rate seconds after the previous reservation, and is sent when its turn
    starts (so the average rate over any stretch longer than a slice is `rate`)."""

    def __init__(self, rate: float | None):
        self.rate = rate  # bytes per second, None: unlimited
        self._lock = threading.Lock()
        self._free_at = 0.0

    @property
    def slice(self) -> int:
        # ~2 ms of the link per slice: fine pacing at 100 Mbit/s, few syscalls at 10 Gbit/s
        return 1 << 20 if not self.rate else max(16 << 10, min(1 << 20, int(self.rate * 0.002)))

    def take(self, n: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._free_at)
            self._free_at = start + n / self.rate
        if start > now:
            time.sleep(start - now)


class ThrottleProxy:
    def __init__(self, upstream: str, rate: float | None = None, *, honor_range: bool = True,
                 cache_all: bool = False, rtt: float = 0.0, host: str = "127.0.0.1", port: int = 0):
        up = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = up.hostname, up.port or 80
        self.up_netloc = up.netloc
        self.link = Link(rate)
        self.honor_range = honor_range
        self.cache_all = cache_all  # keep bodies of paths at a branch too (a benchmark's fixed repos)
        self.rtt = rtt  # seconds each request waits before its answer starts: one round trip
        self.cuts: list[int] = []
        self.refuse = False
        self.refuse_after_cut = False
        self.hold_at: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self.flip: int | None = None
        self.log: list[tuple] = []
        self.lock = threading.Lock()
        self._bodies: dict[str, tuple[int, list, bytes]] = {}
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                proxy._handle(self, head=True)

            def do_GET(self):
                proxy._handle(self, head=False)

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://{host}:{self.server.server_address[1]}"
        self.netloc = f"{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="throttle-proxy", daemon=True)

    # -- lifetime -------------------------------------------------------------------------
    def start(self) -> "ThrottleProxy":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def release(self) -> None:
        """Let a body held at `hold_at` go on."""
        self.hold_at = None
        self._release.set()

    def sent(self, path_part: str = "", method: str = "GET") -> int:
        """Body bytes sent so far for requests whose path contains `path_part`."""
        with self.lock:
            return sum(r[4] for r in self.log if r[0] == method and path_part in r[1])

    # -- upstream -------------------------------------------------------------------------
    def _upstream(self, method: str, path: str, headers: dict):
        conn = http.client.HTTPConnection(self.up_host, self.up_port, timeout=120)
        try:
            conn.request(method, path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.getheaders(), body
        finally:
            conn.close()

    def _body(self, path: str, headers: dict):
        """(status, headers, body) of a GET of `path` upstream, whole; kept for file
        paths at a commit (immutable), fetched again otherwise."""
        with self.lock:
            hit = self._bodies.get(path)
        if hit is not None:
            return hit
        got = self._upstream("GET", path, headers)
        if got[0] == 200 and (self.cache_all or re.search(r"/resolve/[0-9a-f]{40}/", path)):
            with self.lock:
                self._bodies[path] = got
        return got

    def _headers(self, handler) -> dict:
        h = {k: v for k, v in handler.headers.items() if k.lower() not in HOP | {"host", "range"}}
        h["Accept-Encoding"] = "identity"
        return h

    def _fix(self, k: str, v: str) -> str:
        # redirects to the upstream's own address come back through the proxy
        return v.replace(self.up_netloc, self.netloc) if k.lower() == "location" else v

    # -- serving --------------------------------------------------------------------------
    def _record(self, handler, status: int, sent: int) -> None:
        with self.lock:
            self.log.append((handler.command, handler.path, handler.headers.get("Range"), status, sent, time.time()))

    def _handle(self, handler, head: bool) -> None:
        path = handler.path
        if path == CONTROL + "log":  # what was sent (the script form's `log`), then forgotten
            with self.lock:
                data, self.log[:] = json.dumps(self.log).encode(), []
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        if path.startswith(CONTROL + "warm/"):  # fetch a body into the proxy, send nothing
            self._body("/" + path[len(CONTROL + "warm/"):], {"Accept-Encoding": "identity"})
            handler.send_response(204)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.rtt:
            time.sleep(self.rtt)
        if self.refuse:
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            self._record(handler, 503, 0)
            return
        headers = self._headers(handler)
        if head:
            status, up_headers, _ = self._upstream("HEAD", path, headers)
            handler.send_response(status)
            for k, v in up_headers:
                if k.lower() not in HOP:
                    handler.send_header(k, self._fix(k, v))
            size = dict((k.lower(), v) for k, v in up_headers).get("content-length")
            if size is not None:
                handler.send_header("Content-Length", size)
            if self.honor_range and status == 200:
                handler.send_header("Accept-Ranges", "bytes")
            handler.end_headers()
            self._record(handler, status, 0)
            return
        status, up_headers, body = self._body(path, headers)
        total = len(body)
        start, end = 0, total
        m = RANGE.match(handler.headers.get("Range") or "") if status == 200 and self.honor_range else None
        if m and (m.group(1) or m.group(2)):
            a, b = m.group(1), m.group(2)
            if a:
                start, end = int(a), min(total, int(b) + 1) if b else total
            else:
                start, end = max(0, total - int(b)), total
            if start >= end:
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{total}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                self._record(handler, 416, 0)
                return
            status = 206
        handler.send_response(status)
        for k, v in up_headers:
            if k.lower() not in HOP:
                handler.send_header(k, self._fix(k, v))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{end - 1}/{total}")
        if self.honor_range:
            handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(end - start))
        handler.end_headers()
        with self.lock:
            cut = self.cuts.pop(0) if self.cuts and status in (200, 206) else None
        sent = self._send(handler, body, start, end, cut)
        self._record(handler, status, sent)
        if cut is not None and sent < end - start:
            handler.close_connection = True
            if self.refuse_after_cut:
                self.refuse = True

    def _send(self, handler, body: bytes, start: int, end: int, cut: int | None) -> int:
        view = memoryview(body)
        pos, step = start, self.link.slice
        limit = end if cut is None else min(end, start + cut)
        try:
            while pos < limit:
                n = min(step, limit - pos)
                hold = self.hold_at
                if hold is not None and pos <= hold < pos + n:
                    n = hold - pos
                    if n == 0:
                        self.held.set()
                        self._release.wait()
                        self.held.clear()
                        continue
                self.link.take(n)
                data = view[pos:pos + n]
                flip = self.flip
                if flip is not None and pos <= flip < pos + n:
                    data = bytearray(data)
                    data[flip - pos] ^= 0xFF
                handler.wfile.write(data)
                pos += n
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client went away
            handler.close_connection = True
        return pos - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="the server's URL, e.g. http://127.0.0.1:8000")
    ap.add_argument("--mbit", type=float, default=0, help="link speed in Mbit/s (0: unlimited)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-range", action="store_true", help="answer Range requests with 200, as olah does")
    ap.add_argument("--rtt-ms", type=float, default=0, help="a round trip added before every answer")
    args = ap.parse_args()
    proxy = ThrottleProxy(args.upstream, args.mbit * 1e6 / 8 or None, honor_range=not args.no_range,
                          cache_all=True, rtt=args.rtt_ms / 1000, port=args.port)
    print("endpoint", proxy.endpoint, flush=True)
    try:
        proxy.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
