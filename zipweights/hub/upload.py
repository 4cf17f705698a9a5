"""Upload filter: every *.safetensors goes up as *.safetensors.zipw.

The files are compressed where they enter huggingface_hub (the path or bytes given to
upload_file, the folder given to upload_folder, the operations given to create_commit),
before any transport is chosen, so neither LFS nor xet ever sees a plain .safetensors.
Compressed files are written to a private temporary folder that is removed when the
call returns or fails; other files (the index JSON included) pass through unchanged.
Delete and copy operations are passed through as given.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.utils import filter_repo_objects

from .._fileio import atomic_output
from .._hooks import is_ours, replaced
from ..format.container import SUFFIX
from ..writer import compress_file, source_from_safetensors, write
from . import WEIGHTS_SUFFIX

# HfApi's own methods, taken before transparent mode can patch the class.
ORIG = {name: getattr(HfApi, name) for name in ("create_commit", "upload_file", "upload_folder")}


def original(name: str):
    """HfApi.<name> as huggingface_hub ships it (or as a test replaced it), never ours:
    what to call to commit or upload files as they are."""
    current = getattr(HfApi, name)
    if not is_ours(current):
        return current
    return replaced(HfApi, name) or ORIG[name]


def _is_weights(path_in_repo: str) -> bool:
    return path_in_repo.endswith(WEIGHTS_SUFFIX)


@contextlib.contextmanager
def staging(prefix: str = "zipw-upload-"):
    """A private temporary folder, removed on the way out whatever happens."""
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def compress_to(src, dst: str, *, threads: int | None = None, level: int | None = None) -> str:
    """Compress `src` (a path, bytes or a binary file object) into the new file `dst`."""
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    kw = {} if level is None else {"level": level}
    if isinstance(src, (str, os.PathLike)):
        compress_file(src, dst, threads=threads, **kw)
        return dst
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = src
    else:  # a binary file object: read from where it stands, as huggingface_hub does
        data = src.read()
    with atomic_output(dst) as out:
        write(source_from_safetensors(memoryview(data), where="uploaded bytes"), out, threads=threads, **kw)
    return dst


def _convert(op, tmp: str, threads=None):
    if isinstance(op, CommitOperationAdd) and _is_weights(op.path_in_repo):
        dst = os.path.join(tmp, f"{len(os.listdir(tmp))}", os.path.basename(op.path_in_repo) + SUFFIX)
        src = op.path_or_fileobj
        if isinstance(src, io.IOBase) and hasattr(src, "seek"):
            with contextlib.suppress(OSError, ValueError):
                src.seek(0)  # huggingface_hub read it once to hash it
        compress_to(src, dst, threads=threads)
        return CommitOperationAdd(path_in_repo=op.path_in_repo + SUFFIX, path_or_fileobj=dst)
    return op


def hf_create_commit(self: HfApi, repo_id: str, operations, *, run_as_future: bool = False, **kwargs):
    if run_as_future:
        return self.run_as_future(hf_create_commit, self, repo_id, list(operations), **kwargs)
    operations = list(operations)
    if not any(isinstance(op, CommitOperationAdd) and _is_weights(op.path_in_repo) for op in operations):
        return original("create_commit")(self, repo_id, operations, **kwargs)
    with staging() as tmp:
        ops = [_convert(op, tmp) for op in operations]
        return original("create_commit")(self, repo_id, ops, **kwargs)


def hf_upload_file(self: HfApi, *, path_or_fileobj, path_in_repo: str, repo_id: str, run_as_future: bool = False,
                 **kwargs):
    if not _is_weights(path_in_repo):
        return original("upload_file")(self, path_or_fileobj=path_or_fileobj, path_in_repo=path_in_repo,
                                    repo_id=repo_id, run_as_future=run_as_future, **kwargs)
    if run_as_future:
        return self.run_as_future(hf_upload_file, self, path_or_fileobj=path_or_fileobj, path_in_repo=path_in_repo,
                                  repo_id=repo_id, **kwargs)
    with staging() as tmp:
        dst = compress_to(path_or_fileobj, os.path.join(tmp, os.path.basename(path_in_repo) + SUFFIX))
        return original("upload_file")(self, path_or_fileobj=dst, path_in_repo=path_in_repo + SUFFIX,
                                    repo_id=repo_id, **kwargs)


def _place(src: str, dst: str) -> None:
    """dst stands for src without a copy where the file system allows."""
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        try:
            os.symlink(os.path.abspath(src), dst)
        except OSError:
            shutil.copyfile(src, dst)


def stage_folder(folder_path, tmp: str, allow_patterns=None, ignore_patterns=None, threads=None) -> str:
    """Build in `tmp` the folder as it goes up: *.safetensors compressed, other files
    linked; patterns select on the original names. Returns the staged folder."""
    root = Path(folder_path).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"Provided path: '{folder_path}' is not a directory")
    rel = {p.relative_to(root).as_posix(): p for p in sorted(root.glob("**/*")) if p.is_file()}
    out = os.path.join(tmp, "folder")
    os.makedirs(out)
    for name in filter_repo_objects(rel.keys(), allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
        dst = os.path.join(out, *name.split("/"))
        if _is_weights(name):
            compress_to(str(rel[name]), dst + SUFFIX, threads=threads)
        else:
            _place(str(rel[name]), dst)
    return out


def hf_upload_folder(self: HfApi, *, repo_id: str, folder_path, path_in_repo=None, allow_patterns=None,
                   ignore_patterns=None, run_as_future: bool = False, **kwargs):
    if run_as_future:
        return self.run_as_future(hf_upload_folder, self, repo_id=repo_id, folder_path=folder_path,
                                  path_in_repo=path_in_repo, allow_patterns=allow_patterns,
                                  ignore_patterns=ignore_patterns, **kwargs)
    with staging() as tmp:
        staged = stage_folder(folder_path, tmp, allow_patterns, ignore_patterns)
        return original("upload_folder")(self, repo_id=repo_id, folder_path=staged, path_in_repo=path_in_repo, **kwargs)


# -- huggingface_hub's module-level signatures ------------------------------------------
def create_commit(repo_id: str, operations, *, api: HfApi | None = None, **kwargs):
    """huggingface_hub.create_commit, with every CommitOperationAdd of a *.safetensors
    replaced by one of its compressed *.safetensors.zipw."""
    return hf_create_commit(api or HfApi(), repo_id, operations, **kwargs)


def upload_file(*, path_or_fileobj, path_in_repo: str, repo_id: str, api: HfApi | None = None, **kwargs):
    """huggingface_hub.upload_file; a *.safetensors goes up as *.safetensors.zipw."""
    return hf_upload_file(api or HfApi(), path_or_fileobj=path_or_fileobj, path_in_repo=path_in_repo,
                        repo_id=repo_id, **kwargs)


def upload_folder(*, repo_id: str, folder_path, api: HfApi | None = None, **kwargs):
    """huggingface_hub.upload_folder; every *.safetensors goes up as *.safetensors.zipw."""
    return hf_upload_folder(api or HfApi(), repo_id=repo_id, folder_path=folder_path, **kwargs)
