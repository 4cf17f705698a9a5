"""Shared by the atheris targets: what counts as a finding, and the atheris entry point.

A target's TestOneInput(data) lets a ZipWeightsError (the library's refusal) pass and
lets every other exception propagate: under atheris that is a crash report with the
input saved; under the replay test (tests/fuzz/test_fuzz_replay.py) a failing test.
Nothing here imports atheris until main() runs, so the replay needs no atheris.
"""

from __future__ import annotations

import os
import sys

from zipweights.errors import ZipWeightsError


def refused(fn, *args, **kwargs):
    """fn(*args, **kwargs), or None when it raises a ZipWeightsError (a clean refusal)."""
    try:
        return fn(*args, **kwargs)
    except ZipWeightsError:
        return None


def _tolerating(test_one_input, names: set[str], outdir: str):
    """test_one_input, except that exceptions whose class name is in `names` (findings
    already known and reported) are logged, one input and traceback per distinct
    (class, innermost zipweights frame), instead of stopping the campaign."""
    import hashlib
    import traceback

    seen: dict[tuple, int] = {}

    def run(data: bytes) -> None:
        try:
            test_one_input(data)
        except Exception as exc:  # noqa: BLE001 - re-raised unless known
            if type(exc).__name__ not in names:
                raise
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "zipweights" in f.filename]
            where = (frames[-1].filename.split("zipweights")[-1], frames[-1].lineno) if frames else ("?", 0)
            key = (type(exc).__name__, where)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] == 1:
                os.makedirs(outdir, exist_ok=True)
                name = "known-" + hashlib.sha1(data).hexdigest()[:16]
                with open(os.path.join(outdir, name), "wb") as f:
                    f.write(data)
                with open(os.path.join(outdir, name + ".txt"), "w") as f:
                    f.write("".join(traceback.format_exception(exc)))
                print(f"zwfuzz: known finding {key[0]} at {where[0]}:{where[1]} saved as {name}", file=sys.stderr)

    return run


def main(test_one_input) -> None:
    """Run `test_one_input` under atheris (libFuzzer flags from sys.argv).

    ZWF_TOLERATE=ClassName,... (campaigns only): exceptions of those classes are logged
    to ZWF_KNOWN_DIR (default: the working folder) instead of ending the run, so a
    finding already reported does not stop the search for others."""
    import atheris

    names = {n for n in os.environ.get("ZWF_TOLERATE", "").split(",") if n}
    if names:
        test_one_input = _tolerating(test_one_input, names, os.environ.get("ZWF_KNOWN_DIR", "."))
    atheris.instrument_all()  # coverage of every Python function already imported
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
