"""zstd via python-zstandard, whole file. threads=1 -> zstd's single-threaded
mode (threads=0 in python-zstandard); threads=N>1 -> N compression workers.
zstd decompression is single-threaded whatever `threads` says."""
import zstandard

from .base import Peer


class Zstd(Peer):
    def __init__(self, level):
        self.level = level
        self.name = f"zstd-{level}"
        self.version = zstandard.__version__
        self.slow = level >= 19

    def compress(self, data, threads):
        return zstandard.ZstdCompressor(level=self.level, threads=0 if threads <= 1 else threads,
                                        write_content_size=True).compress(data)

    def decompress(self, blob, threads):
        return zstandard.ZstdDecompressor().decompress(blob)


def peers():
    return [Zstd(3), Zstd(19)]
