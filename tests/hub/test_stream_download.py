"""Decode while downloading (zipweights/hub/stream.py), through olah behind
bench/throttle_proxy.py, which serves the byte ranges olah ignores and breaks the link
where a test asks: the index fetched first by range, the payloads decoded as they
arrive, a cut connection resumed in the same call, a failed download resumed by the
next call from the partial file, a server without ranges answered by the plain
download, a corrupt byte refused. Every result is compared with the original by sha256."""

from __future__ import annotations

import hashlib
import os
import sys
import threading

import huggingface_hub
import pytest
from helpers import compressed, make_weights

import zipweights
from zipweights import hub as zhub
from zipweights.hub import cache, stream

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from throttle_proxy import ThrottleProxy  # noqa: E402

N = 3 << 18  # 3 MiB of fp32: several 1 MiB chunks, decoded in several runs


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    src = str(d / "model.safetensors")
    sha = make_weights(src, seed=7, n=N)
    z = compressed(src)
    return src, z, sha, os.path.getsize(z)


@pytest.fixture
def repo(hub, weights, request):
    """A fresh repo holding the .zipw only (each test its own, so caches never meet)."""
    repo_id = "stream/" + request.node.name.replace("_", "-")[:60]
    hub.commit(repo_id, {"model.safetensors.zipw": weights[1]})
    return repo_id


@pytest.fixture
def proxy(hub):
    with ThrottleProxy(hub.endpoint) as p:
        yield p


def _zipw_gets(p):
    return [r for r in p.log if r[0] == "GET" and r[1].endswith(".zipw")]


def _storage(hf_env, repo_id):
    return cache.storage(hf_env, repo_id, "model")


def test_streamed_by_ranges_index_first(hf_env, repo, weights, proxy):
    _, _, sha, zsize = weights
    path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == sha
    assert os.path.basename(os.path.realpath(path)) == sha  # the blob the plain file would be
    gets = _zipw_gets(proxy)
    # the tail (trailer + index) first, then the payloads from byte 0: all ranges, each byte once
    assert [g[3] for g in gets] == [206, 206]
    assert gets[0][2] == f"bytes={zsize - stream.TAIL}-{zsize - 1}"
    assert gets[1][2] == f"bytes=0-{zsize - stream.TAIL - 1}"
    assert sum(g[4] for g in gets) == zsize
    blobs = os.listdir(os.path.join(_storage(hf_env, repo), "blobs"))
    assert blobs == [sha]  # no partial left behind
    # the cache is huggingface_hub's: found offline
    assert huggingface_hub.try_to_load_from_cache(repo, "model.safetensors") == path


def test_local_dir_streamed(hf_env, repo, weights, proxy, tmp_path):
    out = tmp_path / "local"
    path = zhub.hf_hub_download(repo, "model.safetensors", local_dir=out, endpoint=proxy.endpoint)
    assert _sha(path) == weights[2]
    assert all(g[3] == 206 for g in _zipw_gets(proxy))
    left = [f for _, _, fs in os.walk(out) for f in fs if f.endswith(".incomplete")]
    assert left == []


def test_server_without_ranges_gets_the_plain_download(hf_env, repo, weights, hub):
    with ThrottleProxy(hub.endpoint, honor_range=False) as p:
        path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=p.endpoint)
        gets = _zipw_gets(p)
        # the range probe answered with the whole file (200, as olah answers), then the
        # whole file as huggingface_hub downloads it
        assert gets[0][2] is not None and gets[0][3] == 200
        assert gets[-1][2] is None and gets[-1][3] == 200 and gets[-1][4] == weights[3]
        # that server is not asked for a range again (the same file, forced)
        del p.log[:]
        again = zhub.hf_hub_download(repo, "model.safetensors", endpoint=p.endpoint, force_download=True)
        assert [g[2] for g in _zipw_gets(p)] == [None]
    assert _sha(path) == weights[2] and _sha(again) == weights[2]


def test_cut_connections_resume_in_the_same_call(hf_env, repo, weights, proxy):
    _, _, sha, zsize = weights
    proxy.cuts = [300_000, 500_000]  # the tail's request is cut first, after 300,000 of 65,536 bytes: not at all
    path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == sha
    body = [g for g in _zipw_gets(proxy)][1:]
    starts = [int(g[2].split("=")[1].split("-")[0]) for g in body]
    assert starts == [0, 500_000]
    assert sum(g[4] for g in _zipw_gets(proxy)) == zsize  # nothing fetched twice


def test_failed_download_resumes_from_the_partial_file(hf_env, repo, weights, proxy):
    _, _, sha, zsize = weights
    proxy.cuts = [1 << 30, 700_000]  # the tail whole, the body cut at 700,000 bytes, then 503 for everything
    proxy.refuse_after_cut = True
    with pytest.raises(huggingface_hub.errors.HfHubHTTPError):
        zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    storage = _storage(hf_env, repo)
    etag = [g for g in os.listdir(os.path.join(storage, "blobs")) if g.endswith(".incomplete")]
    assert len(etag) == 1
    partial = os.path.join(storage, "blobs", etag[0])
    with open(weights[1], "rb") as f:
        assert open(partial, "rb").read() == f.read(700_000)  # a prefix of the .zipw
    proxy.refuse = proxy.refuse_after_cut = False
    del proxy.log[:]
    path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == sha
    body = _zipw_gets(proxy)[1:]
    assert [g[2] for g in body] == [f"bytes=700000-{zsize - stream.TAIL - 1}"]
    assert not os.path.exists(partial)


def _restored_fd_bytes(n: int, cache_root: str):
    """The first n bytes of the restored file being written (an unnamed or temporary
    file of this process under the cache root), or None while there is none."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(cache_root) and ".zipw-tmp-" in target and ".incomplete" not in target:
            try:
                with open(f"/proc/self/fd/{fd}", "rb") as f:
                    return f.read(n)
            except OSError:
                continue
    return None


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads the restored file through /proc")
def test_chunks_decode_while_the_body_is_held(hf_env, repo, weights, proxy):
    """The server stops sending two thirds into the body: the chunks that arrived are
    already decoded, checked and written into the restored file (the old path decoded
    nothing before the whole file was there)."""
    src, _, sha, zsize = weights
    proxy.hold_at = (zsize * 2) // 3
    done = {}

    def run():
        try:
            done["path"] = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
        except BaseException as exc:  # reported below
            done["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    try:
        assert proxy.held.wait(60), "the proxy never reached the hold"
        with open(src, "rb") as f:
            want = f.read(1 << 20)  # the header and the first run (1 MiB of the original)
        got = None
        for _ in range(600):  # the decoder works on what arrived; give it time to get there
            got = _restored_fd_bytes(len(want), hf_env)
            if got == want:
                break
            threading.Event().wait(0.05)
        assert got == want
        assert "path" not in done and "error" not in done
    finally:
        proxy.release()
        t.join(60)
    assert "error" not in done, done.get("error")
    assert _sha(done["path"]) == sha


def test_a_corrupt_byte_is_refused_naming_the_repo_file(hf_env, repo, weights, proxy):
    proxy.flip = 5000  # inside the first payload
    with pytest.raises(zipweights.CorruptDataError) as info:
        zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert isinstance(info.value, zhub.HubRestoreMixin)
    assert info.value.repo_id == repo and info.value.filename == "model.safetensors.zipw"
    blobs = os.path.join(_storage(hf_env, repo), "blobs")
    assert not os.path.isdir(blobs) or os.listdir(blobs) == []  # no blob, no partial to resume from


def test_a_delta_file_streams_whole_then_finds_its_base(hf_env, hub, weights, proxy, tmp_path):
    """A file coded against a base model is downloaded by ranges like any other (and
    resumable), then restored once its base is fetched from the hub."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    src = weights[0]
    base_commit = hub.commit("stream/delta-base", {"model.safetensors": src})
    t = load_file(src)
    rng = np.random.default_rng(3)
    t["a.weight"] = (t["a.weight"] + 1e-4 * rng.standard_normal(t["a.weight"].shape)).astype(np.float32)
    ft = str(tmp_path / "ft.safetensors")
    save_file(t, ft, metadata={"format": "np"})
    ftz = ft + ".zipw"
    zipweights.compress_file(ft, ftz, base=src, base_location={
        "repo_id": "stream/delta-base", "revision": base_commit, "filename": "model.safetensors"})
    hub.commit("stream/delta-ft", {"model.safetensors.zipw": ftz})
    path = zhub.hf_hub_download("stream/delta-ft", "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == _sha(ft)
    gets = [g for g in _zipw_gets(proxy) if "delta-ft" in g[1]]
    assert [g[3] for g in gets] == [206, 206] and sum(g[4] for g in gets) == os.path.getsize(ftz)
    blobs = os.listdir(os.path.join(_storage(hf_env, "stream/delta-ft"), "blobs"))
    assert not [b for b in blobs if b.endswith(".incomplete")]


def test_an_index_longer_than_the_tail_is_fetched_in_a_second_range(hf_env, hub, proxy, tmp_path):
    """2,000 tensors: the kept safetensors header alone makes the index longer than the
    first range; the rest of it is asked for before the payloads."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(5)
    src = str(tmp_path / "many.safetensors")
    save_file({f"layer.{i}.weight": (rng.standard_normal(256) * 0.02).astype(np.float32) for i in range(2000)},
              src, metadata={"format": "np"})
    z = compressed(src)
    zsize = os.path.getsize(z)
    index_offset = _index_offset(z)
    assert zsize - index_offset > stream.TAIL
    hub.commit("stream/many", {"model.safetensors.zipw": z})
    path = zhub.hf_hub_download("stream/many", "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == _sha(src)
    gets = _zipw_gets(proxy)
    assert [g[2] for g in gets] == [f"bytes={zsize - stream.TAIL}-{zsize - 1}",
                                    f"bytes={index_offset}-{zsize - stream.TAIL - 1}",
                                    f"bytes=0-{index_offset - 1}"]
    assert sum(g[4] for g in gets) == zsize


def _index_offset(z) -> int:
    from zipweights.format import container

    with open(z, "rb") as f:
        f.seek(-container.TRAILER_SIZE, os.SEEK_END)
        return container.read_trailer(f.read(), os.path.getsize(z), z)[0]


CHILD = """
import sys
from zipweights import hub as zhub
zhub.hf_hub_download(sys.argv[1], "model.safetensors", endpoint=sys.argv[2])
"""


def test_a_killed_download_resumes_from_what_it_wrote(hf_env, repo, weights, proxy):
    """The downloading process is killed (SIGKILL) while the server holds the body: the
    partial file keeps what arrived, and the next download asks only for the rest."""
    import signal
    import subprocess
    import time

    _, _, sha, zsize = weights
    proxy.hold_at = (zsize * 2) // 3
    child = subprocess.Popen([sys.executable, "-c", CHILD, repo, proxy.endpoint], env=dict(os.environ))
    storage = _storage(hf_env, repo)
    blobs = os.path.join(storage, "blobs")
    try:
        assert proxy.held.wait(60), "the proxy never reached the hold"
        partial = None
        for _ in range(600):  # the child writes what arrived a block at a time
            names = [n for n in os.listdir(blobs) if n.endswith(".incomplete")] if os.path.isdir(blobs) else []
            if names and os.path.getsize(os.path.join(blobs, names[0])) >= stream.BLOCK:
                partial = os.path.join(blobs, names[0])
                break
            time.sleep(0.05)
        assert partial is not None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        proxy.release()
    kept = os.path.getsize(partial)
    with open(weights[1], "rb") as f:
        assert open(partial, "rb").read() == f.read(kept)
    path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == sha
    # after this call's tail (the killed child's held GET may be logged late, when the
    # proxy gives up sending it): only the rest of the body
    gets = _zipw_gets(proxy)
    tail = max(i for i, g in enumerate(gets) if g[2] == f"bytes={zsize - stream.TAIL}-{zsize - 1}")
    assert [g[2] for g in gets[tail + 1:]] == [f"bytes={kept}-{zsize - stream.TAIL - 1}"]
    assert not os.path.exists(partial)


def test_the_download_waits_for_a_decode_that_lags(hf_env, repo, weights, proxy, monkeypatch):
    """With room for no more than two runs' payloads ahead of the decode, the download
    waits for it block by block, and still ends byte-exact (no deadlock: the run the
    decode needs is always in)."""
    monkeypatch.setattr(stream, "AHEAD", 1)
    waits = []
    real = stream._Decoder.wait_room

    def watched(self, n):
        real(self, n)
        # on leaving, the download is no further ahead of the decode than allowed
        waits.append((n - self.behind.position(), self._ahead))

    monkeypatch.setattr(stream._Decoder, "wait_room", watched)
    path = zhub.hf_hub_download(repo, "model.safetensors", endpoint=proxy.endpoint)
    assert _sha(path) == weights[2]
    assert waits and all(a is not None and a < weights[3] for _, a in waits)  # two runs, not the file
    assert all(lag <= a for lag, a in waits)


def test_snapshot_streams_every_shard(hf_env, hub, proxy, tmp_path):
    """snapshot_download restores the shards side by side (its worker threads), each
    streamed by ranges through the one link."""
    from helpers import sharded

    files = sharded(str(tmp_path), seeds=(11, 12, 13))
    repo = {}
    for name, p in files.items():
        repo[name + ".zipw" if name.endswith(".safetensors") else name] = \
            compressed(p) if name.endswith(".safetensors") else p
    hub.commit("stream/sharded", repo)
    folder = zhub.snapshot_download("stream/sharded", endpoint=proxy.endpoint)
    for name, p in files.items():
        assert _sha(os.path.join(folder, name)) == _sha(p), name
    gets = _zipw_gets(proxy)
    sizes = [os.path.getsize(p + ".zipw") for n, p in files.items() if n.endswith(".safetensors")]
    assert max(sizes) < stream.TAIL  # small shards: each whole in its first range
    assert len(gets) == 3 and all(g[3] == 206 and g[2].startswith("bytes=0-") for g in gets)
    assert sum(g[4] for g in gets) == sum(sizes)
