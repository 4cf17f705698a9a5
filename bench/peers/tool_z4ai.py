"""z4ai 0.2.0, two settings.

z4ai exposes a zstd `level` (1..22, default 1: its README notes ratio is not
monotonic in level on byte-transposed floats) and an `effort` tier (None =
default streaming codec, "balanced", "max" = adds the brotli/context backend
from the [maxratio] extra and keeps the smaller frame).

  z4ai      default settings through z4ai's own safetensors container
            (z4ai.safetensors.compress_bytes: per-tensor frames, tied-tensor
            dedup, index), workers = threads.
  z4ai-max  effort="max" per tensor (z4ai.compress(raw, dtype=..., effort="max"));
            z4ai's safetensors container has no effort knob, so tensors go in the
            harness's per-tensor container. Its brotli stage runs on z4ai's own
            process-wide pool of cpu_count threads whatever `threads` says.

Delta (fine-tune vs base): z4ai.model_delta, name-aligned per-tensor XOR delta.
"""
import z4ai
import z4ai.model_delta
import z4ai.safetensors as zst

from .base import Peer, PerTensor

CODES = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F64": "fp64", "I64": "int64",
         "I32": "int32", "I16": "int16", "U8": "uint8", "I8": "int8"}


class Z4ai(Peer):
    name = "z4ai"
    version = z4ai.__version__
    has_delta = True

    def compress(self, data, threads):
        return zst.compress_bytes(bytes(data), threads=0, workers=threads)

    def decompress(self, blob, threads):
        return zst.decompress_bytes(bytes(blob), workers=threads)

    def compress_delta(self, data, ref, threads):
        return z4ai.model_delta.compress(bytes(data), bytes(ref), threads=threads)

    def decompress_delta(self, blob, ref, threads):
        return z4ai.model_delta.decompress(bytes(blob), bytes(ref))


class Z4aiMax(PerTensor):
    name = "z4ai-max"
    version = z4ai.__version__
    slow = True

    def encode(self, dtype, raw):
        return 0, z4ai.compress(bytes(raw), dtype=CODES.get(dtype), effort="max", threads=1)

    def decode(self, kind, payload):
        return bytes(z4ai.decompress(bytes(payload)))


def peers():
    return [Z4ai(), Z4aiMax()]
