"""atheris target: the container frame (zipweights/format/container.py).

The input is a whole .zipw file (seeds: spec/vectors and small real files): its first
16 bytes go to read_header, its last 32 bytes to read_trailer (with the input's length
as the file size). Both must return or raise a ZipWeightsError; what they return must
satisfy the rules they check (spec/FORMAT.md sections 3 and 4).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import main, refused  # noqa: E402

from zipweights.format import container  # noqa: E402


def TestOneInput(data: bytes) -> None:
    version = refused(container.read_header, data[: container.HEADER_SIZE], "fuzz")
    if version is not None:
        assert data[:8] == container.MAGIC and 1 <= version <= container.FORMAT_VERSION, version
    tail = data[-container.TRAILER_SIZE :] if len(data) >= container.TRAILER_SIZE else data
    if len(tail) != container.TRAILER_SIZE:
        tail = tail.rjust(container.TRAILER_SIZE, b"\0")  # a short file: the size check must refuse
    got = refused(container.read_trailer, tail, len(data), "fuzz")
    if got is not None:
        offset, length, _ = got
        assert len(data) >= container.HEADER_SIZE + container.TRAILER_SIZE
        assert offset >= container.HEADER_SIZE and offset + length == len(data) - container.TRAILER_SIZE


if __name__ == "__main__":
    main(TestOneInput)
