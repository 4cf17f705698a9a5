"""zipw mirror on Ray: throughput per core at 1 and 2 workers, Ray's cost per task, and
what a whole hub would take.

    python bench/ray_bench.py [--runs 3] [--small 40] [--json out.json]

Repos (one corpus file each, bench/corpus/, plus a config.json) are served by olah on
127.0.0.1, as in the hub tests, and mirrored to local folders, each run from scratch:

- plain: `mirror.mirror` over the pairs one after the other (what `zipw mirror --list`
  does today), 1 thread;
- Ray, a local cluster of 1 CPU, then of 2 CPUs (`ray.init(num_cpus=N)`), 1 thread a
  task (so half a CPU a task: two tasks a core, one downloading while one compresses);
  the cluster's start is timed apart and not counted;
- Ray's overhead per task: `--small` repos of one 16 KB file, plain against Ray on 1 CPU;
  (Ray wall - plain wall) / files.

Per-core compute (compress + full decode + sha256 checks, no network) is mirror_file's
own time in the plain run. The hub estimate (20 PB in 500,000 repos, --hub-bytes,
--hub-repos) divides the bytes by that rate for core-hours, and by a week for the
cluster; the network a week needs is printed beside it, since at that scale it, not
the CPU, is what is bought. Medians of --runs; the load average is printed before and
after (this machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

FILES = ["craft-bf16", "craft-fp16", "craft-bf16-prune50", "craft-bf16-ft",
         "minilm-bf16", "minilm-fp16", "minilm-bf16-prune50", "minilm-bf16-ft"]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class FastLfs:
    """olah, with the bodies of LFS files served from the repo's object store by
    sendfile, and its answers for /resolve/ URLs kept after the first: olah streams files
    at 12-17 MB/s here and runs on the same two cores, which would make this benchmark
    one of olah. The API (what planning asks) is olah's answer every time."""

    def __init__(self, hub):
        import http.client
        import http.server
        import subprocess
        import threading

        front = self
        self.cache, self.objects = {}, {}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _forward(self, method):
                key = (method, self.path)
                if "/resolve/" in self.path and key in front.cache:
                    return front.cache[key]
                got = self._ask(method)
                if "/resolve/" in self.path and got[0] == 200:
                    front.cache[key] = got
                return got

            def _ask(self, method):
                conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=120)
                try:
                    conn.request(method, self.path, headers={k: v for k, v in self.headers.items()
                                                             if k.lower() not in ("host", "connection")})
                    r = conn.getresponse()
                    return r.status, r.getheaders(), r.read()
                finally:
                    conn.close()

            def _lfs_object(self):
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return None
                repo = hub.repo_dir("/".join(parts[:2]))
                try:
                    ptr = subprocess.run(["git", "show", f"{parts[3]}:{'/'.join(parts[4:])}"], cwd=repo,
                                         capture_output=True, check=True).stdout
                except (subprocess.CalledProcessError, OSError):
                    return None
                if not ptr.startswith(b"version https://git-lfs"):
                    return None
                oid = ptr.split(b"oid sha256:", 1)[1].split()[0].decode()
                return os.path.join(repo, ".git", "lfs", "objects", oid[:2], oid[2:4], oid)

            def _reply(self, status, headers, body=None, path=None):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                        self.send_header(k, v)
                size = os.path.getsize(path) if path else len(body or b"")
                if self.command == "HEAD":
                    size = dict((k.lower(), v) for k, v in headers).get("content-length", size)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if path:
                    with open(path, "rb") as f:
                        self.connection.sendfile(f)
                else:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._reply(*self._forward("HEAD"))

            def do_GET(self):
                obj = front.objects.get(self.path) or self._lfs_object()
                front.objects[self.path] = obj
                if obj is None or not os.path.exists(obj):
                    self._reply(*self._forward("GET"))
                    return
                status, headers, _ = self._forward("HEAD")
                self._reply(status, headers, path=obj if status == 200 else None)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def cpu_now() -> float:
    """CPU seconds this machine has spent so far, all processes (/proc/stat: user, nice,
    system, irq, softirq): how busy the cores were during a run, whoever used them."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    return sum(int(x) for x in (fields[0], fields[1], fields[2], fields[5], fields[6])) / os.sysconf("SC_CLK_TCK")


def _noop(job):
    return {"node": "", "pid": os.getpid(), "record": job}


def task_round_trip(ray, n: int = 200) -> float:
    """Median seconds from submitting one task shaped like a compress task (its resources,
    retries and a job dict of the real size) to having its answer, one at a time."""
    from zipweights.hub import ray_mirror as rm

    fn = ray.remote(_noop)
    opts = dict(num_cpus=rm.CPU_SHARE, memory=rm.task_memory(1), max_retries=rm.MAX_RETRIES, retry_exceptions=False)
    job = {"repo": 0, "source": "org/model", "revision": "main", "commit": "0" * 40, "dest": "org/model-zipw",
           "to_folder": False, "card": "README.md", "path": "model-00001-of-00004.safetensors", "size": 5 << 30,
           "sha": "0" * 64, "blob_id": "0" * 40, "key": "0" * 64, "out": "model-00001-of-00004.safetensors.zipw",
           "restore": False, "threads": 1, "level": None, "endpoint": None, "token": None, "workdir": None,
           "resubmits": 0, "backoff": (8, 1.0, 60.0)}
    for _ in range(10):
        ray.get(fn.options(name="zipw-noop", **opts).remote(job))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ray.get(fn.options(name="zipw-noop", **opts).remote(job))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_big_bf16(path: str, mib: int) -> None:
    """A bf16 safetensors file of `mib` MiB (64 MiB tensors of N(0, 0.02)), written tensor by tensor."""
    import ml_dtypes
    import numpy as np

    n_t, per = max(1, mib // 64), 32 << 20  # elements of a 64 MiB bf16 tensor
    header, off = {}, 0
    for i in range(n_t):
        header[f"layer{i}.weight"] = {"dtype": "BF16", "shape": [per // 4096, 4096], "data_offsets": [off, off + 2 * per]}
        off += 2 * per
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(7)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h)
        for _ in range(n_t):
            f.write((rng.standard_normal(per, dtype=np.float32) * 0.02).astype(ml_dtypes.bfloat16).tobytes())


def plain_run(pairs, endpoint, workdir):
    from zipweights.hub import mirror as zm

    t0 = time.perf_counter()
    records = []
    for src, dest in pairs:
        s = zm.mirror(src, dest, threads=1, endpoint=endpoint, workdir=workdir, progress=False)
        records += s["records"]
    return time.perf_counter() - t0, records


def ray_run(pairs, endpoint, workdir, window=None):
    from zipweights.hub import ray_mirror as rm

    t0 = time.perf_counter()
    s = rm.mirror_on_ray(pairs, threads=1, endpoint=endpoint, workdir=workdir, window=window)
    assert s["failed"] == 0, s
    return time.perf_counter() - t0, s


def fresh(base: str, name: str) -> str:
    d = os.path.join(base, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--small", type=int, default=40, help="one-file repos for the per-task overhead")
    ap.add_argument("--files", default=",".join(FILES), help="corpus names, one repo each")
    ap.add_argument("--hub-bytes", type=float, default=20e15)
    ap.add_argument("--hub-repos", type=int, default=500_000)
    ap.add_argument("--node-cores", type=int, default=64, help="cores of one node, for the cluster size")
    ap.add_argument("--big-mib", type=int, default=0, help="also mirror one bf16 file this big (MiB): task memory")
    ap.add_argument("--json", help="write every measurement here")
    args = ap.parse_args()

    import ray
    from _server import HubServer
    from helpers import make_weights


    corpus = os.path.join(HERE, "corpus")
    names = [n for n in args.files.split(",") if n]
    missing = [n for n in names if not os.path.exists(os.path.join(corpus, n + ".safetensors"))]
    if missing:
        sys.exit(f"bench/corpus lacks {missing}: python bench/build_corpus.py")
    tmp = tempfile.mkdtemp(prefix="zipw-ray-bench-")
    hub = HubServer(os.path.join(tmp, "hub"))
    out = {"load_before": load(), "cpus": os.cpu_count(), "ray": ray.__version__, "runs": args.runs}
    try:
        big = []
        for i, n in enumerate(names):
            hub.commit(f"bench/r{i}", {"model.safetensors": os.path.join(corpus, n + ".safetensors"),
                                       "config.json": b"{}"})
            big.append(f"bench/r{i}")
        small = []
        for i in range(args.small):
            p = os.path.join(tmp, f"s{i}.safetensors")
            make_weights(p, seed=1000 + i)
            hub.commit(f"bench/s{i}", {"model.safetensors": p})
            small.append(f"bench/s{i}")
        hub.start()
        hub.wait_ready(big[0])
        front = FastLfs(hub)
        endpoint = front.endpoint
        big_bytes = sum(os.path.getsize(os.path.join(corpus, n + ".safetensors")) for n in names)
        nfiles_big = 2 * len(big)  # the weights and config.json of each
        out.update(files=names, weights_bytes=big_bytes)
        print(f"{len(big)} repos, {big_bytes / 1e6:.1f} MB of weights; {args.small} small repos; "
              f"load {out['load_before']}", flush=True)

        def pairs_for(repos, tag):
            d = fresh(tmp, tag)
            return [(r, os.path.join(d, r.replace("/", "-"))) for r in repos]

        def one_cluster(cpus, k, res):
            """A fresh local cluster of `cpus` CPUs: started (timed), warmed (not timed), one run."""
            t0 = time.perf_counter()
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
            res["start"].append(time.perf_counter() - t0)
            try:
                # a first job that is not counted: the workers start and import zipweights once
                ray_run(pairs_for(small[:2 * cpus], "warm"), endpoint, fresh(tmp, "work"))
                c0 = cpu_now()
                wall, s = ray_run(pairs_for(big, f"ray{cpus}-{k}"), endpoint, fresh(tmp, "work"))
                res["wall"].append(wall)
                res["peak_task_rss"].append(s["ray"]["peak_task_rss"])
                res["phases"].append({x: sum(r[x] for r in s["repos"]) for x in
                                      ("download_seconds", "compress_seconds", "publish_seconds", "cpu_seconds")})
                res["busy"].append((cpu_now() - c0) / (wall * os.cpu_count()))
                if cpus == 1:
                    res["small"].append(ray_run(pairs_for(small, f"sray-{k}"), endpoint, fresh(tmp, "work"))[0])
                    # one compress task in flight at a time, as the plain run does one file at a time
                    res["small_one_at_a_time"].append(
                        ray_run(pairs_for(small, f"sser-{k}"), endpoint, fresh(tmp, "work"), window=1)[0])
                    res["task_round_trip"].append(task_round_trip(ray))
            finally:
                ray.shutdown()

        # one run of each after the other, run by run: this machine's load drifts
        plain = {"wall": [], "compute_bytes_per_s": [], "small": []}
        res = {c: {"start": [], "wall": [], "peak_task_rss": [], "phases": [], "small": [], "small_one_at_a_time": [],
                   "task_round_trip": [], "busy": []} for c in (1, 2)}
        for k in range(args.runs):
            wall, recs = plain_run(pairs_for(big, f"plain{k}"), endpoint, fresh(tmp, "work"))
            plain["wall"].append(wall)
            weights = [r for r in recs if r["action"] == "compressed"]
            plain["compute_bytes_per_s"].append(sum(r["source_size"] for r in weights)
                                                / sum(r["seconds"] for r in weights))
            plain["small"].append(plain_run(pairs_for(small, f"splain{k}"), endpoint, fresh(tmp, "work"))[0])
            for cpus in (1, 2):
                one_cluster(cpus, k, res[cpus])
            print(f"run {k + 1}/{args.runs}: plain {wall:.2f} s, Ray 1 CPU {res[1]['wall'][-1]:.2f} s, "
                  f"Ray 2 CPUs {res[2]['wall'][-1]:.2f} s; load {load()}", flush=True)
        med = statistics.median
        out["plain"] = plain
        w = med(plain["wall"])
        print(f"plain --list: {w:.2f} s = {nfiles_big / w * 3600:,.0f} files/h, {big_bytes / w / 1e6:.1f} MB/s; "
              f"mirror_file alone {med(plain['compute_bytes_per_s']) / 1e6:.0f} MB/s on one core")
        for cpus in (1, 2):
            r = out[f"ray{cpus}"] = res[cpus]
            w = med(r["wall"])
            cpu = med([x["cpu_seconds"] for x in r["phases"]])
            r["worker_cpu_s_per_gb"] = cpu / (big_bytes / 1e9)
            print(f"Ray {cpus} CPU: workers' CPU {cpu:.2f} s = {big_bytes / cpu / 1e6:.0f} MB/s a core-second; "
                  f"the machine's cores {100 * med(r['busy']):.0f} % busy during the run")
            print(f"Ray {cpus} CPU: start {med(r['start']):.1f} s; {w:.2f} s = {nfiles_big / w * 3600:,.0f} files/h, "
                  f"{big_bytes / w / 1e6:.1f} MB/s of weights, {big_bytes / w / 1e6 / cpus:.1f} MB/s a core; "
                  f"peak task RSS {max(r['peak_task_rss']) / 2**20:.0f} MiB; task seconds (median run) "
                  f"{ {k: round(v, 2) for k, v in sorted(r['phases'], key=lambda x: x['compress_seconds'])[len(r['phases']) // 2].items()} }")
        r = res[1]
        per = (med(r["small_one_at_a_time"]) - med(plain["small"])) / args.small
        out["overhead_per_file_s"] = per
        out["task_round_trip_s"] = med(r["task_round_trip"])
        print(f"small repos ({args.small} files): plain {med(plain['small']):.2f} s; Ray {med(r['small']):.2f} s; "
              f"Ray one task at a time {med(r['small_one_at_a_time']):.2f} s = {per * 1e3:+.1f} ms a file; one "
              f"task's round trip {out['task_round_trip_s'] * 1e3:.2f} ms (a file is a compress and a publish task)")

        if args.big_mib:
            # memory of one task on a big file: a fresh cluster a thread count, so that the
            # worker's peak RSS (ru_maxrss, over its life) is this file's
            p = os.path.join(tmp, "big.safetensors")
            write_big_bf16(p, args.big_mib)
            hub.commit("bench/big", {"model.safetensors": p})
            os.unlink(p)
            out["big"] = {"mib": args.big_mib}
            for threads in (1, 2):
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
                try:
                    from zipweights.hub import ray_mirror as rm

                    d = fresh(tmp, f"bigout{threads}")
                    t0 = time.perf_counter()
                    s = rm.mirror_on_ray([("bench/big", d)], threads=threads, endpoint=endpoint,
                                         workdir=fresh(tmp, "work"))
                    wall = time.perf_counter() - t0
                    assert s["failed"] == 0, s
                finally:
                    ray.shutdown()
                rss = s["ray"]["peak_task_rss"]
                out["big"][f"threads{threads}"] = {"peak_task_rss": rss, "wall": wall, "asked": rm.task_memory(threads),
                                                   "ratio": s["ratio"]}
                print(f"{args.big_mib} MiB bf16 file, {threads} thread(s): peak task RSS {rss / 2**20:.0f} MiB "
                      f"(asked of Ray: {rm.task_memory(threads) >> 20} MiB), {wall:.1f} s, ratio {s['ratio']:.4f}",
                      flush=True)

        # on paper: the hub
        w1, w2 = statistics.median(out["ray1"]["wall"]), statistics.median(out["ray2"]["wall"])
        out["scaling_1_to_2"] = w1 / w2
        week = 7 * 24
        # files a repo: 10, the weights in 5 GB shards and a few small files (an assumption, printed)
        files_hub = args.hub_repos * 10
        overhead_core_hours = files_hub * 2 * out["task_round_trip_s"] / 3600
        out["hub"] = {"bytes": args.hub_bytes, "repos": args.hub_repos, "files_assumed": files_hub,
                      "ingress_gbit_s_for_a_week": args.hub_bytes * 8 / (week * 3600) / 1e9,
                      "overhead_core_hours": overhead_core_hours}
        print(f"scaling 1 -> 2 CPUs: {out['scaling_1_to_2']:.2f}x")
        worker_rate = 1e9 / statistics.median([out["ray1"]["worker_cpu_s_per_gb"], out["ray2"]["worker_cpu_s_per_gb"]])
        for label, rate in (("compute only (mirror_file a core)", statistics.median(out["plain"]["compute_bytes_per_s"])),
                            ("a worker's whole task (download, compress, check, publish; its CPU time)", worker_rate),
                            ("end to end here (Ray, 1 CPU, wall)", big_bytes / w1)):
            core_hours = args.hub_bytes / rate / 3600
            cores = core_hours / week
            out["hub"][label] = {"bytes_per_s_a_core": rate, "core_hours": core_hours, "cores_for_a_week": cores,
                                 "nodes_for_a_week": cores / args.node_cores}
            print(f"hub, {label}: {args.hub_bytes / 1e15:.0f} PB at {rate / 1e6:.0f} MB/s a core = "
                  f"{core_hours:,.0f} core-hours; in a week {cores:,.0f} cores = "
                  f"{cores / args.node_cores:,.1f} nodes of {args.node_cores}")
        print(f"hub: Ray's own cost, 2 tasks x {files_hub:,} files x {out['task_round_trip_s'] * 1e3:.2f} ms = "
              f"{overhead_core_hours:,.1f} core-hours; download {out['hub']['ingress_gbit_s_for_a_week']:.0f} Gbit/s "
              f"for the week")
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_after"] = load()
    print(f"load {out['load_before']} -> {out['load_after']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
