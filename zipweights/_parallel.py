"""Running jobs on threads: the kernels release the GIL, so threads give real parallelism.

- run_shared: one long task per worker, each taking the next job from a shared
  iterator; no result comes back, so a worker keeps its buffers (and its core's cache),
  and whatever must happen in order (a hash, an append) is passed between workers
  with Turns. The reader and writer stream this way.
"""

from __future__ import annotations

import os
import threading


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Stopped(Exception):
    """Tells the workers to stop (the caller was interrupted)."""


class Turns:
    """A serial stage (a hash, an append) handed from worker to worker in job order:
    the worker holding job k waits for turn k, does the stage, and passes the turn on.
    `stop` (run_shared's on_fail) wakes every waiter, which then raises _Stopped."""

    def __init__(self):
        self._cond = threading.Condition()
        self._next = 0
        self._stopped = False

    def is_ours(self, k: int) -> bool:
        return self._next == k  # a peek: the turn only ever moves towards k

    def wait(self, k: int) -> None:
        with self._cond:
            while self._next != k and not self._stopped:
                self._cond.wait()
            if self._stopped:
                raise _Stopped()

    def pass_on(self, k: int) -> None:
        with self._cond:
            self._next = k + 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()


def run_shared(fn, jobs, threads: int, on_fail=None) -> None:
    """fn(job) for every job, on `threads` workers that each take the next job from one
    shared iterator; the first error stops them (and calls `on_fail`, which must wake
    any worker that waits on the others). Unlike a pool's map, results are not handed
    back, so a worker keeps its own buffers (and caches) from job to job."""
    jobs = iter(jobs)
    if threads <= 1:
        for job in jobs:
            fn(job)
        return
    failed: list[BaseException] = []
    lock = threading.Lock()  # a generator must not be resumed by two threads at once
    end = object()

    def fail(exc):
        with lock:
            failed.append(exc)
        if on_fail is not None:
            on_fail()

    go = threading.Event()

    def worker():
        # Every worker waits until all have started: a worker that started first would
        # otherwise hold the GIL between its kernel calls and delay the next one's start
        # by up to the interpreter's switch interval (measured: 4 ms of a 30 ms job).
        go.wait()
        try:
            while not failed:
                with lock:
                    job = next(jobs, end)
                if job is end:
                    return
                fn(job)
        except BaseException as exc:
            fail(exc)

    workers = [threading.Thread(target=worker, name=f"zipw-{t}", daemon=True) for t in range(threads)]
    for t in workers:
        t.start()
    go.set()
    try:
        for t in workers:
            t.join()
    except BaseException:  # interrupted: stop the workers before leaving
        fail(_Stopped())
        for t in workers:
            t.join()
        raise
    if failed:
        raise failed[0]
