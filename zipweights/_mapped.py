"""Read-only file maps that a pass reads front to back, with bounded memory.

A page of a mapped file that has been read stays in the process's resident set until
the map is closed, so compressing or restoring a file through one map grew to the
file's size (a 13 GiB input: 13 GiB resident). `Behind` hands the pages a pass is done
with back to the kernel (MADV_DONTNEED: the mapping's page-table entries go; the data
stays in the page cache, and a later touch reads it from there), so what stays mapped
is about the work in flight, whatever the file's size.
"""

from __future__ import annotations

import mmap
import threading

_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class Behind:
    """Releases the pages of `mm` below what jobs 0, 1, 2, ... (numbered in file order,
    finishing in any order) are done with. `floor`, when given, is a second reader's
    position (the input's sha256 thread): nothing at or above it is released."""

    STEP = 64 << 20  # release in steps this large: one madvise per 64 MiB read

    def __init__(self, mm, floor=None):
        self._mm = mm if isinstance(mm, mmap.mmap) and _DONTNEED is not None else None
        self.floor = floor
        self._lock = threading.Lock()
        self._ends: dict[int, int] = {}
        self._next = 0  # the first job not yet done
        self._done = 0  # bytes of the file every job before _next is done with
        self._released = 0

    def done(self, job: int, end: int) -> None:
        """Job `job` no longer needs the map's bytes below offset `end`."""
        with self._lock:
            self._ends[job] = end
            while self._next in self._ends:
                self._done = max(self._done, self._ends.pop(self._next))
                self._next += 1
            if self._mm is None:
                return
            upto = self._done if self.floor is None else min(self._done, self.floor())
            upto -= upto % mmap.PAGESIZE
            if upto - self._released < self.STEP:
                return
            try:
                self._mm.madvise(_DONTNEED, self._released, upto - self._released)
            except (OSError, ValueError):  # a closed map, or a platform that refuses it
                self._mm = None
                return
            self._released = upto

    def position(self) -> int:
        """The offset below which every job is done."""
        return self._done


def release(mm, start: int, end: int) -> None:
    """Hand the whole pages of `mm` inside [start, end) back (a pass that read a span
    ahead of the main one, as the writer's search for repeated tensors does)."""
    if not isinstance(mm, mmap.mmap) or _DONTNEED is None:
        return
    a = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    b = end - end % mmap.PAGESIZE
    if b > a:
        try:
            mm.madvise(_DONTNEED, a, b - a)
        except (OSError, ValueError):
            pass


_WILLNEED = getattr(mmap, "MADV_WILLNEED", None)


class ReadAhead:
    """Asks the kernel, from a thread of its own, to read [start, end) of the file map
    `mm` in order, WINDOW bytes at a time and at most AHEAD bytes past what the decode
    has reached: from a cold page cache the disk then reads while the workers decode
    what has arrived, instead of each worker's page fault waiting for its own read.
    Submitting a window can block (the device queue is full), hence the thread."""

    WINDOW = 4 << 20
    AHEAD = 64 << 20

    def __init__(self, mm, start: int, end: int, position=None):
        self._mm = mm if isinstance(mm, mmap.mmap) and _WILLNEED is not None else None
        self._start = start - start % mmap.PAGESIZE
        self._end = end
        self._position = position  # the decode's offset (Behind.position), or None
        self._stop = threading.Event()
        self._thread = None
        if self._mm is not None and end - self._start > self.WINDOW:
            self._thread = threading.Thread(target=self._run, name="zipw-readahead", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        pos = self._start
        while pos < self._end and not self._stop.is_set():
            if self._position is not None and pos - self._position() > self.AHEAD:
                self._stop.wait(0.002)  # far enough ahead: let the decode catch up
                continue
            n = min(self.WINDOW, self._end - pos)
            try:
                self._mm.madvise(_WILLNEED, pos, n)
            except (OSError, ValueError):  # a closed map, or a platform that refuses it
                return
            pos += n

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
