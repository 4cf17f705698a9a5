"""zipw: the command line, with the habits of gzip and zstd.

Thin by design: it parses arguments, walks files and folders, and calls the writer
and reader. Exit status: 0 ok, 1 a data error (corrupt input, checksum), 2 a usage
error (bad arguments, missing input, an output that exists without -f); with several
inputs, what cannot be done is reported and skipped, the rest is done, and the status
is the worst of them. 128 + N when signal N ended the run (141: the reader of stdout
went away).

Start-up is kept short: this module imports only argparse and the standard library at
the top; numpy, the kernels, the writer and reader, tqdm and huggingface_hub are
imported by the command that needs them, so `zipw --version` or a usage error costs
no more than Python itself.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import stat
import sys

from . import __version__
from .errors import EXIT_DATA, EXIT_OK, EXIT_USAGE, exit_code
from .errors import CorruptDataError, InvalidArgumentError, ZipWeightsError
from .errors import UsageError as _Usage
from .format.container import SUFFIX
from .format.limits import DEFAULT_MAX_OUTPUT_SIZE
from .hub import WEIGHTS_SUFFIX

# codec.chain's levels, spelled here so that parsing the command line imports no
# codec (tests/cli checks that they agree)
MIN_LEVEL, MAX_LEVEL, DEFAULT_LEVEL = 1, 9, 3
LEVEL_HELP = (
    "levels: 1 fastest (about 1.4x the default's speed, about 0.5 %% larger); 3 default; 4 both "
    "float searches (about 0.01 %% smaller, about 1.6x the time); 5-9 also byte planes at higher "
    "zstd levels where a sampled probe says they may win (up to about 0.01 %% more; 9 about 3x "
    "the default's time); no level is larger than the one below. See README, Levels."
)
BASE_HELP = "the base model (safetensors or .zipw) the file is coded against: a fine-tune's base, the checkpoint before"
BASE_USED = "a delta file's base model (default: where the file records it)"
STDIO = "-"  # standard input as an input, standard output as an output
COMMANDS = ("compress", "decompress", "info", "verify", "bench", "mirror")
_EXIT_SIGPIPE = 128 + getattr(signal, "SIGPIPE", 13)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


# -- messages and the run's status ---------------------------------------------------
def _say(args, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(msg, file=sys.stderr)


def _warn(args, msg: str) -> None:
    _say(args, f"zipw: warning: {msg}")


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename is not None else exc.strerror
    return str(exc)


class _Whole(_Usage):
    """A usage error about the command line as a whole: it stops the run before anything is done."""


class _Run:
    """What a command with several inputs has done so far: each failure is reported
    as it happens (errors are printed even with -q) and the run goes on; the exit
    status is the worst one seen."""

    def __init__(self, args):
        self.args, self.status, self.failed, self.done = args, EXIT_OK, 0, 0
        self.last = ""  # the message of the latest failure (for --json)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, BrokenPipeError):
            raise exc  # nobody reads our output any more: stop
        self.last = _message(exc)
        print(f"zipw: {self.last}", file=sys.stderr)
        self.failed += 1
        self.status = max(self.status, exit_code(exc))

    def attempt(self, fn, *a) -> bool:
        """fn(*a); a usage, data or system error is reported and the run goes on."""
        try:
            fn(*a)
        except (_Usage, ZipWeightsError, OSError) as exc:
            self.fail(exc)
            return False
        self.done += 1
        return True

    def finish(self) -> int:
        if self.failed and self.failed + self.done > 1:
            print(f"zipw: {self.failed} of {self.failed + self.done} files not done (see above)", file=sys.stderr)
        return self.status


def _progress(args, total: int, label: str, parent=None, share: int | None = None):
    """A bar over bytes, only where someone watches (a terminal) or -v asks; plain
    lines instead of a bar when stderr is not a terminal. Below the run's `parent` bar,
    for which it counts `share` bytes."""
    from ._progress import Progress

    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    hidden = quiet or not (verbose or sys.stderr.isatty()) or total < (16 << 20) and not verbose
    return Progress(total, label, show=not hidden, parent=parent, share=share,
                    position=1 if parent is not None else 0)


@contextlib.contextmanager
def _bar(args, total: int, label: str, parent=None, share: int | None = None):
    """_progress for one piece of work, brought to its total when the work succeeds (the
    coders count the tensors' bytes, not the header's), closed however it ends."""
    bar = _progress(args, total, label, parent, share)
    try:
        yield bar
        bar(max(0, bar.total - bar.done))
    finally:
        bar.close()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != STDIO else 0
    except OSError:
        return 0


def _overall(args, jobs) -> object | None:
    """The bar over a whole run of several files (files and bytes), above each file's."""
    if len(jobs) < 2:
        return None
    bar = _progress(args, sum(_size(j.src) for j in jobs), f"file 1/{len(jobs)}")
    return bar if bar.shown else None


# -- inputs ------------------------------------------------------------------------------
class _Job:
    """One file to process: `src` (a path, or STDIO), `dst` (a path, or STDIO),
    `copy` (a file of a folder copied as it is), `mkdir` (create dst's folder)."""

    __slots__ = ("src", "dst", "copy", "mkdir")

    def __init__(self, src: str, dst: str | None, copy: bool = False, mkdir: bool = False):
        self.src, self.dst, self.copy, self.mkdir = src, dst, copy, mkdir


def _input_stat(path: str, folders: bool = True) -> os.stat_result:
    """The input's stat; a usage error unless it is a regular file (or, with `folders`,
    a folder): a FIFO or a device would block or never end."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _Usage(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise _Usage(f"{path}: {exc.strerror}") from None
    if stat.S_ISREG(st.st_mode) or folders and stat.S_ISDIR(st.st_mode):
        return st
    what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a FIFO, device or socket)"
    raise _Usage(f"{path}: {what}; not read")


def _out_root(args) -> str | None:
    return getattr(args, "output", None) or getattr(args, "output_dir_flat", None) or \
        getattr(args, "output_dir_mirror", None)


def _mirrored(root: str, path: str) -> str:
    """`path` under `root`, as zstd's --output-dir-mirror: the path as given, less a
    leading / or ./; a path through '..' would climb out of `root`."""
    rel = os.path.normpath(path)
    if os.path.isabs(rel):
        rel = rel.lstrip(os.sep)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise _Usage(f"{path}: --output-dir-mirror takes no path through '..'; skipped")
    return os.path.join(root, rel)


def _file_output(args, path: str, rename) -> _Job:
    """The job of a file named on the command line."""
    name = os.path.basename(path)
    if args.stdout:
        return _Job(path, STDIO)
    if args.output_dir_flat:
        return _Job(path, os.path.join(args.output_dir_flat, rename(name)), mkdir=True)
    if args.output_dir_mirror:
        return _Job(path, os.path.join(os.path.dirname(_mirrored(args.output_dir_mirror, path)), rename(name)),
                    mkdir=True)
    if args.output and os.path.isdir(args.output):
        return _Job(path, os.path.join(args.output, rename(name)))
    if args.output:
        return _Job(path, args.output)
    return _Job(path, os.path.join(os.path.dirname(path), rename(name)))


def _walk(args, top: str, top_st: os.stat_result, want):
    """(path, name) of the files under the folder `top`, in sorted order. Skipped:
    zipweights' own temporary files, the output folder (when it lies inside the input),
    links to folders (not followed), and, with a warning, what cannot be read as a
    regular file (a dangling link, a link loop, a FIFO). `want(name)` None: every
    file (their copies too are wanted)."""
    from ._fileio import is_temp_name, same_file

    out_st = None
    root_out = _out_root(args)
    if root_out and root_out != STDIO:
        with contextlib.suppress(OSError):
            out_st = os.stat(root_out)
        if out_st is not None and same_file(out_st, top_st) and getattr(args, "output", None):
            raise _Whole(f"{args.output}: the output folder is the input folder (leave out -o to write beside the inputs)")

    def unreadable(exc):
        _warn(args, f"{exc.filename}: {exc.strerror}; skipped")

    for root, dirs, files in os.walk(top, onerror=unreadable):
        keep = []
        for d in sorted(dirs):
            full = os.path.join(root, d)
            try:
                st = os.stat(full)
            except OSError as exc:
                _warn(args, f"{full}: {exc.strerror}; skipped")
                continue
            if out_st is not None and same_file(st, out_st):
                continue  # our own output: walking it would nest it one level deeper every run
            if os.path.islink(full):
                _warn(args, f"{full}: a symbolic link to a folder; not followed")
                continue
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if is_temp_name(name):
                continue
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except OSError as exc:  # a dangling link (ENOENT) or a loop (ELOOP)
                _warn(args, f"{full}: {exc.strerror} (a dangling or looping symbolic link?); skipped")
                continue
            if not stat.S_ISREG(st.st_mode):
                _warn(args, f"{full}: not a regular file; skipped")
                continue
            yield full, name


def _folder_jobs(args, top: str, top_st: os.stat_result, want, rename):
    """The jobs of a folder: with -o, a new folder holding the processed files and
    copies of everything else; with --output-dir-*, the processed files only."""
    if args.stdout:
        raise _Whole(f"{top}: a folder; -c/--stdout takes files")
    for full, name in _walk(args, top, top_st, want):
        wanted = want(name)
        if args.output:
            dest = os.path.join(args.output, os.path.relpath(full, top))
            if wanted:
                yield _Job(full, os.path.join(os.path.dirname(dest), rename(name)), mkdir=True)
            else:
                yield _Job(full, dest, copy=True, mkdir=True)
        elif wanted:
            yield _file_output(args, full, rename)


def _jobs(args, run: _Run, want, rename) -> list[_Job]:
    """Every file to process, in order; an input that is missing, or whose output
    cannot be named, is reported and left out."""
    jobs = []
    for path in args.inputs:
        if path == STDIO:
            jobs.append(_Job(STDIO, args.output if args.output and not args.stdout else STDIO))
            continue
        try:
            st = _input_stat(path)
            if stat.S_ISDIR(st.st_mode):
                jobs.extend(_folder_jobs(args, path, st, want, rename))
            else:
                jobs.append(_file_output(args, path, rename))
        except _Whole:
            raise
        except _Usage as exc:
            run.fail(exc)
    return jobs


def _check_job(args, job: _Job, seen: dict) -> None:
    """What can be known before any work: the output does not exist (or -f), is not
    a folder, FIFO or device, lies in a folder that exists (or will be made), is not
    the input, and is not also another input's output."""
    from ._fileio import check_distinct, check_output

    if job.dst == STDIO:
        return
    if job.dst in seen:
        raise _Usage(f"{job.dst}: also the output of {seen[job.dst]}; {job.src} not done")
    if job.dst.endswith(os.sep) and not os.path.isdir(job.dst):
        raise InvalidArgumentError(f"{job.dst}: no such folder (make it first, or use --output-dir-flat "
                                   f"{job.dst}, which makes it)")
    check_output(job.dst, args.force)
    parent = os.path.dirname(job.dst) or os.curdir
    if not job.mkdir and not os.path.isdir(parent):
        raise InvalidArgumentError(f"{job.dst}: folder {parent} does not exist")
    _check_writable(job.dst, parent)
    if job.src != STDIO:
        check_distinct(job.src, os.stat(job.src), job.dst)
    seen[job.dst] = job.src


def _check_writable(dst: str, parent: str) -> None:
    """The output's folder (or, where it is to be made, the nearest folder above it that
    exists) lets us create a file: found now, not after the work (access(2) also says
    no on a read-only filesystem and an immutable folder, where root may write nowhere)."""
    folder = parent
    while not os.path.lexists(folder):
        up = os.path.dirname(folder.rstrip(os.sep)) or os.curdir
        if up == folder:
            break
        folder = up
    if not os.path.isdir(folder):
        raise InvalidArgumentError(f"{dst}: {folder} is not a folder; nothing can be written under it")
    kw = {"effective_ids": True} if os.access in os.supports_effective_ids else {}
    if not os.access(folder, os.W_OK | os.X_OK, **kw):
        # the error the write itself would have raised, now instead of after the work
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), dst)


def _checked(args, run: _Run, jobs: list[_Job], check_more=None) -> list[_Job]:
    seen: dict = {}
    ok = []
    for job in jobs:
        try:
            if check_more is not None and not job.copy:
                check_more(job)
            _check_job(args, job, seen)
        except (_Usage, ZipWeightsError, OSError) as exc:
            run.fail(exc)
            continue
        ok.append(job)
    return ok


@contextlib.contextmanager
def _spooled_stdin():
    """The path of a temporary file holding all of standard input: the writer maps its
    input, and a .zipw's index is at its end, so neither can start on a pipe. Bounded by
    the temporary folder's disk ($TMPDIR), not by memory; removed after."""
    import shutil
    import tempfile

    if sys.stdin is None or sys.stdin.isatty():
        raise _Usage("stdin is a terminal; pipe data in, or give a FILE")
    with tempfile.TemporaryDirectory(prefix="zipw-stdin-") as tmp:
        path = os.path.join(tmp, "stdin")
        with open(path, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        yield path


@contextlib.contextmanager
def _named(spool: str, name: str = "stdin"):
    """Errors about the spooled file name `name`, not a temporary path nobody knows."""
    try:
        yield
    except ZipWeightsError as exc:
        if spool in str(exc):
            raise type(exc)(str(exc).replace(spool, name)) from None
        raise
    except OSError as exc:
        if exc.filename == spool:
            raise type(exc)(exc.errno, exc.strerror, name) from None
        raise


def _stdout_binary(args):
    if sys.stdout.isatty():
        raise _Usage("stdout is a terminal; binary data not written there (redirect it, or use -o FILE)")
    return sys.stdout.buffer


def _copy(src: str, dst: str, args) -> None:
    """A copy of a file that is not compressed, written like any output (whole or not at
    all, never over anything but a regular file without -f, with the input's mode and times)."""
    import shutil

    from ._fileio import atomic_output

    with open(src, "rb") as f:
        with atomic_output(dst, args.force, args.sync, like=os.fstat(f.fileno())) as out:
            shutil.copyfileobj(f, out, 1 << 20)


def _remove_input(src: str, src_st: os.stat_result, out: str, check) -> None:
    """--rm: remove `src` only when `out` is a different file, complete and verified by
    `check()`, and `src` is still the file that was read (same inode, size and mtime)."""
    from ._fileio import same_file

    try:
        now = os.stat(src)
    except FileNotFoundError:
        return
    if (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns) != (
        src_st.st_dev, src_st.st_ino, src_st.st_size, src_st.st_mtime_ns
    ):
        raise CorruptDataError(f"{src}: changed while it was read; not removed")
    out_st = os.stat(out)
    if same_file(out_st, now) or not stat.S_ISREG(out_st.st_mode):
        raise InvalidArgumentError(f"{src}: the output {out} is not a separate file; input not removed")
    check(out_st)
    os.unlink(src)


def _strip(name: str) -> str:
    if not name.endswith(SUFFIX):
        raise _Usage(f"{name}: no {SUFFIX} suffix to strip; give an output name with -o")
    return name[: -len(SUFFIX)]


def _check_stream_args(args) -> None:
    """Rules of the command line as a whole, before anything is read."""
    if args.output == STDIO:
        args.output, args.stdout = None, True
    if args.stdout and (args.output or args.rm):
        raise _Usage("-c/--stdout takes neither -o nor --rm")
    outs = [o for o, v in (("-o", args.output), ("--output-dir-flat", args.output_dir_flat),
                           ("--output-dir-mirror", args.output_dir_mirror), ("-c", args.stdout)) if v]
    if len(outs) > 1:
        raise _Usage(f"{' and '.join(outs)}: give one place for the outputs")
    if not args.inputs:
        args.inputs = [STDIO]  # zstd's habit: no file, standard input
    if STDIO in args.inputs:
        if args.inputs.count(STDIO) > 1 or len(args.inputs) > 1:
            raise _Usage("'-' (standard input) is the only input when given")
        if args.rm:
            raise _Usage("--rm: standard input is no file to remove")
        if args.output_dir_flat or args.output_dir_mirror:
            raise _Usage("standard input has no name to put in an output folder; use -o FILE or -c")
    if args.output and len(args.inputs) > 1:
        raise _Usage("-o takes a single input (a file or a folder); for several, --output-dir-flat DIR")


# -- compress ----------------------------------------------------------------------------------
def _is_safetensors(path: str) -> bool:
    """Whether the file starts with a valid safetensors header (safetensors' own rules)."""
    from .format import limits, safetensors_header

    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        first8 = f.read(8)
        if len(first8) < 8:
            return False
        n = int.from_bytes(first8, "little")
        if n > min(limits.MAX_HEADER_SIZE, size - 8):
            return False
        prefix = first8 + f.read(n)
    try:
        safetensors_header.parse(prefix, size, path)
    except ZipWeightsError:
        return False
    return True


def _check_dtype(args, path: str, name: str) -> None:
    """--dtype splits a file that is not safetensors; a safetensors file knows its
    tensors' types, and taking it as bytes would make a .zipw that safe_open refuses."""
    if args.dtype and not args.raw and (name.endswith(WEIGHTS_SUFFIX) or _is_safetensors(path)):
        raise _Usage(f"{name}: a safetensors file: --dtype is for other files (its tensors' types are in its "
                     f"header; add --raw to compress it as bytes split as {args.dtype} anyway)")


def _compress_check(args):
    def check(job: _Job) -> None:
        if job.src == STDIO:
            return
        if job.src.endswith(SUFFIX) and not args.force:
            raise _Usage(f"{job.src}: already has the {SUFFIX} suffix; not compressed (-f to compress it anyway)")
        _check_dtype(args, job.src, job.src)
    return check


def _compress_options(args, bar) -> dict:
    opts = dict(threads=args.threads, level=args.level, raw=args.raw, dtype_hint=args.dtype, progress=bar,
                base=args.base)
    if args.chunk_size is not None:
        opts["chunk_size"] = args.chunk_size
    return opts


def _compress_stdin(args, job: _Job, overall) -> None:
    from ._fileio import atomic_output
    from .writer import compress_to_stream

    out_stream = _stdout_binary(args) if job.dst == STDIO else None
    with _spooled_stdin() as spool, _named(spool):
        _check_dtype(args, spool, "stdin")
        size = os.path.getsize(spool)
        with _bar(args, size, "stdin", overall, share=0) as bar:
            if out_stream is not None:
                stats = compress_to_stream(spool, out_stream, **_compress_options(args, bar))
                out_stream.flush()
            else:
                with atomic_output(job.dst, args.force, args.sync) as out:
                    stats = compress_to_stream(spool, out, **_compress_options(args, bar))
    _say(args, f"stdin: {_human(stats.original_size)} -> {_human(stats.compressed_size)} "
               f"({100 * stats.ratio:.2f}%)" + ("" if job.dst == STDIO else f" -> {job.dst}"))


def _compress_file(args, job: _Job, overall) -> None:
    import time

    from .writer import compress_file, compress_to_stream

    src, out = job.src, job.dst
    src_st = os.stat(src)
    out_stream = _stdout_binary(args) if out == STDIO else None
    t0 = time.perf_counter()
    with _bar(args, src_st.st_size, os.path.basename(src), overall) as bar:
        if out_stream is not None:
            stats = compress_to_stream(src, out_stream, **_compress_options(args, bar))
            out_stream.flush()
        else:
            stats = compress_file(src, out, force=args.force, sync=args.sync or args.rm,
                                  **_compress_options(args, bar))
    dt = time.perf_counter() - t0
    if args.rm:
        def check(out_st):
            from .reader import ZipwFile

            with ZipwFile(out, base=args.base) as zf:  # read back before the only other copy goes
                zf.verify(args.threads)
                if zf.original_sha256 != stats.sha256 or zf.original_size != src_st.st_size:
                    raise CorruptDataError(f"{out}: does not restore {src}; input not removed")

        _remove_input(src, src_st, out, check)
    msg = f"{src}: {_human(stats.original_size)} -> {_human(stats.compressed_size)} ({100 * stats.ratio:.2f}%)"
    if args.verbose:
        msg += f" in {dt:.2f} s, {stats.original_size / dt / 1e6:.0f} MB/s -> {'stdout' if out == STDIO else out}"
    _say(args, msg)


def cmd_compress(args) -> int:
    _check_stream_args(args)
    if args.stdout and len(args.inputs) > 1:
        raise _Usage("-c/--stdout compresses a single file (.zipw files do not concatenate)")
    return _each(args, lambda n: n.endswith(WEIGHTS_SUFFIX), lambda n: n + SUFFIX, _compress_check(args),
                 _compress_stdin, _compress_file)


def _each(args, want, rename, check, on_stdin, on_file) -> int:
    """The jobs of the command line, checked first, then done one by one; a failure
    is reported and the next one done."""
    run = _Run(args)
    jobs = _checked(args, run, _jobs(args, run, want, rename), check)
    overall = _overall(args, jobs)
    try:
        for k, job in enumerate(jobs):
            if overall is not None:
                overall.describe(f"file {k + 1}/{len(jobs)}")  # the one under way
            if job.mkdir:
                os.makedirs(os.path.dirname(os.path.abspath(job.dst)), exist_ok=True)
            if job.copy:
                run.attempt(_copy, job.src, job.dst, args)
                if overall is not None:
                    overall(_size(job.src))
            elif job.src == STDIO:
                run.attempt(on_stdin, args, job, overall)
            else:
                run.attempt(on_file, args, job, overall)
    finally:
        if overall is not None:
            overall.close()
    return run.finish()


# -- decompress --------------------------------------------------------------------------------
def _restore_to_stream(zf, out, threads: int, check_sha256: bool, progress) -> None:
    """Write the original file to the stream `out` in order (a pipe cannot be seeked):
    runs of chunks decoded in parallel (each chunk checked), written one after another."""
    import hashlib

    from .errors import ChecksumMismatchError

    sha = hashlib.sha256() if check_sha256 else None

    def emit(data) -> None:
        out.write(data)
        if sha is not None:
            sha.update(data)
        progress(len(data))

    emit(zf.index.prefix)
    budget = max(1, threads) * (4 << 20)
    for e in zf.entries:
        n, i = len(e.chunks), 0
        while i < n:
            j, size = i, 0
            while j < n:
                a, b = e.chunk_span(j)
                if j > i and size + b - a > budget:
                    break
                size += b - a
                j += 1
            buf = bytearray(size)
            zf.read_into(e, buf, threads, chunks=range(i, j))
            emit(buf)
            i = j
    out.flush()
    if sha is not None and sha.hexdigest() != zf.original_sha256:
        raise ChecksumMismatchError(
            f"{zf.name}: restored content sha256 {sha.hexdigest()} differs from the stored {zf.original_sha256}"
        )


def _restored_msg(args, src: str, size: int, check_sha256: bool, dst: str, dt: float | None = None) -> str:
    msg = f"{src}: {_human(size)} restored" + (" to stdout" if dst == STDIO else "") + ", " + \
        ("sha256 verified" if check_sha256 else "chunk checksums verified")
    if args.verbose and dt:
        msg += f" in {dt:.2f} s, {size / dt / 1e6:.0f} MB/s" + ("" if dst == STDIO else f" -> {dst}")
    return msg


def _decompress_zf(args, zf, label: str, dst: str, overall, like=None) -> None:
    """Restore the open .zipw `zf` to stdout (in order) or to the new file `dst`."""
    from ._fileio import atomic_output, reserve

    check_sha256 = args.sha256
    if zf.base_record is not None:
        zf.base_model()  # found and checked before anything is written
    with _bar(args, zf.original_size, os.path.basename(label), overall, share=_size(label)) as bar:
        if dst == STDIO:
            _restore_to_stream(zf, _stdout_binary(args), args.threads, check_sha256, bar)
        else:
            zf.check_output_size(zf.original_size, "the original file")
            with atomic_output(dst, args.force, args.sync, like=like) as f:
                reserve(f, zf.original_size)
                zf.restore_to_fd(f.fileno(), args.threads, check_sha256, bar)
    _say(args, _restored_msg(args, label, zf.original_size, check_sha256, dst))


def _decompress_stdin(args, job: _Job, overall) -> None:
    from .reader import ZipwFile

    if job.dst == STDIO:
        _stdout_binary(args)  # refused before stdin is read
    with _spooled_stdin() as spool, _named(spool):
        with ZipwFile(spool, name="stdin", max_output_size=args.max_size, base=args.base) as zf:
            _decompress_zf(args, zf, "stdin", job.dst, overall)


def _decompress_file(args, job: _Job, overall) -> None:
    import time

    from .reader import ZipwFile, decompress_file

    src, dst = job.src, job.dst
    if dst == STDIO:
        with ZipwFile(src, max_output_size=args.max_size, base=args.base) as zf:
            _decompress_zf(args, zf, src, dst, overall)
        return
    src_st = os.stat(src)
    check_sha256 = args.sha256 or args.rm  # --rm: the whole file is checked first
    with ZipwFile(src, max_output_size=args.max_size, base=args.base) as zf:
        size = zf.original_size
        if zf.base_record is not None:
            zf.base_model()  # found and checked before anything is written
    t0 = time.perf_counter()
    with _bar(args, size, os.path.basename(src), overall, share=src_st.st_size) as bar:
        out = decompress_file(src, dst, threads=args.threads, force=args.force, progress=bar,
                              check_sha256=check_sha256, sync=args.sync or args.rm, max_output_size=args.max_size,
                              base=args.base)
    dt = time.perf_counter() - t0
    if args.rm:
        def check(out_st):
            if out_st.st_size != size:
                raise CorruptDataError(f"{out}: {out_st.st_size} bytes, expected {size}; input not removed")

        _remove_input(src, src_st, out, check)
    _say(args, _restored_msg(args, src, size, check_sha256, out, dt))


def cmd_decompress(args) -> int:
    _check_stream_args(args)
    return _each(args, lambda n: n.endswith(SUFFIX), _strip, None, _decompress_stdin, _decompress_file)


# -- info and verify -----------------------------------------------------------------------------
def _zipw_files(args, run: _Run) -> list[str]:
    """The .zipw files named, or found in the folders named (STDIO: standard input)."""
    paths = []
    for path in args.inputs:
        if path == STDIO:
            paths.append(path)
            continue
        try:
            st = _input_stat(path)
        except _Usage as exc:
            run.fail(exc)
            continue
        if stat.S_ISDIR(st.st_mode):
            paths.extend(full for full, name in _walk(args, path, st, None) if name.endswith(SUFFIX))
        else:
            paths.append(path)
    return paths


@contextlib.contextmanager
def _open_zipw(path: str, max_size: int | None = None, base: str | None = None):
    from .reader import ZipwFile

    if path == STDIO:
        with _spooled_stdin() as spool, _named(spool):
            with ZipwFile(spool, name="stdin", max_output_size=max_size, base=base) as zf:
                yield zf
        return
    with ZipwFile(path, max_output_size=max_size, base=base) as zf:
        yield zf


def _codec_counts(e) -> dict:
    from .codec import delta  # the chunk codecs with the delta ones

    counts: dict = {}
    for c in e.chunks["codec"].tolist():
        name = delta.NAMES.get(c, f"unknown({c})")
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def _info_record(path: str, zf) -> dict:
    """What `zipw info --json` says of one file (one JSON object a line)."""
    entries = []
    for e in zf.entries:
        entries.append({
            "name": e.name if e.kind == 0 else None, "kind": "tensor" if e.kind == 0 else "bytes",
            "dtype": e.dtype.name, "shape": list(e.shape), "offset": e.offset, "bytes": e.length,
            "stored_bytes": int(e.chunks["length"].sum()), "chunks": len(e.chunks), "chunk_size": e.chunk_size,
            "codecs": _codec_counts(e),
        })
    return {
        "file": path, "format_version": zf.version, "compressed_size": zf.compressed_size,
        "original_size": zf.original_size, "ratio": zf.compressed_size / max(1, zf.original_size),
        "original_sha256": zf.original_sha256,
        "source": "safetensors" if zf.index.source_kind == 1 else "bytes",
        "header_bytes": len(zf.index.prefix), "entries": entries,
        "base": None if zf.base_record is None else {
            "sha256": zf.base_record.sha256.hex(), "size": zf.base_record.size, "location": zf.base_record.location},
    }


def _print_info(path: str, zf) -> None:
    print(f"{path}: format v{zf.version}, {_human(zf.compressed_size)} compressed, "
          f"{_human(zf.original_size)} original ({100 * zf.compressed_size / max(1, zf.original_size):.2f}%)")
    print(f"original sha256 {zf.original_sha256}")
    if zf.base_record is not None:
        rec = zf.base_record
        print(f"coded against base sha256 {rec.sha256.hex()} ({_human(rec.size)}), found at {rec.describe()}")
    kind = "safetensors" if zf.index.source_kind == 1 else "bytes"
    print(f"source {kind}, header {len(zf.index.prefix)} bytes, {len(zf.entries)} entries")
    rows = [("name", "dtype", "shape", "chunks", "codec", "bytes", "ratio")]
    for e in zf.entries:
        stored = int(e.chunks["length"].sum())
        rows.append((
            e.name if e.kind == 0 else "(bytes)", e.dtype.name, "x".join(map(str, e.shape)) or "scalar",
            str(len(e.chunks)), ",".join(_codec_counts(e)) or "-", str(e.length),
            f"{stored / e.length:.3f}" if e.length else "-",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i in (0, 1, 2, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))


def _json_line(obj) -> None:
    import json

    print(json.dumps(obj, sort_keys=True))


def cmd_info(args) -> int:
    run = _Run(args)

    def one(path):
        with _open_zipw(path) as zf:
            if args.json:
                _json_line(_info_record(path, zf))
            else:
                _print_info(path, zf)

    for path in _zipw_files(args, run):
        if not run.attempt(one, path) and args.json:
            _json_line({"file": path, "error": run.last})
    return run.finish()


def cmd_verify(args) -> int:
    run = _Run(args)
    paths = _zipw_files(args, run)
    if args.original and len(paths) + run.failed != 1:
        raise _Usage("--original takes a single input file")
    overall = _overall(args, [_Job(p, None) for p in paths])

    def one(path):
        with _open_zipw(path, args.max_size, args.base) as zf:
            with _bar(args, zf.original_size, os.path.basename(path), overall, share=_size(path)) as bar:
                zf.verify(args.threads, progress=bar)  # a delta file: its whole base hashed too
            if args.original:
                from huggingface_hub.utils.sha import sha_fileobj

                with open(args.original, "rb") as f:
                    digest = sha_fileobj(f).hex()
                if digest != zf.original_sha256:
                    raise CorruptDataError(f"{path}: does not restore {args.original} (sha256 {digest} "
                                           f"vs {zf.original_sha256})")
            if args.json:
                _json_line({"file": path, "ok": True, "entries": len(zf.entries), "original_size": zf.original_size,
                            "original_sha256": zf.original_sha256})
            _say(args, f"{path}: OK ({len(zf.entries)} entries, sha256 {zf.original_sha256[:16]}…)")

    try:
        for path in paths:
            if not run.attempt(one, path) and args.json:
                _json_line({"file": path, "ok": False, "error": run.last})
    finally:
        if overall is not None:
            overall.close()
    return run.finish()


# -- bench and mirror -----------------------------------------------------------------------------
def cmd_bench(args) -> int:
    """Time the whole job (read, code, write, from page cache) on each file, in this
    process; medians of --runs. bench/ compares against the peers."""
    import statistics
    import tempfile
    import time

    from .reader import decompress_file
    from .writer import compress_file

    threads = args.threads
    print(f"{'file':40} {'ratio':>7} {'compress MB/s':>14} {'decompress MB/s':>16}  (threads {threads}, level {args.level}, median of {args.runs})")
    for path in args.inputs:
        _input_stat(path, folders=False)
        size = os.path.getsize(path)
        with tempfile.TemporaryDirectory(prefix="zipw-bench-") as tmp:
            packed, back = os.path.join(tmp, "x" + SUFFIX), os.path.join(tmp, "x" + WEIGHTS_SUFFIX)
            ct, dt = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                stats = compress_file(path, packed, threads=threads, level=args.level, force=True)
                ct.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                decompress_file(packed, back, threads=threads, force=True, check_sha256=args.sha256)
                dt.append(time.perf_counter() - t0)
            print(f"{os.path.basename(path)[:40]:40} {stats.ratio:7.4f} {size / statistics.median(ct) / 1e6:14.0f} "
                  f"{size / statistics.median(dt) / 1e6:16.0f}")
    return EXIT_OK


def _local_source(src: str) -> bool:
    """Whether mirror's SRC names a local path rather than a Hub repo id."""
    repo = src.split("@", 1)[0]
    return repo.startswith(("/", "./", "../", "~", ".")) or os.path.isdir(repo) or repo.count("/") > 1


def _mirror_pairs(args) -> list[tuple[str, str]]:
    from .hub import mirror as hub_mirror

    if args.list:
        if args.src or args.dest:
            raise _Usage("mirror: give SRC DEST or --list FILE, not both")
        try:
            pairs = hub_mirror.read_list(args.list)
        except (OSError, ValueError) as exc:
            raise _Usage(f"mirror: {_message(exc)}") from None
    elif args.src and args.dest:
        pairs = [(args.src, args.dest)]
    else:
        raise _Usage("mirror: SRC and DEST are required (or --list FILE)")
    for src, _ in pairs:
        if _local_source(src):
            raise _Usage(f"mirror: SRC {src} is a local path; SRC is a Hub repo id (org/name[@revision]). "
                         f"For a local folder: zipw {'decompress' if args.restore else 'compress'} {src} -o DEST")
    return pairs


def _hub_message(exc: BaseException) -> str:
    """huggingface_hub's errors in a line: what was refused, without the class name
    when it says nothing more (HFValidationError: a malformed repo id)."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if name == "HFValidationError":
        return f"not a valid repo id or revision: {text}"
    return f"{name}: {text}"


def cmd_mirror(args) -> int:
    """zipw mirror: hub.mirror.mirror for SRC DEST or each line of --list FILE."""
    if args.ray is not None:
        try:
            from .hub import ray_mirror  # only here: ray is an optional extra

            return ray_mirror.run_cli(args)
        except ModuleNotFoundError as exc:
            if exc.name not in ("ray", f"{__package__}.hub.ray_mirror") and not (exc.name or "").startswith("ray."):
                raise
            raise _Usage(f"mirror --ray: {exc.name} is not installed; `pip install zipweights[ray]`") from None
    pairs = _mirror_pairs(args)
    from .hub import mirror as hub_mirror

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr)

    status = EXIT_OK
    for src, dest in pairs:
        try:
            s = hub_mirror.mirror(src, dest, restore=args.restore, include=args.include, exclude=args.exclude,
                                  threads=args.threads, level=args.level, dry_run=args.dry_run,
                                  endpoint=args.endpoint, token=args.token, workdir=args.workdir,
                                  progress=not args.quiet and (args.verbose or sys.stderr.isatty()),
                                  log=log if (args.verbose or args.dry_run) else None,
                                  base=args.base)
        except ZipWeightsError as exc:
            print(f"zipw mirror: {src} -> {dest}: {exc}", file=sys.stderr)
            status = EXIT_DATA
            continue
        except Exception as exc:  # huggingface_hub's errors: not found, auth, network
            print(f"zipw mirror: {src} -> {dest}: {_hub_message(exc)}", file=sys.stderr)
            status = EXIT_DATA
            continue
        if args.records:
            import json

            with open(args.records, "a") as f:
                for r in s["records"]:
                    f.write(json.dumps(dict(r, repo=src, dest=dest)) + "\n")
        if not args.dry_run:
            mb = s["bytes_in"] / 1e6
            log(f"{src} -> {dest}: {len(s['records'])} file(s) done, {len(s['skipped'])} already there; "
                f"{mb:.1f} MB -> {s['bytes_out'] / 1e6:.1f} MB in {s['seconds']:.1f} s "
                f"({mb / s['seconds'] if s['seconds'] else 0:.1f} MB/s)")
        else:
            log(f"{src} -> {dest}: {len(s['todo'])} to do, {len(s['skipped'])} already there (dry run)")
    return status


# -- the command line -----------------------------------------------------------------------------
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _size_arg(text: str) -> int:
    """A byte count with an optional binary suffix: 4096, 64M, 2G, 1T (KiB, MiB, ... as
    zstd's --memory)."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    num = t[: len(t) - len(unit)]
    if not num.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 4096, 64M, 2G, 1T)")
    return int(num) * _UNITS[unit]


def _threads_arg(text: str) -> int:
    """-T N: N threads; 0, as zstd's -T0, all cores."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: threads must be a count, or 0 for all cores")
    return n


def _level_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not MIN_LEVEL <= n <= MAX_LEVEL:
        raise argparse.ArgumentTypeError(f"{text!r}: level must be {MIN_LEVEL}..{MAX_LEVEL}")
    return n


def _runs_arg(text: str) -> int:
    n = int(text) if text.isdigit() else 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: runs must be at least 1")
    return n


def _verbosity(sp) -> None:
    g = sp.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="no messages but errors")
    g.add_argument("-v", "--verbose", action="store_true",
                   help="timings, and progress for every file (plain lines when stderr is not a terminal)")


def _threads_opt(sp, what: str = "threads") -> None:
    sp.add_argument("-T", "--threads", type=_threads_arg, default=0, metavar="N",
                    help=f"{what} (default and 0: all cores)")


def _stream_options(sp) -> None:
    """The options compress and decompress share: where outputs go, and zstd's habits."""
    sp.add_argument("inputs", nargs="*", metavar="FILE|DIR",
                    help="files or folders; '-' or none: standard input")
    sp.add_argument("-o", "--output", metavar="PATH",
                    help="output file (or folder, for a folder input); '-': standard output")
    sp.add_argument("-c", "--stdout", action="store_true", help="write to standard output (no -o, no --rm)")
    sp.add_argument("--output-dir-flat", metavar="DIR", help="every output in DIR (made if missing)")
    sp.add_argument("--output-dir-mirror", metavar="DIR",
                    help="every output under DIR at its input's path (folders made as needed)")
    sp.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    sp.add_argument("--rm", action="store_true", help="remove each input once its output is complete")
    sp.add_argument("-k", "--keep", dest="rm", action="store_false", help="keep inputs (the default; undoes --rm)")
    sp.add_argument("-r", "--recursive", action="store_true",
                    help="walk folders (always done: accepted for zstd's habit)")
    sp.add_argument("--sync", action="store_true", help="fsync each output before it takes its name (always with --rm)")
    _threads_opt(sp)
    _verbosity(sp)


def _sha256_options(p) -> None:
    """As zstd: every chunk's xxh3 by default; the whole-file sha256 on request (verify: always)."""
    sums = p.add_mutually_exclusive_group()
    sums.add_argument("--sha256", action="store_true",
                      help="also check the restored file's sha256 against the recorded one (every "
                           "chunk's xxh3 is always checked; zipw verify checks both)")
    sums.add_argument("--no-sha256", action="store_true",
                      help="the default: every chunk's checksum, not the whole-file sha256 (kept for old scripts)")


def _max_size(p) -> None:
    p.add_argument("--max-size", type=_size_arg, default=DEFAULT_MAX_OUTPUT_SIZE, metavar="SIZE",
                   help="refuse files that declare more than SIZE bytes of output (default 1T)")


def _add_compress(c) -> None:
    _stream_options(c)
    c.add_argument("-l", "--level", type=_level_arg, default=DEFAULT_LEVEL, metavar="N",
                   help=f"{MIN_LEVEL} (fastest) .. {MAX_LEVEL} (smallest), default {DEFAULT_LEVEL}; also -1 .. -9")
    for n in range(MIN_LEVEL, MAX_LEVEL + 1):
        c.add_argument(f"-{n}", dest="level", action="store_const", const=n, help=argparse.SUPPRESS)
    c.add_argument("--chunk-size", type=int, default=None, help=argparse.SUPPRESS)
    c.add_argument("--raw", action="store_true", help="compress as bytes even if the file is safetensors")
    c.add_argument("--dtype", metavar="TYPE",
                   help="element type of a file that is not safetensors (e.g. BF16, F32); with --raw, of any file")
    c.add_argument("--base", metavar="FILE", help=BASE_HELP + "; recorded by sha256 and relative path")
    c.set_defaults(func=cmd_compress)


def _add_decompress(d) -> None:
    _stream_options(d)
    _sha256_options(d)
    _max_size(d)
    d.add_argument("--base", metavar="FILE", help=BASE_USED)
    d.set_defaults(func=cmd_decompress)


def _add_info(i) -> None:
    i.add_argument("inputs", nargs="+", metavar="FILE|DIR", help=".zipw files, folders of them, or '-'")
    i.add_argument("--json", action="store_true", help="one JSON object a file, a line each")
    i.set_defaults(func=cmd_info)


def _add_verify(v) -> None:
    v.add_argument("inputs", nargs="+", metavar="FILE|DIR", help=".zipw files, folders of them, or '-'")
    v.add_argument("--original", help="also check that FILE restores exactly this file")
    _max_size(v)
    v.add_argument("--base", metavar="FILE", help=BASE_USED + "; its whole sha256 is checked")
    v.add_argument("--json", action="store_true", help="one JSON object a file, a line each (ok, or the error)")
    _threads_opt(v)
    _verbosity(v)
    v.set_defaults(func=cmd_verify)


def _add_bench(b) -> None:
    b.add_argument("inputs", nargs="+", metavar="FILE")
    _threads_opt(b)
    b.add_argument("-l", "--level", type=_level_arg, default=DEFAULT_LEVEL)
    b.add_argument("-r", "--runs", type=_runs_arg, default=5)
    _sha256_options(b)
    b.set_defaults(func=cmd_bench)


MIRROR_DESCRIPTION = """\
SRC: a repo id, optionally @revision. DEST: a repo id, or a local folder (an
existing folder, a path starting with / ./ ../ ~, or with more than one '/';
'hf:' forces a repo).

Besides the files, DEST gets (and --dry-run lists):
  .zipw-mirror.json  the source repo and commit, and for every file its source id,
                     output name and sizes: how a rerun knows what is done
  README.md          the source's model card (or a new one) with a note saying
                     what was compressed and how to load it, between the lines
                     <!-- zipw-mirror --> and <!-- /zipw-mirror -->
--restore writes README.md back without the note, byte for byte the card the
compressed repo was made from (a card that held only the note is not written),
and its own .zipw-mirror.json.
"""


def _add_mirror(m) -> None:
    m.add_argument("src", nargs="?", metavar="SRC")
    m.add_argument("dest", nargs="?", metavar="DEST")
    m.add_argument("--list", metavar="FILE", help="a file of 'SRC DEST' lines, mirrored one after the other")
    m.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run the --list on a Ray cluster (a local one without ADDRESS); "
                        "needs `pip install zipweights[ray]`")
    m.add_argument("--restore", action="store_true", help="a compressed repo to a plain one")
    m.add_argument("--include", action="append", metavar="GLOB", help="only files matching (repeatable)")
    m.add_argument("--exclude", action="append", metavar="GLOB", help="skip files matching (repeatable)")
    m.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    _threads_opt(m, "compression threads")
    m.add_argument("-l", "--level", type=_level_arg, default=None, help="compression level")
    m.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT)")
    m.add_argument("--token", default=None, help="Hub token (default: huggingface_hub's)")
    m.add_argument("--workdir", default=None, help="where plain copies wait (default: the temp folder)")
    m.add_argument("--records", metavar="FILE", help="append one JSON line per file done")
    m.add_argument("--base", metavar="REPO[@REV]",
                   help="code each safetensors file against the file of the same name in this repo (a fine-tune's base)")
    _verbosity(m)
    m.set_defaults(func=cmd_mirror)


# command: (its line in `zipw --help`, extra add_parser arguments, what adds its options)
_COMMANDS = {
    "compress": ("FILE -> FILE.zipw; a folder: every *.safetensors in it", {"epilog": LEVEL_HELP},
                 _add_compress),
    "decompress": ("FILE.zipw -> FILE, byte for byte", {}, _add_decompress),
    "info": ("per-tensor table: dtype, shape, codec, ratio", {}, _add_info),
    "verify": ("decode everything and check every checksum", {}, _add_verify),
    "bench": ("time compress and decompress of files (whole job, medians)", {}, _add_bench),
    "mirror": ("mirror a Hub repo as a compressed repo or folder (--restore: the reverse)",
               {"description": MIRROR_DESCRIPTION, "formatter_class": argparse.RawDescriptionHelpFormatter},
               _add_mirror),
}


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints in zipw's one form: "zipw: what is wrong"."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"zipw: {message} (see `{self.prog} --help`)\n")

    def _get_formatter(self):
        # argparse makes a formatter for every add_argument (to check its metavar), and
        # each asks shutil (an import of shutil, bz2, lzma and zlib) for the terminal's
        # width; the same width, from os alone, as shutil.get_terminal_size finds it
        return self.formatter_class(prog=self.prog, width=_help_width())


def _help_width() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return max(columns, 1) - 2  # as argparse: 2 short of the edge


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """zipw's parser; with `command`, only that command's parser (argparse's making of
    each parser looks for message catalogs, a few tenths of a millisecond each, and
    the options' own formatters: building all six cost 7 ms of a 4 KB compress)."""
    p = _Parser(
        prog="zipw", description="Lossless compression for neural-network weights.",
        epilog="zstd's spelling works too: `zipw FILE` compresses, `zipw -d FILE` decompresses, "
               "`zipw -dc FILE` writes to stdout, `zipw -9 FILE`, `cat FILE | zipw > FILE.zipw`.")
    p.add_argument("-V", "--version", action="version", version=f"zipw {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS if command is None else (command,):
        text, extra, options = _COMMANDS[name]
        options(sub.add_parser(name, help=text, **extra))
    return p


# options that take a value: in a group such as -dT4 what follows T is its value, and
# -o FILE's FILE is never a flag
_VALUE_SHORTS = frozenset("oTl")
_VALUE_LONGS = frozenset(("--output", "--output-dir-flat", "--output-dir-mirror", "--threads", "--level",
                          "--dtype", "--chunk-size", "--max-size", "--base"))


def _short_group(word: str) -> tuple[str, str]:
    """-dcT4 -> ("dc", "T4"): the flags of a group of short options, and the option
    that takes a value with what follows it."""
    for k, ch in enumerate(word[1:], 1):
        if ch in _VALUE_SHORTS:
            return word[1:k], word[k:]
    return word[1:], ""


def _without_decompress_flag(argv: list[str]) -> tuple[list[str], bool]:
    """argv less zstd's -d (alone, or in a group of short flags like -dc or -kdf), and
    whether it was there."""
    out, found, i = [], False, 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            out.extend(argv[i - 1 :])
            break
        if word in ("--decompress", "--uncompress"):
            found = True
            continue
        if not word.startswith("-") or word == STDIO or word.startswith("--"):
            out.append(word)
            if word in _VALUE_LONGS and i < len(argv):
                out.append(argv[i])
                i += 1
            continue
        flags, value = _short_group(word)
        found = found or "d" in flags
        kept = flags.replace("d", "") + value
        if kept:
            out.append("-" + kept)
        if len(value) == 1 and i < len(argv):  # -o FILE, -T N: the value is the next word
            out.append(argv[i])
            i += 1
    return out, found


def _command_argv(argv: list[str]) -> list[str]:
    """A command line in zstd's spelling (no command word) as zipw's: `zipw FILE` and
    `zipw -9 FILE` compress, `zipw -d FILE` and `zipw -dc FILE` decompress, and `zipw`
    alone reads standard input (when it is not a terminal)."""
    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version", "-V")):
        return argv
    if not argv and (sys.stdin is None or sys.stdin.isatty()):
        return argv  # argparse says a command is needed
    rest, decompress = _without_decompress_flag(argv)
    return ["decompress" if decompress else "compress", *rest]


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush finds no pipe."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    argv = _command_argv(list(sys.argv[1:] if argv is None else argv))
    parser = _parser(argv[0] if argv and argv[0] in COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error: argparse has said why
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "threads", None) == 0:
        from ._parallel import default_threads

        args.threads = default_threads()  # -T0, as zstd's: all cores
    from ._fileio import install_signal_handlers

    try:
        with install_signal_handlers():
            try:
                status = args.func(args)
                sys.stdout.flush()  # inside: a reader gone away is seen here, not at exit
                return status
            except KeyboardInterrupt as exc:  # SIGINT, SIGTERM, SIGHUP: outputs already removed
                signum = getattr(exc, "signum", signal.SIGINT)
                print(f"zipw: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
                return 128 + signum
            except (_Usage, ZipWeightsError, OSError) as exc:
                if isinstance(exc, BrokenPipeError):
                    raise
                print(f"zipw: {_message(exc)}", file=sys.stderr)
                return exit_code(exc)
    except BrokenPipeError:  # `zipw info m.zipw | head`: the reader went away; as zstd, quietly
        _quiet_stdout()
        return _EXIT_SIGPIPE


def cat_main(argv: list[str] | None = None) -> int:
    """zipwcat, as zstdcat: `zipw decompress -c` of its arguments (standard input without)."""
    return main(["decompress", "-c", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # python -m zipweights.cli: as the console script (_cli_main says why)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
