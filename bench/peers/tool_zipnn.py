"""ZipNN on the whole file bytes, input_format="byte" with bytearray_dtype set
from the file's float dtype (bfloat16 / float16 / float32). ZipNN reorders its
input buffer in place: the harness hands every call a fresh buffer."""
import importlib.metadata

from zipnn import ZipNN

from .base import Peer, tensors

DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}


def float_dtype(data):
    _, ts = tensors(data)
    sizes = {}
    for dtype, b, e in ts:
        sizes[dtype] = sizes.get(dtype, 0) + e - b
    best = max((d for d in sizes if d in DTYPES), key=sizes.get, default="BF16")
    return DTYPES[best]


class ZipNNPeer(Peer):
    name = "zipnn"
    version = importlib.metadata.version("zipnn")
    has_delta = True   # delta_compressed_type="byte": XOR with the base, then ZipNN

    def compress(self, data, threads):
        z = ZipNN(input_format="byte", bytearray_dtype=float_dtype(data), threads=threads)
        return z.compress(data)

    def decompress(self, blob, threads):
        return ZipNN(input_format="byte", threads=threads).decompress(blob)

    def compress_delta(self, data, ref, threads):
        z = ZipNN(input_format="byte", bytearray_dtype=float_dtype(data), threads=threads,
                  delta_compressed_type="byte")
        return z.compress(data, delta_second_data=ref)

    def decompress_delta(self, blob, ref, threads):
        z = ZipNN(input_format="byte", threads=threads, delta_compressed_type="byte")
        return z.decompress(blob, delta_second_data=ref)


def peers():
    return [ZipNNPeer()]
