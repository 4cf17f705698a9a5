"""Delta tools for bench/delta_bench.py: a fine-tune (or checkpoint) coded against a base.

A tool codes one safetensors file `ft` against a base and restores it, file to file.
The base is a `Ref`: a checkpoint as the tool stores it.

  Ref.raw     the checkpoint's own safetensors file (what a writer has on disk or in
              memory when it saves the next checkpoint; a reader may not have it)
  Ref.stored  the tool's stored form of it: for the anchor of a chain (a plain base
              model) the raw file itself, or what `prepare_anchor` made of it (lmzip
              keeps its base inside its archive); for a delta, the tool's output
  Ref.parent  the Ref it was coded against (None for the anchor)

Restoring a delta whose base is itself a delta restores the base first, in whatever
way the tool has: zipweights resolves the chain itself (the base record), the tools
whose delta takes the base's bytes (z4ai, XOR+zstd) get them by restoring the parent
in memory (`restore_bytes`), lmzip reads them out of its archive.

The timed jobs are `compress` and `decompress`; `pre_compress` is untimed setup
(lmzip: a copy of the base archive for `append` to grow, since it appends in place).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass


@dataclass
class Ref:
    raw: str                      # the checkpoint's safetensors file
    stored: str                   # the tool's stored form (raw file for a plain anchor)
    parent: "Ref | None" = None   # what `stored` was coded against

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else 1 + self.parent.depth


def read_file(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data) -> None:
    with open(path, "wb") as f:
        f.write(data)


def st_header(blob):
    """(data_start, {name: (dtype, shape, begin, end)} with absolute offsets, in offset order)."""
    (n,) = struct.unpack_from("<Q", blob, 0)
    hdr = json.loads(bytes(blob[8: 8 + n]))
    hdr.pop("__metadata__", None)
    start = 8 + n
    items = sorted(((k, (v["dtype"], tuple(v["shape"]), start + v["data_offsets"][0],
                         start + v["data_offsets"][1])) for k, v in hdr.items()),
                   key=lambda kv: kv[1][2])
    return start, dict(items)


class DeltaTool:
    name = "?"
    version = "?"
    comp_threads = True           # does compress take a thread count?
    dec_threads = True            # does decompress take a thread count?
    note = ""                     # how it is run (printed under the tables)

    def prepare_anchor(self, raw: str, workdir: str) -> Ref:
        """The stored form of a plain base (untimed). Default: the raw file itself."""
        return Ref(raw=raw, stored=raw)

    def pre_compress(self, ft: str, base: Ref, dst: str) -> None:
        """Untimed setup before each compress."""

    def compress(self, ft: str, base: Ref, dst: str, threads: int) -> None:
        raise NotImplementedError

    def decompress(self, src: str, base: Ref, out: str, threads: int) -> None:
        raise NotImplementedError

    def stored_size(self, dst: str, base: Ref) -> int:
        import os
        return os.path.getsize(dst)

    # For tools whose delta takes the base's bytes: the base's bytes, restored in
    # memory through the chain (an anchor is read from its file).
    def restore_bytes(self, ref: Ref, threads: int) -> bytes:
        if ref.parent is None:
            return read_file(ref.stored)
        return self.decode_bytes(read_file(ref.stored), self.restore_bytes(ref.parent, threads), threads)

    def decode_bytes(self, blob: bytes, base: bytes, threads: int) -> bytes:
        raise NotImplementedError


MODULES = ["delta_zipweights", "delta_z4ai", "delta_lmzip", "delta_xor"]


def load_all(log=print) -> list:
    import importlib

    out = []
    pkg = __name__.rsplit(".", 1)[0]
    for m in MODULES:
        try:
            out += importlib.import_module(f"{pkg}.{m}").tools()
        except Exception as e:  # missing tool or API: skip it, say why
            log(f"skipping {m}: {type(e).__name__}: {e}")
    return out
