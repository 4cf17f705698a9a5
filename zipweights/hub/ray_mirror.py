"""zipw mirror --list FILE --ray [ADDRESS]: the mirror's per-file step mapped over a Ray cluster.

    zipw mirror --list pairs.txt --ray              # a local cluster, one CPU a core
    zipw mirror --list pairs.txt --ray HEAD:6379    # an existing cluster
    zipweights.hub.ray_mirror.mirror_on_ray("pairs.txt", address=None, threads=1)

The driver plans every SRC DEST pair with `mirror.plan` (what the destination already
records is skipped) and runs each remaining (repo, file) as two Ray tasks:

- compress (`threads * CPU_SHARE` CPUs and `task_memory(threads)` bytes of Ray's memory
  resource): download the source file into the node's work folder, `mirror.mirror_file`
  it (compress, decode in full, compare the sha256 with the source's) into a staged
  output there, and delete the plain copy. Half a CPU a thread, so a node runs two tasks
  a core: one downloads (network-bound) while the other compresses.
- publish (no CPU; pinned to the node that holds the staged output): the output and its
  record written to the destination together (a repo: one commit of the file and
  `.zipw-mirror.json`; a folder: the file moved in, the manifest rewritten); the staged
  copy is deleted.

The driver lets one publish a destination run at a time, because every commit rewrites
that destination's one manifest; compressions are never serialized. Disk a running
compress task needs: its plain copy plus its output (at most about twice the file), and
an output stays staged until its publish is done.

Failures:
- a worker that dies (killed, out of memory, its node lost) is Ray's to retry
  (`max_retries`); a publish whose node is gone sends its file back to compress.
- an error in the data (a corrupt or truncated file, a checksum, a bad header) or a
  refusal from the hub is recorded against that file, with its kind and message, and
  every other file goes on; a repo with an error gets no model card note until a rerun
  completes it.
- 408/429/5xx answers and network errors from either hub are retried with exponential
  backoff and full jitter (Retry-After honoured), by the planner and by every task.
- a rerun (after the driver itself was killed, say) plans from the destination's records
  again, so nothing published is redone; an output compressed but not yet published is
  found in the work folder (named by destination and source sha256), decoded in full
  again and published without being compressed again; a publish first reads the
  destination's manifest, so an attempt whose worker died after its commit does not
  commit twice.

Ray is imported inside the functions that need it, never at import: `zipw mirror`
without --ray does not need it installed (`pip install 'zipweights[ray]'`).
"""

from __future__ import annotations

import collections
import collections.abc
import concurrent.futures
import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid

from .._fileio import atomic_output
from .._progress import Progress
from ..errors import EXIT_DATA, EXIT_OK, EXIT_USAGE, CorruptDataError, InvalidArgumentError, ZipWeightsError, exit_code
from ..format.container import SUFFIX
from ..reader import ZipwFile
from . import WEIGHTS_SUFFIX as WEIGHTS
from . import mirror as _m

# CPU a compress task holds per thread: below 1 so that a node runs more tasks than cores,
# and one task's download (which needs the network, not the CPU) overlaps another's compression.
CPU_SHARE = 0.5
# Ray memory resource a compress task asks for (a reservation Ray schedules by; it
# does not enforce it). Measured (bench/ray_bench.py): a worker with Ray, huggingface_hub
# and zipweights loaded peaks at ~170 MiB on 45 MB files; compress is meant to hold at most
# ~256 MiB of its input's map (the sha256 read-ahead) and a few MiB of buffers a thread,
# the full decode ~100 MiB. Mapped file pages are page cache, which the kernel can take back.
TASK_MEMORY_BASE = 512 << 20
TASK_MEMORY_PER_THREAD = 64 << 20
MAX_RETRIES = 3  # Ray's retries of a task whose worker died
HTTP_ATTEMPTS = 8
BACKOFF_BASE = 1.0  # seconds before the first retry; doubles each time, capped
BACKOFF_CAP = 60.0
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
PLANNERS = 8  # repos planned at once by the driver (HTTP round trips, not CPU)
STAGE = "zipw-ray-mirror"  # under the work folder of every node


class RayMirrorError(InvalidArgumentError):
    """--ray cannot run as asked: Ray is not installed, no cluster answers at the address,
    or no node of the cluster can hold one task."""


def task_memory(threads: int) -> int:
    """Bytes of Ray's `memory` resource one compress task with `threads` threads asks for."""
    return TASK_MEMORY_BASE + threads * TASK_MEMORY_PER_THREAD


# -- retries of transient HTTP errors ------------------------------------------------------
def _retry_after(exc: BaseException) -> float | None:
    """Seconds to wait before trying again if `exc`, or an error it was raised from, is
    transient (a 408/429/5xx answer, a connection or timeout error); None if trying again
    cannot help (a 404, a refused token, a corrupt file)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ZipWeightsError):
            return None
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is not None:
            if status not in TRANSIENT_STATUS:
                return None
            try:
                return max(0.0, float(exc.response.headers.get("retry-after") or 0))
            except (TypeError, ValueError):
                return 0.0  # an HTTP date: the backoff's own wait instead
        # huggingface_hub's HTTP library has changed (requests, httpx, httpx2): its transport
        # errors are known by their class name, so no version of it is imported here
        if type(exc).__name__ == "OfflineModeIsEnabled":
            return None
        if isinstance(exc, (ConnectionError, TimeoutError)) or any(
                c.__name__ in ("TransportError", "TimeoutException") for c in type(exc).__mro__):
            return 0.0
        exc = exc.__cause__ or exc.__context__
    return None


@dataclasses.dataclass(frozen=True)
class Backoff:
    attempts: int = HTTP_ATTEMPTS
    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP

    def call(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), tried again after transient errors; the last error is raised."""
        for attempt in range(self.attempts):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                wait = _retry_after(exc)
                if wait is None or attempt + 1 >= self.attempts:
                    raise
                # full jitter: thousands of tasks told 429 at once must not come back at once;
                # a Retry-After is honoured up to 15 minutes (a task slot waits meanwhile)
                time.sleep(max(min(wait, 900.0), random.uniform(0, min(self.cap, self.base * 2 ** attempt))))
        raise AssertionError("unreachable")


class _RetryingApi:
    """An HfApi whose calls retry transient errors. plan() reads some errors as "the
    destination holds nothing", which must not follow from the hub being busy for a moment;
    listings (generators, fetched as they are read) are read whole inside the retry."""

    def __init__(self, api, backoff: Backoff):
        self._api, self._backoff = api, backoff

    def __getattr__(self, name):
        attr = getattr(self._api, name)
        if not callable(attr):
            return attr

        def once(*args, **kwargs):
            out = attr(*args, **kwargs)
            return list(out) if isinstance(out, collections.abc.Iterator) else out

        return functools.partial(self._backoff.call, once)


def _fetcher(endpoint, token, backoff: Backoff):
    from .download import ORIG_HF_HUB_DOWNLOAD

    def fetch(repo, path, revision=None, cache_dir=None):
        return backoff.call(ORIG_HF_HUB_DOWNLOAD, repo, path, revision=revision, endpoint=endpoint, token=token,
                            cache_dir=cache_dir)

    return fetch


def _api(endpoint, token, backoff: Backoff | None = None):
    """An HfApi; with `backoff`, one whose calls retry transient errors (publish and card
    take the plain one: they retry a whole attempt, after reading the destination again)."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    return api if backoff is None else _RetryingApi(api, backoff)


def _repo_id(dest: str) -> str:
    return dest[3:] if dest.startswith("hf:") else dest


def _describe(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)  # a RayTaskError carries the task's own exception
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:500] if text else ''}".rstrip(": ")


def _hub_manifest(fetch, repo: str, work: str) -> dict:
    """The destination repo's manifest as it is now; {} when it has none (a new repo). Any
    other failure is raised: a commit built on a manifest that could not be read would
    drop the records of every file already there."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    cache = tempfile.mkdtemp(prefix="manifest-", dir=work)
    try:
        try:
            path = fetch(repo, _m.MANIFEST, cache_dir=cache)
        except (EntryNotFoundError, RepositoryNotFoundError):
            return {}
        with open(path, "rb") as f:
            data = f.read()
        try:
            return json.loads(data)
        except ValueError as exc:
            raise CorruptDataError(f"{repo}: {_m.MANIFEST} is not JSON ({exc}); fix or delete it") from exc
    finally:
        shutil.rmtree(cache, ignore_errors=True)


# -- worker side -------------------------------------------------------------------------
def _stage_root(workdir: str | None) -> str:
    return os.path.join(os.path.expanduser(workdir) if workdir else tempfile.gettempdir(), STAGE)


def _staged_path(job: dict) -> str:
    dest_key = hashlib.sha256(job["dest"].encode()).hexdigest()[:16]
    # a folder an output, named by the output path too: one repo may hold the same file
    # under two names, and each publish removes its own folder
    out_key = hashlib.sha256(job["out"].encode()).hexdigest()[:12]
    return os.path.join(_stage_root(job["workdir"]), dest_key, f"{job['key']}-{out_key}", os.path.basename(job["out"]))


def _sweep_downloads(root: str) -> None:
    """Remove download folders left by workers of this node that died mid-download."""
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            parts = name.split("-")
            if len(parts) == 3 and parts[0] == "dl" and parts[1].isdigit() and not _alive(int(parts[1])):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _base_for(job: dict, local: str | None, cache_dir: str):
    """(local base path, base location) for mirror_file: restoring, the base a delta file
    records (through the hub filter); compressing with a base repo, that repo's file of the
    same name (plain or compressed), or (None, None) where it has none (coded alone)."""
    from huggingface_hub.errors import EntryNotFoundError

    from .download import hf_hub_download, hub_base

    hub_kw = {"endpoint": job["endpoint"], "token": job["token"]}
    if job["restore"]:
        if local is None or not job["path"].endswith(WEIGHTS + SUFFIX):
            return None, None
        return hub_base(local, job["source"], job["path"], job["commit"], cache_dir=cache_dir, **hub_kw), None
    if job["base"] is None or not job["path"].endswith(WEIGHTS):
        return None, None
    repo, commit = job["base"]
    try:
        path = Backoff(*job["backoff"]).call(hf_hub_download, repo, job["path"], revision=commit,
                                             cache_dir=cache_dir, **hub_kw)
    except EntryNotFoundError:
        return None, None
    return path, {"repo_id": repo, "revision": commit, "filename": job["path"]}


def _reuse(staged: str, job: dict, base: str | None = None):
    """The FileRecord of a compressed output an earlier run staged and never published, if
    it restores the very source file (decoded in full again: the earlier run may have died
    between writing it and checking it); else None, and the stale file is gone."""
    if job["restore"] or not job["path"].endswith(WEIGHTS) or job["sha"] is None or not os.path.isfile(staged):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        return None
    try:
        with ZipwFile(staged, base=base) as zf:
            zf.verify(job["threads"])
            recorded = zf.original_sha256
        if recorded == job["sha"]:
            return _m.FileRecord(job["path"], job["out"], "compressed", job["size"], os.path.getsize(staged),
                                 recorded, None, 0.0)
    except (ZipWeightsError, OSError):
        pass
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    return None


@contextlib.contextmanager
def _sigterm_held():
    """SIGTERM held until the block is over. Ray ends the workers of a driver that died
    with SIGTERM, which it turns into SystemExit inside the running task; mirror_file would
    then delete an output it has written and not yet checked, and the rerun would compress
    that file again. Held, the step finishes and its output stays staged for the rerun (a
    SIGKILL that follows leaves it too: the rerun decodes it in full before using it)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        if got:
            os.kill(os.getpid(), signal.SIGTERM)  # now Ray's own handler ends the worker


def _compress(job: dict) -> dict:
    """Ray task: one source file -> its checked output, staged on this node."""
    import resource

    import ray

    t0, c0 = time.perf_counter(), time.process_time()  # a worker runs one task at a time: its CPU is the task's
    out = {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid(), "reused": False,
           "download_seconds": 0.0}
    try:
        staged = _staged_path(job)
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        root = _stage_root(job["workdir"])
        _sweep_downloads(root)
        dl = os.path.join(root, f"dl-{os.getpid()}-{uuid.uuid4().hex[:12]}")
        try:
            base, base_loc = _base_for(job, None, os.path.join(dl, "base"))  # compressing against a base repo
            rec = _reuse(staged, job, base)
            if rec is not None:
                out["reused"] = True
            else:
                fetch = _fetcher(job["endpoint"], job["token"], Backoff(*job["backoff"]))
                local = fetch(job["source"], job["path"], revision=job["commit"], cache_dir=os.path.join(dl, "src"))
                if job["restore"]:
                    base, base_loc = _base_for(job, local, os.path.join(dl, "base"))
                out["download_seconds"] = time.perf_counter() - t0
                with _sigterm_held():
                    rec = _m.mirror_file(local, staged, name=job["path"], restore=job["restore"],
                                         expect_sha256=None if job["restore"] else job["sha"],
                                         threads=job["threads"], level=job["level"], base=base,
                                         base_location=base_loc)
        finally:
            shutil.rmtree(dl, ignore_errors=True)  # the plain copy goes as soon as its output is checked
        out.update(record=rec.to_json(), staged=staged)
    except Exception as exc:  # the file's own failure, recorded; a dead worker is Ray's to retry
        out["error"] = _describe(exc)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = time.process_time() - c0
    out["max_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


class _Publisher(_m._Destination):
    """mirror's _Destination for one publish on a worker: the manifest read fresh from the
    destination (the driver runs one publish per destination at a time, so it is the
    current one), and no create_repo (the driver made the repo once)."""

    def __init__(self, job: dict, fetch, api, work: str):
        dest = job["dest"]
        self.p = _m.Plan(job["source"], job["revision"], job["commit"], dest, job["to_folder"], [], [], job["card"])
        self.api, self.dest_repo = api, _repo_id(dest)
        self.lock = threading.Lock()
        if self.p.to_folder:
            self.root = os.path.expanduser(dest)
            os.makedirs(self.root, exist_ok=True)
            self.manifest_path = os.path.join(self.root, _m.MANIFEST)
            try:
                with open(self.manifest_path) as f:
                    self.manifest = json.load(f)
            except (OSError, ValueError):
                self.manifest = {}  # a folder's files say what they are; its manifest only adds to that
        else:
            self.root = work
            self.manifest = _hub_manifest(fetch, self.dest_repo, work)
        self.manifest.setdefault("files", {})
        self.manifest["source"] = self.p.source
        self.manifest["commit"] = self.p.commit
        self.manifest.setdefault("dest_files", [])

    def recorded(self, rec, key: str) -> bool:
        prev = self.manifest["files"].get(rec.source)
        return bool(prev) and prev.get("source_id") == key and prev.get("output") == rec.output


def _move(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.replace(src, dst)
    except OSError:  # another filesystem: copied whole under a hidden name, then named
        with atomic_output(dst, force=True) as f, open(src, "rb") as s:
            shutil.copyfileobj(s, f, 1 << 20)
        os.unlink(src)


def _publish(job: dict, outcome: dict) -> dict:
    """Ray task, on the node holding the staged output: it and its record into the destination."""
    c0 = time.process_time()
    result = _publish_once(job, outcome)
    result["cpu_seconds"] = time.process_time() - c0
    return result


def _publish_once(job: dict, outcome: dict) -> dict:
    t0 = time.perf_counter()
    backoff = Backoff(*job["backoff"])
    fetch, api = _fetcher(job["endpoint"], job["token"], backoff), _api(job["endpoint"], job["token"])
    rec = _m.FileRecord(**outcome["record"])
    staged = outcome["staged"]
    os.makedirs(_stage_root(job["workdir"]), exist_ok=True)
    work = tempfile.mkdtemp(prefix="publish-", dir=_stage_root(job["workdir"]))
    try:
        if job["to_folder"]:
            dest = _Publisher(job, fetch, api, work)
            final = dest.path(rec.output)
            if os.path.exists(staged):
                _move(staged, final)
            elif not os.path.exists(final):  # nor moved in by an attempt that died after moving it
                raise FileNotFoundError(f"{staged}: the staged output of {job['path']} is gone")
            dest.add(rec, job["key"], final)
            return {"seconds": time.perf_counter() - t0}

        def attempt():
            dest = _Publisher(job, fetch, api, work)  # the manifest again, as the hub has it now
            if dest.recorded(rec, job["key"]):
                return True  # an attempt whose answer was lost (or whose worker died) committed it
            if not os.path.exists(staged):
                raise FileNotFoundError(f"{staged}: the staged output of {job['path']} is gone")
            dest.add(rec, job["key"], staged)  # one commit: the file and the manifest; the staged copy removed
            return False

        already = backoff.call(attempt)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)
        return {"seconds": time.perf_counter() - t0, "already": already}
    except Exception as exc:  # the staged output stays for a rerun
        return {"error": _describe(exc), "seconds": time.perf_counter() - t0}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(staged))


def _card(job: dict) -> dict:
    """Ray task: the model card, once a repo's files are all published (mirror._mirror_card)."""
    backoff = Backoff(*job["backoff"])
    fetch, api = _fetcher(job["endpoint"], job["token"], backoff), _api(job["endpoint"], job["token"])
    work = tempfile.mkdtemp(prefix="card-", dir=tempfile.gettempdir())
    try:
        def attempt():
            dest = _Publisher(job, fetch, api, work)
            if not job["force"] and _card_present(dest, job, fetch, work):
                return "kept"
            base = None if job["base"] is None else "@".join(job["base"])
            _m._mirror_card(dest.p, dest, work, fetch, job["restore"], base)
            return "written"

        return {"card": backoff.call(attempt)}
    except Exception as exc:
        return {"error": _describe(exc)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _card_present(dest: _Publisher, job: dict, fetch, work: str) -> bool:
    """Whether a run that had nothing else to do still owes the card (its last run died first)."""
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    if dest.p.to_folder:
        path = os.path.join(dest.root, _m.CARD)
    else:
        try:
            path = fetch(dest.dest_repo, _m.CARD, cache_dir=os.path.join(work, "dest-card"))
        except (EntryNotFoundError, RepositoryNotFoundError):
            return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return job["restore"] or _m.NOTE_BEGIN in f.read()
    except OSError:
        return False


# -- driver side -------------------------------------------------------------------------
@dataclasses.dataclass
class _Repo:
    index: int
    src: str
    dest: str
    plan: object = None
    pending: int = 0
    done: list = dataclasses.field(default_factory=list)
    skipped: int = 0
    reused: int = 0
    errors: list = dataclasses.field(default_factory=list)
    started: float | None = None
    finished: float | None = None
    task_seconds: float = 0.0
    download_seconds: float = 0.0
    compress_seconds: float = 0.0  # mirror_file: compress (or restore, copy) and the full check
    publish_seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the workers, on this repo's compress and publish tasks
    card: str | None = None
    force_card: bool = False

    def summary(self, restore: bool) -> dict:
        a = sum(r["source_size"] for r in self.done)
        b = sum(r["output_size"] for r in self.done)
        p = self.plan
        return {
            "source": f"{p.source}@{p.commit}" if p else self.src, "dest": self.dest, "restore": restore,
            "files": len(self.done), "skipped": self.skipped, "reused": self.reused, "failed": len(self.errors),
            "bytes_in": a, "bytes_out": b, "ratio": b / a if a else 1.0,
            "seconds": (self.finished - self.started) if self.started and self.finished else 0.0,
            "task_seconds": self.task_seconds, "download_seconds": self.download_seconds,
            "compress_seconds": self.compress_seconds, "publish_seconds": self.publish_seconds,
            "cpu_seconds": self.cpu_seconds,
            "card": self.card, "errors": self.errors,
        }


class _Driver:
    def __init__(self, ray, pairs, *, restore, include, exclude, threads, level, endpoint, token, workdir,
                 records, max_retries, backoff, window, log, on_progress, progress, progress_interval, base):
        self.ray, self.pairs = ray, pairs
        self.base = base  # (repo, commit) of the base model every file is coded against, or None
        self.restore, self.include, self.exclude = restore, include, exclude
        self.level, self.endpoint, self.token, self.workdir = level, endpoint, token, workdir
        self.records, self.max_retries, self.backoff = records, max_retries, backoff
        self.log, self.on_progress, self.progress_interval = log, on_progress, progress_interval
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = [n["Resources"].get("CPU", 0.0) for n in nodes]
        mems = [n["Resources"].get("memory", 0.0) for n in nodes]
        if not cpus or max(cpus) < CPU_SHARE:
            raise RayMirrorError("the Ray cluster has no node with a CPU to run on")
        # a thread count from the driver's machine (zipw's default: all its cores) must fit a node
        self.threads = max(1, min(threads or 1, int(max(cpus))))
        self.num_cpus = self.threads * CPU_SHARE
        self.memory = task_memory(self.threads)
        if self.memory > max(mems):
            raise RayMirrorError(f"a task asks for {self.memory >> 20} MiB of memory; the largest node of the "
                                 f"cluster offers {int(max(mems)) >> 20} MiB (use fewer threads)")
        self.cluster = {"nodes": len(nodes), "cpus": sum(cpus), "memory": sum(mems)}
        slots = max(1, int(sum(cpus) / self.num_cpus))
        self.window = window or max(2, 2 * slots)  # a queue behind every slot, so none waits on the driver
        opts = dict(max_retries=max_retries, retry_exceptions=False)
        self.compress_opts = dict(num_cpus=self.num_cpus, memory=self.memory, **opts)
        self.quiet_opts = dict(num_cpus=0, **opts)  # publish and card wait on the network, not the CPU
        self.compress_fn, self.publish_fn, self.card_fn = (ray.remote(f) for f in (_compress, _publish, _card))
        self.repos = [_Repo(i, s, d) for i, (s, d) in enumerate(pairs)]
        self.bar = Progress(0, "ray mirror", show=bool(progress) and sys.stderr.isatty(), leave=True)
        self.totals = collections.Counter()
        self.peak_rss = 0

    # -- planning (on the driver: HTTP round trips, a few at a time) ---------------------
    def _plan(self, repo: _Repo):
        api = _api(self.endpoint, self.token, self.backoff)
        fetch = _fetcher(self.endpoint, self.token, self.backoff)
        with tempfile.TemporaryDirectory(prefix="zipw-ray-plan-") as tmp:
            manifest = None if _m.is_folder(repo.dest) else _hub_manifest(fetch, _repo_id(repo.dest), tmp)
            p = _m.plan(repo.src, repo.dest, restore=self.restore, include=self.include, exclude=self.exclude,
                        api=api, manifest=manifest)
        if p.todo and not p.to_folder:
            with contextlib.suppress(Exception):  # as mirror(): a repo that exists already, or no right to create
                api.create_repo(_repo_id(repo.dest), exist_ok=True)
        return p

    def _planned(self, repo: _Repo, fut) -> None:
        try:
            p = fut.result()
        except Exception as exc:
            repo.errors.append({"file": None, "error": _describe(exc)})
            self.totals["failed"] += 1
            self._say(f"{repo.src} -> {repo.dest}: {_describe(exc)}")
            repo.finished = repo.started = time.time()
            return
        repo.plan, repo.skipped, repo.pending = p, len(p.skipped), len(p.todo)
        self.totals["planned"] += 1
        self.totals["files_total"] += len(p.todo)
        self.totals["bytes_total"] += sum(t[1] for t in p.todo)
        self.totals["skipped"] += len(p.skipped)
        if self.bar.bar is not None:
            self.bar.bar.total = self.totals["bytes_total"]
            self.bar.bar.refresh()
        for path, size, sha, blob_id in p.todo:
            self.queue.append(self._job(repo, path, size, sha, blob_id))
        if not p.todo:
            self._repo_finished(repo)

    def _job(self, repo: _Repo, path, size, sha, blob_id) -> dict:
        p = repo.plan
        return {"repo": repo.index, "source": p.source, "revision": p.revision, "commit": p.commit,
                "dest": repo.dest, "to_folder": p.to_folder, "card": p.card, "path": path, "size": size,
                "sha": sha, "blob_id": blob_id, "key": sha or blob_id, "out": _m.output_name(path, self.restore),
                "restore": self.restore, "threads": self.threads, "level": self.level, "endpoint": self.endpoint,
                "token": self.token, "workdir": self.workdir, "resubmits": 0, "base": self.base,
                "backoff": (self.backoff.attempts, self.backoff.base, self.backoff.cap)}

    # -- results -----------------------------------------------------------------------
    def _file_failed(self, job: dict, error: str) -> None:
        repo = self.repos[job["repo"]]
        repo.errors.append({"file": job["path"], "error": error})
        self.totals["failed"] += 1
        self.totals["bytes_failed"] += job["size"]
        self._say(f"{job['source']}: {job['path']}: {error}")
        self._file_over(repo)

    def _file_done(self, job: dict, outcome: dict, result: dict) -> None:
        repo = self.repos[job["repo"]]
        rec = outcome["record"]
        repo.done.append(rec)
        repo.reused += bool(outcome["reused"])
        repo.task_seconds += outcome["seconds"] + result["seconds"]
        repo.download_seconds += outcome["download_seconds"]
        repo.compress_seconds += rec["seconds"]
        repo.publish_seconds += result["seconds"]
        repo.cpu_seconds += outcome["cpu_seconds"] + result["cpu_seconds"]
        repo.force_card = True
        self.totals["files_done"] += 1
        self.totals["reused"] += bool(outcome["reused"])
        self.totals["bytes_done"] += rec["source_size"]
        self.totals["bytes_out"] += rec["output_size"]
        self.bar(rec["source_size"])
        if self.records:
            line = json.dumps(dict(rec, repo=repo.src, dest=repo.dest, node=outcome["node"], pid=outcome["pid"],
                                   reused=outcome["reused"])) + "\n"
            with open(self.records, "a") as f:  # a whole line a write: a killed driver leaves whole lines
                f.write(line)
        if self.verbose:
            self._say(f"{'reused' if outcome['reused'] else rec['action']} {job['source']}: {rec['source']}: "
                      f"{rec['source_size']} -> {rec['output_size']} bytes ({rec['output_size'] / max(1, rec['source_size']):.3f})"
                      f" in {outcome['seconds']:.2f} + {result['seconds']:.2f} s")
        self._file_over(repo)

    def _file_over(self, repo: _Repo) -> None:
        repo.pending -= 1
        if repo.pending == 0:
            self._repo_finished(repo)

    def _repo_finished(self, repo: _Repo) -> None:
        repo.finished = time.time()
        repo.started = repo.started or repo.finished
        p = repo.plan
        if repo.errors or p is None:
            return  # no note claiming a complete mirror
        if (p.card is not None or not self.restore) and _m._selected(_m.CARD, self.include, self.exclude):
            job = self._job(repo, _m.CARD, 0, None, None)
            job["force"] = repo.force_card
            self.waiting[repo.dest].append(("card", job, None))

    # -- the loop ----------------------------------------------------------------------
    def run(self, verbose: bool) -> dict:
        ray = self.ray
        self.verbose = verbose
        self.queue = collections.deque()
        self.waiting = collections.defaultdict(collections.deque)  # dest -> what waits to be published there
        busy = set()
        inflight = {}  # ref -> (kind, job, outcome)
        compressing = 0
        t0 = last_tick = time.time()
        planner = concurrent.futures.ThreadPoolExecutor(max(1, min(PLANNERS, len(self.repos))), "zipw-plan")
        plans, next_repo = {}, 0
        try:
            while True:
                while next_repo < len(self.repos) and len(plans) < PLANNERS and len(self.queue) < self.window:
                    repo = self.repos[next_repo]
                    plans[planner.submit(self._plan, repo)] = repo
                    next_repo += 1
                for fut in [f for f in plans if f.done()]:
                    self._planned(plans.pop(fut), fut)
                while self.queue and compressing < self.window:
                    job = self.queue.popleft()
                    repo = self.repos[job["repo"]]
                    repo.started = repo.started or time.time()
                    ref = self.compress_fn.options(name=f"zipw-compress:{job['source']}:{job['path']}",
                                                   **self.compress_opts).remote(job)
                    inflight[ref] = ("compress", job, None)
                    compressing += 1
                for dest, q in self.waiting.items():
                    if q and dest not in busy:
                        kind, job, outcome = q.popleft()
                        if kind == "card":
                            ref = self.card_fn.options(name=f"zipw-card:{job['source']}", **self.quiet_opts).remote(job)
                        else:
                            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                            ref = self.publish_fn.options(
                                name=f"zipw-publish:{job['source']}:{job['path']}",
                                scheduling_strategy=NodeAffinitySchedulingStrategy(outcome["node"], soft=False),
                                **self.quiet_opts).remote(job, outcome)
                        inflight[ref] = (kind, job, outcome)
                        busy.add(dest)
                if not inflight:
                    if plans:
                        concurrent.futures.wait(list(plans), timeout=1.0,
                                                return_when=concurrent.futures.FIRST_COMPLETED)
                        continue
                    if next_repo >= len(self.repos) and not self.queue:
                        break
                    continue
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.2 if plans else 1.0)
                if ready:
                    ready, _ = ray.wait(list(inflight), num_returns=len(inflight), timeout=0)
                for ref in ready:
                    kind, job, outcome = inflight.pop(ref)
                    if kind == "compress":
                        compressing -= 1
                        self._compressed(ref, job)
                    else:
                        busy.discard(job["dest"])
                        self._published(ref, kind, job, outcome)
                if time.time() - last_tick >= self.progress_interval:
                    last_tick = time.time()
                    self._tick(t0)
        except BaseException:
            for ref in inflight:  # a caller's cluster outlives this driver: leave no task of it running
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
            raise
        finally:
            planner.shutdown(wait=False, cancel_futures=True)
            self.bar.close()
        self._tick(t0, final=True)
        return self._summary(t0)

    def _compressed(self, ref, job: dict) -> None:
        try:
            outcome = self.ray.get(ref)
        except Exception as exc:  # its worker died more often than max_retries allows
            self._file_failed(job, _describe(exc))
            return
        self.peak_rss = max(self.peak_rss, outcome.get("max_rss", 0))
        if "error" in outcome:
            self._file_failed(job, outcome["error"])
            return
        self.waiting[job["dest"]].append(("file", job, outcome))

    def _published(self, ref, kind: str, job: dict, outcome) -> None:
        try:
            result = self.ray.get(ref)
        except Exception as exc:
            if kind == "file" and job["resubmits"] < self.max_retries:
                # the node that held the output is gone (or its worker kept dying): compress it again
                job["resubmits"] += 1
                self.queue.appendleft(job)
                return
            if kind == "card":
                self.repos[job["repo"]].errors.append({"file": _m.CARD, "error": _describe(exc)})
                self.totals["failed"] += 1
                return
            self._file_failed(job, _describe(exc))
            return
        if kind == "card":
            repo = self.repos[job["repo"]]
            if "error" in result:
                repo.errors.append({"file": _m.CARD, "error": result["error"]})
                self.totals["failed"] += 1
                self._say(f"{job['source']}: {_m.CARD}: {result['error']}")
            else:
                repo.card = result["card"]
            return
        if "error" in result:
            self._file_failed(job, result["error"])
        else:
            self._file_done(job, outcome, result)

    # -- progress and summary ------------------------------------------------------------
    def _state(self, t0: float) -> dict:
        t = self.totals
        elapsed = time.time() - t0
        rate = t["bytes_done"] / elapsed if elapsed > 0 else 0.0
        unplanned = len(self.repos) - t["planned"] - sum(1 for r in self.repos if r.plan is None and r.errors)
        per_repo = t["bytes_total"] / t["planned"] if t["planned"] else 0.0
        left = t["bytes_total"] + unplanned * per_repo - t["bytes_done"] - t["bytes_failed"]
        return {"repos": len(self.repos), "repos_planned": t["planned"], "files_total": t["files_total"],
                "files_done": t["files_done"], "files_failed": t["failed"], "files_skipped": t["skipped"],
                "bytes_total": t["bytes_total"], "bytes_done": t["bytes_done"], "seconds": elapsed,
                "bytes_per_second": rate, "eta_seconds": left / rate if rate > 0 else None}

    def _tick(self, t0: float, final: bool = False) -> None:
        s = self._state(t0)
        if self.on_progress is not None:
            self.on_progress(s)
        if self.bar.bar is not None:
            self.bar.bar.set_postfix_str(f"{s['files_done']}/{s['files_total']} files, {s['files_failed']} failed")
        elif self.log is not None and (final or s["files_total"]):
            eta = "-" if s["eta_seconds"] is None else time.strftime("%H:%M:%S", time.gmtime(s["eta_seconds"]))
            self._say(f"ray mirror: {s['files_done']}/{s['files_total']} files, {s['bytes_done'] / 1e6:.1f}/"
                      f"{s['bytes_total'] / 1e6:.1f} MB, {s['files_failed']} failed, {s['repos_planned']}/"
                      f"{s['repos']} repos planned, {s['bytes_per_second'] / 1e6:.1f} MB/s, "
                      f"{'done in ' + time.strftime('%H:%M:%S', time.gmtime(s['seconds'])) if final else 'ETA ' + eta}")

    def _say(self, msg: str) -> None:
        if self.log is not None:
            self.log(msg)

    def _summary(self, t0: float) -> dict:
        repos = [r.summary(self.restore) for r in self.repos]
        a = sum(r["bytes_in"] for r in repos)
        b = sum(r["bytes_out"] for r in repos)
        seconds = time.time() - t0
        return {
            "repos": repos, "files": sum(r["files"] for r in repos), "skipped": sum(r["skipped"] for r in repos),
            "reused": sum(r["reused"] for r in repos), "failed": sum(r["failed"] for r in repos),
            "bytes_in": a, "bytes_out": b, "ratio": b / a if a else 1.0, "seconds": seconds,
            "mb_per_s": a / seconds / 1e6 if seconds else 0.0,
            "ray": {"cluster": self.cluster, "window": self.window, "peak_task_rss": self.peak_rss,
                    "task": {"threads": self.threads, "num_cpus": self.num_cpus, "memory": self.memory,
                             "max_retries": self.max_retries}},
        }


def _connect(address, num_cpus, runtime_env, verbose):
    """(ray, started): the cluster at `address`, or a local one; one already joined by
    this process (ray.init before) is used as it is, and left running."""
    try:
        import ray
    except ImportError as exc:
        raise RayMirrorError("--ray needs Ray: pip install 'zipweights[ray]'") from exc
    if ray.is_initialized():
        return ray, False
    kw = dict(log_to_driver=verbose, logging_level="WARNING", runtime_env=runtime_env)
    try:
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kw)
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        where = f"at {address}" if address else "on this machine"
        raise RayMirrorError(f"--ray: no Ray cluster could be {'joined' if address else 'started'} {where}: "
                             f"{_describe(exc)}") from exc
    return ray, True


def _plan_only(pairs, *, restore, include, exclude, endpoint, token, backoff, log) -> dict:
    """--dry-run: every pair planned (as mirror's own dry run says it), nothing run; no cluster."""
    repos = []
    for src, dest in pairs:
        try:
            with tempfile.TemporaryDirectory(prefix="zipw-ray-plan-") as tmp:
                fetch = _fetcher(endpoint, token, backoff)
                manifest = None if _m.is_folder(dest) else _hub_manifest(fetch, _repo_id(dest), tmp)
                p = _m.plan(src, dest, restore=restore, include=include, exclude=exclude,
                            api=_api(endpoint, token, backoff), manifest=manifest)
        except Exception as exc:
            repos.append({"source": src, "dest": dest, "errors": [{"file": None, "error": _describe(exc)}]})
            continue
        if log is not None:
            _m._log_dry_run(p, restore, log)
        repos.append({"source": f"{p.source}@{p.commit}", "dest": dest, "todo": [t[0] for t in p.todo],
                      "bytes": sum(t[1] for t in p.todo), "skipped": [r.source for r in p.skipped], "errors": []})
    return {"dry_run": True, "repos": repos, "failed": sum(len(r["errors"]) for r in repos)}


def mirror_on_ray(list_file_or_pairs, address: str | None = None, *, restore: bool = False, include=None,
                  exclude=None, threads: int = 1, level: int | None = None, dry_run: bool = False,
                  endpoint: str | None = None, token=None, workdir: str | None = None, records: str | None = None,
                  num_cpus: int | None = None, max_retries: int = MAX_RETRIES, backoff: Backoff | None = None,
                  window: int | None = None, runtime_env: dict | None = None, log=None, on_progress=None,
                  progress: bool = False, progress_interval: float = 10.0, verbose: bool = False,
                  base: str | None = None) -> dict:
    """Mirror every SRC DEST pair (a --list file, or the pairs) on a Ray cluster; return
    the summary: per repo bytes in/out, ratio, time, errors; totals; the cluster and the
    resources each task asked for.

    `address`: None starts a local cluster (`num_cpus` CPUs, default all) and stops it at
    the end; else the address of a running one. `threads`: compression threads of one
    task. `records`: a file that gets one JSON line per file published, as it is.
    `base` ("REPO[@REV]"): every safetensors file coded against the base repo's file of
    the same name, as `zipw mirror --base` does."""
    pairs = _m.read_list(os.fspath(list_file_or_pairs)) if isinstance(list_file_or_pairs, (str, os.PathLike)) \
        else [tuple(p) for p in list_file_or_pairs]
    backoff = backoff or Backoff()
    if dry_run:
        return _plan_only(pairs, restore=restore, include=include, exclude=exclude, endpoint=endpoint, token=token,
                          backoff=backoff, log=log)
    base_rc = None
    if base is not None and not restore:  # one commit of the base for the whole job, as mirror() pins it
        repo, rev = _m.parse_source(base)
        try:
            base_rc = (repo, _api(endpoint, token, backoff).repo_info(repo, revision=rev or "main").sha)
        except Exception as exc:
            raise InvalidArgumentError(f"--base {base}: {_describe(exc)}") from exc
    ray, started = _connect(address, num_cpus, runtime_env, verbose)
    try:
        driver = _Driver(ray, pairs, restore=restore, include=include, exclude=exclude, threads=threads, level=level,
                         endpoint=endpoint, token=token, workdir=workdir, records=records, max_retries=max_retries,
                         backoff=backoff, window=window, log=log, on_progress=on_progress, progress=progress,
                         progress_interval=progress_interval, base=base_rc)
        summary = driver.run(verbose)
        summary["ray"]["address"] = address or "local"
        if base_rc is not None:
            summary["base"] = "@".join(base_rc)
        return summary
    finally:
        if started:
            ray.shutdown()


def run_cli(args) -> int:
    """`zipw mirror ... --ray [ADDRESS]`: the argparse Namespace of zipw mirror -> exit status.
    The summary (JSON) goes to stdout, progress and errors to stderr."""
    ray_arg = getattr(args, "ray", None)
    address = None if ray_arg in (None, True, "", "local") else ray_arg
    if args.list:
        if args.src or args.dest:
            print("zipw mirror: give SRC DEST or --list FILE, not both", file=sys.stderr)
            return EXIT_USAGE
        try:
            pairs = _m.read_list(args.list)
        except (OSError, ValueError) as exc:
            print(f"zipw mirror: {exc}", file=sys.stderr)
            return EXIT_USAGE
    elif args.src and args.dest:
        pairs = [(args.src, args.dest)]
    else:
        print("zipw mirror: SRC and DEST are required (or --list FILE)", file=sys.stderr)
        return EXIT_USAGE

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        summary = mirror_on_ray(pairs, address, restore=args.restore, include=args.include, exclude=args.exclude,
                                threads=args.threads, level=args.level, dry_run=args.dry_run, endpoint=args.endpoint,
                                token=args.token, workdir=args.workdir, records=args.records,
                                log=None if args.quiet else log, progress=not args.quiet, verbose=args.verbose,
                                base=getattr(args, "base", None))
    except ZipWeightsError as exc:
        print(f"zipw mirror: {exc}", file=sys.stderr)
        return exit_code(exc)
    if not args.quiet:
        print(json.dumps(summary, indent=1, sort_keys=True))
    return EXIT_DATA if summary["failed"] else EXIT_OK
