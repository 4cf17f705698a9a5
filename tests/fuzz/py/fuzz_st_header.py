"""atheris target: the safetensors header parser (zipweights/format/safetensors_header.py).

The input is a whole safetensors file (seeds: spec/vectors/*.safetensors and a small real
file); parse(data, len(data)) must return or raise a ZipWeightsError
(InvalidSafetensorsError). A header it accepts must have tensors that tile the data
section, and build() of what it parsed must give a header that parses to the same
tensors and metadata.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import main, refused  # noqa: E402

from zipweights.format import safetensors_header as sth  # noqa: E402


def TestOneInput(data: bytes) -> None:
    h = refused(sth.parse, data, len(data), "fuzz")
    if h is None:
        return
    pos = 0
    for t in h.tensors:
        assert t.begin == pos and t.end >= t.begin
        pos = t.end
    assert pos == len(data) - h.data_start
    rebuilt = sth.build([(t.name, t.dtype_name, t.shape, t.end - t.begin) for t in h.tensors], h.metadata)
    h2 = sth.parse(rebuilt + data[h.data_start :], len(rebuilt) + len(data) - h.data_start, "rebuilt")
    assert [(t.name, t.dtype_name, t.shape, t.end - t.begin) for t in h2.tensors] == [
        (t.name, t.dtype_name, t.shape, t.end - t.begin) for t in h.tensors
    ]
    assert h2.metadata == h.metadata


if __name__ == "__main__":
    main(TestOneInput)
