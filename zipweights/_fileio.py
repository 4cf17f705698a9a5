"""Files written whole or not at all: a temporary sibling, renamed when complete.

Like gzip and zstd, the data is not fsync'ed unless asked (`sync=True`): the rename
already guarantees that no process ever sees a half-written file, and a forced flush
to disk costs more than the whole decode on a fast machine.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from .errors import InvalidArgumentError


def _read_umask() -> int:
    # The umask can only be read by setting it; do that once, at import, before any
    # worker thread could create a file under the temporary value.
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def check_output(path: str, force: bool) -> None:
    if not force and os.path.lexists(path):
        raise FileExistsError(f"{path} already exists; not overwritten (use force / -f)")


@contextlib.contextmanager
def atomic_output(path: str, force: bool = False, sync: bool = False):
    """Yield a binary file object; on success it becomes `path`, on failure it vanishes."""
    check_output(path, force)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InvalidArgumentError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            if sync:
                os.fsync(f.fileno())
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp makes 0600
        if not force and os.path.lexists(path):  # appeared while we worked
            raise FileExistsError(f"{path} already exists; not overwritten (use force / -f)")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
