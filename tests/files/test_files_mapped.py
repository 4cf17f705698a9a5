"""_mapped.Behind: a front-to-back pass over a mapped file hands back the pages it is
done with (so compress and decompress hold bounded memory), and only those."""

from __future__ import annotations

import hashlib
import mmap
import os

import pytest

from zipweights._mapped import Behind

MiB = 1 << 20


def _resident_kib(path) -> int:
    """Resident KiB of this process's mapping of `path` (/proc/self/smaps)."""
    with open("/proc/self/smaps") as f:
        lines = f.read().splitlines()
    for k, line in enumerate(lines):
        if line.endswith(" " + str(path)):
            for extra in lines[k + 1 :]:
                if extra.startswith("Rss:"):
                    return int(extra.split()[1])
    raise AssertionError(f"no mapping of {path}")


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps") or not hasattr(mmap, "MADV_DONTNEED"),
                    reason="needs Linux's /proc/self/smaps and MADV_DONTNEED")
def test_behind_releases_what_every_earlier_job_is_done_with(tmp_path):
    data = os.urandom(8 * MiB)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    assert hashlib.sha256(view).digest() == hashlib.sha256(data).digest()  # every page touched
    assert _resident_kib(path) >= 8 * 1024 - 64

    behind = Behind(mm)
    behind.STEP = 1 * MiB
    behind.done(1, 4 * MiB)  # job 0 is not done: nothing may go
    assert behind.position() == 0 and _resident_kib(path) >= 8 * 1024 - 64
    behind.done(0, 2 * MiB)  # jobs 0 and 1 done: everything below 4 MiB goes
    assert behind.position() == 4 * MiB
    assert _resident_kib(path) <= 4 * 1024 + 64
    behind.floor = lambda: 5 * MiB  # a second reader at 5 MiB holds what lies above
    behind.done(2, 8 * MiB)
    assert behind.position() == 8 * MiB
    assert behind._released == 5 * MiB and _resident_kib(path) <= 4 * 1024 + 64
    # the released pages read back from the page cache, unchanged
    assert hashlib.sha256(view).digest() == hashlib.sha256(data).digest()
    view.release()
    mm.close()


def test_behind_counts_jobs_without_a_map():
    behind = Behind(b"not a map")  # bytes input: nothing to release, positions still kept
    for job, end in ((2, 30), (0, 10), (1, 20)):
        behind.done(job, end)
    assert behind.position() == 30
