"""zipweights through its file API (compress_file / decompress_file).

  zipweights     default level, decompressed with the default checks (every chunk's
                 xxh3-64, as `zipw decompress` does)
  zipweights-9   maximum level (slow: one compress run at 1 thread)
  zipweights --sha256   default level, decompressed with the whole-file sha256 check
                 as well (`zipw decompress --sha256`, what `zipw verify` costs): shown
                 in the speed table only (same bytes as `zipweights`)

The version string carries a hash of the zipweights/ and csrc/ sources (and the
built extension), so cached results are retimed whenever the code changes, even
uncommitted.
"""
import glob
import hashlib
import os

import zipweights

from .base import Peer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _version():
    h = hashlib.sha256()
    files = []
    for pat in ("zipweights/**/*.py", "zipweights/**/*.so", "csrc/**/*.[ch]"):
        files += glob.glob(os.path.join(ROOT, pat), recursive=True)
    for p in sorted(files):
        h.update(os.path.relpath(p, ROOT).encode())
        with open(p, "rb") as f:
            h.update(f.read())
    return f"{getattr(zipweights, '__version__', '0')}+src{h.hexdigest()[:10]}"


class Zipweights(Peer):
    def __init__(self, level=None, sha256=False):
        self.level = level
        self.sha256 = sha256
        self.name = ("zipweights" if level is None else f"zipweights-{level}") + (" --sha256" if sha256 else "")
        self.version = _version()
        self.slow = level is not None and level >= 9
        self.speed_only = sha256

    def compress_file(self, src, dst, threads):
        kw = {} if self.level is None else {"level": self.level}
        zipweights.compress_file(src, dst, threads=threads, force=True, **kw)

    def decompress_file(self, src, dst, threads):
        zipweights.decompress_file(src, dst, threads=threads, force=True, check_sha256=self.sha256)


def peers():
    if not hasattr(zipweights, "compress_file") or not hasattr(zipweights, "decompress_file"):
        raise ImportError("zipweights.compress_file/decompress_file not there yet "
                          "(being written); skipping zipweights")
    return [Zipweights(), Zipweights(sha256=True), Zipweights(9)]
