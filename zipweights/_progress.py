"""The one progress bar: tqdm over bytes, on stderr, shown only when asked.

On a terminal it is a tqdm bar; into a file or a pipe (a log), where tqdm's carriage
returns would pile up, it is a plain line at every tenth of the way. A bar may feed a
`parent` (the bar over a whole run of files), which then moves with it. Bars may be
fed from several threads (a download watched while another file is coded).
"""

from __future__ import annotations

import sys
import threading


class Progress:
    """Called with byte counts as work is done; a bar when `show`, else nothing but
    what it passes on to `parent` (tqdm is imported only for a bar on a terminal).

    `share`: how many of the parent's units this bar's `total` stands for (a restored
    file counts its original bytes, the run over .zipw files their compressed bytes);
    default `total`."""

    STEPS = 10  # plain lines per bar

    def __init__(self, total: int, label: str, *, show: bool = True, leave: bool = False, parent=None,
                 share: int | None = None, position: int | None = None):
        self.bar = None
        self.total, self.label, self.done = total, label, 0
        self.parent, self.share, self._passed = parent, total if share is None else share, 0
        self.plain = show and not _isatty(sys.stderr)
        self._step = 0
        self._lock = threading.Lock()
        if not show or self.plain:
            return
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=leave, file=sys.stderr,
                        position=position)

    @property
    def shown(self) -> bool:
        return self.bar is not None or self.plain

    def __call__(self, n: int) -> None:
        with self._lock:
            self._add(n)

    def _add(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.plain:
            self._plain_line()
        if self.parent is not None:
            passed = self.share if not self.total else min(self.share, self.done * self.share // self.total)
            if passed > self._passed:
                self.parent(passed - self._passed)
                self._passed = passed

    def _plain_line(self) -> None:
        if not self.total:
            return
        step = min(self.STEPS, self.done * self.STEPS // self.total)
        if step > self._step:
            self._step = step
            print(f"{self.label}: {100 * step // self.STEPS}% ({_human(self.done)} of {_human(self.total)})",
                  file=sys.stderr, flush=True)

    def describe(self, label: str) -> None:
        """A new label (the overall bar: how many files are done)."""
        self.label = label
        if self.bar is not None:
            self.bar.set_description(label)

    def close(self) -> None:
        with self._lock:
            if self.parent is not None and self._passed < self.share:
                self.parent(self.share - self._passed)  # what the work did not report (a failure, a skipped step)
                self._passed = self.share
            if self.bar is not None:
                self.bar.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
