"""lmzip 1.3's delta: XOR against earlier members of the same archive (lmz.append).

lmzip has no "code this file against that file" call: a delta names a chunk already in
its archive. So the base is stored the lmzip way, as an archive of its own
(`lmz.compress(base)`, untimed), and the fine-tune is appended to a copy of it:

  compress    lmz.append(archive, ft, workers=T)     (timed; the copy before it is not)
  decompress  lmz.extract(archive, member, out, workers=T)
  size        archive after the append - archive before it

lmzip decides per tensor (name, dtype and size matched, a sample coded both ways) and
resolves a delta in a single hop: a tensor stored as a difference is never a base, so
in a chain every checkpoint is coded against the first one (the anchor). The restore
decodes the base chunks it needs from the archive (the base is compressed there, not
given raw as to the other tools).
"""
import os
import shutil

import lmz

from .delta_base import DeltaTool, Ref


class LmzipDelta(DeltaTool):
    name = "lmzip"
    version = lmz.__version__
    note = ("base stored as its own lmz archive (untimed); compress = lmz.append(copy, ft, workers=T), "
            "decompress = lmz.extract(archive, member, out, workers=T); size = growth of the archive")

    def __init__(self):
        self._member = {}

    def prepare_anchor(self, raw, workdir):
        dst = os.path.join(workdir, os.path.basename(raw) + ".lmz")
        if os.path.exists(dst):
            os.remove(dst)
        lmz.compress(raw, dst)
        return Ref(raw=raw, stored=dst)

    def pre_compress(self, ft, base, dst):
        shutil.copyfile(base.stored, dst)
        self._member[os.path.abspath(dst)] = os.path.basename(ft)

    def compress(self, ft, base, dst, threads):
        lmz.append(dst, ft, workers=threads)

    def decompress(self, src, base, out, threads):
        lmz.extract(src, self._member[os.path.abspath(src)], out, overwrite=True, workers=threads)

    def stored_size(self, dst, base):
        return os.path.getsize(dst) - os.path.getsize(base.stored)


def tools():
    return [LmzipDelta()]
