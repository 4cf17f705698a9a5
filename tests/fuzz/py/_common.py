"""Shared by the atheris targets: what counts as a finding, and the atheris entry point.

A target's TestOneInput(data) lets a ZipWeightsError (the library's refusal) pass and
lets every other exception propagate: under atheris that is a crash report with the
input saved; under the replay test (tests/fuzz/test_fuzz_replay.py) a failing test.
Nothing here imports atheris until main() runs, so the replay needs no atheris.
"""

from __future__ import annotations

import sys

from zipweights.errors import ZipWeightsError


def refused(fn, *args, **kwargs):
    """fn(*args, **kwargs), or None when it raises a ZipWeightsError (a clean refusal)."""
    try:
        return fn(*args, **kwargs)
    except ZipWeightsError:
        return None


def main(test_one_input) -> None:
    """Run `test_one_input` under atheris (libFuzzer flags from sys.argv)."""
    import atheris

    atheris.instrument_all()  # coverage of every Python function already imported
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
