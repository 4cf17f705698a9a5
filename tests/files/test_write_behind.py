"""One decode thread writes through reader._WriteBehind (a thread of its own that
writes, and hashes, the runs in order while the next one decodes). These tests force
that path whatever this machine's core count is, and check what it must keep: the
bytes and their order, the sha256 over them, a write error that stops the decode
(raised, not hung, not swallowed), and bounded buffers."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

import zipweights
import zipweights.reader as reader
from zipweights.errors import ChecksumMismatchError
from zipweights.reader import ZipwFile


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(reader, "default_threads", lambda: 2)


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    """A safetensors file of many decode runs (small chunks, > DEPTH runs of BATCH_BYTES)."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(11)
    tensors = {f"t{k}": (rng.standard_normal(300_000 + 977 * k) * 0.02).astype(np.float32) for k in range(6)}
    d = tmp_path_factory.mktemp("wb")
    st = d / "m.safetensors"
    save_file(tensors, str(st))
    zw = d / "m.safetensors.zipw"
    zipweights.compress_file(st, zw, chunk_size=64 << 10)
    return st, zw


@pytest.mark.parametrize("sha256", [False, True])
def test_one_thread_restore_is_byte_exact(tmp_path, two_cores, many_runs, sha256):
    st, zw = many_runs
    made = []
    real = reader._WriteBehind.__init__

    def spy(self, *a, **kw):
        made.append(self)
        real(self, *a, **kw)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(reader._WriteBehind, "__init__", spy)
        out = zipweights.decompress_file(zw, tmp_path / "out.safetensors", threads=1, check_sha256=sha256)
    assert len(made) == 1  # the path under test was taken
    assert made[0]._made <= reader._WriteBehind.DEPTH  # buffers stay bounded
    data = open(out, "rb").read()
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(st.read_bytes()).hexdigest()


def test_one_thread_sha256_sees_the_bytes_in_order(tmp_path, two_cores, many_runs):
    # the stored sha256 rewritten: the hash taken on the writer thread must catch it
    st, zw = many_runs
    with ZipwFile(zw) as zf:
        zf.index.original_sha256 = bytes(32)
        fd = os.open(tmp_path / "o", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            with pytest.raises(ChecksumMismatchError):
                zf.restore_to_fd(fd, 1, True, None)
        finally:
            os.close(fd)
    assert open(tmp_path / "o", "rb").read() == st.read_bytes()  # every run still written, in place


_FAILING_WRITE = r"""
import os, resource, signal, sys
import zipweights.reader as reader
from zipweights.reader import ZipwFile
reader.default_threads = lambda: 2
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
decoded = []
with ZipwFile(sys.argv[1]) as zf:
    real = zf._decode_chunk
    zf._decode_chunk = lambda *a: (decoded.append(1), real(*a))[1]
    n_chunks = sum(len(e.chunks) for e in zf.entries)
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        zf.restore_to_fd(fd, 1, False, None)
    except OSError as exc:
        print(exc.errno, len(decoded), n_chunks)
"""


def test_write_error_stops_the_decode(tmp_path, many_runs):
    # the first MiB is written, then every write fails (EFBIG) on the writer thread:
    # the decode must raise that error, not hang and not finish as if all were written
    import errno
    import subprocess
    import sys

    st, zw = many_runs
    r = subprocess.run([sys.executable, "-c", _FAILING_WRITE, str(zw), str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    code, decoded, n_chunks = map(int, r.stdout.split())
    assert code == errno.EFBIG
    # it stopped within the buffers in flight, not after decoding everything
    per_run = max(1, reader.BATCH_BYTES // (64 << 10))
    assert decoded <= (1 + reader._WriteBehind.DEPTH + 2) * per_run < n_chunks
