"""zipw: the command line, with the habits of gzip and zstd.

Thin by design: it parses arguments, walks files and folders, and calls the writer
and reader. Exit status: 0 ok, 1 a data error (corrupt input, checksum), 2 a usage
error (bad arguments, missing input, an output that exists without -f).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time

from . import __version__
from ._parallel import default_threads
from .codec import chain
from .errors import InvalidArgumentError, ZipWeightsError
from .reader import ZipwFile, decompress_file
from .writer import DEFAULT_CHUNK_SIZE, compress_file

SUFFIX = ".zipw"
EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


class _Usage(Exception):
    pass


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


class _Progress:
    """A tqdm bar over bytes, only where someone watches (a terminal) or -v asks."""

    def __init__(self, args, total: int, label: str):
        self.bar = None
        if args.quiet or not (args.verbose or sys.stderr.isatty()) or total < (16 << 20) and not args.verbose:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False, file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _say(args, msg: str) -> None:
    if not args.quiet:
        print(msg, file=sys.stderr)


# -- walking inputs ---------------------------------------------------------------
def _expand(args, inputs: list[str], want) -> list[tuple[str, str | None]]:
    """(input file, output path or None for the default) for every file to process.
    Folders are walked for files `want` accepts; with -o a folder is written to a new
    folder holding the processed files and copies of everything else."""
    pairs = []
    if args.output and len(inputs) > 1:
        raise _Usage("-o takes a single input (a file or a folder)")
    for path in inputs:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if args.output:
                        rel = os.path.relpath(full, path)
                        dest = os.path.join(args.output, rel)
                        if want(name):
                            pairs.append((full, dest))
                        else:
                            pairs.append((full, "copy:" + dest))
                    elif want(name):
                        pairs.append((full, None))
        elif os.path.exists(path):
            pairs.append((path, args.output))
        else:
            raise _Usage(f"{path}: no such file or directory")
    return pairs


def _copy(src: str, dst: str, args) -> None:
    if os.path.exists(dst) and not args.force:
        raise FileExistsError(f"{dst} already exists; not overwritten (use -f)")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    shutil.copyfile(src, dst)


# -- commands ---------------------------------------------------------------------
def cmd_compress(args) -> int:
    pairs = _expand(args, args.inputs, lambda n: n.endswith(".safetensors"))
    for src, dst in pairs:
        if dst is not None and dst.startswith("copy:"):
            _copy(src, dst[5:], args)
            continue
        if dst is not None and os.path.isdir(args.output or "") and dst == args.output:
            dst = os.path.join(dst, os.path.basename(src) + SUFFIX)
        elif dst is not None and args.inputs and os.path.isdir(args.inputs[0]):
            dst += SUFFIX
            os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        out = dst or src + SUFFIX
        size = os.path.getsize(src)
        bar = _Progress(args, size, os.path.basename(src))
        t0 = time.perf_counter()
        try:
            stats = compress_file(
                src, out, threads=args.threads, level=args.level, chunk_size=args.chunk_size,
                raw=args.raw, dtype_hint=args.dtype, force=args.force, sync=args.sync or args.rm, progress=bar,
            )
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        if args.rm:
            with ZipwFile(out) as zf:  # read back before the only other copy goes
                zf.verify(args.threads)
            os.unlink(src)
        msg = f"{src}: {_human(stats.original_size)} -> {_human(stats.compressed_size)} ({100 * stats.ratio:.2f}%)"
        if args.verbose:
            msg += f" in {dt:.2f} s, {stats.original_size / dt / 1e6:.0f} MB/s -> {out}"
        _say(args, msg)
    return EXIT_OK


def cmd_decompress(args) -> int:
    pairs = _expand(args, args.inputs, lambda n: n.endswith(SUFFIX))
    for src, dst in pairs:
        if dst is not None and dst.startswith("copy:"):
            _copy(src, dst[5:], args)
            continue
        if dst is not None and args.inputs and os.path.isdir(args.inputs[0]):
            dst = dst[: -len(SUFFIX)]
            os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
        elif dst is not None and os.path.isdir(dst):
            base = os.path.basename(src)
            if not base.endswith(SUFFIX):
                raise _Usage(f"{src}: no {SUFFIX} suffix to strip; give an output file name")
            dst = os.path.join(dst, base[: -len(SUFFIX)])
        elif dst is None and not src.endswith(SUFFIX):
            raise _Usage(f"{src}: no {SUFFIX} suffix to strip; give an output name with -o")
        with ZipwFile(src) as zf:
            size = zf.original_size
        bar = _Progress(args, size, os.path.basename(src))
        t0 = time.perf_counter()
        try:
            out = decompress_file(src, dst, threads=args.threads, force=args.force, progress=bar,
                                  check_sha256=not args.no_sha256, sync=args.sync or args.rm)
        finally:
            bar.close()
        dt = time.perf_counter() - t0
        if args.rm:
            os.unlink(src)
        msg = f"{src}: {_human(size)} restored, " + ("chunk checksums verified" if args.no_sha256 else "sha256 verified")
        if args.verbose:
            msg += f" in {dt:.2f} s, {size / dt / 1e6:.0f} MB/s -> {out}"
        _say(args, msg)
    return EXIT_OK


def cmd_info(args) -> int:
    for path in args.inputs:
        with ZipwFile(path) as zf:
            print(f"{path}: format v{zf.version}, {_human(zf.compressed_size)} compressed, "
                  f"{_human(zf.original_size)} original ({100 * zf.compressed_size / max(1, zf.original_size):.2f}%)")
            print(f"original sha256 {zf.original_sha256}")
            kind = "safetensors" if zf.index.source_kind == 1 else "bytes"
            print(f"source {kind}, header {len(zf.index.prefix)} bytes, {len(zf.entries)} entries")
            rows = [("name", "dtype", "shape", "chunks", "codec", "bytes", "ratio")]
            for e in zf.entries:
                codecs = {}
                for c in e.chunks["codec"].tolist():
                    codecs[c] = codecs.get(c, 0) + 1
                label = ",".join(chain.NAMES.get(c, f"unknown({c})") for c in sorted(codecs))
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
        with ZipwFile(path) as zf:
            bar = _Progress(args, zf.original_size, os.path.basename(path))
            try:
                zf.verify(args.threads, progress=bar)
            finally:
                bar.close()
            if args.original:
                h = hashlib.sha256()
                with open(args.original, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
                if h.hexdigest() != zf.original_sha256:
                    print(f"zipw: {path}: does not restore {args.original} (sha256 {h.hexdigest()} "
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
            packed, back = os.path.join(tmp, "x.zipw"), os.path.join(tmp, "x.out")
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
    c.set_defaults(func=cmd_compress)

    d = sub.add_parser("decompress", help="FILE.zipw -> FILE, byte for byte")
    common(d)
    d.add_argument("--no-sha256", action="store_true",
                   help="skip the whole-file sha256 check (every chunk's checksum is still verified)")
    d.set_defaults(func=cmd_decompress)

    i = sub.add_parser("info", help="per-tensor table: dtype, shape, codec, ratio")
    i.add_argument("inputs", nargs="+", metavar="FILE")
    i.set_defaults(func=cmd_info)

    v = sub.add_parser("verify", help="decode everything and check every checksum")
    common(v, output=False)
    v.add_argument("--original", help="also check that FILE restores exactly this file")
    v.set_defaults(func=cmd_verify)
    b = sub.add_parser("bench", help="time compress and decompress of files (whole job, medians)")
    b.add_argument("inputs", nargs="+", metavar="FILE")
    b.add_argument("-T", "--threads", type=int, default=default_threads())
    b.add_argument("-l", "--level", type=int, default=chain.DEFAULT_LEVEL)
    b.add_argument("-r", "--runs", type=int, default=5)
    b.add_argument("--no-sha256", action="store_true", help="decompress without the whole-file sha256 check")
    b.set_defaults(func=cmd_bench)
    from .hub.mirror import add_parser as add_mirror_parser  # zipweights.hub: `zipw mirror` (2 lines)
    add_mirror_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", 1) is not None and getattr(args, "threads", 1) < 1:
        parser.error("--threads must be at least 1")
    try:
        return args.func(args)
    except (_Usage, InvalidArgumentError, FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        print(f"zipw: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ZipWeightsError, OSError) as exc:
        print(f"zipw: {exc}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        print("zipw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
