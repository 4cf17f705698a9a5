"""huggingface_hub's cache, as zipweights reads and writes it: the one module that
knows its layout and the only one that writes into it.

What it assumes about huggingface_hub's layout (all of it checked by tests/hub, and the
two helpers taken from `huggingface_hub.file_download` pinned by tests/hub/test_pins.py):

- The cache root is `cache_dir`, or `huggingface_hub.constants.HF_HUB_CACHE`; a repo
  lives in `<root>/<repo_folder_name(repo_id, repo_type)>` (`models--org--name`), its
  "storage" folder.
- `refs/<revision>` (a branch or tag name, `/` making subfolders) holds the commit hash
  the revision pointed to, as text, without a newline; a revision that is already a
  commit hash (`REGEX_COMMIT_HASH`) has no ref.
- `blobs/<etag>` holds a file's content; for an LFS file the etag is the sha256 of the
  content, so a restored X.safetensors goes to `blobs/<sha256 of the original>`, the
  name huggingface_hub would have given the plain file.
- `snapshots/<commit>/<path in the repo>` is a relative symbolic link to
  `../../blobs/<etag>` (with one more `..` per folder of the path), or a copy of the
  blob where the file system has no symbolic links.
- `.no_exist/<commit>/<path>` is an empty file recording that the path does not exist
  at that commit; `try_to_load_from_cache` (and so transformers) checks it before the
  snapshot, so it is removed where a restored file now stands.
- `<root>/.locks/<storage folder>/<etag>.lock` is the lock huggingface_hub takes (a
  `WeakFileLock`) while it writes that blob; restoring takes the same lock.
- A `local_dir` download keeps its metadata under `<local_dir>/.cache/huggingface/`.

A streamed download (stream.py) keeps the .zipw bytes received so far in
`blobs/<etag of the .zipw>.incomplete` (for a local_dir, under its `.cache/huggingface/
download/`), a prefix of the file, written under the blob's lock and removed once restored.

zipweights adds two records of its own, which huggingface_hub ignores:
`<storage>/.zipw-etags/<etag of the .zipw>` (the sha256 of the file it restores to) and,
for a local_dir, `<local_dir>/.cache/huggingface/download/<path>.zipw-restored.json`.
Everything is written whole or not at all (a temporary sibling, then a rename), since
concurrent downloads of one repo write the same refs and records.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from huggingface_hub import constants, file_download
from huggingface_hub.utils import WeakFileLock

ETAG_RECORDS = ".zipw-etags"


# -- where things are ---------------------------------------------------------------------
def is_commit(revision) -> bool:
    return isinstance(revision, str) and file_download.REGEX_COMMIT_HASH.fullmatch(revision) is not None


def real(folder) -> str:
    return str(Path(folder).expanduser().resolve())


def cache_root(cache_dir) -> str:
    return real(cache_dir or constants.HF_HUB_CACHE)


def storage(cache_dir, repo_id: str, repo_type: str) -> str:
    """The repo's folder in the cache (models--org--name), as huggingface_hub names it."""
    return os.path.join(cache_root(cache_dir), file_download.repo_folder_name(repo_id=repo_id, repo_type=repo_type))


def pointer(storage_dir: str, commit: str, filename: str) -> str:
    """snapshots/<commit>/<filename>: where huggingface_hub looks for a file of a commit."""
    return os.path.join(storage_dir, "snapshots", commit, *filename.split("/"))


def snapshot(storage_dir: str, commit: str) -> str:
    """snapshots/<commit>, made if missing (a repo whose every file was restored)."""
    path = os.path.join(storage_dir, "snapshots", commit)
    os.makedirs(path, exist_ok=True)
    return path


def local_record(local_dir: str, filename: str) -> str:
    """Where a local_dir download notes that `filename` was restored from a .zipw."""
    return os.path.join(local_dir, ".cache", "huggingface", "download", *filename.split("/")) + ".zipw-restored.json"


def local_meta_dir(local_dir: str) -> str:
    return os.path.join(local_dir, ".cache", "huggingface")


def partial(storage_dir: str, etag: str) -> str:
    """blobs/<etag>.incomplete: the prefix of a .zipw received so far (a streamed
    download resumes from it; the name huggingface_hub's resumable downloads used)."""
    return os.path.join(storage_dir, "blobs", f"{etag}.incomplete")


def local_partial(local_dir: str, filename: str, etag: str) -> str:
    """The same for a local_dir download, beside huggingface_hub's own metadata."""
    return os.path.join(local_dir, ".cache", "huggingface", "download", *filename.split("/")) + f".{etag}.incomplete"


def blob_lock(cache_dir: str, storage_dir: str, etag: str) -> str:
    """.locks/<storage folder>/<etag>.lock: the lock huggingface_hub takes for blob <etag>."""
    return os.path.join(cache_dir, ".locks", os.path.basename(storage_dir), f"{etag}.lock")


def locked(lock_path: str):
    """huggingface_hub's lock (a WeakFileLock) on `lock_path`, its folder made."""
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    return WeakFileLock(lock_path)


# -- reading ------------------------------------------------------------------------------
def read_ref(storage_dir: str, revision: str) -> str:
    """The commit the cache's refs/<revision> records (OSError if none)."""
    with open(os.path.join(storage_dir, "refs", *revision.split("/"))) as f:
        return f.read().strip()


def local_commit(storage_dir: str, revision: str):
    """The commit `revision` names by the cache's refs, or `revision` itself."""
    if is_commit(revision):
        return revision
    with contextlib.suppress(OSError):
        return read_ref(storage_dir, revision)
    return revision


def etag_sha256(storage_dir: str, zetag: str) -> str | None:
    """The sha256 of the file the .zipw of etag `zetag` restored to, if seen before."""
    with contextlib.suppress(OSError):
        with open(os.path.join(storage_dir, ETAG_RECORDS, zetag)) as f:
            return f.read().strip()
    return None


def is_restored(storage_dir: str, commit: str, filename: str) -> bool:
    """Whether snapshots/<commit>/<filename> links to a blob some .zipw restored."""
    records = os.path.join(storage_dir, ETAG_RECORDS)
    if not os.path.isdir(records):
        return False
    path = pointer(storage_dir, commit, filename)
    if not os.path.exists(path):
        return False
    sha = os.path.basename(os.path.realpath(path))
    for name in os.listdir(records):
        with open(os.path.join(records, name)) as f:
            if f.read().strip() == sha:
                return True
    return False


# -- writing ------------------------------------------------------------------------------
def write_text(path: str, text: str) -> None:
    """`path` written whole or not at all: a private temporary sibling, then a rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".zipw-tmp.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_ref(storage_dir: str, revision: str, commit: str) -> None:
    if revision == commit:
        return
    ref = os.path.join(storage_dir, "refs", *revision.split("/"))
    with contextlib.suppress(OSError):
        with open(ref) as f:
            if f.read() == commit:
                return
    write_text(ref, commit)


def write_local_commit(storage_dir: str, revision: str, commit: str) -> None:
    # huggingface_hub records refs in the main cache for local_dir downloads too
    with contextlib.suppress(OSError):
        write_ref(storage_dir, revision, commit)


def record_etag(storage_dir: str, zetag: str, sha: str) -> None:
    write_text(os.path.join(storage_dir, ETAG_RECORDS, zetag), sha)


def forget_no_exist(storage_dir: str, commit: str, filename: str) -> None:
    """Remove huggingface_hub's "this file does not exist at this commit" mark, which its
    HEAD for the plain file leaves on the real Hub."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(storage_dir, ".no_exist", commit, *filename.split("/")))


def link(blob: str, pointer_path: str) -> None:
    """snapshots/<commit>/<file> -> ../../blobs/<sha>, as huggingface_hub links; a copy
    where symlinks are not supported."""
    os.makedirs(os.path.dirname(pointer_path), exist_ok=True)
    rel = os.path.relpath(blob, os.path.dirname(pointer_path))
    tmp = pointer_path + ".zipw-link"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.symlink(rel, tmp)
    except OSError:
        shutil.copyfile(blob, tmp)
    os.replace(tmp, pointer_path)


def publish(storage_dir: str, commit: str, revision: str, filename: str, blob: str | None = None) -> str:
    """Make `filename` of `commit` found where huggingface_hub looks: linked to `blob`
    (when given), refs/<revision> recorded, the .no_exist mark gone. Returns the pointer."""
    path = pointer(storage_dir, commit, filename)
    if blob is not None:
        link(blob, path)
    write_ref(storage_dir, revision, commit)
    forget_no_exist(storage_dir, commit, filename)
    return path


def blob(storage_dir: str, sha: str) -> str:
    return os.path.join(storage_dir, "blobs", sha)


def store_blob(cache_dir: str, storage_dir: str, sha: str, restored: str, force: bool = False) -> str:
    """Move the file `restored` (complete and checked, on the cache's file system) to
    blobs/<sha> under huggingface_hub's lock for that blob, unless another download put
    it there first (or `force`). Returns the blob's path."""
    path = blob(storage_dir, sha)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with locked(blob_lock(cache_dir, storage_dir, sha)):
        if force or not os.path.isfile(path):
            os.replace(restored, path)
    return path


def temporary(cache_dir: str):
    """A private temporary folder in the cache root (same file system as the blobs),
    removed on the way out."""
    os.makedirs(cache_dir, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=cache_dir, prefix=".zipw-tmp-")
