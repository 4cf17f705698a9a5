"""Ordered parallel map: run jobs on a thread pool, hand back results in job order.

The kernels release the GIL, so threads give real parallelism; a bounded window of
jobs in flight keeps memory at threads x chunk size whatever the file size.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def ordered_map(
    fn: Callable[[T], R], jobs: Iterable[T], threads: int, window: int | None = None
) -> Iterator[tuple[T, R]]:
    """Yield (job, fn(job)) in job order; the first exception propagates and the
    jobs not yet started are dropped. At most `window` jobs (default 2 x threads + 2)
    are taken from `jobs` before the oldest is yielded."""
    if threads <= 1:
        for job in jobs:
            yield job, fn(job)
        return
    window = window or 2 * threads + 2
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="zipw") as pool:
        pending: deque = deque()
        try:
            for job in jobs:
                pending.append((job, pool.submit(fn, job)))
                if len(pending) >= window:
                    j, fut = pending.popleft()
                    yield j, fut.result()
            while pending:
                j, fut = pending.popleft()
                yield j, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()
