"""z4ai 0.2.0's delta mode: z4ai.model_delta (name-aligned per-tensor XOR delta, each
tensor kept as COPY, DELTA or FULL, whichever is smaller).

  compress(target_bytes, base_bytes, threads=T)   T = plane workers (1 = single-threaded)
  decompress(blob, base_bytes)                    no thread option

Both take the base's bytes: the job reads the base file (or, in a chain, restores the
previous link in memory first, from its own base).
"""
import z4ai
import z4ai.model_delta as md

from .delta_base import DeltaTool, read_file, write_file


class Z4aiDelta(DeltaTool):
    name = "z4ai"
    version = z4ai.__version__
    dec_threads = False
    note = "model_delta.compress(ft, base, threads=T) / decompress(blob, base): decompress has no thread option"

    def compress(self, ft, base, dst, threads):
        write_file(dst, md.compress(read_file(ft), read_file(base.raw), threads=threads))

    def decompress(self, src, base, out, threads):
        write_file(out, md.decompress(read_file(src), self.restore_bytes(base, threads)))

    def decode_bytes(self, blob, base, threads):
        return md.decompress(blob, base)


def tools():
    return [Z4aiDelta()]
