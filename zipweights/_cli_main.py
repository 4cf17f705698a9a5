"""The `zipw` and `zipwcat` console scripts: the shortest way into zipweights.cli.

`zipw --version` is answered here, before argparse and the command line's module are
imported (or, where no bytecode cache can be written, compiled): it costs the
interpreter and zipweights/__init__.py. Everything else goes to zipweights.cli.main.
"""

import os
import sys


def _one_blas_thread() -> None:
    """numpy's OpenBLAS starts a thread per core at import and lets them spin, which
    slows the import: on this 2-core machine 169 -> 98 ms (median of 30 interleaved
    pairs at load 2; less under heavier load, where no core is free to spin on). No
    zipw command does linear algebra (the codecs run in zipweights' own threads), so
    this process asks for one, unless the user said otherwise. Child processes inherit
    it (a local Ray cluster's workers run the same codecs)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from . import __version__

        print(f"zipw {__version__}")
        return 0
    _one_blas_thread()
    from .cli import main as cli_main

    return cli_main(args)


def cat_main(argv=None) -> int:
    _one_blas_thread()
    from .cli import cat_main as cli_cat_main

    return cli_cat_main(argv)


if __name__ == "__main__":
    sys.exit(main())
