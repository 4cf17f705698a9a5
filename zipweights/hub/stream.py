"""Decode while downloading: a .zipw fetched by HTTP ranges, index first, its chunks
decoded in file order as their payload bytes arrive.

The container puts the payloads first and the index and trailer last (spec/FORMAT.md 2),
so the index is fetched first with a range request for the file's tail (one request where
the index fits in TAIL bytes, a second for the rest where it does not), then the payloads
with one range request from where the partial download stands. While the body streams in,
the reader's whole-file engine (ZipwFile.restore_to_fd, told what has arrived) decodes
every run of consecutive chunks whose payloads have all arrived
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
from .._parallel import default_threads
from ..codec import delta
from ..errors import LimitExceededError, ZipWeightsError
from ..format import container, index as fmt_index
from ..reader import ZipwFile, pwrite_all, run_end

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


class _Decoder:
    """Restores `zf` into `fd` as the download's bytes arrive (`arrived(n)`), on a thread
    of its own that runs the reader's whole-file engine (ZipwFile.restore_to_fd, sha256
    checked) with this object as its `arrival`: each run is taken once its payloads are
    in, and the pages of `mm` the decode is done with are handed back."""

    def __init__(self, zf: ZipwFile, mm, fd: int, threads: int):
        self.zf = zf
        self._cond = threading.Condition()
        self._have = 0
        self._aborted = False
        self.error: BaseException | None = None
        # a COPY chunk decodes an earlier entry's payload again: keep every byte then
        copies = any((e.chunks["codec"] == delta.COPY).any() for e in zf.entries if len(e.chunks))
        self.behind = _Room(None if copies else mm, self._cond)
        # Where the decode is slower than the link (10 Gbit/s here), what arrived and is
        # not yet decoded would pile up in memory: the download waits while it is more
        # than `ahead` bytes past the decode (payloads released behind it). At least two
        # runs' payloads, so the run the decode waits for is always in.
        parts, target, _ = zf.whole_runs()
        ends = [run_end(run) for _, _, run, _ in zf._runs(parts, target)]
        widest = max((b - a for a, b in zip([0] + ends, ends)), default=0)
        self._ahead = None if copies else max(AHEAD, 2 * widest)
        self._thread = threading.Thread(target=self._run, args=(fd, threads), name="zipw-stream-decode",
                                        daemon=True)
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
            while n - self.behind.position() > self._ahead and not self._aborted and self.error is None:
                self._cond.wait(0.1)

    def abort(self) -> None:
        with self._cond:
            self._aborted = True
            self._cond.notify_all()

    stop = abort  # the engine's call when one of its workers fails

    def wait(self, end: int) -> None:
        """The engine's call before a run: returns once bytes [0, end) are in."""
        with self._cond:
            while self._have < end and not self._aborted:
                self._cond.wait()
            if self._aborted:
                raise _Aborted()

    def _run(self, fd: int, threads: int) -> None:
        try:
            self.zf.restore_to_fd(fd, threads, True, None, arrival=self)
        except BaseException as exc:
            self.error = exc
            with self._cond:
                self._cond.notify_all()

    def join(self) -> None:
        self._thread.join()


class _Room(Behind):
    """Behind that also wakes a download waiting for the decode to catch up."""

    def __init__(self, mm, cond: threading.Condition):
        super().__init__(mm)
        self._room = cond

    def done(self, job: int, end: int) -> None:
        super().done(job, end)
        with self._room:
            self._room.notify_all()


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
            pwrite_all(fd, memoryview(mm)[have:size], have)
            bar.update(size - have)
            have = size
        arrived(size)
        decoder = state["decoder"]
        if decoder is None:
            stack.close()
            return Result(None, partial)
        decoder.join()
        if decoder.error is not None:
            raise decoder.error  # a chunk that did not decode, or the sha256 (ChecksumMismatchError)
        sha = state["zf"].original_sha256
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
            pwrite_all(fd, memoryview(mm)[flushed:have], flushed)
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
