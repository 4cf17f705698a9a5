"""ZipwFile.read_many: many tensors decoded on one set of workers, each into its own
buffer, exactly as read_bytes decodes them one by one; the same refusals."""

from __future__ import annotations

import pytest

from zipweights.errors import InvalidArgumentError, LimitExceededError, TensorNotFoundError
from zipweights.reader import ZipwFile


@pytest.mark.parametrize("threads", [1, 2, None])
def test_read_many_matches_read_bytes(mixed_files, threads):
    with ZipwFile(mixed_files["zipw"]) as zf:
        names = [e.name for e in zf.entries]
        outs = [bytearray(zf.tensor(n).length) for n in names]
        # by name and by entry, in any order
        half = len(names) // 2
        zf.read_many(names[:half] + [zf.tensor(n) for n in names[half:]], outs, threads)
        for n, out in zip(names, outs):
            assert bytes(out) == bytes(zf.read_bytes(n, threads=1)), n


def test_read_many_refuses_what_it_cannot_fill(mixed_files):
    with ZipwFile(mixed_files["zipw"]) as zf:
        e = zf.tensor("big.f32")
        with pytest.raises(InvalidArgumentError, match="needs"):
            zf.read_many([e], [bytearray(e.length - 1)])
        with pytest.raises(InvalidArgumentError, match="output buffers"):
            zf.read_many([e], [])
        with pytest.raises(InvalidArgumentError, match="read-only"):
            zf.read_many([e], [bytes(e.length)])
        with pytest.raises(TensorNotFoundError):
            zf.read_many(["no such tensor"], [bytearray(0)])
    with ZipwFile(mixed_files["zipw"], max_output_size=e.length - 1) as zf:
        with pytest.raises(LimitExceededError, match="all tensors together"):
            zf.read_many([e], [bytearray(e.length)])
