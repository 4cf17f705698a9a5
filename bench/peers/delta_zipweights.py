"""zipweights' delta: `compress_file(ft, dst, base=...)` / `decompress_file(src, dst, base=...)`.

The base is given as a path: the plain base file for a fine-tune (or the first
checkpoint), the previous link's .zipw in a chain (zipweights resolves that link's own
base from its base record). threads = zipweights' `threads=` at both ends; the restore
checks the whole-file sha256 (the default), as a user gets it.
"""
import zipweights

from .delta_base import DeltaTool
from .tool_zipweights import _version


class ZipweightsDelta(DeltaTool):
    name = "zipweights"
    note = "compress_file/decompress_file(..., base=path, threads=T); restore checks its sha256"

    def __init__(self):
        self.version = _version()

    def compress(self, ft, base, dst, threads):
        zipweights.compress_file(ft, dst, base=base.stored, threads=threads, force=True)

    def decompress(self, src, base, out, threads):
        zipweights.decompress_file(src, out, base=base.stored, threads=threads, force=True)


def tools():
    import inspect

    if "base" not in inspect.signature(zipweights.compress_file).parameters:
        raise ImportError("zipweights.compress_file has no base= yet")
    return [ZipweightsDelta()]
