"""Shared peer interface and safetensors helpers.

A peer compresses one whole safetensors file. The timed job is file to file:
read the input (from page cache), code it, write the output. Peers with a
bytes API get the file version for free; peers with a file API override it.
"""
import json
import struct
from concurrent.futures import ThreadPoolExecutor


def read_file(path):
    """A fresh, writable buffer with the file's bytes (some tools clobber it)."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        buf = bytearray(f.tell())
        f.seek(0)
        f.readinto(buf)
    return buf


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


class Peer:
    name = "?"
    version = "?"
    slow = False          # slow compress: one run, 1 thread only
    has_delta = False

    def compress(self, data, threads):
        raise NotImplementedError

    def decompress(self, blob, threads):
        raise NotImplementedError

    # Delta mode (fine-tune vs base), only where the tool has one.
    def compress_delta(self, data, ref, threads):
        raise NotImplementedError

    def decompress_delta(self, blob, ref, threads):
        raise NotImplementedError

    # The timed jobs.
    def compress_file(self, src, dst, threads):
        write_file(dst, self.compress(read_file(src), threads))

    def decompress_file(self, src, dst, threads):
        write_file(dst, self.decompress(read_file(src), threads))

    def compress_delta_file(self, src, ref, dst, threads):
        write_file(dst, self.compress_delta(read_file(src), read_file(ref), threads))

    def decompress_delta_file(self, src, ref, dst, threads):
        write_file(dst, self.decompress_delta(read_file(src), read_file(ref), threads))


def tensors(blob):
    """(prefix_len, [(dtype, begin, end)] in file order) of a safetensors buffer.

    prefix = 8-byte length + JSON header; offsets are relative to the file start.
    """
    (n,) = struct.unpack_from("<Q", blob, 0)
    hdr = json.loads(bytes(blob[8 : 8 + n]))
    hdr.pop("__metadata__", None)
    start = 8 + n
    out = [(v["dtype"], start + v["data_offsets"][0], start + v["data_offsets"][1])
           for v in hdr.values()]
    return start, sorted(out, key=lambda t: t[1])


class PerTensor(Peer):
    """Container for tools that need typed arrays: the safetensors prefix stored
    verbatim, then per tensor a kind byte, a u64 length and the tool's payload.
    Tensors are coded in parallel over `threads` Python threads."""

    def encode(self, dtype, raw):            # -> (kind, payload)
        raise NotImplementedError

    def decode(self, kind, payload):         # -> bytes
        raise NotImplementedError

    def compress(self, data, threads):
        mv = memoryview(data)
        start, ts = tensors(mv)
        pos, spans = start, []
        for dtype, b, e in ts:
            if b != pos:
                raise ValueError("non-contiguous safetensors data")
            spans.append((dtype, b, e))
            pos = e
        if pos != len(mv):
            raise ValueError("trailing bytes after tensors")
        with ThreadPoolExecutor(max(1, threads)) as ex:
            parts = list(ex.map(lambda t: self.encode(t[0], mv[t[1]:t[2]]), spans))
        out = [struct.pack("<Q", start), bytes(mv[:start])]
        for kind, payload in parts:
            out.append(struct.pack("<BQ", kind, len(payload)))
            out.append(payload)
        return b"".join(out)

    def decompress(self, blob, threads):
        mv = memoryview(blob)
        (start,) = struct.unpack_from("<Q", mv, 0)
        prefix = mv[8 : 8 + start]
        pos, items = 8 + start, []
        while pos < len(mv):
            kind, n = struct.unpack_from("<BQ", mv, pos)
            pos += 9
            items.append((kind, mv[pos : pos + n]))
            pos += n
        with ThreadPoolExecutor(max(1, threads)) as ex:
            parts = list(ex.map(lambda it: self.decode(*it), items))
        return b"".join([bytes(prefix)] + parts)
