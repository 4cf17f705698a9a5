"""Progress: plain lines (no carriage returns) when stderr is not a terminal, at most a
line a tenth; a run over several files has one bar over all of them, which the files'
bars move in proportion (a restored file counts its compressed bytes there)."""

from __future__ import annotations

import subprocess

from _zipw_cli import run, small_st, zipw_command

from zipweights._progress import Progress


def test_verbose_into_a_file_writes_plain_lines(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(small_st(n=2_000_000))  # 8 MB: several chunks
    log = tmp_path / "log.txt"
    with open(log, "wb") as f:
        r = subprocess.run([*zipw_command(), "compress", "-v", "-T", "1", str(src)],
                           stderr=f, stdout=subprocess.PIPE)
    assert r.returncode == 0
    text = log.read_bytes()
    assert b"\r" not in text
    lines = text.decode().splitlines()
    steps = [line for line in lines if line.startswith("s.safetensors: ") and "%" in line and "->" not in line]
    assert 2 <= len(steps) <= 10 and steps[-1].startswith("s.safetensors: 100%")
    assert lines[-1].startswith(f"{src}: 8.0 MB ->")


def test_overall_lines_for_several_files(tmp_path):
    for n in "ab":
        (tmp_path / f"{n}.safetensors").write_bytes(small_st(n=1_000_000))
    r = run("compress", "-v", "-T", "1", tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    assert r.returncode == 0
    overall = [line for line in r.stderr.decode().splitlines() if line.startswith("file ")]
    assert overall[0].startswith("file 1/2: 10%") and overall[-1].startswith("file 2/2: 100%")


def test_parent_moves_by_share():
    parent = Progress(100, "all", show=False)
    child = Progress(1000, "one", show=False, parent=parent, share=40)
    child(500)
    assert parent.done == 20
    child(250)
    assert parent.done == 30
    child.close()  # what the work did not report still reaches the parent
    assert parent.done == 40
    other = Progress(60, "two", show=False, parent=parent)
    other(60)
    other.close()
    assert parent.done == 100
