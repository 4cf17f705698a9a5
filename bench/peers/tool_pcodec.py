"""pcodec (standalone format, default level 8), per tensor on typed arrays.
pcodec's Python API takes 1-D numpy arrays of u/i16-64 and f16/f32/f64, not
bfloat16: BF16 tensors are viewed as uint16 (a lossless reinterpretation, what
a user would do; upcasting to float32 gave the same size in our test). Other
dtypes pcodec does not take (bool, u8, ...) are stored raw. Tensors are coded
over `threads` Python threads (pcodec itself is single-threaded)."""
import importlib.metadata

import numpy as np
from pcodec import ChunkConfig, standalone

from .base import PerTensor

NP = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32, "F64": np.float64,
      "I64": np.int64, "I32": np.int32, "I16": np.int16, "U64": np.uint64,
      "U32": np.uint32, "U16": np.uint16}
RAW, PCO = 0, 1


class Pcodec(PerTensor):
    name = "pcodec"
    version = importlib.metadata.version("pcodec")
    slow = True

    def encode(self, dtype, raw):
        if dtype not in NP or len(raw) == 0:
            return RAW, bytes(raw)
        return PCO, standalone.simple_compress(np.frombuffer(raw, dtype=NP[dtype]), ChunkConfig())

    def decode(self, kind, payload):
        if kind == RAW:
            return bytes(payload)
        return standalone.simple_decompress(bytes(payload)).tobytes()


def peers():
    return [Pcodec()]
