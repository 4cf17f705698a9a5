"""Every output of `zipw` as safe as gzip's and zstd's (issue #11, part 5).

Real files, real subprocesses, real signals: outputs keep the input's mode and times;
SIGINT/SIGTERM/SIGHUP/SIGKILL mid-run leave nothing but the input (O_TMPFILE, or a
named temporary file that the next run removes); folder walks skip temporary files,
bad links and their own output; the same-file check follows links; -o never replaces
what is not a regular file; -c writes to stdout; exit codes and OS errors name the
user's path; the writer refuses what the reader would refuse.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import pty
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys

import numpy as np
import pytest

import zipweights
from zipweights import _fileio, cli
from zipweights.format import safetensors_header as sth

EXE = shutil.which("zipw") or os.path.join(os.path.dirname(sys.executable), "zipw")
TEMP_RE = re.compile(r"\.zipw-tmp-")
MTIME_NS = 1_234_567_890_123_456_789  # 2009-02-13, with nanoseconds


def _listing(d) -> list[str]:
    return sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _small_st(seed=0, n=3000) -> bytes:
    x = (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)
    return sth.build([("w", "F32", (n,), 4 * n)], {"format": "pt"}) + x.tobytes()


def _default_signals():
    # a child of a shell job may inherit SIGINT ignored; zipw must see the defaults
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


def _zipw(*args, env=None, preexec_fn=_default_signals, **kw):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True,
                          env=env, preexec_fn=preexec_fn, **kw)


# -- 1. mode, owner and times ----------------------------------------------------------------
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_outputs_keep_mode_and_mtime(tmp_path, mode):
    src = tmp_path / "s.safetensors"
    data = _small_st()
    src.write_bytes(data)
    os.chmod(src, mode)
    os.utime(src, ns=(MTIME_NS, MTIME_NS))
    assert cli.main(["compress", "-q", str(src)]) == 0
    z = tmp_path / "s.safetensors.zipw"
    st = os.stat(z)
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (mode, MTIME_NS)
    os.chmod(z, 0o604)
    os.utime(z, ns=(MTIME_NS + 1, MTIME_NS + 7))
    back = tmp_path / "back.safetensors"
    assert cli.main(["decompress", "-q", str(z), "-o", str(back)]) == 0
    st = os.stat(back)
    assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o604, MTIME_NS + 7)
    assert back.read_bytes() == data


def test_folder_copies_keep_mode_and_mtime(tmp_path):
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "a.safetensors").write_bytes(_small_st())
    (d / "config.json").write_text("{}")
    for name in ("a.safetensors", "config.json"):
        os.chmod(d / name, 0o600)
        os.utime(d / name, ns=(MTIME_NS, MTIME_NS))
    out = tmp_path / "out"
    assert cli.main(["compress", "-q", str(d), "-o", str(out)]) == 0
    for name in ("a.safetensors.zipw", "config.json"):
        st = os.stat(out / name)
        assert (stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (0o600, MTIME_NS), name


def test_api_outputs_without_input_follow_umask(tmp_path):
    # outputs that have no input file (save_file) keep the usual 0666 & ~umask
    dst = tmp_path / "t.zipw"
    with _fileio.atomic_output(dst) as f:
        f.write(b"x")
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o666 & ~_fileio._UMASK
    assert dst.read_bytes() == b"x"


# -- 2. signals -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """~50 MB of bf16 weights (random-ish: trained-looking exponents, noisy mantissas)
    and its .zipw: enough that compress and decompress are caught mid-run."""
    d = tmp_path_factory.mktemp("big")
    n = 24 << 20
    x = (np.random.default_rng(7).standard_normal(n, dtype=np.float32) * 0.02).view(np.uint32) >> 16
    data = sth.build([("w", "BF16", (n,), 2 * n)], {}) + x.astype(np.uint16).tobytes()
    src = d / "big.safetensors"
    src.write_bytes(data)
    zipweights.compress_file(src, threads=2)
    return src, d / "big.safetensors.zipw", _sha(data)


def _unnamed_fds(pid: int, directory: str) -> bool:
    """Whether process `pid` holds an O_TMPFILE file of `directory` ('DIR/#ino (deleted)')."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(directory + "/#"):
            return True
    return False


def _start_mid_run(args, directory, named: bool):
    """Start `zipw ARGS` and return it once its temporary output exists (a named file in
    `directory`, or an unnamed one open in the process); fail if it finished first."""
    env = dict(os.environ)
    if named:
        env["ZIPW_NO_TMPFILE"] = "1"
    else:
        env.pop("ZIPW_NO_TMPFILE", None)
    p = subprocess.Popen([EXE, *map(str, args)], env=env, preexec_fn=_default_signals,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    directory = str(directory)
    while p.poll() is None:
        if named:
            if any(TEMP_RE.search(n) for n in os.listdir(directory)):
                return p
        elif _unnamed_fds(p.pid, directory):
            return p
    pytest.fail(f"zipw {' '.join(map(str, args))} finished (rc {p.returncode}) before it could be "
                f"signalled: {p.stderr.read()}")


def _unnamed_supported(directory) -> bool:
    fd = _fileio._open_unnamed(str(directory))
    if fd is None:
        return False
    os.close(fd)
    return True


CASES = [(s, named) for s in ("SIGINT", "SIGTERM", "SIGHUP", "SIGKILL") for named in (False, True)]


@pytest.mark.parametrize("command", ["compress", "decompress"])
@pytest.mark.parametrize("signame,named", CASES, ids=[f"{s}-{'named' if n else 'unnamed'}" for s, n in CASES])
def test_signal_mid_run_leaves_only_the_input(big, tmp_path, command, signame, named):
    src, packed, _ = big
    if not named and not _unnamed_supported(tmp_path):
        pytest.skip("this filesystem refuses O_TMPFILE or linking it: only the named fallback applies")
    if command == "compress":
        inp = tmp_path / "big.safetensors"
        args = ["compress", "-T", "2", inp]
    else:
        inp = tmp_path / "big.safetensors.zipw"
        args = ["decompress", "-T", "2", inp]
    os.link(src if command == "compress" else packed, inp)
    before = _listing(tmp_path)
    sig = getattr(signal, signame)
    p = _start_mid_run(args, tmp_path, named)
    p.send_signal(sig)
    p.wait()
    err = p.stderr.read()
    if sig == signal.SIGKILL:
        assert p.returncode == -signal.SIGKILL
    else:
        assert p.returncode == 128 + sig, err
        assert f"interrupted by {signame}" in err
    left = _listing(tmp_path)
    if sig == signal.SIGKILL and named:
        # nothing can run on SIGKILL: the named temporary file stays, and the next run
        # in this folder removes it (its owner is dead)
        assert len(left) == 2 and TEMP_RE.search(left[0] if left[1] == before[0] else left[1])
        other = tmp_path / "other.safetensors"
        other.write_bytes(_small_st())
        assert cli.main(["compress", "-q", str(other)]) == 0
        assert _listing(tmp_path) == sorted(before + ["other.safetensors", "other.safetensors.zipw"])
    else:
        assert left == before, err


def test_stale_temp_files_removed_only_when_owner_is_dead(tmp_path):
    host = _fileio._HOST
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    alive = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        names = {
            f".a.zipw{_fileio.TEMP_TAG}{host}-{dead}-0123abcd": False,  # dead owner: removed
            f".b.zipw{_fileio.TEMP_TAG}{host}-{alive.pid}-0123abcd": True,  # running: kept
            f".c.zipw{_fileio.TEMP_TAG}{'0' * 8 if host != '0' * 8 else '1' * 8}-{dead}-0123abcd": True,  # other host
            "notes.txt": True,
        }
        for n in names:
            (tmp_path / n).write_bytes(b"x")
        src = tmp_path / "s.safetensors"
        src.write_bytes(_small_st())
        assert _zipw("compress", "-q", src).returncode == 0
        assert _listing(tmp_path) == sorted([n for n, keep in names.items() if keep]
                                            + ["s.safetensors", "s.safetensors.zipw"])
    finally:
        alive.communicate(b"")


# -- 3 and 8. folder walks -------------------------------------------------------------------
def test_folder_walk_skips_temp_files_bad_links_and_fifos(tmp_path):
    d = tmp_path / "ckpt"
    (d / "sub").mkdir(parents=True)
    (d / "a.safetensors").write_bytes(_small_st(1))
    (d / "sub" / "b.safetensors").write_bytes(_small_st(2))
    (d / "config.json").write_text("{}")
    os.symlink("missing.safetensors", d / "dangling.safetensors")
    os.symlink("loop.safetensors", d / "loop.safetensors")
    os.mkfifo(d / "pipe.safetensors")
    (d / f".a.safetensors.zipw{_fileio.TEMP_TAG}{_fileio._HOST}-{os.getpid()}-00aa").write_bytes(b"partial")
    (d / ".a.safetensors.zipw.k3j4h5g6.tmp").write_bytes(b"partial, older naming")
    out = tmp_path / "packed"
    r = _zipw("compress", d, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "dangling.safetensors" in r.stderr and "loop.safetensors" in r.stderr and "pipe.safetensors" in r.stderr
    assert _listing(out) == ["a.safetensors.zipw", "config.json", "sub/b.safetensors.zipw"]
    back = tmp_path / "back"
    r = _zipw("decompress", out, "-o", back)
    assert r.returncode == 0, r.stderr
    assert (back / "a.safetensors").read_bytes() == _small_st(1)
    assert (back / "sub" / "b.safetensors").read_bytes() == _small_st(2)
    # in place too: the bad entries are skipped, the good ones done
    r = _zipw("compress", d)
    assert r.returncode == 0, r.stderr
    assert (d / "a.safetensors.zipw").exists() and (d / "sub" / "b.safetensors.zipw").exists()


def test_folder_output_inside_input_is_never_walked(tmp_path):
    d = tmp_path / "ckpt"
    d.mkdir()
    (d / "a.safetensors").write_bytes(_small_st(1))
    (d / "config.json").write_text("{}")
    out = d / "packed"
    for _ in range(3):  # reruns must not nest packed/packed/...
        r = _zipw("compress", "-f", d, "-o", out)
        assert r.returncode == 0, r.stderr
    assert _listing(d) == ["a.safetensors", "config.json", "packed/a.safetensors.zipw", "packed/config.json"]
    back = out / "restored"
    for _ in range(2):
        r = _zipw("decompress", "-f", out, "-o", back)
        assert r.returncode == 0, r.stderr
    assert _listing(out) == ["a.safetensors.zipw", "config.json", "restored/a.safetensors", "restored/config.json"]
    assert (back / "a.safetensors").read_bytes() == _small_st(1)
    r = _zipw("compress", "-f", d, "-o", d)
    assert r.returncode == 2 and "output folder is the input folder" in r.stderr


# -- 4. same file, by inode -----------------------------------------------------------------
@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_same_file_through_a_linked_folder_is_refused(tmp_path, command):
    d = tmp_path / "D"
    d.mkdir()
    os.symlink("D", tmp_path / "Dlink")
    name = "a.safetensors" if command == "compress" else "a.safetensors.zipw"
    data = _small_st()
    if command == "compress":
        (d / name).write_bytes(data)
    else:
        (d / "x").write_bytes(data)
        zipweights.compress_file(d / "x", d / name)
        os.unlink(d / "x")
    before = (d / name).read_bytes()
    r = _zipw(command, "-f", "--rm", d / name, "-o", tmp_path / "Dlink" / name)
    assert r.returncode == 2, r.stderr
    assert "same file" in r.stderr
    assert _listing(d) == [name] and (d / name).read_bytes() == before


def test_same_file_through_a_hard_link_or_symlink_is_refused(tmp_path):
    src = tmp_path / "a.safetensors"
    data = _small_st()
    src.write_bytes(data)
    os.link(src, tmp_path / "hard")
    os.symlink("a.safetensors", tmp_path / "soft")
    for other in ("hard", "soft"):
        r = _zipw("compress", "-f", "--rm", src, "-o", tmp_path / other)
        assert r.returncode == 2 and "same file" in r.stderr, r.stderr
    assert src.read_bytes() == data and (tmp_path / "hard").read_bytes() == data
    assert os.readlink(tmp_path / "soft") == "a.safetensors"


# -- 5. outputs that are not regular files; stdout ------------------------------------------------
def _special_outputs(tmp_path):
    """name -> (how to make it, a check that it is untouched)."""
    made = {}
    os.mkfifo(tmp_path / "fifo")
    made["fifo"] = lambda p: stat.S_ISFIFO(os.lstat(p).st_mode)
    os.symlink("/dev/null", tmp_path / "link-to-dev-null")
    made["link-to-dev-null"] = lambda p: os.readlink(p) == "/dev/null"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(tmp_path / "sock"))
    s.close()
    made["sock"] = lambda p: stat.S_ISSOCK(os.lstat(p).st_mode)
    (tmp_path / "dir.zipw").mkdir()
    made["dir.zipw/"] = lambda p: _listing(p) == [] and len(os.listdir(p)) == 1
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        made["null"] = lambda p: stat.S_ISCHR(os.lstat(p).st_mode)
    except PermissionError:
        pass  # not root: no device node to test with (the FIFO and socket are)
    return made


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_force_never_replaces_what_is_not_a_regular_file(tmp_path, command):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    zipweights.compress_file(src)
    inp = src if command == "compress" else tmp_path / "s.safetensors.zipw"
    for name, untouched in _special_outputs(tmp_path).items():
        out = tmp_path / name.rstrip("/")
        if name.endswith("/"):  # -o a folder, holding a folder where the output file would go
            (out / ("s.safetensors.zipw" if command == "compress" else "s.safetensors")).mkdir()
        r = _zipw(command, "-f", inp, "-o", out)
        assert r.returncode == 2, (name, r.stderr)
        assert r.stderr.startswith("zipw: ") and "Traceback" not in r.stderr, r.stderr
        assert untouched(out), name
    assert not [n for n in os.listdir(tmp_path) if TEMP_RE.search(n)]


def test_force_never_replaces_a_link_to_an_open_file(tmp_path):
    """`-o /dev/stdout` with stdout redirected to a file: /dev/stdout is a link to
    /proc/self/fd/1, a link to that file; -f must not replace the link (as root, the
    real /dev/stdout). Tested through a link of our own to /proc/self/fd/1."""
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    link = tmp_path / "stdout-link"
    os.symlink("/proc/self/fd/1", link)
    with open(tmp_path / "captured", "wb") as f:
        r = subprocess.run([EXE, "compress", "-f", str(src), "-o", str(link)], stdout=f,
                           stderr=subprocess.PIPE, text=True, preexec_fn=_default_signals)
    assert r.returncode == 2 and "-c/--stdout" in r.stderr, r.stderr
    assert os.readlink(link) == "/proc/self/fd/1"
    assert (tmp_path / "captured").read_bytes() == b""
    assert sorted(os.listdir(tmp_path)) == ["captured", "s.safetensors", "stdout-link"]


def test_symlink_output_like_zstd(tmp_path):
    """A symbolic link to a regular file: refused without -f; with -f the link itself is
    replaced by the output and its target is left alone (zstd's and gzip's behaviour)."""
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    link = tmp_path / "out.zipw"
    os.symlink("precious", link)
    r = _zipw("compress", src, "-o", link)
    assert r.returncode == 2 and "already exists" in r.stderr
    assert os.readlink(link) == "precious"
    r = _zipw("compress", "-f", src, "-o", link)
    assert r.returncode == 0, r.stderr
    assert not os.path.islink(link) and target.read_bytes() == b"precious"
    with zipweights.ZipwFile(str(link)) as zf:
        assert zf.original_sha256 == _sha(src.read_bytes())
    # a dangling link: refused without -f, replaced (not followed) with it
    os.unlink(link)
    os.symlink("nowhere", link)
    assert _zipw("compress", src, "-o", link).returncode == 2
    assert _zipw("compress", "-f", src, "-o", link).returncode == 0
    assert not os.path.islink(link) and not (tmp_path / "nowhere").exists()


def test_decompress_to_stdout(big, tmp_path):
    _, packed, digest = big
    p = subprocess.Popen([EXE, "decompress", "-c", "-T", "2", str(packed)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    h = hashlib.sha256()
    for block in iter(lambda: p.stdout.read(1 << 20), b""):
        h.update(block)
    assert p.wait() == 0, p.stderr.read()
    assert h.hexdigest() == digest
    assert not [n for n in os.listdir(packed.parent) if TEMP_RE.search(n)]
    # two inputs concatenate, like gzip -dc
    small = tmp_path / "s.safetensors"
    small.write_bytes(_small_st())
    zipweights.compress_file(small)
    r = subprocess.run([EXE, "decompress", "-c", str(small) + ".zipw", str(small) + ".zipw"], capture_output=True)
    assert r.returncode == 0 and r.stdout == _small_st() * 2


def test_compress_to_stdout(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    with open(tmp_path / "piped.zipw", "wb") as f:
        r = subprocess.run([EXE, "compress", "-c", str(src)], stdout=f, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    zipweights.compress_file(src, tmp_path / "file.zipw")
    assert (tmp_path / "piped.zipw").read_bytes() == (tmp_path / "file.zipw").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["file.zipw", "piped.zipw", "s.safetensors"]
    # compressed data is not written to a terminal; -c takes neither -o nor --rm
    master, slave = pty.openpty()
    try:
        r = subprocess.run([EXE, "compress", "-c", str(src)], stdout=slave, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(slave)
        os.close(master)
    assert r.returncode == 2 and "terminal" in r.stderr
    for extra in (["--rm"], ["-o", str(tmp_path / "x.zipw")]):
        r = _zipw("compress", "-c", *extra, src)
        assert r.returncode == 2 and "-c/--stdout" in r.stderr
    assert src.exists() and not (tmp_path / "x.zipw").exists()


@pytest.mark.parametrize("command,name", [("compress", "fifo.bin"), ("decompress", "fifo.zipw"),
                                          ("verify", "fifo.zipw"), ("info", "fifo.zipw")])
def test_fifo_input_is_refused(tmp_path, command, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    # a writer holds the FIFO open, so a zipw that opened it anyway would not block
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        r = _zipw(command, fifo)
    finally:
        os.close(fd)
    assert r.returncode == 2, r.stderr
    assert "not a regular file" in r.stderr
    assert sorted(os.listdir(tmp_path)) == [name]


# -- 6. exit codes and OS errors ---------------------------------------------------------------
def test_corrupt_safetensors_is_a_data_error(tmp_path):
    src = tmp_path / "bad.safetensors"
    src.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"w\": [1, 2, 3]}" + b"\0" * 16)
    r = _zipw("compress", src)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(f"zipw: {src}") and "Traceback" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["bad.safetensors"]
    assert cli.exit_code(zipweights.errors.InvalidArgumentError("x")) == 2
    assert cli.exit_code(zipweights.errors.InvalidSafetensorsError("x")) == 1
    assert cli.exit_code(zipweights.errors.ChecksumMismatchError("x")) == 1
    assert cli.exit_code(FileExistsError("x")) == 2
    assert cli.exit_code(OSError(errno.ENOSPC, "No space left on device")) == 1


def _fsize_limit(nbytes):
    def pre():
        _default_signals()
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return pre


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_file_too_large_names_the_output(tmp_path, command):
    raw = np.random.default_rng(3).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()  # incompressible
    src = tmp_path / "r.bin"
    src.write_bytes(raw)
    if command == "decompress":
        zipweights.compress_file(src)  # before the limit: the test process has none
        src.unlink()
        inp, out = tmp_path / "r.bin.zipw", tmp_path / "r.bin"
    else:
        inp, out = src, tmp_path / "r.bin.zipw"
    before = sorted(os.listdir(tmp_path))
    r = _zipw(command, inp, "-o", out, preexec_fn=_fsize_limit(64 << 10))
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == f"zipw: {out}: File too large"
    assert sorted(os.listdir(tmp_path)) == before


def _drop_dac_caps():
    """As root: lose the capabilities that bypass permission bits (for this child and
    what it executes), so a read-only folder refuses us as it refuses any user."""
    _default_signals()
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; if refused, the test skips below


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_permission_denied_names_the_output(tmp_path, command):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    zipweights.compress_file(src)
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        inp = src if command == "compress" else tmp_path / "s.safetensors.zipw"
        out = ro / "out"
        r = _zipw(command, inp, "-o", out, preexec_fn=_drop_dac_caps)
        if r.returncode == 0 and os.geteuid() == 0:
            pytest.skip("root here keeps permission-bypassing capabilities (no CAP_SETPCAP to drop them)")
        assert r.returncode == 1, r.stderr
        assert r.stderr.strip() == f"zipw: {out}: Permission denied"
        assert os.listdir(ro) == []
        # an unreadable input names the input
        os.chmod(inp, 0)
        r = _zipw(command, inp, "-o", tmp_path / "elsewhere", preexec_fn=_drop_dac_caps)
        assert r.returncode == 1 and r.stderr.strip() == f"zipw: {inp}: Permission denied", r.stderr
    finally:
        os.chmod(ro, 0o755)


def test_output_under_a_file_is_a_usage_error(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    r = _zipw("compress", src, "-o", src / "x.zipw")  # the parent is a regular file: ENOTDIR
    assert r.returncode == 2 and r.stderr.startswith(f"zipw: {src / 'x.zipw'}"), r.stderr
    assert sorted(os.listdir(tmp_path)) == ["s.safetensors"]


def _can_mount_tmpfs(tmp_path) -> str | None:
    if not shutil.which("unshare"):
        return "no unshare(1) here"
    probe = tmp_path / "probe"
    probe.mkdir()
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
                       capture_output=True, text=True)
    probe.rmdir()
    return None if r.returncode == 0 else f"cannot mount a tmpfs in a mount namespace: {r.stderr.strip()}"


@pytest.mark.parametrize("command", ["compress", "decompress"])
def test_full_disk_names_the_output(tmp_path, command):
    why = _can_mount_tmpfs(tmp_path)
    if why:
        pytest.skip(f"ENOSPC needs a small filesystem: {why}")
    raw = np.random.default_rng(4).integers(0, 256, 2 << 20, dtype=np.uint8).tobytes()
    src = tmp_path / "r.bin"
    src.write_bytes(raw)
    inp = src
    if command == "decompress":
        zipweights.compress_file(src)
        inp = tmp_path / "r.bin.zipw"
    small = tmp_path / "small"
    small.mkdir()
    out = small / "out"
    script = (f'mount -t tmpfs -o size=1m tmpfs "{small}" && "{EXE}" {command} "{inp}" -o "{out}"; '
              f'rc=$?; echo "left: $(ls -A "{small}")" >&2; exit $rc')
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       preexec_fn=_default_signals)
    assert r.returncode == 1, r.stderr
    assert r.stderr.splitlines() == [f"zipw: {out}: No space left on device", "left: "]


# -- 7. the writer refuses what the reader refuses; --rm verifies -------------------------------
def test_writer_refuses_too_many_dimensions(tmp_path):
    src = tmp_path / "d65.safetensors"
    src.write_bytes(sth.build([("w", "F32", (1,) * 65, 4)], {}) + b"\0\0\x80\x3f")
    data = src.read_bytes()
    for extra in ([], ["--rm"]):
        r = _zipw("compress", *extra, src)
        assert r.returncode == 1, r.stderr
        assert "65 dimensions exceed 64" in r.stderr
        assert sorted(os.listdir(tmp_path)) == ["d65.safetensors"] and src.read_bytes() == data
    with pytest.raises(zipweights.LimitExceededError):
        zipweights.compress_file(src)
    # 64 dimensions: written, and read back
    ok = tmp_path / "d64.safetensors"
    ok.write_bytes(sth.build([("w", "F32", (1,) * 64, 4)], {}) + b"\0\0\x80\x3f")
    assert _zipw("compress", "--rm", ok).returncode == 0
    assert _zipw("decompress", str(ok) + ".zipw").returncode == 0
    assert ok.read_bytes() == b"".join([sth.build([("w", "F32", (1,) * 64, 4)], {}), b"\0\0\x80\x3f"])


def test_rm_with_no_sha256_still_checks_the_whole_file(tmp_path):
    src = tmp_path / "s.safetensors"
    src.write_bytes(_small_st())
    zipweights.compress_file(src)
    src.unlink()
    r = _zipw("decompress", "--rm", "--no-sha256", tmp_path / "s.safetensors.zipw")
    assert r.returncode == 0 and "sha256 verified" in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["s.safetensors"] and src.read_bytes() == _small_st()


def test_errors_of_other_libraries_pass_through_atomic_output(tmp_path):
    # huggingface_hub's HTTP errors are OSErrors with constructors of their own: raised
    # inside atomic_output they must come out as they are, not as a TypeError from
    # rebuilding them to name the output
    from zipweights._fileio import atomic_output

    class HTTPish(OSError):
        def __init__(self, message, *, response):
            super().__init__(message)
            self.response = response

    with pytest.raises(HTTPish) as err:
        with atomic_output(str(tmp_path / "out"), False, False):
            raise HTTPish("503 from the server", response="r")
    assert err.value.response == "r"
    assert os.listdir(tmp_path) == []
    with pytest.raises(OSError) as err:  # a system call's error still names the output
        with atomic_output(str(tmp_path / "out"), False, False):
            raise OSError(28, "No space left on device")
    assert err.value.filename == str(tmp_path / "out") and err.value.errno == 28
