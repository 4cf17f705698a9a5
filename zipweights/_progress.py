"""The one progress bar: tqdm over bytes, on stderr, shown only when asked."""

from __future__ import annotations

import sys


class Progress:
    """Called with byte counts as work is done; a tqdm bar when `show`, else nothing
    (tqdm is imported only then)."""

    def __init__(self, total: int, label: str, *, show: bool = True, leave: bool = False):
        self.bar = None
        if not show:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=leave, file=sys.stderr)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
