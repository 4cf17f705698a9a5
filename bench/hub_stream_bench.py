"""Time to a restored file through a throttled link: the plain .safetensors download
against the .zipw fetched then restored, and the .zipw decoded while it downloads.

    python bench/hub_stream_bench.py [--files craft-bf16,craft-fp32] [--mbit 100,1000,10000] [--runs 3]
                                     [--rtt-ms 0]

olah serves two repos per corpus file on 127.0.0.1 (one holding X.safetensors, one
X.safetensors.zipw only); bench/throttle_proxy.py runs in front of it as a process of its
own, serving byte ranges and pacing every body byte to the link speed (all connections
together). For each link speed and run, with a fresh cache each time and the three in a
rotating order (so each sees the same load):

- plain: `huggingface_hub.hf_hub_download` of X.safetensors;
- zipw, fetch + restore: `zipweights.hub.hf_hub_download` with ZIPW_HUB_STREAM=0 (the
  .zipw downloaded whole by huggingface_hub, then restored with the sha256 check);
- zipw, streamed: `zipweights.hub.hf_hub_download` (index by range first, chunks decoded
  as they arrive, sha256 checked, the blob renamed into place).

Each is timed from the call to the returned path (metadata requests included, no RTT
added), median of --runs; "tail" is the time from the last body byte the proxy sent
(its log, read through /__zipw_proxy__/log) to the returned path: what the download
adds after the transfer; "link" is the file's bytes at the link speed, the floor any
download has. Every result file is checked against the original's sha256 (outside
the timing). The CPU model and load average are printed with the table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "hub"))
sys.path.insert(0, HERE)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Proxy:
    """bench/throttle_proxy.py as a process of its own (its pacing loop must not share
    the client's interpreter)."""

    def __init__(self, upstream: str, mbit: float, rtt_ms: float = 0):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "throttle_proxy.py"), "--upstream",
                                      upstream, "--mbit", str(mbit), "--rtt-ms", str(rtt_ms)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if line[:1] != ["endpoint"]:
            raise RuntimeError(f"throttle_proxy.py said {line!r}")
        self.endpoint = line[1]

    def warm(self, path: str) -> None:
        with urllib.request.urlopen(self.endpoint + "/__zipw_proxy__/warm" + path, timeout=300) as r:
            r.read()

    def log(self) -> list:
        """The requests served since the last call (the proxy forgets them)."""
        with urllib.request.urlopen(self.endpoint + "/__zipw_proxy__/log", timeout=30) as r:
            return json.loads(r.read())

    def last_byte(self) -> float:
        """The wall-clock time the proxy sent the last body byte since the last call."""
        return max(e[5] for e in self.log() if e[0] == "GET" and e[4])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", default="craft-bf16,craft-fp32", help="corpus file names, without .safetensors")
    ap.add_argument("--mbit", default="100,1000,10000", help="link speeds in Mbit/s")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=0, help="a round trip the proxy adds before every answer")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    from _server import HubServer, client_env
    from machine import cpu_model, load

    port, root = client_env("zipw-stream-bench-")
    import huggingface_hub

    import zipweights
    from zipweights import hub as zhub

    corpus = os.path.join(HERE, "corpus")
    files = {}
    server = HubServer(os.path.join(root, "hub"), port=port)
    results = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_start": load(), "runs": args.runs,
               "rtt_ms": args.rtt_ms, "rows": []}
    try:
        for i, name in enumerate(args.files.split(",")):
            src = os.path.join(corpus, name + ".safetensors")
            z = os.path.join(root, name + ".safetensors.zipw")
            zipweights.compress_file(src, z)
            server.commit(f"bench/plain{i}", {"model.safetensors": src})
            commit = server.commit(f"bench/packed{i}", {"model.safetensors.zipw": z})
            files[name] = (i, src, z, sha256(src), commit)
        server.start()
        server.wait_ready("bench/plain0")
        print(f"CPU: {results['cpu']}, {results['cores']} cores; load at start {results['load_start']}; "
              f"medians of {args.runs}", flush=True)
        for mbit in [float(x) for x in args.mbit.split(",")]:
            proxy = Proxy(server.endpoint, mbit, args.rtt_ms)
            try:
                for name, (i, src, z, want, commit) in files.items():
                    proxy.warm(f"/bench/plain{i}/resolve/main/model.safetensors")
                    proxy.warm(f"/bench/packed{i}/resolve/{commit}/model.safetensors.zipw")

                    def plain(cache):
                        return huggingface_hub.hf_hub_download(f"bench/plain{i}", "model.safetensors",
                                                               cache_dir=cache, endpoint=proxy.endpoint)

                    def fetch_restore(cache):
                        os.environ["ZIPW_HUB_STREAM"] = "0"
                        try:
                            return zhub.hf_hub_download(f"bench/packed{i}", "model.safetensors", cache_dir=cache,
                                                        endpoint=proxy.endpoint)
                        finally:
                            del os.environ["ZIPW_HUB_STREAM"]

                    def streamed(cache):
                        return zhub.hf_hub_download(f"bench/packed{i}", "model.safetensors", cache_dir=cache,
                                                    endpoint=proxy.endpoint)

                    kinds = {"plain": plain, "zipw fetch + restore": fetch_restore, "zipw streamed": streamed}
                    times = {k: [] for k in kinds}
                    tails = {k: [] for k in kinds}
                    order = list(kinds)
                    for r in range(args.runs):
                        for k in order[r % 3:] + order[: r % 3]:
                            cache = os.path.join(root, "cache")
                            shutil.rmtree(cache, ignore_errors=True)
                            proxy.log()  # forget what went before
                            t0 = time.perf_counter()
                            path = kinds[k](cache)
                            t1, wall = time.perf_counter(), time.time()
                            times[k].append(t1 - t0)
                            tails[k].append(wall - proxy.last_byte())
                            if sha256(path) != want:
                                raise SystemExit(f"{name} {k}: the result differs from the original")
                            shutil.rmtree(cache, ignore_errors=True)
                    row = {"file": name, "mbit": mbit, "plain_bytes": os.path.getsize(src),
                           "zipw_bytes": os.path.getsize(z), "load": load(),
                           "seconds": {k: statistics.median(v) for k, v in times.items()}, "all": times,
                           "tail": {k: statistics.median(v) for k, v in tails.items()}, "all_tails": tails}
                    results["rows"].append(row)
                    print(json.dumps({k: row[k] for k in ("file", "mbit", "seconds", "tail", "load")}), flush=True)
            finally:
                proxy.stop()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"\nCPU: {results['cpu']}; medians of {args.runs}; round trip {args.rtt_ms:g} ms; "
          "time from the call to the restored file\n")
    print("| file | link | plain | zipw fetch + restore | zipw streamed | streamed / plain |")
    print("|---|---|--:|--:|--:|--:|")
    for row in results["rows"]:
        bps = row["mbit"] * 1e6
        s, t = row["seconds"], row["tail"]
        lp, lz = row["plain_bytes"] * 8 / bps, row["zipw_bytes"] * 8 / bps
        link = f"{row['mbit'] / 1000:g} Gbit/s" if row["mbit"] >= 1000 else f"{row['mbit']:g} Mbit/s"
        cell = lambda k: f"{s[k]:.2f} s (tail {t[k]:.2f})"  # noqa: E731
        print(f"| {row['file']} | {link} | {cell('plain')} [link {lp:.2f}] | {cell('zipw fetch + restore')} | "
              f"{cell('zipw streamed')} [link {lz:.2f}] | {s['zipw streamed'] / s['plain']:.2f}x |")
    print("\ntail: from the last body byte the proxy sent to the restored file; link: the bytes at the link speed")
    print(f"\nload at end {load()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
