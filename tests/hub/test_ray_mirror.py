"""zipw mirror on Ray (hub/ray_mirror.py): a local Ray cluster (2 CPUs) started here,
olah on loopback serving the repos. Every worker process gets _ray_worker.setup: the
upload boundary of conftest.CommitCapture (olah accepts no uploads) and a log of every
compression and commit, which the tests count. What is checked: several repos mirrored
byte for byte (back through --restore, by sha256); a worker killed mid-job by its pid;
the driver killed (SIGKILL) and rerun; a repo with a corrupt file among good ones;
transient HTTP errors retried."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import make_weights, sharded

from zipweights import cli
from zipweights.hub import mirror as zm

ray = pytest.importorskip("ray")
from zipweights.hub import ray_mirror as rm  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIG = 2 << 20  # elements of a big test file's first tensor (8 MiB of float32): long enough to be killed in


# -- the cluster and the repos -------------------------------------------------------------
class Cluster:
    def __init__(self, address, runtime_env, events, session):
        self.address, self.runtime_env, self.events, self.session = address, runtime_env, events, session

    def read_events(self, since: float, kind: str | None = None) -> list[dict]:
        if not os.path.exists(self.events):
            return []
        with open(self.events) as f:
            out = [json.loads(line) for line in f if line.strip()]
        return [e for e in out if e["t"] >= since and (kind is None or e["event"] == kind)]

    def runtime_env_for(self, run: str) -> dict:
        env = dict(self.runtime_env)
        env["env_vars"] = dict(env["env_vars"], ZIPW_TEST_RUN=run)
        return env


def _ray_processes(prefix: str = "ray::zipw-") -> dict[int, str]:
    """pid -> title of every process whose title starts with `prefix` (Ray titles a worker
    ray::<task name> while it runs a task, ray::IDLE between tasks)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if title.startswith(prefix):
            out[int(pid)] = title
    return out


def _session_processes(session: str) -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if session.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def _until(cond, what: str, bound: float = 120.0, step: float = 0.01):
    """Poll `cond` until it gives something true; a bound only so that a broken run fails
    with a message instead of hanging (nothing is timed)."""
    end = time.monotonic() + bound
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture(scope="module")
def cluster(hub, tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    events = str(d / "events.jsonl")
    env_vars = {
        "PYTHONPATH": os.pathsep.join([HERE, ROOT]),
        "ZIPW_TEST_HUB_ROOT": hub.root, "ZIPW_TEST_HUB_PORT": str(hub.port), "ZIPW_TEST_EVENTS": events,
        "HF_ENDPOINT": hub.endpoint, "HF_HOME": str(d / "hf_home"), "HF_TOKEN": "",
        "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    runtime_env = {"worker_process_setup_hook": "_ray_worker.setup", "env_vars": env_vars}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
             runtime_env=runtime_env, _node_ip_address="127.0.0.1")
    ctx = ray.get_runtime_context()
    session = ctx.get_session_name()  # session_<date>_<pid>: in the command line of each of its processes
    try:
        yield Cluster(ctx.gcs_address, runtime_env, events, session)
    finally:
        ray.shutdown()
        # the cluster's processes (gcs, raylet, agents, workers) are gone with it
        _until(lambda: not _session_processes(session), "the Ray cluster's processes exit", bound=60, step=0.2)


@pytest.fixture(scope="module")
def repos(hub, tmp_path_factory):
    """Several small repos, one with a corrupt weights file, and two with files big enough
    to kill a task in the middle of."""
    d = tmp_path_factory.mktemp("ray-src")
    out = {}

    def repo(name, files):
        hub.commit(name, files)
        out[name] = files

    def weights(fname, seed, n=4096):
        p = str(d / f"{seed}-{fname}")
        make_weights(p, seed=seed, n=n)
        return p

    repo("ray/a", {"model.safetensors": weights("m", 31), "config.json": b'{"model_type": "a"}',
                   "README.md": b"---\nlicense: mit\n---\n# A\n"})
    os.makedirs(d / "b", exist_ok=True)
    repo("ray/b", dict(sharded(str(d / "b"), seeds=(32, 33)), **{"config.json": b"{}"}))
    same = weights("m", 34)  # the same file under two names: two outputs, staged apart
    repo("ray/c", {"model.safetensors": same, "copy/model.safetensors": same, "extra/notes.txt": b"hello\n"})
    broken = d / "broken.safetensors"
    broken.write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\": {\"dtype\": \"F32\", \"shape\": [4]" + b" " * 40)
    repo("ray/bad", {"good.safetensors": weights("g", 35), "broken.safetensors": str(broken),
                     "config.json": b"{}"})
    for k in (1, 2):
        repo(f"ray/big{k}", {f"part{i}.safetensors": weights(f"p{i}", 40 + 10 * k + i, n=BIG) for i in range(3)})
    repo("ray/big3", {"model.safetensors": weights("b3", 70, n=8 * BIG)})  # 64 MiB: a decode long enough to stop in
    return out


def _want(src) -> bytes:
    if isinstance(src, (bytes, bytearray)):
        return bytes(src)
    with open(src, "rb") as f:
        return f.read()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _restore_and_compare(hub, cluster, compressed: dict, tmp, sources: dict):
    """Restore each compressed repo (`compressed`: repo id -> its source repo) to a folder
    through the Ray mirror (--restore), and compare every file with the source's bytes."""
    pairs = [(repo, str(tmp / f"plain-{repo.replace('/', '-')}")) for repo in compressed]
    s = rm.mirror_on_ray(pairs, restore=True, endpoint=hub.endpoint, workdir=str(tmp / "work-restore"))
    assert s["failed"] == 0, s
    for (repo, folder), r in zip(pairs, s["repos"]):
        src = sources[compressed[repo]]
        assert r["files"] + r["skipped"] == len([n for n in src if n != "README.md"]), r
        for name, content in src.items():
            if name == "README.md":
                continue  # the card carries the note; the restore strips it (test_mirror.py checks that)
            got = open(os.path.join(folder, name), "rb").read()
            assert _sha(got) == _sha(_want(content)), (repo, name)


def _serve_folder(hub, folder, repo_id):
    hub.commit(repo_id, {os.path.relpath(os.path.join(r, f), folder): os.path.join(r, f)
                         for r, _, fs in os.walk(folder) for f in fs if f != zm.MANIFEST})


def _zipw_mirror(cluster, argv, run: str = "", check_cli: bool = True):
    """`zipw mirror ARGV --ray ADDRESS`: a subprocess once the CLI has --ray (the job's
    runtime_env handed to it as Ray's job submission does), else run_cli on the Namespace
    that zipw's own parser makes, in this process (joined to the cluster already)."""
    help_text = subprocess.run([sys.executable, "-m", "zipweights.cli", "mirror", "--help"], capture_output=True,
                               text=True).stdout
    if check_cli and "--ray" in help_text:
        env = dict(os.environ, RAY_JOB_CONFIG_JSON_ENV_VAR=json.dumps({"runtime_env": cluster.runtime_env_for(run)}))
        p = subprocess.run([sys.executable, "-m", "zipweights.cli", "mirror", *argv, "--ray", cluster.address],
                           capture_output=True, text=True, env=env)
        return p.returncode, p.stdout, p.stderr
    import contextlib
    import io

    args = cli._parser().parse_args(["mirror", *argv])
    args.ray = "local"  # this process has joined the module's cluster: that one is used
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = rm.run_cli(args)
    return code, out.getvalue(), err.getvalue()


# -- tests -----------------------------------------------------------------------------
def test_ray_is_not_imported_without_ray():
    code = ("import sys, zipweights.cli, zipweights.hub.mirror, zipweights.hub.ray_mirror; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_mirrors_every_repo_byte_for_byte(hf_env, hub, cluster, repos, tmp_path):
    since = time.time()
    records = tmp_path / "records.jsonl"
    pairs = [("ray/a", "rayd/a"), ("ray/b", str(tmp_path / "b")), ("ray/c", "rayd/c")]
    seen = []
    s = rm.mirror_on_ray(pairs, endpoint=hub.endpoint, records=str(records), workdir=str(tmp_path / "work"),
                         on_progress=seen.append, progress_interval=0)
    assert s["failed"] == 0, s
    # progress for the whole job: files and bytes done out of all planned, failures, a rate and an ETA
    last = seen[-1]
    assert (last["files_done"], last["files_total"], last["files_failed"], last["repos_planned"]) == (9, 9, 0, 3)
    assert last["bytes_done"] == last["bytes_total"] == s["bytes_in"] and last["eta_seconds"] == 0
    assert [x["files_done"] for x in seen] == sorted(x["files_done"] for x in seen)
    assert [r["files"] for r in s["repos"]] == [2, 4, 3] and s["files"] == 9
    assert [r["card"] for r in s["repos"]] == ["written"] * 3
    assert s["ray"]["task"] == {"threads": 1, "num_cpus": rm.CPU_SHARE, "memory": rm.task_memory(1),
                                "max_retries": rm.MAX_RETRIES}
    json.dumps(s)  # the summary is JSON as it is
    for r in s["repos"]:
        assert r["errors"] == [] and r["seconds"] > 0 and r["task_seconds"] > 0
        assert 0 < r["bytes_out"] < r["bytes_in"] and r["ratio"] == pytest.approx(r["bytes_out"] / r["bytes_in"])
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    assert sorted((x["repo"], x["source"]) for x in lines) == sorted(
        (src, name) for src, _ in pairs for name in repos[src] if name != "README.md")
    # the uploads: .zipw and the plain files, never a plain .safetensors
    committed = [(e["repo"], e["path"]) for e in cluster.read_events(since, "committed")]
    assert ("rayd/a", "model.safetensors.zipw") in committed
    assert not [p for _, p in committed if p.endswith(".safetensors")]
    assert sorted(os.listdir(tmp_path / "b")) == sorted(
        [zm.MANIFEST, "README.md", "config.json", "model.safetensors.index.json",
         "model-00001-of-00002.safetensors.zipw", "model-00002-of-00002.safetensors.zipw"])
    assert "zipw-mirror" in (tmp_path / "b" / "README.md").read_text()
    # nothing left staged on the node
    work = tmp_path / "work" / rm.STAGE
    assert not [os.path.join(r, f) for r, _, fs in os.walk(work) for f in fs]
    # and back, byte for byte
    _serve_folder(hub, str(tmp_path / "b"), "rayd/b")
    _restore_and_compare(hub, cluster, {"rayd/a": "ray/a", "rayd/b": "ray/b", "rayd/c": "ray/c"}, tmp_path, repos)
    # a rerun finds everything recorded and uploads nothing
    since = time.time()
    s = rm.mirror_on_ray(pairs, endpoint=hub.endpoint, workdir=str(tmp_path / "work"))
    assert s["files"] == 0 and s["skipped"] == 9 and s["failed"] == 0
    assert cluster.read_events(since, "committed") == [] and cluster.read_events(since, "compressed") == []


def test_a_corrupt_file_is_reported_and_the_rest_complete(hf_env, hub, cluster, repos, tmp_path):
    lst = tmp_path / "pairs.txt"
    lst.write_text(f"ray/bad rayd/bad\nray/a {tmp_path / 'a'}\nnope/missing {tmp_path / 'm'}\n")
    code, out, err = _zipw_mirror(cluster, ["--list", str(lst), "--endpoint", hub.endpoint, "--dry-run"])
    s = json.loads(out)
    assert code == 1 and s["dry_run"] and [len(r.get("todo", [])) for r in s["repos"]] == [3, 2, 0]
    assert not (tmp_path / "a").exists()
    code, out, err = _zipw_mirror(cluster, ["--list", str(lst), "--endpoint", hub.endpoint,
                                            "--workdir", str(tmp_path / "work"), "-T", "1"])
    assert code == 1, err
    s = json.loads(out)
    bad, good, missing = s["repos"]
    assert bad["files"] == 2 and bad["failed"] == 1 and bad["card"] is None  # good.safetensors, config.json
    [e] = bad["errors"]
    assert e["file"] == "broken.safetensors" and e["error"].startswith("InvalidSafetensorsError"), e
    assert "ray/bad" in err and "broken.safetensors" in err
    assert good["files"] == 2 and good["failed"] == 0 and good["card"] == "written"
    assert missing["failed"] == 1 and missing["errors"][0]["file"] is None
    assert "RepositoryNotFound" in missing["errors"][0]["error"]
    # the broken repo's good files were uploaded, the broken one never
    got = {e["path"] for e in cluster.read_events(0, "committed") if e["repo"] == "rayd/bad"}
    assert {"good.safetensors.zipw", "config.json"} <= got and not {"broken.safetensors", "broken.safetensors.zipw"} & got


def test_a_worker_killed_mid_job_still_gives_a_complete_mirror(hf_env, hub, cluster, repos, tmp_path):
    dest = tmp_path / "big1"
    result, killed = {}, {}

    def run():
        result["s"] = rm.mirror_on_ray([("ray/big1", str(dest))], endpoint=hub.endpoint,
                                       records=str(tmp_path / "rec.jsonl"), workdir=str(tmp_path / "work"))

    t = threading.Thread(target=run)
    t.start()
    try:
        pid, title = _until(lambda: next(iter(_ray_processes("ray::zipw-compress:").items()), None),
                            "a compress task runs")
        os.kill(pid, signal.SIGKILL)
        killed.update(pid=pid, file=title.rsplit(":", 1)[1])
    finally:
        t.join()
    s = result["s"]
    assert s["failed"] == 0 and s["files"] == 3, s
    recs = {json.loads(x)["source"]: json.loads(x) for x in (tmp_path / "rec.jsonl").read_text().splitlines()}
    assert recs[killed["file"]]["pid"] != killed["pid"]  # done again, by another worker
    _serve_folder(hub, str(dest), "rayd/big1-from-folder")
    _restore_and_compare(hub, cluster, {"rayd/big1-from-folder": "ray/big1"}, tmp_path, repos)


def test_a_worker_stopped_while_it_checks_its_output_does_not_compress_it_again(hf_env, hub, cluster, repos, tmp_path):
    """Ray ends the workers of a driver that died with SIGTERM: here one, as soon as its
    file is compressed (while the full decode runs); the file must not be compressed twice."""
    since = time.time()
    result = {}

    def run():
        result["s"] = rm.mirror_on_ray([("ray/big3", str(tmp_path / "out"))], endpoint=hub.endpoint,
                                       records=str(tmp_path / "rec.jsonl"), workdir=str(tmp_path / "work"))

    t = threading.Thread(target=run)
    t.start()
    try:
        e = _until(lambda: next(iter(cluster.read_events(since, "compressed")), None), "the file compressed",
                   step=0.002)
        os.kill(e["pid"], signal.SIGTERM)
    finally:
        t.join()
    s = result["s"]
    assert s["failed"] == 0 and s["files"] == 1, s
    assert len(cluster.read_events(since, "compressed")) == 1
    with zm.ZipwFile(tmp_path / "out" / "model.safetensors.zipw") as zf:
        assert zf.original_sha256 == _sha(_want(repos["ray/big3"]["model.safetensors"]))


DRIVER = """
import json, sys
from zipweights.hub.ray_mirror import mirror_on_ray
pairs, address, endpoint, records, workdir, runtime_env = json.loads(sys.argv[1])
s = mirror_on_ray(pairs, address=address, endpoint=endpoint, records=records, workdir=workdir,
                  runtime_env=runtime_env)
print(json.dumps(s))
"""


def test_a_killed_driver_rerun_resumes_without_redoing_anything(hf_env, hub, cluster, repos, tmp_path):
    since = time.time()
    folder = tmp_path / "big2"
    pairs = [("ray/big2", "rayd/big2"), ("ray/big1", str(folder)), ("ray/c", "rayd/c-k")]
    files = {src: [n for n in repos[src] if n != "README.md"] for src, _ in pairs}
    total = sum(len(v) for v in files.values())
    records, work = tmp_path / "records.jsonl", str(tmp_path / "work")

    def driver(run):
        arg = json.dumps([pairs, cluster.address, hub.endpoint, str(records), work, cluster.runtime_env_for(run)])
        return subprocess.Popen([sys.executable, "-c", DRIVER, arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=ROOT)

    first = driver("1")
    try:
        _until(lambda: first.poll() is not None or (records.exists() and records.read_text().count("\n") >= 1),
               "the first file published")
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait()
    assert first.returncode == -signal.SIGKILL, first.stderr.read()
    done_before = [json.loads(x) for x in records.read_text().splitlines()]
    assert 1 <= len(done_before) < total  # killed in the middle, or this test shows nothing
    # Ray ends a dead driver's tasks; the rerun starts once they are gone
    _until(lambda: not _ray_processes(), "the killed driver's tasks end")
    published = {}
    for r, _, fs in os.walk(folder):
        for f in fs:
            st = os.stat(os.path.join(r, f))
            published[os.path.join(r, f)] = (st.st_ino, st.st_mtime_ns)

    second = driver("2")
    out, err = second.communicate()
    assert second.returncode == 0, err
    s = json.loads(out)
    assert s["failed"] == 0, s
    assert s["files"] + s["skipped"] == total
    assert s["skipped"] >= len(done_before)  # what the first run recorded is not done again
    # no file compressed twice, none uploaded twice
    compressed = [(e["sha256"], e["output"]) for e in cluster.read_events(since, "compressed")]
    assert len(compressed) == len(set(compressed)), compressed
    committed = [(e["repo"], e["path"]) for e in cluster.read_events(since, "committed") if e["path"] != zm.MANIFEST]
    assert len(committed) == len(set(committed)), committed
    assert {e["run"] for e in cluster.read_events(since, "compressed")} <= {"1", "2"}
    # files the first run wrote into the folder were not written again
    for path, ident in published.items():
        if not path.endswith((zm.MANIFEST, "README.md")):
            st = os.stat(path)
            assert (st.st_ino, st.st_mtime_ns) == ident, path
    # none lost: everything there and restoring byte for byte
    _serve_folder(hub, str(folder), "rayd/big1-k")
    _restore_and_compare(hub, cluster, {"rayd/big2": "ray/big2", "rayd/big1-k": "ray/big1", "rayd/c-k": "ray/c"},
                         tmp_path, repos)


def test_transient_http_errors_are_retried_with_backoff(hf_env, hub, cluster, repos, tmp_path, sha256_file):
    from _flaky_proxy import FlakyProxy

    pairs = [("ray/c", str(tmp_path / "c")), ("ray/a", str(tmp_path / "a"))]
    # every request answered 429 or 503 twice before it is served: without retries nothing gets through
    with FlakyProxy(hub.port, failures=2) as proxy:
        s = rm.mirror_on_ray(pairs, endpoint=proxy.endpoint, workdir=str(tmp_path / "w1"), backoff=rm.Backoff(1))
    assert s["failed"] == 2 and s["files"] == 0
    assert all("429" in r["errors"][0]["error"] or "503" in r["errors"][0]["error"] for r in s["repos"]), s
    with FlakyProxy(hub.port, failures=2) as proxy:
        s = rm.mirror_on_ray(pairs, endpoint=proxy.endpoint, workdir=str(tmp_path / "w2"),
                             backoff=rm.Backoff(6, base=0.01, cap=0.05))
        refused = proxy.refused
    assert s["failed"] == 0 and s["files"] == 5, [r["errors"] for r in s["repos"]]
    assert refused >= 2 * 8  # both repos' plans, manifests, downloads: each refused twice first
    for src, folder in pairs:
        for name, content in repos[src].items():
            if name.endswith(".safetensors"):
                with zm.ZipwFile(os.path.join(folder, name + ".zipw")) as zf:
                    assert zf.original_sha256 == _sha(_want(content))
            elif name != "README.md":
                assert open(os.path.join(folder, name), "rb").read() == _want(content)


def test_a_fine_tune_coded_against_its_base_and_restored(hf_env, hub, cluster, tmp_path):
    import numpy as np
    from safetensors.numpy import save

    from zipweights import hub as zhub

    rng = np.random.default_rng(60)
    w = (rng.standard_normal((512, 64)) * 0.02).astype(np.float32)
    moved = (w + 1e-3 * w.std() * np.random.default_rng(61).standard_normal(w.shape)).astype(np.float32)
    base, ft = (save({"a.weight": x, "c.idx": np.arange(100, dtype=np.int64)}) for x in (w, moved))
    hub.commit("ray/base", {"model.safetensors": base, "config.json": b"{}"})
    hub.commit("ray/ft", {"model.safetensors": ft, "config.json": b"{}"})
    argv = ["--endpoint", hub.endpoint, "--workdir", str(tmp_path / "work"), "-T", "1"]
    # run_cli passes `zipw mirror --base` on (args.base) where the command line has it
    s = rm.mirror_on_ray([("ray/ft", "rayd/ft")], base="ray/base", endpoint=hub.endpoint,
                         workdir=str(tmp_path / "work"))
    assert s["failed"] == 0, s
    assert s["base"].startswith("ray/base@") and s["files"] == 2
    alone = rm.mirror_on_ray([("ray/ft", str(tmp_path / "alone"))], endpoint=hub.endpoint,
                             workdir=str(tmp_path / "work"))
    assert s["repos"][0]["bytes_out"] < 0.75 * alone["repos"][0]["bytes_out"]  # the delta, not the weights
    with zm.ZipwFile(zhub.hf_hub_download("rayd/ft", "model.safetensors.zipw")) as zf:
        assert zf.base_record is not None
    # back: the delta's base fetched where the file records it
    code, out, err = _zipw_mirror(cluster, ["--restore", "rayd/ft", str(tmp_path / "plain"), *argv])
    assert code == 0, err
    assert (tmp_path / "plain" / "model.safetensors").read_bytes() == ft
    assert code == 0 and "base" not in json.loads(out)
    with pytest.raises(zm.ZipWeightsError, match="--base nope/none"):
        rm.mirror_on_ray([("ray/ft", "rayd/ft2")], base="nope/none", endpoint=hub.endpoint)
