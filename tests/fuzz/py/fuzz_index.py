"""atheris target: the index parser (zipweights/format/index.py, decode).

Input: 8 bytes (little-endian u64: the payload area's end, i.e. the index offset), then
the index bytes (seeds: the indexes of spec/vectors and small real files, with their real
offsets). decode must return or raise a ZipWeightsError; an index it returns must obey
spec/FORMAT.md section 5 (entries tile the original, chunk counts and payload ranges),
and encode(decode(b)) must give b back (the layout has one encoding).
"""

from __future__ import annotations

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import main, refused  # noqa: E402

from zipweights.format import container, index as fmt_index  # noqa: E402


def TestOneInput(data: bytes) -> None:
    if len(data) < 8:
        return
    (payload_end,) = struct.unpack_from("<Q", data)
    blob = data[8:]
    idx = refused(fmt_index.decode, blob, payload_end, "fuzz")
    if idx is None:
        return
    pos = len(idx.prefix)
    for e in idx.entries:
        assert e.offset == pos and e.length >= 0
        pos += e.length
        assert len(e.chunks) == fmt_index.chunk_count(e.length, e.chunk_size)
        for row in e.chunks:
            assert container.HEADER_SIZE <= int(row["offset"]) <= int(row["offset"]) + int(row["length"]) <= payload_end
    assert pos == idx.original_size
    assert fmt_index.encode(idx) == blob


if __name__ == "__main__":
    main(TestOneInput)
