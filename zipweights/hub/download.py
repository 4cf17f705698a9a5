"""Download filter: ask for X.safetensors, get it restored from X.safetensors.zipw.

`hf_hub_download` and `snapshot_download` take huggingface_hub's arguments. A file the
repo holds as is (and every file that is not a .safetensors) is served by
huggingface_hub itself, untouched. When the repo holds only `X.safetensors.zipw`, the
compressed file is fetched by huggingface_hub into a private temporary cache next to
the real one, restored (every chunk checksum and the whole-file sha256 checked) into
`blobs/<sha256 of the original>` (the LFS oid the plain file would have had), linked
from `snapshots/<commit>/X.safetensors`, and the temporary cache is removed. From then
on the cache looks exactly as if the plain file had been downloaded: huggingface_hub's
own offline mode, `local_files_only`, `try_to_load_from_cache` and transformers find it.

Where the server serves byte ranges (the Hub and its CDN do), the .zipw is not fetched
whole first: stream.py asks for its index by range and decodes the payloads as they
arrive, into the same blob (a server without ranges, olah for one, gets the path above).

Only public huggingface_hub functions are used (hf_hub_download, snapshot_download,
get_hf_file_metadata, hf_hub_url, get_cached_repo_tree, HfApi.repo_info / list_repo_tree,
utils.http_stream_backoff) plus two
stable helpers of `huggingface_hub.file_download` (repo_folder_name, REGEX_COMMIT_HASH),
pinned by tests/hub/test_pins.py. The cache's layout, and every write into it, is
cache.py's; this module makes the metadata calls, dry runs and the orchestration.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.util
import json
import os
import tempfile
import urllib.parse
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants, file_download
from huggingface_hub.errors import (
    GatedRepoError,
    IncompleteSnapshotError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, filter_repo_objects

from ..errors import ZipWeightsError
from ..format.container import SUFFIX
from ..reader import ZipwFile, decompress_file
from . import WEIGHTS_SUFFIX, cache, stream

# The functions as huggingface_hub ships them, taken before transparent mode can patch.
ORIG_HF_HUB_DOWNLOAD = file_download.hf_hub_download
ORIG_SNAPSHOT_DOWNLOAD = huggingface_hub.snapshot_download


class HubRestoreMixin:
    """Marks a zipweights error raised while restoring a file from a Hub repo.

    The raised exception keeps its specific kind (TruncatedDataError,
    ChecksumMismatchError, BadMagicError, ...) and gains `repo_id`, `filename` (the
    .zipw in the repo) and `revision` (the commit)."""

    repo_id: str
    filename: str
    revision: str


_ERROR_TYPES: dict = {}


def hub_error(exc: ZipWeightsError, repo_id: str, filename: str, revision: str, what: str) -> ZipWeightsError:
    cls = _ERROR_TYPES.get(type(exc))
    if cls is None:
        cls = type("Hub" + type(exc).__name__, (type(exc), HubRestoreMixin), {"__module__": __name__})
        _ERROR_TYPES[type(exc)] = cls
    err = cls(f"{repo_id} (commit {revision}): {filename}: {what}: {exc}")
    err.repo_id, err.filename, err.revision = repo_id, filename, revision
    return err


def _resolved(revision):
    """A huggingface_hub ResolvedRevision (or anything with .resolved) -> its commit."""
    return getattr(revision, "resolved", revision)


def _offline() -> bool:
    return bool(huggingface_hub.is_offline_mode())


def _names(subfolder, filename) -> str:
    return f"{subfolder}/{filename}" if subfolder else filename


def _zipw_metadata(repo_id, filename, repo_type, revision, *, library_name, library_version, user_agent,
                   etag_timeout, token, headers, endpoint):
    """(url, huggingface_hub's file metadata, its request headers) of `filename + ".zipw"`."""
    hf_headers = build_hf_headers(token=token, library_name=library_name, library_version=library_version,
                                  user_agent=user_agent, headers=headers)
    url = huggingface_hub.hf_hub_url(repo_id, filename + SUFFIX, repo_type=repo_type, revision=revision,
                                     endpoint=endpoint)
    return url, huggingface_hub.get_hf_file_metadata(url, token=token, timeout=etag_timeout, headers=hf_headers,
                                                     endpoint=endpoint), hf_headers


def _stream_source(url: str, meta, hf_headers: dict, pinned: str):
    """(URL, headers) hf_hub_download would GET the file from, or None where it would not
    use HTTP (a xet file with hf_xet installed and enabled) or the size is unknown.
    As huggingface_hub does: the metadata's final location (a redirect's target) is
    fetched, without the authorization header where it is another host (a CDN's signed
    URL); where there was no redirect, `pinned`, the URL at the commit, so that every
    range is of one file even if the branch moves meanwhile."""
    if meta.size is None or not stream.AVAILABLE or os.environ.get("ZIPW_HUB_STREAM", "1") == "0":
        return None
    if meta.xet_file_data is not None and not constants.HF_HUB_DISABLE_XET \
            and importlib.util.find_spec("hf_xet") is not None:
        return None
    headers = dict(hf_headers)
    if meta.location and meta.location != url:
        if urllib.parse.urlsplit(meta.location).netloc != urllib.parse.urlsplit(url).netloc:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        return meta.location, headers
    return pinned, headers


def hf_hub_download(
    repo_id: str,
    filename: str,
    *,
    subfolder: str | None = None,
    repo_type: str | None = None,
    revision: str | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    cache_dir: str | Path | None = None,
    local_dir: str | Path | None = None,
    user_agent: dict | str | None = None,
    force_download: bool = False,
    etag_timeout: float = constants.DEFAULT_ETAG_TIMEOUT,
    token: bool | str | None = None,
    local_files_only: bool = False,
    headers: dict[str, str] | None = None,
    endpoint: str | None = None,
    tqdm_class=None,
    dry_run: bool = False,
    **kwargs,
):
    """huggingface_hub.hf_hub_download, restoring `X.safetensors` from
    `X.safetensors.zipw` where the repo holds only the compressed file."""
    http = dict(library_name=library_name, library_version=library_version, user_agent=user_agent,
                etag_timeout=etag_timeout, token=token, headers=headers, endpoint=endpoint)
    plain_args = dict(subfolder=subfolder, repo_type=repo_type, revision=revision, cache_dir=cache_dir,
                      local_dir=local_dir, force_download=force_download, local_files_only=local_files_only,
                      tqdm_class=tqdm_class, dry_run=dry_run, **http, **kwargs)
    full = _names(subfolder, filename)
    if not full.endswith(WEIGHTS_SUFFIX):
        return ORIG_HF_HUB_DOWNLOAD(repo_id, filename, **plain_args)
    if dry_run:
        return _plain_else_restored(
            lambda: ORIG_HF_HUB_DOWNLOAD(repo_id, filename, **plain_args),
            lambda: dry_run_restored(repo_id, full, repo_type=repo_type, revision=revision, cache_dir=cache_dir,
                                     local_dir=local_dir, force_download=force_download, **http),
            local_files_only)
    restore_args = dict(repo_type=repo_type, revision=revision, cache_dir=cache_dir, local_dir=local_dir,
                        force_download=force_download, tqdm_class=tqdm_class, **http)
    if not (local_files_only or force_download or _offline()) and _restored_before(
            repo_id, full, repo_type, revision, cache_dir, local_dir):
        # this file came from a .zipw last time: ask for that first (one metadata call, as
        # huggingface_hub makes for a cached plain file); the plain file if it is gone
        try:
            return download_restored(repo_id, full, **restore_args)
        except (ZipWeightsError, GatedRepoError):
            raise
        except Exception:
            pass  # gone, or the Hub unreachable: huggingface_hub's own path (and its fallback to the cache)
    return _plain_else_restored(lambda: ORIG_HF_HUB_DOWNLOAD(repo_id, filename, **plain_args),
                                lambda: download_restored(repo_id, full, **restore_args), local_files_only)


def _plain_else_restored(plain, restored, local_files_only: bool):
    """plain(); where the repo lacks the file, restored() (from the .zipw); where that
    is missing too, huggingface_hub's own error for the plain file. A gated repo's
    error is never replaced: it says what the user must do."""
    try:
        return plain()
    except (RemoteEntryNotFoundError, RepositoryNotFoundError) as plain_error:
        # (olah and some mirrors answer a missing file with RepositoryNotFoundError)
        if isinstance(plain_error, GatedRepoError) or local_files_only or _offline():
            raise
        try:
            return restored()
        except (RemoteEntryNotFoundError, RepositoryNotFoundError) as zipw_error:
            if isinstance(zipw_error, GatedRepoError):
                raise
            raise plain_error from None


def dry_run_restored(repo_id, filename, *, repo_type=None, revision=None, cache_dir=None, local_dir=None,
                     force_download=False, library_name=None, library_version=None, user_agent=None,
                     etag_timeout=constants.DEFAULT_ETAG_TIMEOUT, token=None, headers=None, endpoint=None):
    """What hf_hub_download(..., dry_run=True) would do for a file held as .zipw:
    file_size is the compressed size, the bytes that would be transferred."""
    repo_type = repo_type or "model"
    revision = _resolved(revision) or constants.DEFAULT_REVISION
    _, meta, _ = _zipw_metadata(repo_id, filename, repo_type, revision, library_name=library_name,
                             library_version=library_version, user_agent=user_agent, etag_timeout=etag_timeout,
                             token=token, headers=headers, endpoint=endpoint)
    if local_dir is not None:
        path = os.path.join(cache.real(local_dir), *filename.split("/"))
    else:
        path = cache.pointer(cache.storage(cache_dir, repo_id, repo_type), meta.commit_hash, filename)
    cached = os.path.exists(path)
    return file_download.DryRunFileInfo(commit_hash=meta.commit_hash, file_size=meta.size, filename=filename,
                                        is_cached=cached, local_path=path,
                                        will_download=force_download or not cached)


def _restored_before(repo_id, filename, repo_type, revision, cache_dir, local_dir) -> bool:
    """Whether the cache (or local_dir) holds `filename` as restored from a .zipw."""
    try:
        if local_dir is not None:
            return os.path.isfile(cache.local_record(cache.real(local_dir), filename))
        storage = cache.storage(cache_dir, repo_id, repo_type or "model")
        commit = _resolved(revision) or constants.DEFAULT_REVISION
        if not cache.is_commit(commit):
            commit = cache.read_ref(storage, commit)
        return cache.is_restored(storage, commit, filename)
    except OSError:
        return False


def download_restored(
    repo_id: str,
    filename: str,
    *,
    repo_type: str | None = None,
    revision: str | None = None,
    cache_dir=None,
    local_dir=None,
    force_download: bool = False,
    tqdm_class=None,
    library_name=None,
    library_version=None,
    user_agent=None,
    etag_timeout: float = constants.DEFAULT_ETAG_TIMEOUT,
    token=None,
    headers=None,
    endpoint=None,
    threads: int | None = None,
) -> str:
    """Fetch `filename + ".zipw"` and restore `filename` into the cache (or local_dir);
    return its path. Raises huggingface_hub's errors when the .zipw is not there."""
    repo_type = repo_type or "model"
    revision = _resolved(revision) or constants.DEFAULT_REVISION
    cache_dir = cache.cache_root(cache_dir)
    zname = filename + SUFFIX
    url, meta, hf_headers = _zipw_metadata(repo_id, filename, repo_type, revision, library_name=library_name,
                               library_version=library_version, user_agent=user_agent, etag_timeout=etag_timeout,
                               token=token, headers=headers, endpoint=endpoint)
    commit, zetag = meta.commit_hash, meta.etag
    if not commit or not zetag:
        raise huggingface_hub.errors.FileMetadataError(f"{url}: no commit or etag in the response")
    fetch = dict(repo_type=repo_type, revision=commit, library_name=library_name, library_version=library_version,
                 user_agent=user_agent, etag_timeout=etag_timeout, token=token, headers=headers,
                 endpoint=endpoint, tqdm_class=tqdm_class)

    # the file at its commit: the tail and the body are ranges of one immutable file
    source = _stream_source(url, meta, hf_headers,
                            huggingface_hub.hf_hub_url(repo_id, zname, repo_type=repo_type, revision=commit,
                                                       endpoint=endpoint))

    def restore(zpath: str, dest: str) -> str:
        base = hub_base(zpath, repo_id, zname, commit, repo_type=repo_type, cache_dir=cache_dir,
                        token=token, endpoint=endpoint, headers=headers)
        return restore_file(zpath, dest, threads, hub=(repo_id, zname, commit), base=base)

    def fetch_and_restore(tmp: str, dest: str, partial: str, lock: str) -> str:
        """The .zipw streamed and decoded as it arrives (stream.py), else fetched whole into
        the temporary cache `tmp` and restored: the restored file at `dest`, its sha256."""
        if source is not None:
            try:
                with cache.locked(lock):
                    got = stream.download(*source, meta.size, partial, dest, name=f"{repo_id}/{zname}",
                                          threads=threads, tqdm_class=tqdm_class)
                if got.sha256 is not None:
                    return got.sha256
                try:  # a delta file, downloaded whole: restored once its base is found
                    return restore(got.path, dest)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(got.path)
            except stream.NotStreamable:
                pass  # a server without ranges: the whole file, as huggingface_hub fetches it
            except ZipWeightsError as exc:
                if isinstance(exc, HubRestoreMixin):
                    raise
                raise hub_error(exc, repo_id, zname, commit, f"cannot restore {filename}") from exc
        return restore(ORIG_HF_HUB_DOWNLOAD(repo_id, zname, cache_dir=tmp, **fetch), dest)

    if local_dir is not None:
        local_dir = cache.real(local_dir)
        dest = os.path.join(local_dir, *filename.split("/"))
        record = cache.local_record(local_dir, filename)
        if not force_download and os.path.isfile(dest):
            with contextlib.suppress(OSError, ValueError):
                with open(record) as f:
                    if json.load(f).get("zipw_etag") == zetag:
                        return dest
        meta_dir = cache.local_meta_dir(local_dir)
        os.makedirs(meta_dir, exist_ok=True)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        partial = cache.local_partial(local_dir, zname, zetag)
        os.makedirs(os.path.dirname(partial), exist_ok=True)
        with tempfile.TemporaryDirectory(dir=meta_dir, prefix=".zipw-") as tmp:
            sha = fetch_and_restore(tmp, dest, partial, partial + ".lock")
        cache.write_text(record, json.dumps({"commit": commit, "zipw_etag": zetag, "sha256": sha}))
        return dest

    storage = cache.storage(cache_dir, repo_id, repo_type)
    if os.path.exists(cache.pointer(storage, commit, filename)) and not force_download:
        return cache.publish(storage, commit, revision, filename)
    # the .zipw seen before (at this or another commit): its original may be cached already
    sha = cache.etag_sha256(storage, zetag)
    blob = cache.blob(storage, sha) if sha else None
    if blob is None or force_download or not os.path.isfile(blob):
        with cache.temporary(cache_dir) as tmp:
            restored = os.path.join(tmp, "restored")
            sha = fetch_and_restore(tmp, restored, cache.partial(storage, zetag),
                                    cache.blob_lock(cache_dir, storage, zetag))
            blob = cache.store_blob(cache_dir, storage, sha, restored, force=force_download)
        cache.record_etag(storage, zetag, sha)
    return cache.publish(storage, commit, revision, filename, blob)


def base_location_path(record, repo_id: str, zname: str, commit: str | None):
    """(repo id, filename, revision) where a delta file's base is on the hub: its
    recorded hub location, else its recorded relative path read inside the repo the
    delta came from (a checkpoint beside the one before); None when neither says."""
    loc = record.location
    if loc.get("repo_id") and loc.get("filename"):
        return loc["repo_id"], loc["filename"], loc.get("revision")
    rel = loc.get("path")
    if rel and not rel.startswith(("/", "\\")):
        parts = []
        for part in (zname.split("/")[:-1] + rel.replace("\\", "/").split("/")):
            if part == "..":
                if not parts:
                    return None  # outside the repo
                parts.pop()
            elif part not in ("", "."):
                parts.append(part)
        return repo_id, "/".join(parts), commit
    return None


def hub_base(zpath: str, repo_id: str, zname: str, commit: str | None, **hub_kw) -> str | None:
    """The local path of the base a downloaded delta file needs (downloaded, and
    restored if the base repo is compressed too, through this filter and the normal
    cache), or None for a file coded alone."""
    try:
        with ZipwFile(zpath) as zf:
            record = zf.base_record
    except ZipWeightsError:
        return None  # restoring it says what is wrong, naming the repo and file
    if record is None:
        return None
    where = base_location_path(record, repo_id, zname, commit)
    if where is None:
        return None  # the reader says what it needs and where it looked
    base_repo, filename, revision = where
    kw = {k: v for k, v in hub_kw.items() if v is not None}
    try:
        return hf_hub_download(base_repo, filename, revision=revision, **kw)
    except ZipWeightsError:
        raise
    except Exception:
        return None  # not there: the reader's BaseNotFoundError names where it looked


def resolve_from_hub(record, where: str) -> str | None:
    """basemodel resolver (registered by hub.enable()): a local delta file whose base
    has a recorded hub location gets it through the hub's cache."""
    loc = record.location
    if not (loc.get("repo_id") and loc.get("filename")):
        return None
    try:
        return hf_hub_download(loc["repo_id"], loc["filename"], revision=loc.get("revision"),
                               repo_type=loc.get("repo_type"))
    except ZipWeightsError:
        raise
    except Exception:
        return None


def restore_file(zpath: str, dest: str, threads=None, *, hub: tuple[str, str, str] | None = None,
                 base=None) -> str:
    """Restore the .zipw `zpath` into `dest` (temp file + rename: `dest` appears only
    complete and checked against the sha256 the .zipw records); return that sha256.
    With `hub` = (repo_id, the .zipw's name in the repo, commit), a zipweights error
    says which repo file it came from (hub_error). `base`: a delta file's base."""
    try:
        return decompress_file(zpath, dest, threads=threads, force=True, base=base,
                               check_sha256=True).original_sha256  # the blob is named by it
    except ZipWeightsError as exc:
        if hub is None:
            raise
        repo_id, zname, commit = hub
        raise hub_error(exc, repo_id, zname, commit, f"cannot restore {zname[: -len(SUFFIX)]}") from exc


# -- snapshots ------------------------------------------------------------------------
def _virtual(paths) -> list[str]:
    """Files a compressed repo stands for: X.safetensors for every X.safetensors.zipw
    whose plain file is not there itself."""
    have = set(paths)
    return [p[: -len(SUFFIX)] for p in paths
            if p.endswith(WEIGHTS_SUFFIX + SUFFIX) and p[: -len(SUFFIX)] not in have]


def _missing_restored(tree_paths, base_dir, allow_patterns, ignore_patterns) -> list[str]:
    have = set(tree_paths)
    expected = [p for p in have if not p.endswith(WEIGHTS_SUFFIX + SUFFIX)] + _virtual(have)
    wanted = filter_repo_objects(items=expected, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)
    return [p for p in wanted if not os.path.isfile(os.path.join(base_dir, *p.split("/")))]


def _tree_paths(api, repo_id: str, repo_type: str, commit: str, cache_dir: str, local_dir) -> list[str] | None:
    """Every file path of the repo at `commit`: huggingface_hub's cached listing of it,
    else the Hub's (the listing huggingface_hub's snapshot_download would make); None
    where neither answers (snapshot_download then says why)."""
    with contextlib.suppress(Exception):
        return [f.path for f in huggingface_hub.get_cached_repo_tree(
            repo_id, repo_type=repo_type, revision=commit, cache_dir=cache_dir, local_dir=local_dir)]
    try:
        return [f.path for f in api.list_repo_tree(repo_id, recursive=True, revision=commit, repo_type=repo_type)
                if isinstance(f, huggingface_hub.hf_api.RepoFile)]
    except Exception:
        return None


def _ignore_zipw(ignore_patterns):
    if ignore_patterns is None:
        extra = []
    elif isinstance(ignore_patterns, str):
        extra = [ignore_patterns]
    else:
        extra = list(ignore_patterns)
    return extra + ["*" + WEIGHTS_SUFFIX + SUFFIX]


def snapshot_download(
    repo_id: str,
    *,
    repo_type: str | None = None,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    local_dir: str | Path | None = None,
    library_name: str | None = None,
    library_version: str | None = None,
    user_agent: dict | str | None = None,
    etag_timeout: float = constants.DEFAULT_ETAG_TIMEOUT,
    force_download: bool = False,
    token: bool | str | None = None,
    local_files_only: bool = False,
    allow_patterns: list[str] | str | None = None,
    ignore_patterns: list[str] | str | None = None,
    max_workers: int = 8,
    tqdm_class=None,
    headers: dict[str, str] | None = None,
    endpoint: str | None = None,
    dry_run: bool = False,
    **kwargs,
):
    """huggingface_hub.snapshot_download, with every X.safetensors.zipw of the repo
    restored as X.safetensors (patterns match the restored names; the .zipw files
    themselves are not downloaded). A repo without .zipw files is served as
    huggingface_hub serves it."""
    http = dict(library_name=library_name, library_version=library_version, user_agent=user_agent,
                etag_timeout=etag_timeout, token=token, headers=headers, endpoint=endpoint)
    common = dict(repo_type=repo_type, cache_dir=cache_dir, local_dir=local_dir, force_download=force_download,
                  max_workers=max_workers, tqdm_class=tqdm_class, **http, **kwargs)
    if dry_run:
        return ORIG_SNAPSHOT_DOWNLOAD(repo_id, revision=revision, local_files_only=local_files_only,
                                      allow_patterns=allow_patterns, ignore_patterns=ignore_patterns,
                                      dry_run=True, **common)
    repo_type_ = repo_type or "model"
    cache_dir_ = cache.cache_root(cache_dir)
    storage = cache.storage(cache_dir_, repo_id, repo_type_)
    revision = _resolved(revision) or constants.DEFAULT_REVISION

    if local_files_only or _offline():
        try:
            return ORIG_SNAPSHOT_DOWNLOAD(repo_id, revision=revision, local_files_only=local_files_only,
                                          allow_patterns=allow_patterns, ignore_patterns=ignore_patterns, **common)
        except IncompleteSnapshotError as exc:
            # missing from huggingface_hub's view: the .zipw names; complete if their restored files are there
            base = exc.snapshot_path
            commit = os.path.basename(base) if local_dir is None else cache.local_commit(storage, revision)
            try:
                tree = huggingface_hub.get_cached_repo_tree(repo_id, repo_type=repo_type_, revision=commit,
                                                            cache_dir=cache_dir_, local_dir=local_dir)
            except Exception:
                raise exc from None
            if _missing_restored([f.path for f in tree], base, allow_patterns, ignore_patterns):
                raise
            return base

    commit = revision
    api = huggingface_hub.HfApi(endpoint=endpoint, token=token, library_name=library_name,
                                library_version=library_version, user_agent=user_agent, headers=headers)
    if not cache.is_commit(revision):
        try:
            commit = api.repo_info(repo_id, repo_type=repo_type_, revision=revision).sha
        except (RepositoryNotFoundError, huggingface_hub.errors.RevisionNotFoundError):
            raise
        except Exception:
            # no connection, Hub down, ...: huggingface_hub's own fallback to the cache
            return snapshot_download(repo_id, revision=revision, local_files_only=True,
                                     allow_patterns=allow_patterns, ignore_patterns=ignore_patterns, **common)
    paths = _tree_paths(api, repo_id, repo_type_, commit, cache_dir_, local_dir)
    plain = None if paths is None else list(filter_repo_objects(
        items=paths, allow_patterns=allow_patterns, ignore_patterns=_ignore_zipw(ignore_patterns)))
    if plain == [] and _virtual(paths) and list(filter_repo_objects(
            items=_virtual(paths), allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)):
        # only restored files are asked for (transformers names the shards of a sharded
        # model): huggingface_hub would fetch nothing and warn "No files matched ..."
        # (and show "Fetching 0 files"), though every file asked for is about to arrive
        if local_dir is not None:
            os.makedirs(local_dir, exist_ok=True)
        path = str(os.path.realpath(local_dir)) if local_dir is not None else None
    else:
        path = ORIG_SNAPSHOT_DOWNLOAD(repo_id, revision=commit, allow_patterns=allow_patterns,
                                      ignore_patterns=_ignore_zipw(ignore_patterns), **common)
    if local_dir is None:
        cache.write_ref(storage, revision, commit)
    else:
        cache.write_local_commit(storage, revision, commit)
    if paths is None:
        paths = [f.path for f in huggingface_hub.get_cached_repo_tree(
            repo_id, repo_type=repo_type_, revision=commit, cache_dir=cache_dir_, local_dir=local_dir)]
    todo = list(filter_repo_objects(items=_virtual(paths), allow_patterns=allow_patterns,
                                    ignore_patterns=ignore_patterns))

    def one(name):
        return download_restored(repo_id, name, repo_type=repo_type_, revision=commit, cache_dir=cache_dir_,
                                 local_dir=local_dir, force_download=force_download, **http)

    if todo:
        workers = max(1, min(max_workers, len(todo), 4))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for f in [pool.submit(one, n) for n in todo]:
                f.result()
    if local_dir is None:
        path = cache.snapshot(storage, commit)
    return path
