"""zipw mirror: a Hub repo -> a compressed repo (or folder), and back with --restore.

    zipw mirror org/model@main org/model-zipw        # hub -> hub
    zipw mirror org/model ./model-zipw               # hub -> local folder
    zipw mirror --restore org/model-zipw ./plain     # compressed -> plain
    zipw mirror --list pairs.txt                     # many "SRC DEST" lines

The per-file work is `mirror_file` (a pure function: a source file in, an output file
and a `FileRecord` out) so a distributed engine can map it over many repos; `mirror`
plans one repo, skips what the destination already holds, and runs the files through a
two-stage pipeline (the next file downloads while this one is compressed and verified),
keeping at most two plain copies on disk. Every compressed file is decoded in full and
its sha256 compared with the source's before it is uploaded; the plain copy is deleted
as soon as that check passes.

Resuming: every .zipw records its original's sha256; a local destination is checked
by reading those from the files' indexes, a Hub destination by `.zipw-mirror.json`, a
small manifest committed along with every file (source sha256 or git oid, output name,
sizes), since olah and some mirrors cannot serve ranges to read a remote index.

What a mirror adds to the destination besides the files (and `--dry-run` lists):
- `.zipw-mirror.json`: {"source": repo, "commit": the source commit, "files": {source
  path: FileRecord fields + "source_id" (LFS sha256 or git blob id)}, "dest_files":
  [output paths]}, rewritten after every file; it is how a rerun knows what is done.
- `README.md`: the source's card with a note (what was compressed, sizes, how to load)
  between `<!-- zipw-mirror -->` and `<!-- /zipw-mirror -->`; `--restore` takes it out.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fnmatch
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time

from huggingface_hub.utils.sha import git_hash, sha_fileobj

from .._fileio import atomic_output
from .._progress import Progress
from ..errors import ChecksumMismatchError, ZipWeightsError
from ..format.container import SUFFIX
from ..reader import ZipwFile
from ..writer import compress_file
from . import WEIGHTS_SUFFIX as WEIGHTS

MANIFEST = ".zipw-mirror.json"
CARD = "README.md"
NOTE_BEGIN = "<!-- zipw-mirror -->"
NOTE_END = "<!-- /zipw-mirror -->"


# -- the pure per-file step --------------------------------------------------------------
@dataclasses.dataclass
class FileRecord:
    source: str  # path in the source repo
    output: str  # path in the destination
    action: str  # "compressed", "restored", "copied", "skipped"
    source_size: int
    output_size: int
    source_sha256: str | None = None  # of the file the compressed output restores to
    output_sha256: str | None = None
    seconds: float = 0.0

    @property
    def ratio(self) -> float:
        return self.output_size / self.source_size if self.source_size else 1.0

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return sha_fileobj(f).hex()


def _git_blob_sha1(path: str) -> str:
    """The file's git blob id (for files not in LFS: small ones, read whole)."""
    with open(path, "rb") as f:
        return git_hash(f.read())


def output_name(name: str, restore: bool = False) -> str:
    if restore:
        return name[: -len(SUFFIX)] if name.endswith(WEIGHTS + SUFFIX) else name
    return name + SUFFIX if name.endswith(WEIGHTS) else name


def mirror_file(src: str, dst: str, *, name: str, restore: bool = False, expect_sha256: str | None = None,
                threads: int | None = None, level: int | None = None, base: str | None = None,
                base_location: dict | None = None, progress=None) -> FileRecord:
    """Turn one source file into its mirrored form at `dst` (a new file) and say what was done.

    `name` is the file's path in the source repo; a *.safetensors is compressed (and then
    decoded in full, its sha256 compared with the source's and with `expect_sha256`), a
    *.safetensors.zipw is restored with --restore, anything else is copied. `dst` appears
    only when complete and checked; on any failure nothing is left there. `base`: a local
    copy of the base model's file to code against (compressing, recorded as
    `base_location`) or that a delta file needs (restoring). `progress`: called with
    the bytes compressed as they are (a bar over the whole mirror)."""
    t0 = time.perf_counter()
    size = os.path.getsize(src)
    out = output_name(name, restore)
    if not restore and name.endswith(WEIGHTS):
        stats = compress_file(src, dst, threads=threads, base=base, base_location=base_location, progress=progress,
                              **({} if level is None else {"level": level}))
        try:
            with ZipwFile(dst, base=base) as zf:
                zf.verify(threads)  # every chunk decoded, the restored sha256 compared with the recorded one
                recorded = zf.original_sha256
            for want in (stats.sha256, expect_sha256):
                if want is not None and recorded != want:
                    raise ChecksumMismatchError(f"{dst}: restores sha256 {recorded}, the source has {want}")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
            raise
        return FileRecord(name, out, "compressed", size, os.path.getsize(dst), recorded, None,
                          time.perf_counter() - t0)
    if restore and name.endswith(WEIGHTS + SUFFIX):
        from .download import restore_file

        recorded = restore_file(src, dst, threads, base=base)  # sha256 checked before the rename
        return FileRecord(name, out, "restored", size, os.path.getsize(dst), recorded, recorded,
                          time.perf_counter() - t0)
    with atomic_output(dst) as f, open(src, "rb") as s:
        shutil.copyfileobj(s, f, 1 << 20)
    return FileRecord(name, out, "copied", size, size, None, None, time.perf_counter() - t0)


# -- model card note ---------------------------------------------------------------------
_NOTE = re.compile(r"\n?" + re.escape(NOTE_BEGIN) + r"\n.*?" + re.escape(NOTE_END) + r"\n?", re.S)


def add_note(card: str, text: str) -> str:
    """`card` with the note after it, one newline between (so a card that ends with a
    newline gets a blank line): the one newline is what strip_note takes back, so
    that --restore gives the card byte for byte, whatever it ends with."""
    card = strip_note(card)
    return f"{card}{chr(10) if card else ''}{NOTE_BEGIN}\n{text}\n{NOTE_END}\n"


def strip_note(card: str) -> str:
    """The card add_note was given: the note, its closing newline and the one newline
    before it taken out."""
    return _NOTE.sub("", card, count=1)


def note_text(source: str, commit: str, records: list[dict], base: str | None = None) -> str:
    comp = [r for r in records if r.get("action") == "compressed"]
    a = sum(r["source_size"] for r in comp)
    b = sum(r["output_size"] for r in comp)
    ratio = b / a if a else 1.0
    return (
        f"**Compressed with [zipweights](https://pypi.org/project/zipweights/)** from `{source}` "
        f"(commit `{commit[:12]}`): {len(comp)} safetensors file(s), {a / 1e6:.1f} MB -> {b / 1e6:.1f} MB "
        f"(ratio {ratio:.3f}, lossless; measured). `zipweights.hub.hf_hub_download` / "
        f"`zipweights.enable()` restore the original files byte for byte (sha256 checked)."
        + (f" The weights are coded as a delta against the base model `{base}`: restoring them "
           f"downloads that base too (each file records its sha256 and hub location)." if base else "")
    )


# -- repos and folders -------------------------------------------------------------------
def parse_source(src: str) -> tuple[str, str | None]:
    if "@" in src:
        repo, rev = src.split("@", 1)
        return repo, rev or None
    return src, None


def is_folder(dest: str) -> bool:
    """A destination is a local folder if it exists as one, starts like a path
    (/, ./, ../, ~) or has more than one '/'; else a repo id ('hf:' forces a repo)."""
    if dest.startswith("hf:"):
        return False
    return (os.path.isdir(dest) or dest.startswith(("/", "./", "../", "~", "."))
            or dest.count("/") != 1)


@dataclasses.dataclass
class Plan:
    source: str
    revision: str
    commit: str
    dest: str
    to_folder: bool
    todo: list  # (RepoFile-like: path, size, sha256 or None)
    skipped: list  # FileRecord (action "skipped")
    card: str | None  # README.md path in the source, handled last


def _source_files(api, repo: str, commit: str):
    from huggingface_hub.hf_api import RepoFile

    out = []
    for f in api.list_repo_tree(repo, recursive=True, revision=commit):
        if isinstance(f, RepoFile):
            sha = f.lfs.sha256 if getattr(f, "lfs", None) is not None else None
            out.append((f.path, f.size, sha, f.blob_id))
    return out


def _selected(path: str, include, exclude) -> bool:
    if include and not any(fnmatch.fnmatch(path, g) for g in include):
        return False
    return not (exclude and any(fnmatch.fnmatch(path, g) for g in exclude))


def _done_in_folder(dest: str, path: str, size: int, sha: str | None, blob_id: str, restore: bool) -> bool:
    out = os.path.join(dest, *output_name(path, restore).split("/"))
    if not os.path.isfile(out):
        return False
    try:
        if not restore and path.endswith(WEIGHTS):
            with ZipwFile(out) as zf:
                return sha is not None and zf.original_sha256 == sha
        if restore and path.endswith(WEIGHTS + SUFFIX):
            return False  # which .zipw a plain file came from: only the manifest knows
        if os.path.getsize(out) != size:
            return False
        return _sha256(out) == sha if sha else _git_blob_sha1(out) == blob_id
    except (ZipWeightsError, OSError):
        return False


def _manifest_from_hub(api_download, dest: str) -> dict:
    try:
        with open(api_download(dest, MANIFEST)) as f:
            return json.load(f)
    except Exception:
        return {}


def plan(source: str, dest: str, *, restore: bool = False, include=None, exclude=None, api=None,
         download=None, manifest: dict | None = None) -> Plan:
    from huggingface_hub import HfApi

    api = api or HfApi()
    repo, rev = parse_source(source)
    commit = api.repo_info(repo, revision=rev or "main").sha
    to_folder = is_folder(dest)
    files = _source_files(api, repo, commit)
    if manifest is None:
        if to_folder:
            try:
                with open(os.path.join(os.path.expanduser(dest), MANIFEST)) as f:
                    manifest = json.load(f)
            except (OSError, ValueError):
                manifest = {}
        else:
            manifest = _manifest_from_hub(download, dest[3:] if dest.startswith("hf:") else dest)
    done = manifest.get("files", {}) if manifest else {}
    dest_files = set()
    if not to_folder and done:  # what the destination repo holds now, not what the manifest says it did
        try:
            dest_files = set(api.list_repo_files(dest[3:] if dest.startswith("hf:") else dest, revision="main"))
        except Exception:
            dest_files = set()
    todo, skipped, card = [], [], None
    for path, size, sha, blob_id in files:
        if path in (".gitattributes", MANIFEST) or not _selected(path, include, exclude):
            continue
        if path == CARD:
            card = path
            continue
        key = sha or blob_id
        prev = done.get(path)
        if to_folder and restore and path.endswith(WEIGHTS + SUFFIX):
            # a restored file does not say which .zipw it came from: the manifest does
            out = os.path.join(os.path.expanduser(dest), *output_name(path, True).split("/"))
            ok = (prev is not None and prev.get("source_id") == key and os.path.isfile(out)
                  and os.path.getsize(out) == prev.get("output_size"))
        elif to_folder:  # the files themselves say (the sha256 each .zipw records, the content of copies)
            ok = _done_in_folder(os.path.expanduser(dest), path, size, sha, blob_id, restore)
        else:
            ok = prev is not None and prev.get("source_id") == key and prev.get("output") in dest_files
        if ok:
            rec = dict(prev or {})
            skipped.append(FileRecord(path, output_name(path, restore), "skipped", size,
                                      rec.get("output_size", 0), rec.get("source_sha256") or sha,
                                      rec.get("output_sha256")))
        else:
            todo.append((path, size, sha, blob_id))
    return Plan(repo, rev or "main", commit, dest, to_folder, todo, skipped, card)


# -- running a plan ----------------------------------------------------------------------
class _Destination:
    """Where a plan's outputs go (a folder, or a work folder whose files are committed to
    a repo one by one) and the manifest that records them."""

    def __init__(self, p: Plan, work: str, fetch, api, dest_repo: str):
        self.p, self.api, self.dest_repo = p, api, dest_repo
        self.lock = threading.Lock()
        if p.to_folder:
            self.root = os.path.expanduser(p.dest)
            os.makedirs(self.root, exist_ok=True)
            self.manifest_path = os.path.join(self.root, MANIFEST)
            try:
                with open(self.manifest_path) as f:
                    self.manifest = json.load(f)
            except (OSError, ValueError):
                self.manifest = {}
        else:
            self.root = os.path.join(work, "out")
            os.makedirs(self.root, exist_ok=True)
            self.manifest = _manifest_from_hub(lambda r, f: fetch(r, f, cache_dir=os.path.join(work, "manifest2")),
                                               dest_repo)
            with contextlib.suppress(Exception):
                api.create_repo(dest_repo, exist_ok=True)
        self.manifest.setdefault("files", {})
        self.manifest["source"] = p.source
        self.manifest["commit"] = p.commit
        self.manifest.setdefault("dest_files", [])

    def path(self, out_name: str) -> str:
        return os.path.join(self.root, *out_name.split("/"))

    def _manifest_bytes(self, rec: FileRecord, key: str) -> bytes:
        with self.lock:
            self.manifest["files"][rec.source] = dict(rec.to_json(), source_id=key)
            if rec.output not in self.manifest["dest_files"]:
                self.manifest["dest_files"].append(rec.output)
            return json.dumps(self.manifest, indent=1, sort_keys=True).encode()

    def add(self, rec: FileRecord, key: str, dst: str) -> None:
        """The file `dst` (done as `rec` says) recorded: the folder's manifest rewritten,
        or the file and the manifest committed to the repo (and `dst` removed)."""
        data = self._manifest_bytes(rec, key)
        if self.p.to_folder:
            with atomic_output(self.manifest_path, force=True) as f:
                f.write(data)
            return
        from huggingface_hub import CommitOperationAdd

        from .upload import original

        original("create_commit")(
            self.api, self.dest_repo,
            [CommitOperationAdd(rec.output, dst), CommitOperationAdd(MANIFEST, data)],
            commit_message=f"zipw mirror: {rec.output}",
        )
        os.unlink(dst)

    def write_card(self, text: str) -> None:
        if self.p.to_folder:
            with atomic_output(os.path.join(self.root, CARD), force=True) as f:
                f.write(text.encode())
            return
        from huggingface_hub import CommitOperationAdd

        from .upload import original

        original("create_commit")(self.api, self.dest_repo, [CommitOperationAdd(CARD, text.encode())],
                                  commit_message="zipw mirror: model card")


def _log_dry_run(p: Plan, restore: bool, log, include=None, exclude=None) -> None:
    for path, size, _, _ in p.todo:
        log(f"would {'restore' if restore and path.endswith(SUFFIX) else 'compress' if not restore and path.endswith(WEIGHTS) else 'copy'} "
            f"{path} ({size} bytes) -> {output_name(path, restore)}")
    for r in p.skipped:
        log(f"skip {r.source} (already mirrored)")
    if _selected(CARD, include, exclude) and (p.card is not None or not restore):
        note = f"a note between {NOTE_BEGIN} and {NOTE_END} (what was compressed, how to load it)"
        what = ("the source's card, less that note" if restore else
                f"the source's card with {note}" if p.card is not None else f"a card holding only {note}")
        log(f"would write {CARD}: {what}")
    log(f"would write {MANIFEST} (what was mirrored from commit {p.commit[:12]}, to resume)")


def _bytes_under(folder: str) -> int:
    """The bytes of the files under `folder`, links left out: huggingface_hub grows a
    blob's `.incomplete` file there as the download arrives."""
    n = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(root, name))
                if not os.path.islink(os.path.join(root, name)):
                    n += st.st_size
    return n


@contextlib.contextmanager
def _watched(cache: str, fed: Progress, every: float = 0.1):
    """While a download into `cache` runs, `fed` moves with the bytes that have arrived
    (polled: huggingface_hub reports its progress only to its own bars)."""
    stop = threading.Event()

    def watch():
        while not stop.wait(every):
            got = min(_bytes_under(cache), fed.total)
            if got > fed.done:
                fed(got - fed.done)

    t = threading.Thread(target=watch, name="zipw-mirror-download-bar", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        fed.close()  # the whole share, however much the polls saw


def _run_files(p: Plan, out: _Destination, work: str, fetch, *, restore, threads, level, progress, log,
               base_for=None):
    """Every file of the plan through two stages (the next download runs while this file
    is compressed and checked); yields each FileRecord as its output is recorded.
    `base_for(i, path, local)`: (local base path, base location) for a delta, or (None, None).

    `progress`: one bar over the whole plan (files and bytes), above one for the file
    being coded; on a terminal tqdm bars, elsewhere plain lines. Each file's bytes count
    half as they download and half as they are coded, so the overall bar moves while
    the first (or any) big file is still arriving."""
    total = sum(t[1] for t in p.todo)
    shown = bool(progress and total)
    bar = Progress(total, f"{p.source}: file 1/{len(p.todo)}", show=shown, leave=True, position=0)

    def download(i, path, size):
        cache = os.path.join(work, f"dl-{i}")
        if not shown:
            return cache, fetch(p.source, path, revision=p.commit, cache_dir=cache)
        with _watched(cache, Progress(size, path, show=False, parent=bar, share=size // 2)):
            return cache, fetch(p.source, path, revision=p.commit, cache_dir=cache)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(download, 0, p.todo[0][0], p.todo[0][1]) if p.todo else None
        for i, (path, size, sha, blob_id) in enumerate(p.todo):
            bar.describe(f"{p.source}: file {i + 1}/{len(p.todo)}, {path}")  # downloading below, then coded
            cache, local = pending.result()
            if i + 1 < len(p.todo):
                pending = pool.submit(download, i + 1, p.todo[i + 1][0], p.todo[i + 1][1])
            dst = out.path(output_name(path, restore))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if os.path.exists(dst):
                os.unlink(dst)  # a stale output the plan did not accept
            base_path, base_loc = base_for(i, path, local) if base_for is not None else (None, None)
            file_bar = Progress(size, path, show=shown, parent=bar, share=size - size // 2, position=1)
            try:
                rec = mirror_file(local, dst, name=path, restore=restore,
                                  expect_sha256=sha if not restore else None, threads=threads, level=level,
                                  base=base_path, base_location=base_loc, progress=file_bar)
                file_bar(max(0, size - file_bar.done))  # what coding did not count (its header, a copy)
            finally:
                file_bar.close()
                shutil.rmtree(cache, ignore_errors=True)  # the plain copy goes as soon as it is done with
                shutil.rmtree(os.path.join(work, f"base-{i}"), ignore_errors=True)
            out.add(rec, sha or blob_id, dst)
            log(f"{rec.action} {path}: {rec.source_size} -> {rec.output_size} bytes "
                f"({rec.ratio:.3f}) in {rec.seconds:.2f} s")
            yield rec
    bar.close()


def _mirror_card(p: Plan, out: _Destination, work: str, fetch, restore: bool, base: str | None = None) -> None:
    """The model card, last: with the note (or without it, restoring)."""
    card = ""
    if p.card is not None:
        with open(fetch(p.source, CARD, revision=p.commit, cache_dir=os.path.join(work, "card"))) as f:
            card = f.read()
    if restore:
        plain = strip_note(card)
        if plain or not card or plain == card:  # a card that was only the note: the source had none
            out.write_card(plain)
        return
    records = list(out.manifest["files"].values())
    out.write_card(add_note(card, note_text(p.source, p.commit, records, base)))


@contextlib.contextmanager
def _own_bars(progress: bool):
    """huggingface_hub's download bars off while ours run: two sets of bars would fight
    over the terminal, and into a log tqdm writes carriage returns."""
    if not progress:
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_off = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_off:
            enable_progress_bars()


def mirror(source: str, dest: str, *, restore: bool = False, include=None, exclude=None, threads: int | None = None,
           level: int | None = None, dry_run: bool = False, endpoint: str | None = None, token=None,
           workdir: str | None = None, progress: bool = True, log=None, base: str | None = None) -> dict:
    """Mirror one repo; return a summary dict (records, bytes, seconds). `progress`:
    bars on stderr (plain lines where it is not a terminal; see _run_files). `base`
    ("REPO[@REV]"): code each safetensors file against the file of the same name in
    that repo (a fine-tune against its base), recording the base's hub location."""
    from huggingface_hub import HfApi

    from .download import ORIG_HF_HUB_DOWNLOAD

    log = log or (lambda msg: None)
    api = HfApi(endpoint=endpoint, token=token)
    dest_repo = dest[3:] if dest.startswith("hf:") else dest

    def fetch(repo, path, revision=None, cache_dir=None):
        return ORIG_HF_HUB_DOWNLOAD(repo, path, revision=revision, endpoint=endpoint, token=token,
                                    cache_dir=cache_dir)

    work = tempfile.mkdtemp(prefix="zipw-mirror-", dir=workdir)
    try:
        p = plan(source, dest, restore=restore, include=include, exclude=exclude, api=api,
                 download=lambda r, f: fetch(r, f, cache_dir=os.path.join(work, "manifest")))
        t0 = time.perf_counter()
        base_repo = base_commit = None
        if base is not None and not restore:
            base_repo, base_rev = parse_source(base)
            base_commit = api.repo_info(base_repo, revision=base_rev or "main").sha
        summary = {"source": f"{p.source}@{p.commit}", "dest": dest, "restore": restore, "dry_run": dry_run,
                   "todo": [t[0] for t in p.todo], "skipped": [r.source for r in p.skipped], "records": []}
        if base_repo is not None:
            summary["base"] = f"{base_repo}@{base_commit}"
        if dry_run:
            _log_dry_run(p, restore, log, include, exclude)
            return summary
        out = _Destination(p, work, fetch, api, dest_repo)
        hub_kw = {"endpoint": endpoint, "token": token}

        def base_for(i, path, local):
            from huggingface_hub.errors import EntryNotFoundError

            from .download import hf_hub_download, hub_base

            cache_dir = os.path.join(work, f"base-{i}")
            if restore:  # a delta file: its base from where it records it, through this filter
                return (hub_base(local, p.source, path, p.commit, cache_dir=cache_dir, **hub_kw)
                        if path.endswith(WEIGHTS + SUFFIX) else None), None
            if base_repo is None or not path.endswith(WEIGHTS):
                return None, None
            try:  # the base repo's file of the same name, plain or compressed
                local_base = hf_hub_download(base_repo, path, revision=base_commit, cache_dir=cache_dir, **hub_kw)
            except EntryNotFoundError:
                log(f"base {base_repo} has no {path}: coded alone")
                return None, None
            return local_base, {"repo_id": base_repo, "revision": base_commit, "filename": path}

        with _own_bars(progress):
            for rec in _run_files(p, out, work, fetch, restore=restore, threads=threads, level=level,
                                  progress=progress, log=log, base_for=base_for):
                summary["records"].append(rec.to_json())
            # not if the globs leave the card out
            if (p.card is not None or not restore) and _selected(CARD, include, exclude):
                _mirror_card(p, out, work, fetch, restore, summary.get("base"))
        summary["seconds"] = time.perf_counter() - t0
        summary["bytes_in"] = sum(r["source_size"] for r in summary["records"])
        summary["bytes_out"] = sum(r["output_size"] for r in summary["records"])
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_list(path: str) -> list[tuple[str, str]]:
    """The (SRC, DEST) pairs of a --list file: one 'SRC DEST' a line, '#' comments."""
    pairs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{path}:{n}: expected 'SRC DEST', got {line!r}")
            pairs.append((parts[0], parts[1]))
    return pairs
