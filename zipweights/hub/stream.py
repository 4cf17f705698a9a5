"""Decode while downloading: a .zipw fetched by HTTP ranges, index first, its chunks
decoded in file order as their payload bytes arrive.

The container puts the payloads first and the index and trailer last (spec/FORMAT.md 2),
so the index is fetched first with a range request for the file's tail (one request where
the index fits in TAIL bytes, a second for the rest where it does not), then the payloads
with one range request from where the partial download stands. While the body streams in,
worker threads decode every run of consecutive chunks whose payloads have all arrived
(every chunk checked against its xxh3-64), write it at its offset into the restored file
and advance the whole-file sha256 in file order; the restored file takes its name only
when that sha256 equals the one the index records. The time to a restored file is then
the download plus the decode of the last run and the rename, not download plus decode.

Resumable as huggingface_hub's downloads are: a connection that breaks mid-body (timeout,
reset, a body cut short) is resumed with a range from the last byte received (at once when
the attempt brought data, else after a second, 5 attempts without progress at most), and
the bytes received are kept in a partial file, a prefix of the .zipw (`<blob>.incomplete`,
the file huggingface_hub's own resumable downloads kept), so a download that failed
resumes from there on the next call. A server that does not honor ranges (status 200 to a
range request, as olah 0.5.4; a Content-Range that does not match; an encoded body; an
HTTP error for the first range request) is answered with NotStreamable before anything
is restored: the caller then downloads the whole file through huggingface_hub and
restores it, as without this module.

Memory: the file arrives into an anonymous map whose pages are handed back behind the
decode, and the download waits while it is more than AHEAD bytes ahead of the decode (a
link faster than the decode), so a multi-GB shard does not sit in memory.

Requests go through huggingface_hub's HTTP session (`http_stream_backoff`), with the URL
and headers its hf_hub_download would use (download.py resolves them).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import threading
import time
import urllib.parse

from huggingface_hub import constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import hf_raise_for_status
from huggingface_hub.utils import tqdm as hf_tqdm

try:  # huggingface_hub >= 1.0 (httpx): its streaming request and the errors it raises
    from huggingface_hub.utils import http_stream_backoff, httpx

    AVAILABLE = True
except ImportError:  # an older huggingface_hub (requests): the whole-file path only
    AVAILABLE = False

from .._fileio import atomic_output, reserve
from .._mapped import Behind
from .._parallel import Turns, default_threads, run_shared
from ..codec import delta
from ..errors import ChecksumMismatchError, LimitExceededError, ZipWeightsError
from ..format import container, index as fmt_index
from ..reader import BATCH_BYTES, ZipwFile

TAIL = 64 << 10  # the first range: the trailer and, for most files, the whole index
BLOCK = 1 << 20  # body bytes handed on at a time (to the partial file, the decoder, the progress bar)
AHEAD = 256 << 20  # received bytes the decode may lag behind before the download waits
RETRIES = 5  # attempts in a row that bring no data before giving up, as huggingface_hub
RETRY_WAIT = 1.0  # seconds before an attempt that follows one without progress
TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) if AVAILABLE else ()

# hosts seen answering a range request with the whole body: not asked again this process
_NO_RANGE: set[str] = set()


class NotStreamable(Exception):
    """The server does not serve byte ranges as needed; nothing was written."""


class _Aborted(Exception):
    """The download stopped; the decoders waiting for its bytes give up."""


class Result:
    """What `download` did: `sha256` of the restored file (decoded while downloading),
    or None with `path`, the complete .zipw (a file to restore by other means: a delta
    file, whose base must be found first)."""

    def __init__(self, sha256: str | None, path: str | None = None):
        self.sha256, self.path = sha256, path


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc


def _range(url: str, headers: dict, start: int, end: int):
    """A context manager: the response to a GET of bytes [start, end) of `url`."""
    h = dict(headers)
    h["Range"] = f"bytes={start}-{end - 1}"
    h["Accept-Encoding"] = "identity"  # a range of an encoded body is not a range of the file
    return http_stream_backoff("GET", url, headers=h, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT,
                               retry_on_exceptions=(), retry_on_status_codes=(408, 429))


def _check_partial(resp, url: str, start: int, end: int, size: int) -> None:
    """NotStreamable unless `resp` is the 206 for bytes [start, end) of a `size`-byte file."""
    if resp.status_code == 200:
        _NO_RANGE.add(_host(url))
        raise NotStreamable(f"{url}: the server answered a range request with the whole file")
    hf_raise_for_status(resp)
    got = resp.headers.get("Content-Range", "")
    if resp.status_code != 206 or got != f"bytes {start}-{end - 1}/{size}":
        raise NotStreamable(f"{url}: asked for bytes {start}-{end - 1}/{size}, got status {resp.status_code} "
                            f"with Content-Range {got!r}")
    if resp.headers.get("Content-Encoding", "identity").lower() != "identity":
        raise NotStreamable(f"{url}: the range came encoded ({resp.headers['Content-Encoding']})")


def _fetch(url: str, headers: dict, start: int, end: int, size: int) -> bytes:
    """Bytes [start, end) of the file, in one range request (retried as the body is)."""
    out, tries = bytearray(), RETRIES
    while True:
        try:
            with _range(url, headers, start + len(out), end) as resp:
                _check_partial(resp, url, start + len(out), end, size)
                for block in resp.iter_bytes():
                    out += block
            if len(out) != end - start:
                raise httpx.RemoteProtocolError(f"{len(out)} of {end - start} bytes")
            return bytes(out)
        except TRANSIENT:
            tries -= 1
            if tries <= 0:
                raise
            time.sleep(RETRY_WAIT)


def _runs(entries, target: int):
    """(original offset, [(entry, first chunk, end chunk, a, b)], size, payload end): the
    chunks in file order cut into runs of at least `target` original bytes; (a, b) is a
    piece's span in its run; a run is decodable once the file's bytes below `payload end`
    have arrived (payloads tile the file in chunk order, spec 5.2)."""
    run, start, size = [], None, 0
    for e in entries:
        n = len(e.chunks)
        i = 0
        while i < n:
            j, a = i, size
            while j < n and size < target:
                lo, hi = e.chunk_span(j)
                size += hi - lo
                j += 1
            if start is None:
                start = e.offset + e.chunk_span(i)[0]
            run.append((e, i, j, a, size))
            i = j
            if size >= target:
                end = int(e.chunks["offset"][j - 1]) + int(e.chunks["length"][j - 1])
                yield start, run, size, end
                run, start, size = [], None, 0
    if run:
        e, _, j = run[-1][:3]
        yield start, run, size, int(e.chunks["offset"][j - 1]) + int(e.chunks["length"][j - 1])


class _Decoder:
    """Decodes the runs of `zf` as the download's bytes arrive (`arrived(n)`), on
    `threads` workers of their own, into `fd`; `sha` takes the runs in file order."""

    def __init__(self, zf: ZipwFile, mm, fd: int, threads: int):
        self.zf, self.fd = zf, fd
        self.sha = hashlib.sha256(zf.index.prefix)
        self._cond = threading.Condition()
        self._have = 0
        self._aborted = False
        self.error: BaseException | None = None
        # a COPY chunk decodes an earlier entry's payload again: keep every byte then
        copies = any((e.chunks["codec"] == delta.COPY).any() for e in zf.entries if len(e.chunks))
        self._behind = Behind(None if copies else mm)
        largest = max((min(e.chunk_size, e.length) for e in zf.entries if e.length), default=0)
        self._target = max(BATCH_BYTES, largest)
        self._bufsize = min(self._target + largest, zf.original_size - len(zf.index.prefix))
        n_chunks = sum(len(e.chunks) for e in zf.entries)
        self._threads = max(1, min(threads, n_chunks))
        # Where the decode is slower than the link (10 Gbit/s here), what arrived and is
        # not yet decoded would pile up in memory: the download waits while it is more
        # than `ahead` bytes past the decode (payloads released behind it). At least two
        # runs' payloads, so the run the decode waits for is always in.
        ends = [end for *_, end in _runs(zf.entries, self._target)]
        widest = max((b - a for a, b in zip([0] + ends, ends)), default=0)
        self._ahead = None if copies else max(AHEAD, 2 * widest)
        os.pwrite(fd, zf.index.prefix, 0)
        self._thread = threading.Thread(target=self._run, name="zipw-stream-decode", daemon=True)
        self._thread.start()

    def arrived(self, n: int) -> None:
        with self._cond:
            self._have = n
            self._cond.notify_all()

    def wait_room(self, n: int) -> None:
        """Hold the download (which has `n` bytes) while the decode is too far behind."""
        if self._ahead is None:
            return
        with self._cond:
            while n - self._behind.position() > self._ahead and not self._aborted and self.error is None:
                self._cond.wait(0.1)

    def abort(self) -> None:
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    def _jobs(self):
        for k, (start, run, size, end) in enumerate(_runs(self.zf.entries, self._target)):
            with self._cond:
                while self._have < end and not self._aborted:
                    self._cond.wait()
                if self._aborted:
                    raise _Aborted()
            yield k, start, run, size, end

    def _run(self) -> None:
        turns = Turns()
        local = threading.local()
        zf, fd, sha = self.zf, self.fd, self.sha

        def work(job):
            k, start, run, size, end = job
            if not hasattr(local, "buf"):
                local.buf = memoryview(bytearray(self._bufsize))
            view = local.buf[:size]
            for e, i, j, a, b in run:
                zf.read_into(e, view[a:b], threads=1, chunks=range(i, j))
            self._behind.done(k, end)
            with self._cond:
                self._cond.notify_all()  # a download waiting for room
            # the sha256 is the one serial stage: hash first when it is our turn, else
            # write while the run before ours is hashed (as the reader's engine does)
            written = False
            if not turns.is_ours(k):
                _pwrite_all(fd, view, start)
                written = True
            turns.wait(k)
            sha.update(view)
            turns.pass_on(k)
            if not written:
                _pwrite_all(fd, view, start)

        def stop():
            turns.stop()
            self.abort()

        try:
            run_shared(work, self._jobs(), self._threads, stop)
        except BaseException as exc:
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def join(self) -> None:
        self._thread.join()


def _pwrite_all(fd: int, view: memoryview, pos: int) -> None:
    while len(view):  # pwrite may write less than asked
        n = os.pwrite(fd, view, pos)
        view, pos = view[n:], pos + n


def download(url: str, headers: dict, size: int, partial: str, dest: str, *, name: str,
             threads: int | None = None, tqdm_class=None, max_output_size: int | None = None) -> Result:
    """Download the .zipw of `size` bytes at `url` (`headers`: huggingface_hub's),
    resuming from the prefix kept in `partial`, and restore it into `dest` as it
    arrives (a temporary file that takes the name once the sha256 matches). The caller
    holds the lock on `partial`. On success `partial` holds the whole .zipw: removed here
    when it was decoded here, left for the caller when Result.path is set.
    NotStreamable: the server does not serve ranges (nothing restored; `partial` as it
    was); zipweights errors: the file is corrupt (`partial` removed); huggingface_hub's
    and httpx's errors: the download failed (`partial` kept for the next try)."""
    if _host(url) in _NO_RANGE:
        raise NotStreamable(f"{url}: the server does not serve ranges")
    if size < container.HEADER_SIZE + container.TRAILER_SIZE:
        raise NotStreamable(f"{url}: {size} bytes, too short for a .zipw")  # restoring it says what is wrong
    mm = mmap.mmap(-1, size)  # the file as it arrives; pages released behind the decode
    os.makedirs(os.path.dirname(partial) or ".", exist_ok=True)
    fd = os.open(partial, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        return _download(url, headers, size, partial, fd, dest, name, threads, tqdm_class, max_output_size, mm)
    except NotStreamable:
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_size == 0:
                os.unlink(partial)
        raise
    except ZipWeightsError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)  # bytes that decode wrong are not worth resuming from
        raise
    finally:
        os.close(fd)
        with contextlib.suppress(BufferError):
            mm.close()


def _download(url, headers, size, partial, fd, dest, name, threads, tqdm_class, max_output_size, mm) -> Result:
    have = min(os.fstat(fd).st_size, size)
    os.ftruncate(fd, have)
    if have:  # what earlier attempts received, into the map
        with open(partial, "rb") as f:
            have = f.readinto(memoryview(mm)[:have]) or 0
    # [tail_start, size): asked for first (the trailer and the index), joins the partial last
    tail_start = size if have >= size else max(size - TAIL, have)
    if tail_start < size:
        try:
            mm[tail_start:size] = _fetch(url, headers, tail_start, size, size)
        except HfHubHTTPError as exc:
            # the first range request refused (a CDN that forbids ranges, ...): whatever the
            # whole-file download meets, huggingface_hub's own path reports it
            raise NotStreamable(f"{url}: the range request for the index failed: {exc}") from exc
        index_offset, index_length, _ = container.read_trailer(mm[size - container.TRAILER_SIZE:size], size, name)
        if index_length > fmt_index.MAX_INDEX_SIZE:
            raise LimitExceededError(f"{name}: index of {index_length} bytes exceeds {fmt_index.MAX_INDEX_SIZE}")
        first = max(index_offset, have)
        if first < tail_start:  # an index longer than the tail asked for: the rest of it
            mm[first:tail_start] = _fetch(url, headers, first, tail_start, size)
            tail_start = first
    stack = contextlib.ExitStack()
    state = {"zf": None, "decoder": None, "later": False}

    def arrived(n: int) -> None:
        """Bytes [0, n) of the file are in the map (and the tail from the start)."""
        if state["zf"] is None and not state["later"] and n >= container.HEADER_SIZE:
            zf = ZipwFile(mm, name=name, max_output_size=max_output_size)
            stack.callback(zf.close)
            state["zf"] = zf
            zf.check_output_size(zf.original_size, "the original file")
            if zf.index.base is not None:
                state["later"] = True  # a delta file: its base is found once the file is here
                return
            f = stack.enter_context(atomic_output(dest, force=True))
            reserve(f, zf.original_size)
            state["decoder"] = _Decoder(zf, mm, f.fileno(), threads or default_threads())
        decoder = state["decoder"]
        if decoder is not None:
            if decoder.error is not None:
                raise decoder.error  # a chunk that does not decode: stop downloading
            decoder.arrived(n)
            decoder.wait_room(n)

    try:
        bar = stack.enter_context((tqdm_class or hf_tqdm)(total=size, initial=have, unit="B", unit_scale=True,
                                                           desc=name.rsplit("/", 1)[-1]))
        arrived(min(have, tail_start))
        if have < tail_start:
            have = _body(url, headers, size, fd, mm, have, tail_start, bar, arrived)
        if have < size:
            _pwrite_all(fd, memoryview(mm)[have:size], have)
            bar.update(size - have)
            have = size
        arrived(size)
        decoder = state["decoder"]
        if decoder is None:
            stack.close()
            return Result(None, partial)
        decoder.join()
        if decoder.error is not None:
            raise decoder.error
        zf = state["zf"]
        if decoder.sha.digest() != zf.index.original_sha256:
            raise ChecksumMismatchError(f"{name}: restored content sha256 {decoder.sha.hexdigest()} differs "
                                        f"from the stored {zf.original_sha256}")
        sha = zf.original_sha256
    except BaseException as exc:
        if state["decoder"] is not None:
            state["decoder"].abort()
            state["decoder"].join()
        # the restored file vanishes; atomic_output is handed a neutral exception, since
        # it rewrites an OSError to name its path and huggingface_hub's HTTP errors are
        # OSErrors that do not take OSError's arguments
        try:
            stack.__exit__(_Aborted, _Aborted(), None)
        except _Aborted:
            pass
        raise
    stack.close()  # the restored file takes its name
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    return Result(sha)


def _body(url, headers, size, fd, mm, have, end, bar, arrived) -> int:
    """Stream bytes [have, end) into the map and the partial file `fd`; return `end`.
    Bytes are handed on (written to the partial, counted, offered to the decoder) a
    BLOCK at a time, and whatever arrived before a break is kept."""
    tries = RETRIES
    flushed = have

    def flush() -> None:
        nonlocal flushed
        if have > flushed:
            _pwrite_all(fd, memoryview(mm)[flushed:have], flushed)
            bar.update(have - flushed)
            flushed = have
            arrived(have)

    while have < end:
        before = have
        try:
            try:
                with _range(url, headers, have, end) as resp:
                    _check_partial(resp, url, have, end, size)
                    for block in resp.iter_bytes():  # as it comes off the socket
                        n = len(block)
                        if have + n > end:
                            raise httpx.RemoteProtocolError(f"{url}: more bytes than asked for")
                        mm[have:have + n] = block
                        have += n
                        if have - flushed >= BLOCK:
                            flush()
            finally:
                flush()
            if have < end:
                raise httpx.RemoteProtocolError(f"{url}: the body ended at byte {have} of {end}")
        except TRANSIENT:
            if have > before:
                tries = RETRIES  # data came: resume at once
                continue
            tries -= 1
            if tries <= 0:
                raise
            time.sleep(RETRY_WAIT)
    return have
