"""zipw: the command line, with the habits of gzip and zstd.

Thin by design: it parses arguments, walks files and folders, and calls the writer
and reader. Exit status: 0 ok, 1 a data error (corrupt input, checksum), 2 a usage
error (bad arguments, missing input, an output that exists without -f).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import sys
import time

from . import __version__
from ._parallel import default_threads
from .codec import chain, delta
from ._fileio import atomic_output, check_output, install_signal_handlers, is_temp_name, same_file
from ._progress import Progress
from .errors import EXIT_DATA, EXIT_OK, EXIT_USAGE, exit_code
from .errors import ChecksumMismatchError, CorruptDataError, InvalidArgumentError, ZipWeightsError
from .errors import UsageError as _Usage
from .format.container import SUFFIX
from .format.limits import DEFAULT_MAX_OUTPUT_SIZE
from .hub import WEIGHTS_SUFFIX
from .reader import ZipwFile, decompress_file
from .writer import DEFAULT_CHUNK_SIZE, compress_file, compress_to_stream


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _progress(args, total: int, label: str) -> Progress:
    """A bar over bytes, only where someone watches (a terminal) or -v asks."""
    hidden = args.quiet or not (args.verbose or sys.stderr.isatty()) or total < (16 << 20) and not args.verbose
    return Progress(total, label, show=not hidden)


def _say(args, msg: str) -> None:
    if not args.quiet:
        print(msg, file=sys.stderr)


# -- walking inputs ---------------------------------------------------------------
def _warn(args, msg: str) -> None:
    if not args.quiet:
        print(f"zipw: warning: {msg}", file=sys.stderr)


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


def _expand(args, want, rename) -> list[tuple[str, str | None, bool, bool]]:
    """(input file, output path or None for the default, copy it as is, create the
    output's folder) for every file to process. Folders are walked for files `want`
    accepts; with -o a folder is written to a new folder holding the processed files
    (named by `rename`) and copies of everything else."""
    pairs = []
    if args.output and len(args.inputs) > 1:
        raise _Usage("-o takes a single input (a file or a folder)")
    for path in args.inputs:
        st = _input_stat(path)
        if stat.S_ISDIR(st.st_mode):
            if args.stdout:
                raise _Usage(f"{path}: a folder; -c/--stdout takes files")
            pairs.extend(_walk(args, path, st, want, rename))
        elif args.output and os.path.isdir(args.output):
            pairs.append((path, os.path.join(args.output, rename(os.path.basename(path))), False, False))
        else:
            pairs.append((path, args.output, False, False))
    return pairs


def _walk(args, top: str, top_st: os.stat_result, want, rename):
    """The files under the folder `top`, in sorted order. Skipped: zipweights' own
    temporary files, the output folder (when -o lies inside the input), links to
    folders (not followed), and, with a warning, what cannot be read as a regular file
    (a dangling link, a link loop, a FIFO)."""
    out_st = None
    if args.output:
        with contextlib.suppress(OSError):
            out_st = os.stat(args.output)
        if out_st is not None and same_file(out_st, top_st):
            raise _Usage(f"{args.output}: the output folder is the input folder (leave out -o to write beside the inputs)")

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
            if args.output:
                dest = os.path.join(args.output, os.path.relpath(full, top))
                if want(name):
                    yield full, os.path.join(os.path.dirname(dest), rename(name)), False, True
                else:
                    yield full, dest, True, True
            elif want(name):
                yield full, None, False, False


def _copy(src: str, dst: str, args) -> None:
    """A copy of a file that is not compressed, written like any output (whole or not at
    all, never over anything but a regular file without -f, with the input's mode and times)."""
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(src, "rb") as f:
        with atomic_output(dst, args.force, args.sync, like=os.fstat(f.fileno())) as out:
            shutil.copyfileobj(f, out, 1 << 20)


def _remove_input(src: str, src_st: os.stat_result, out: str, check) -> None:
    """--rm: remove `src` only when `out` is a different file, complete and verified by
    `check()`, and `src` is still the file that was read (same inode, size and mtime)."""
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


def _check_stdout(args) -> None:
    if args.output or args.rm:
        raise _Usage("-c/--stdout takes neither -o nor --rm")


def _mkdir_for(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


# -- commands ---------------------------------------------------------------------
def _files(args, want, rename):
    """(input, output or None for the default) of every file to process, in order; a
    folder walk's folders are made and its other files copied on the way."""
    for src, dst, copy, mkdir in _expand(args, want, rename):
        if mkdir:
            _mkdir_for(dst)
        if copy:
            _copy(src, dst, args)
            continue
        yield src, dst


def cmd_compress(args) -> int:
    if args.stdout:
        _check_stdout(args)
        if len(args.inputs) != 1:
            raise _Usage("-c/--stdout compresses a single file (.zipw files do not concatenate)")
        if sys.stdout.isatty():
            raise _Usage("stdout is a terminal; compressed data not written there (redirect it or use -o)")
    for src, dst in _files(args, lambda n: n.endswith(WEIGHTS_SUFFIX), lambda n: n + SUFFIX):
        out = "-" if args.stdout else dst or src + SUFFIX
        if not args.stdout:
            check_output(out, args.force)  # before a progress bar shows (checked again on writing)
        src_st = os.stat(src)
        bar = _progress(args, src_st.st_size, os.path.basename(src))
        t0 = time.perf_counter()
        opts = dict(threads=args.threads, level=args.level, chunk_size=args.chunk_size,
                    raw=args.raw, dtype_hint=args.dtype, progress=bar, base=args.base)
        try:
            if args.stdout:
                stats = compress_to_stream(src, sys.stdout.buffer, **opts)
                sys.stdout.buffer.flush()
            else:
                stats = compress_file(src, out, force=args.force, sync=args.sync or args.rm, **opts)
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        if args.rm:
            def check(out_st, out=out, stats=stats):
                with ZipwFile(out, base=args.base) as zf:  # read back before the only other copy goes
                    zf.verify(args.threads)
                    if zf.original_sha256 != stats.sha256 or zf.original_size != src_st.st_size:
                        raise CorruptDataError(f"{out}: does not restore {src}; input not removed")

            _remove_input(src, src_st, out, check)
        msg = f"{src}: {_human(stats.original_size)} -> {_human(stats.compressed_size)} ({100 * stats.ratio:.2f}%)"
        if args.verbose:
            msg += f" in {dt:.2f} s, {stats.original_size / dt / 1e6:.0f} MB/s -> {out}"
        _say(args, msg)
    return EXIT_OK


def _restore_to_stream(zf: ZipwFile, out, threads: int, check_sha256: bool, progress) -> None:
    """Write the original file to the stream `out` in order (a pipe cannot be seeked):
    runs of chunks decoded in parallel (each chunk checked), written one after another."""
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


def cmd_decompress(args) -> int:
    if args.stdout:
        _check_stdout(args)
    for src, dst in _files(args, lambda n: n.endswith(SUFFIX), _strip):
        if dst is None and not args.stdout:
            dst = os.path.join(os.path.dirname(src), _strip(os.path.basename(src)))
        if not args.stdout:
            check_output(dst, args.force)  # before a progress bar shows (checked again on writing)
        src_st = os.stat(src)
        check_sha256 = not args.no_sha256 or args.rm  # --rm: the whole file is checked first
        with ZipwFile(src, max_output_size=args.max_size, base=args.base) as zf:
            size = zf.original_size
            if zf.base_record is not None:
                zf.base_model()  # found and checked before anything is written
            if args.stdout:
                bar = _progress(args, size, os.path.basename(src))
                try:
                    _restore_to_stream(zf, sys.stdout.buffer, args.threads, check_sha256, bar)
                finally:
                    bar.close()
                _say(args, f"{src}: {_human(size)} restored to stdout")
                continue
        bar = _progress(args, size, os.path.basename(src))
        t0 = time.perf_counter()
        try:
            out = decompress_file(src, dst, threads=args.threads, force=args.force, progress=bar,
                                  check_sha256=check_sha256, sync=args.sync or args.rm,
                                  max_output_size=args.max_size, base=args.base)
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        if args.rm:
            def check(out_st, out=out, size=size):
                if out_st.st_size != size:
                    raise CorruptDataError(f"{out}: {out_st.st_size} bytes, expected {size}; input not removed")

            _remove_input(src, src_st, out, check)
        msg = f"{src}: {_human(size)} restored, " + ("sha256 verified" if check_sha256 else "chunk checksums verified")
        if args.verbose:
            msg += f" in {dt:.2f} s, {size / dt / 1e6:.0f} MB/s -> {out}"
        _say(args, msg)
    return EXIT_OK


def cmd_info(args) -> int:
    for path in args.inputs:
        _input_stat(path, folders=False)
        with ZipwFile(path) as zf:
            print(f"{path}: format v{zf.version}, {_human(zf.compressed_size)} compressed, "
                  f"{_human(zf.original_size)} original ({100 * zf.compressed_size / max(1, zf.original_size):.2f}%)")
            print(f"original sha256 {zf.original_sha256}")
            if zf.base_record is not None:
                rec = zf.base_record
                print(f"coded against base sha256 {rec.sha256.hex()} ({_human(rec.size)}), "
                      f"found at {rec.describe()}")
            kind = "safetensors" if zf.index.source_kind == 1 else "bytes"
            print(f"source {kind}, header {len(zf.index.prefix)} bytes, {len(zf.entries)} entries")
            rows = [("name", "dtype", "shape", "chunks", "codec", "bytes", "ratio")]
            for e in zf.entries:
                codecs = {}
                for c in e.chunks["codec"].tolist():
                    codecs[c] = codecs.get(c, 0) + 1
                label = ",".join(delta.NAMES.get(c, f"unknown({c})") for c in sorted(codecs))
                stored = int(e.chunks["length"].sum())
                rows.append((
                    e.name if e.kind == 0 else "(bytes)", e.dtype.name, "x".join(map(str, e.shape)) or "scalar",
                    str(len(e.chunks)), label or "-", str(e.length),
                    f"{stored / e.length:.3f}" if e.length else "-",
                ))
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                print("  ".join(c.ljust(w) if i in (0, 1, 2, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return EXIT_OK


def cmd_verify(args) -> int:
    if args.original and len(args.inputs) != 1:
        raise _Usage("--original takes a single input")
    for path in args.inputs:
        _input_stat(path, folders=False)
        with ZipwFile(path, max_output_size=args.max_size, base=args.base) as zf:
            bar = _progress(args, zf.original_size, os.path.basename(path))
            try:
                zf.verify(args.threads, progress=bar)  # a delta file: its whole base hashed too
            finally:
                bar.close()
            if args.original:
                from huggingface_hub.utils.sha import sha_fileobj

                with open(args.original, "rb") as f:
                    digest = sha_fileobj(f).hex()
                if digest != zf.original_sha256:
                    print(f"zipw: {path}: does not restore {args.original} (sha256 {digest} "
                          f"vs {zf.original_sha256})", file=sys.stderr)
                    return EXIT_DATA
        _say(args, f"{path}: OK ({len(zf.entries)} entries, sha256 {zf.original_sha256[:16]}…)")
    return EXIT_OK


def cmd_bench(args) -> int:
    """Time the whole job (read, code, write, from page cache) on each file, in this
    process; medians of --runs. bench/ compares against the peers."""
    import statistics
    import tempfile

    print(f"{'file':40} {'ratio':>7} {'compress MB/s':>14} {'decompress MB/s':>16}  (threads {args.threads}, level {args.level}, median of {args.runs})")
    for path in args.inputs:
        size = os.path.getsize(path)
        with tempfile.TemporaryDirectory(prefix="zipw-bench-") as tmp:
            packed, back = os.path.join(tmp, "x" + SUFFIX), os.path.join(tmp, "x.out")
            ct, dt = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                stats = compress_file(path, packed, threads=args.threads, level=args.level, force=True)
                ct.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                decompress_file(packed, back, threads=args.threads, force=True, check_sha256=not args.no_sha256)
                dt.append(time.perf_counter() - t0)
            print(f"{os.path.basename(path)[:40]:40} {stats.ratio:7.4f} {size / statistics.median(ct) / 1e6:14.0f} "
                  f"{size / statistics.median(dt) / 1e6:16.0f}")
    return EXIT_OK


def cmd_mirror(args) -> int:
    """zipw mirror: hub.mirror.mirror for SRC DEST or each line of --list FILE."""
    from .hub import mirror as hub_mirror

    if args.list:
        if args.src or args.dest:
            print("zipw mirror: give SRC DEST or --list FILE, not both", file=sys.stderr)
            return EXIT_USAGE
        try:
            pairs = hub_mirror.read_list(args.list)
        except (OSError, ValueError) as exc:
            print(f"zipw mirror: {exc}", file=sys.stderr)
            return EXIT_USAGE
    elif args.src and args.dest:
        pairs = [(args.src, args.dest)]
    else:
        print("zipw mirror: SRC and DEST are required (or --list FILE)", file=sys.stderr)
        return EXIT_USAGE

    def log(msg):
        if not args.quiet:
            print(msg, file=sys.stderr)

    status = EXIT_OK
    for src, dest in pairs:
        try:
            s = hub_mirror.mirror(src, dest, restore=args.restore, include=args.include, exclude=args.exclude,
                                  threads=args.threads, level=args.level, dry_run=args.dry_run,
                                  endpoint=args.endpoint, token=args.token, workdir=args.workdir,
                                  progress=not args.quiet, log=log if (args.verbose or args.dry_run) else None,
                                  base=args.base)
        except ZipWeightsError as exc:
            print(f"zipw mirror: {src} -> {dest}: {exc}", file=sys.stderr)
            status = EXIT_DATA
            continue
        except Exception as exc:  # huggingface_hub's errors: not found, auth, network
            print(f"zipw mirror: {src} -> {dest}: {type(exc).__name__}: {exc}", file=sys.stderr)
            status = EXIT_DATA
            continue
        if args.records:
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zipw", description="Lossless compression for neural-network weights.")
    p.add_argument("--version", action="version", version=f"zipw {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, output=True):
        sp.add_argument("inputs", nargs="+", metavar="FILE|DIR")
        if output:
            sp.add_argument("-o", "--output", help="output file (or folder, for a folder input)")
            sp.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
            sp.add_argument("--rm", action="store_true", help="remove each input once its output is complete")
            sp.add_argument("--sync", action="store_true", help="fsync each output before it takes its name (always with --rm)")
            sp.add_argument("-c", "--stdout", action="store_true", help="write to standard output (no -o, no --rm)")
        sp.add_argument("-T", "--threads", type=int, default=default_threads(), help="threads (default: all cores)")
        g = sp.add_mutually_exclusive_group()
        g.add_argument("-q", "--quiet", action="store_true")
        g.add_argument("-v", "--verbose", action="store_true")

    c = sub.add_parser("compress", help="FILE -> FILE.zipw; a folder: every *.safetensors in it")
    common(c)
    c.add_argument("-l", "--level", type=int, default=chain.DEFAULT_LEVEL,
                   help=f"{chain.MIN_LEVEL} (fastest) .. {chain.MAX_LEVEL} (smallest), default {chain.DEFAULT_LEVEL}")
    c.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help=argparse.SUPPRESS)
    c.add_argument("--raw", action="store_true", help="compress as bytes even if the file is safetensors")
    c.add_argument("--dtype", help="element type of a non-safetensors file (e.g. BF16, F32)")
    base_help = "the base model (safetensors or .zipw) the file is coded against: a fine-tune's base, the checkpoint before"
    c.add_argument("--base", metavar="FILE", help=base_help + "; recorded by sha256 and relative path")
    c.set_defaults(func=cmd_compress)

    d = sub.add_parser("decompress", help="FILE.zipw -> FILE, byte for byte")
    common(d)
    d.add_argument("--no-sha256", action="store_true",
                   help="skip the whole-file sha256 check (every chunk's checksum is still verified)")
    max_size = dict(type=_size_arg, default=DEFAULT_MAX_OUTPUT_SIZE, metavar="SIZE",
                    help="refuse files that declare more than SIZE bytes of output (default 1T)")
    d.add_argument("--max-size", **max_size)
    base_used = "a delta file's base model (default: where the file records it)"
    d.add_argument("--base", metavar="FILE", help=base_used)
    d.set_defaults(func=cmd_decompress)

    i = sub.add_parser("info", help="per-tensor table: dtype, shape, codec, ratio")
    i.add_argument("inputs", nargs="+", metavar="FILE")
    i.set_defaults(func=cmd_info)

    v = sub.add_parser("verify", help="decode everything and check every checksum")
    common(v, output=False)
    v.add_argument("--original", help="also check that FILE restores exactly this file")
    v.add_argument("--max-size", **max_size)
    v.add_argument("--base", metavar="FILE", help=base_used + "; its whole sha256 is checked")
    v.set_defaults(func=cmd_verify)
    b = sub.add_parser("bench", help="time compress and decompress of files (whole job, medians)")
    b.add_argument("inputs", nargs="+", metavar="FILE")
    b.add_argument("-T", "--threads", type=int, default=default_threads())
    b.add_argument("-l", "--level", type=int, default=chain.DEFAULT_LEVEL)
    b.add_argument("-r", "--runs", type=int, default=5)
    b.add_argument("--no-sha256", action="store_true", help="decompress without the whole-file sha256 check")
    b.set_defaults(func=cmd_bench)

    m = sub.add_parser(
        "mirror", help="mirror a Hub repo as a compressed repo or folder (--restore: the reverse)",
        description="SRC: a repo id, optionally @revision. DEST: a repo id, or a local folder (an existing "
                    "folder, a path starting with / ./ ../ ~, or with more than one '/'; 'hf:' forces a repo).")
    m.add_argument("src", nargs="?", metavar="SRC")
    m.add_argument("dest", nargs="?", metavar="DEST")
    m.add_argument("--list", metavar="FILE", help="a file of 'SRC DEST' lines, mirrored one after the other")
    m.add_argument("--restore", action="store_true", help="a compressed repo to a plain one")
    m.add_argument("--include", action="append", metavar="GLOB", help="only files matching (repeatable)")
    m.add_argument("--exclude", action="append", metavar="GLOB", help="skip files matching (repeatable)")
    m.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    m.add_argument("-T", "--threads", type=int, default=default_threads(), help="compression threads")
    m.add_argument("-l", "--level", type=int, default=None, help="compression level")
    m.add_argument("--endpoint", default=None, help="Hub endpoint (default: HF_ENDPOINT)")
    m.add_argument("--token", default=None, help="Hub token (default: huggingface_hub's)")
    m.add_argument("--workdir", default=None, help="where plain copies wait (default: the temp folder)")
    m.add_argument("--records", metavar="FILE", help="append one JSON line per file done")
    m.add_argument("--base", metavar="REPO[@REV]",
                   help="code each safetensors file against the file of the same name in this repo (a fine-tune's base)")
    g = m.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true")
    g.add_argument("-v", "--verbose", action="store_true")
    m.set_defaults(func=cmd_mirror)
    return p


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename is not None else exc.strerror
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", 1) is not None and getattr(args, "threads", 1) < 1:
        parser.error("--threads must be at least 1")
    with install_signal_handlers():
        try:
            return args.func(args)
        except KeyboardInterrupt as exc:  # SIGINT, SIGTERM, SIGHUP: outputs already removed
            signum = getattr(exc, "signum", signal.SIGINT)
            print(f"zipw: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
            return 128 + signum
        except (_Usage, ZipWeightsError, OSError) as exc:
            if isinstance(exc, BrokenPipeError):  # the reader of stdout went away
                with contextlib.suppress(OSError):
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                exc = OSError(exc.errno, exc.strerror, exc.filename or "stdout")
            print(f"zipw: {_message(exc)}", file=sys.stderr)
            return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
