#!/usr/bin/env python3
"""Delta benchmark (issue #12): a fine-tune or checkpoint coded against its base, zipweights
side by side with z4ai's delta mode, lmzip's delta and XOR + byte planes + zstd-3.

    python bench/delta_bench.py [--cases minilm,craft,ckpt-bf16,ckpt-fp32,chain-bf16,chain-fp32]
                                [--codecs zipweights,z4ai,lmzip,xor+zstd3] [--threads 1,2]
                                [--runs 5] [--load-runs 7] [--no-load] [--tag NAME] [--no-write]
                                [--steps 300] [--save-every 50] [--retrain]

Cases:
  minilm, craft   the corpus ft pairs: bench/corpus/<m>-bf16-ft.safetensors against
                  <m>-bf16.safetensors (python bench/build_corpus.py; ../shared/CORPUS.md)
  ckpt-bf16/fp32  a checkpoint series made here: a small transformer trained for --steps
                  steps on generated data (fixed seeds, 1 torch thread), saved every
                  --save-every steps as bf16 and fp32 safetensors (cached in
                  bench/cache/delta/series-<config>/). The last checkpoint against the one before.
  chain-bf16/fp32 the last three checkpoints as a chain: step k-2 is the plain anchor, k-1 is
                  coded against it (untimed), and step k against the k-1 link; the restore of
                  step k starts from the anchor and the stored links (every link decoded).

Per case, thread count and run, every codec is run once in turn (the order rotates run by
run), so all codecs see the same machine state: compress is the whole job file to file
(read the fine-tune and the base from page cache, code, write), decompress likewise, and
every restore's sha256 is compared with the original's (outside the timer). Imports, the
tools' first run (a warm-up, also checked) and untimed setup are left out; the tables show
medians. MB/s are of fine-tune bytes. The process CPU time of each job is recorded too
(the machine is shared: wall time counts other jobs' time slices).

Load (--no-load skips it): `zipweights.numpy.load_file(delta.zipw, base=B)` for bases
already in memory (a dict of numpy arrays, an open safe_open handle of the plain base, an
open ZipwFile of the base compressed alone) or given by path, against
`zipweights.numpy.load_file(ft.zipw)` of the fine-tune compressed alone; every tensor's
bytes are compared with the original once.

Also printed: the per-tensor order-0 entropy of the XOR of the fine-tune with its base
(of the values, where a tensor has no base), as a fraction of the fine-tune file.

Results: bench/results/delta-<machine>[-TAG].md (the markdown is printed as well).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)
from peers import delta_base  # noqa: E402
from peers.delta_base import Ref, st_header  # noqa: E402
from machine import cpu_model  # noqa: E402  (bench/ is the script folder)

CORPUS = os.path.join(HERE, "corpus")
WORK = os.path.join(HERE, "cache", "delta")
RESULTS = os.path.join(HERE, "results")
ALL_CASES = ["minilm", "craft", "ckpt-bf16", "ckpt-fp32", "chain-bf16", "chain-fp32"]

log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731


# -- machine ---------------------------------------------------------------------------------


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    fl = set(line.split(":", 1)[1].split())
                    return ", ".join(x for x in ("avx2", "avx512f", "avx512bw", "avx512vbmi2") if x in fl)
    except OSError:
        pass
    return "?"


def machine_name():
    words = [w for w in cpu_model().lower().replace("(r)", "").split()
             if w.isalnum() and w not in ("amd", "intel", "cpu", "processor", "core")]
    return f"{os.cpu_count()}core-{words[0] if words else 'cpu'}"


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cat(path):
    """Read a file once, so later reads come from page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


# -- order-0 entropy of the XOR ----------------------------------------------------------------
VIEW = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def xor_entropy(ft, base):
    """Sum over the fine-tune's tensors of n * H0 (bits) of XOR-with-base values (values alone
    where there is no base tensor of that name, dtype and shape), / 8 / file size."""
    fb = np.fromfile(ft, np.uint8)
    bb = np.fromfile(base, np.uint8)
    _, ts = st_header(fb)
    _, bts = st_header(bb)
    from peers.delta_xor import WIDTH

    bits = 0.0
    for name, (dtype, shape, b, e) in ts.items():
        if e == b:
            continue
        w = WIDTH.get(dtype, 1)
        v = fb[b:e].view(VIEW[w])
        m = bts.get(name)
        if m is not None and m[0] == dtype and m[1] == shape:
            v = v ^ bb[m[2]:m[3]].view(VIEW[w])
        _, counts = np.unique(v, return_counts=True)
        p = counts / v.size
        bits += float(-(counts * np.log2(p)).sum())
    return bits / 8 / fb.size


def identical_fraction(ft, base):
    fb = np.fromfile(ft, np.uint8)
    bb = np.fromfile(base, np.uint8)
    _, ts = st_header(fb)
    _, bts = st_header(bb)
    same = tot = 0
    for name, (dtype, shape, b, e) in ts.items():
        m = bts.get(name)
        if dtype not in ("BF16", "F16", "F32") or m is None or m[1] != shape:
            continue
        w = {"BF16": 2, "F16": 2, "F32": 4}[dtype]
        x, y = fb[b:e].view(VIEW[w]), bb[m[2]:m[3]].view(VIEW[w])
        same += int((x == y).sum())
        tot += x.size
    return same / max(tot, 1)


# -- the checkpoint series ------------------------------------------------------------------------
def series_config(args):
    return {"model": "causal transformer", "vocab": 512, "d_model": 256, "layers": 6, "heads": 4,
            "ff": 1024, "seq": 64, "batch": 8, "steps": args.steps, "save_every": args.save_every,
            "opt": "AdamW lr 1e-3 (30 warm-up steps, cosine to 1e-4), betas (0.9, 0.95), wd 0.01",
            "data": "order-1 Markov chain, 8 successors per token", "seed": 0, "torch_threads": 1,
            "torch": None}


def train_series(args):
    """Train the small model; return (folder, [step], config). Cached by config."""
    import torch
    import torch.nn as nn
    from safetensors.torch import save_file

    cfg = series_config(args)
    cfg["torch"] = torch.__version__
    key = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:10]
    folder = os.path.join(WORK, f"series-{key}")
    steps = list(range(args.save_every, args.steps + 1, args.save_every))
    done = os.path.join(folder, "done.json")
    if os.path.exists(done) and not args.retrain:
        with open(done) as f:
            info = json.load(f)
        return folder, steps, cfg, info
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    log(f"training the checkpoint series ({args.steps} steps, saved every {args.save_every}) ...")
    t0 = time.time()
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg["seed"])
    V, D, L, S, B = cfg["vocab"], cfg["d_model"], cfg["layers"], cfg["seq"], cfg["batch"]
    g = torch.Generator().manual_seed(1)
    succ = torch.randint(0, V, (V, 8), generator=g)
    probs = torch.softmax(2 * torch.randn(V, 8, generator=g), dim=1)

    def batch(step):
        gb = torch.Generator().manual_seed(1000 + step)
        x = torch.empty(B, S + 1, dtype=torch.long)
        x[:, 0] = torch.randint(0, V, (B,), generator=gb)
        for t in range(S):
            pick = torch.multinomial(probs[x[:, t]], 1, generator=gb).squeeze(1)
            x[:, t + 1] = succ[x[:, t], pick]
        return x[:, :-1], x[:, 1:]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(V, D)
            self.pos = nn.Embedding(S, D)
            layer = nn.TransformerEncoderLayer(D, cfg["heads"], cfg["ff"], dropout=0.0, batch_first=True,
                                               norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(D)
            self.head = nn.Linear(D, V, bias=False)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(S), persistent=False)

        def forward(self, x):
            h = self.tok(x) + self.pos.weight[: x.shape[1]]
            h = self.blocks(h, mask=self.mask, is_causal=True)
            return self.head(self.norm(h))

    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)
    import math

    def lr_at(step):
        if step < 30:
            return 1e-3 * (step + 1) / 30
        t = (step - 30) / max(1, args.steps - 30)
        return 1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + math.cos(math.pi * t))

    losses = {}
    for step in range(1, args.steps + 1):
        for gp in opt.param_groups:
            gp["lr"] = lr_at(step - 1)
        x, y = batch(step)
        loss = nn.functional.cross_entropy(net(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.save_every == 0:
            sd = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
            meta = {"step": str(step)}
            save_file({k: v.to(torch.bfloat16) for k, v in sd.items()},
                      os.path.join(folder, f"step-{step:06d}.bf16.safetensors"), metadata=meta)
            save_file(sd, os.path.join(folder, f"step-{step:06d}.fp32.safetensors"), metadata=meta)
            losses[step] = round(float(loss), 4)
            log(f"   step {step}: loss {float(loss):.3f}")
    torch.set_num_threads(prev_threads)
    torch.use_deterministic_algorithms(False)
    nparams = sum(p.numel() for p in net.parameters())
    info = {"losses": losses, "params": nparams, "train_s": round(time.time() - t0, 1),
            "sha256": {f: sha256_file(os.path.join(folder, f)) for f in sorted(os.listdir(folder))}}
    with open(done, "w") as f:
        json.dump(info, f, indent=1)
    return folder, steps, cfg, info


# -- one case --------------------------------------------------------------------------------------
class Case:
    def __init__(self, name, ft, base, anchor=None):
        self.name = name
        self.ft = ft            # the file coded (and restored)
        self.base = base        # its base, raw (for a chain: the k-1 checkpoint)
        self.anchor = anchor    # chains: the plain k-2 checkpoint the k-1 link is coded against
        self.size = os.path.getsize(ft)
        self.sha = sha256_file(ft)


def timed(fn):
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def run_case(case, tools, threads, runs):
    """{tool: {"size", "link1", "comp": {T: [(wall, cpu)]}, "dec": {...}, "errors"}}, loads."""
    res, loads = {}, []
    for f in (case.ft, case.base, case.anchor):
        if f:
            cat(f)
    states = {}
    for tool in tools:
        wd = os.path.join(WORK, "work", case.name, tool.name.replace("+", "_"))
        shutil.rmtree(wd, ignore_errors=True)
        os.makedirs(wd)
        r = res[tool.name] = {"comp": {t: [] for t in threads}, "dec": {t: [] for t in threads},
                              "errors": [], "checked": 0}
        try:
            if case.anchor is None:
                base = tool.prepare_anchor(case.base, wd)
            else:   # chain: anchor, then the k-1 link coded against it (untimed)
                a = tool.prepare_anchor(case.anchor, wd)
                d1 = os.path.join(wd, os.path.basename(case.base) + ".link1")
                tool.pre_compress(case.base, a, d1)
                tool.compress(case.base, a, d1, 1)
                r["link1"] = tool.stored_size(d1, a)
                base = Ref(raw=case.base, stored=d1, parent=a)
            dst = os.path.join(wd, os.path.basename(case.ft) + ".delta")
            out = os.path.join(wd, "restored.safetensors")
            # warm-up + check at every thread count (not timed)
            for t in threads:
                tool.pre_compress(case.ft, base, dst)
                tool.compress(case.ft, base, dst, t)
                tool.decompress(dst, base, out, t)
                if sha256_file(out) != case.sha:
                    raise RuntimeError(f"restore at {t} threads differs from the original")
                size = tool.stored_size(dst, base)
                if r.get("size", size) != size:
                    raise RuntimeError("stored size changed between thread counts")
                r["size"] = size
            states[tool.name] = (base, dst, out)
        except Exception as e:
            r["errors"].append(f"{type(e).__name__}: {e}"[:300])
            log(f"   {case.name} {tool.name}: FAILED {r['errors'][-1]}")
    live = [t for t in tools if t.name in states]
    for t in threads:
        for run in range(runs):
            order = live[run % len(live):] + live[: run % len(live)] if live else []
            for tool in order:
                base, dst, out = states[tool.name]
                r = res[tool.name]
                if r["errors"]:
                    continue
                try:
                    tool.pre_compress(case.ft, base, dst)
                    r["comp"][t].append(timed(lambda: tool.compress(case.ft, base, dst, t)))
                    if tool.stored_size(dst, base) != r["size"]:
                        raise RuntimeError("stored size changed between runs")
                    if os.path.exists(out):
                        os.remove(out)
                    r["dec"][t].append(timed(lambda: tool.decompress(dst, base, out, t)))
                    if sha256_file(out) != case.sha:
                        raise RuntimeError(f"restore differs from the original (run {run}, {t} threads)")
                    r["checked"] += 1
                except Exception as e:
                    r["errors"].append(f"{type(e).__name__}: {e}"[:300])
                    log(f"   {case.name} {tool.name}: FAILED {r['errors'][-1]}")
            loads.append(os.getloadavg()[0])
        msg = ", ".join(f"{n} c {case.size / 1e6 / statistics.median(w for w, _ in r['comp'][t]):.0f}"
                        f" d {case.size / 1e6 / statistics.median(w for w, _ in r['dec'][t]):.0f}"
                        for n, r in res.items() if r["comp"][t] and r["dec"][t])
        log(f"   {case.name} {t}T (MB/s): {msg}  load {os.getloadavg()[0]:.2f}")
    return res, loads


# -- loading with the base in memory -------------------------------------------------------------
def run_load(case, threads, runs):
    import zipweights
    import zipweights.numpy as zn
    from zipweights.reader import ZipwFile

    wd = os.path.join(WORK, "work", case.name, "load")
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    alone = os.path.join(wd, "ft-alone.zipw")
    delta = os.path.join(wd, "ft-delta.zipw")
    basez = os.path.join(wd, "base-alone.zipw")
    zipweights.compress_file(case.ft, alone, force=True)
    zipweights.compress_file(case.ft, delta, base=case.base, force=True)
    zipweights.compress_file(case.base, basez, force=True)
    for f in (alone, delta, basez, case.base):
        cat(f)
    base_dict = zn.load_file(case.base)
    handle = zipweights.safe_open(case.base, framework="np")
    base_zf = ZipwFile(basez)
    handle_z = zipweights.safe_open(basez, framework="np")
    variants = [
        ("fine-tune compressed alone: load_file(ft.zipw)", lambda t: zn.load_file(alone, threads=t)),
        ("delta, base = dict of numpy arrays", lambda t: zn.load_file(delta, base=base_dict, threads=t)),
        ("delta, base = open safe_open(base.safetensors)", lambda t: zn.load_file(delta, base=handle, threads=t)),
        ("delta, base = open ZipwFile(base.zipw)", lambda t: zn.load_file(delta, base=base_zf, threads=t)),
        ("delta, base = open safe_open(base.zipw)", lambda t: zn.load_file(delta, base=handle_z, threads=t)),
        ("delta, base = path of base.safetensors", lambda t: zn.load_file(delta, base=case.base, threads=t)),
        ("(reference) the fine-tune uncompressed: load_file(ft.safetensors)", lambda t: zn.load_file(case.ft)),
    ]
    ref = {k: np.ascontiguousarray(v).view(np.uint8).tobytes() for k, v in zn.load_file(case.ft).items()}
    times = {name: {t: [] for t in threads} for name, _ in variants}
    errors = {}
    for name, fn in variants:   # check once
        got = None
        try:
            got = fn(threads[0])
            if set(got) != set(ref) or any(np.ascontiguousarray(got[k]).view(np.uint8).tobytes() != ref[k]
                                          for k in ref):
                raise RuntimeError("tensors differ from the fine-tune's")
        except Exception as e:
            errors[name] = f"{type(e).__name__}: {e}"[:200]
            log(f"   load {case.name} {name}: FAILED {errors[name]}")
        del got
    loads = []
    for t in threads:
        for run in range(runs):
            for name, fn in variants[run % len(variants):] + variants[: run % len(variants)]:
                if name in errors:
                    continue
                gc.collect()
                t0 = time.perf_counter()
                d = fn(t)
                times[name][t].append(time.perf_counter() - t0)
                del d
            loads.append(os.getloadavg()[0])
    for h in (handle, handle_z):
        if hasattr(h, "__exit__"):
            h.__exit__(None, None, None)
    base_zf.close()
    return {"variants": [n for n, _ in variants], "times": times, "errors": errors, "loads": loads,
            "alone_size": os.path.getsize(alone), "delta_size": os.path.getsize(delta)}


# -- report ---------------------------------------------------------------------------------------
def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_mbps(size, secs):
    if not secs:
        return "–"
    v = size / 1e6 / statistics.median(secs)
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}" if v >= 1 else f"{v:.2f}"


def render(args, cases, tools, results, loadres, meta):
    L = [f"# Delta benchmark: {meta['machine']}" + (f" ({args.tag})" if args.tag else ""), ""]
    L += [f"- date: {meta['start']} to {meta['end']}",
          f"- CPU: {cpu_model()} ({cpu_flags()}), {os.cpu_count()} cores, Linux {platform.release()}",
          f"- load: at the start `{meta['uptime0']}`; at the end `{meta['uptime1']}`; 1-min load after "
          f"each round: median {meta['load_med']:.2f}, max {meta['load_max']:.2f} on {os.cpu_count()} cores "
          "(shared with other jobs)",
          f"- python {platform.python_version()}, numpy {np.__version__}",
          "- tools: " + ", ".join(f"{t.name} {t.version}" for t in tools),
          f"- timing: median of {args.runs} runs per codec and thread count, codecs interleaved run by run "
          "(order rotated); whole job file to file from page cache; imports, a warm-up run and untimed "
          "setup left out; the sha256 of every restore checked "
          f"({meta['checked']} restores, {meta['failed']} failed)",
          f"- command: `{meta['command']}`", ""]
    if meta.get("series"):
        s = meta["series"]
        L += [f"- checkpoint series: {s['cfg']['model']}, {s['info']['params'] / 1e6:.2f} M parameters "
              f"(vocab {s['cfg']['vocab']}, d_model {s['cfg']['d_model']}, {s['cfg']['layers']} layers, "
              f"ff {s['cfg']['ff']}), {s['cfg']['steps']} steps of batch {s['cfg']['batch']}x{s['cfg']['seq']} "
              f"tokens on generated data ({s['cfg']['data']}), {s['cfg']['opt']}; seeds fixed, 1 torch thread, "
              f"deterministic algorithms; saved every {s['cfg']['save_every']} steps as bf16 and fp32; loss "
              + ", ".join(f"{k}: {v}" for k, v in s["info"]["losses"].items())
              + f"; trained in {s['info']['train_s']} s", ""]

    names = [t.name for t in tools]
    L += ["## Size of the delta / size of the fine-tune file (lower is better)", "",
          "H0(XOR) = per-tensor order-0 entropy of the XOR with the base tensor (of the values where a "
          "tensor has no base), over the fine-tune file (for fp32 it is no floor: a tensor of n values "
          "has at most log2(n) bits a value, whatever the values). `same` = float elements bitwise equal to the "
          "base. Chains: the last link (step k against the k-1 link); the k-1 link in brackets.", "",
          "| case | fine-tune | MB | same | H0(XOR) | " + " | ".join(names) + " |",
          "|---|---|--:|--:|--:|" + "--:|" * len(names)]
    for c in cases:
        row = [c.name, os.path.basename(c.ft) + " vs " + os.path.basename(c.base)
               + (f" (vs {os.path.basename(c.anchor)})" if c.anchor else ""),
               f"{c.size / 1e6:.1f}", f"{100 * meta['same'][c.name]:.1f} %", f"{meta['h0'][c.name]:.4f}"]
        for n in names:
            r = results[c.name].get(n)
            if not r or "size" not in r:
                row.append("FAIL")
                continue
            cell = f"{r['size'] / c.size:.4f}"
            if "link1" in r:
                cell += f" ({r['link1'] / os.path.getsize(c.base):.4f})"
            row.append(("**" + cell + "**") if n == "zipweights" else cell)
        L.append("| " + " | ".join(row) + " |")

    th = meta["threads"]
    cols = [f"comp {t}T" for t in th] + [f"dec {t}T" for t in th] + ["comp 1T CPU", "dec 1T CPU"]
    L += ["", "## Speed, MB/s of fine-tune bytes (median; wall clock, and by process CPU time at 1 thread)", "",
          "| case | codec | ratio | " + " | ".join(cols) + " |", "|---|---|--:|" + "--:|" * len(cols)]
    spreads = []
    for c in cases:
        for n in names:
            r = results[c.name].get(n)
            if not r or "size" not in r:
                L.append(f"| {c.name} | {n} | FAIL: {'; '.join(r['errors']) if r else ''} |")
                continue
            tool = next(t for t in tools if t.name == n)
            row = [c.name, n, f"{r['size'] / c.size:.4f}"]
            for kind, flag in (("comp", tool.comp_threads), ("dec", tool.dec_threads)):
                for t in th:
                    cell = fmt_mbps(c.size, [w for w, _ in r[kind][t]])
                    row.append(cell + ("¹" if not flag and t > 1 else ""))
                    xs = [w for w, _ in r[kind][t]]
                    if len(xs) >= 3:
                        spreads.append((max(xs) - min(xs)) / statistics.median(xs))
            t1 = min(th)
            row += [fmt_mbps(c.size, [u for _, u in r["comp"][t1]]), fmt_mbps(c.size, [u for _, u in r["dec"][t1]])]
            if r["errors"]:
                row[-1] += " (errors: " + "; ".join(r["errors"]) + ")"
            L.append("| " + " | ".join(row) + " |")
    L += ["", "¹ the codec has no thread option there: the same call as at 1 thread, timed again."]
    if spreads:
        spreads.sort()
        L += ["", f"Noise: (max-min)/median over the runs of each timed cell: median "
              f"{100 * statistics.median(spreads):.0f} %, 90th percentile "
              f"{100 * spreads[int(0.9 * (len(spreads) - 1))]:.0f} % ({len(spreads)} cells)."]

    # zipweights against each peer, same run
    if "zipweights" in names:
        L += ["", "## zipweights against each peer, same run (ratio of median wall times: >1 = zipweights faster)",
              "", "| case | peer | " + " | ".join(f"comp {t}T" for t in th) + " | "
              + " | ".join(f"dec {t}T" for t in th) + " |", "|---|---|" + "--:|" * (2 * len(th))]
        for c in cases:
            zw = results[c.name].get("zipweights")
            if not zw or "size" not in zw:
                continue
            for n in names:
                r = results[c.name].get(n)
                if n == "zipweights" or not r or "size" not in r:
                    continue
                row = [c.name, n]
                for kind in ("comp", "dec"):
                    for t in th:
                        a = med([w for w, _ in zw[kind][t]])
                        b = med([w for w, _ in r[kind][t]])
                        row.append(f"{b / a:.1f}x")
                L.append("| " + " | ".join(row) + " |")

    if loadres:
        L += ["", "## Loading every tensor (`zipweights.numpy.load_file`), ms (median)", "",
              "| case | how | " + " | ".join(f"{t}T" for t in th) + " | " + " | ".join(f"vs alone {t}T" for t in th) + " |",
              "|---|---|" + "--:|" * (2 * len(th))]
        for cname, lr in loadres.items():
            first = lr["variants"][0]
            for v in lr["variants"]:
                if v in lr["errors"]:
                    L.append(f"| {cname} | {v} | FAIL: {lr['errors'][v]} |")
                    continue
                row = [cname, v] + [f"{1e3 * med(lr['times'][v][t]):.0f}" for t in th]
                row += [f"{med(lr['times'][v][t]) / med(lr['times'][first][t]):.2f}" for t in th]
                L.append("| " + " | ".join(row) + " |")
        L += ["", "`vs alone`: time / time of loading the fine-tune compressed alone (<= 1.00: no slower). "
              "The bases \"in memory\" are made before the timer: a dict from `zipweights.numpy.load_file(base)`, "
              "a `zipweights.safe_open` handle of the plain base or of the base compressed alone, a `ZipwFile` "
              "of the base compressed alone (the .zipw bases' tensors are decoded as the delta needs them). Sizes: "
              + "; ".join(f"{k}: alone {v['alone_size'] / 1e6:.1f} MB, delta {v['delta_size'] / 1e6:.1f} MB"
                          for k, v in loadres.items()) + "."]

    L += ["", "## Targets (issue #12)", ""] + meta["targets"]
    L += ["", "## How each codec is run", ""] + [f"- {t.name} {t.version}: {t.note}" for t in tools]
    L += ["- chains: zipweights codes step k against the k-1 link's .zipw (`base=` that file) and restores it "
          "through the base records; z4ai and XOR+zstd take the k-1 checkpoint's bytes when coding and, when "
          "restoring, rebuild them first from the anchor and the k-1 link (in memory); lmzip appends each "
          "checkpoint to the archive and codes it against the anchor (its deltas are one hop by design)", ""]
    return "\n".join(L)


def targets(cases, results, loadres, threads, h0):
    out = []

    def mark(ok):
        return "PASS" if ok else "**MISS**"

    for c in cases:
        if not c.name in ("minilm", "craft"):
            continue
        r = results[c.name]
        zw = r.get("zipweights")
        if not zw or "size" not in zw:
            out.append(f"- {c.name}: zipweights did not run")
            continue
        ratio = zw["size"] / c.size
        peers = {n: v["size"] / c.size for n, v in r.items() if n != "zipweights" and "size" in v}
        best = min(peers.values()) if peers else float("inf")
        out.append(f"- {c.name}: size {ratio:.4f} <= 0.100: {mark(ratio <= 0.100)}; below every peer "
                   f"(best {best:.4f}): {mark(ratio < best)}; below H0(XOR) {h0[c.name]:.4f}: "
                   f"{mark(ratio < h0[c.name])}")
        z4 = r.get("z4ai")
        if z4 and "size" in z4:
            for t in threads:
                parts = []
                for kind, need, what in (("comp", 10, "compress"), ("dec", 5, "decompress")):
                    a, b = zw[kind][t], z4[kind][t]
                    x = med([w for w, _ in b]) / med([w for w, _ in a])
                    paired = med([wb / wa for (wa, _), (wb, _) in zip(a, b)])
                    cpu = med([u for _, u in b]) / med([u for _, u in a])
                    parts.append(f"{what} {x:.1f}x z4ai (>= {need}x: {mark(x >= need)}; run by run "
                                 f"{paired:.1f}x, by CPU time {cpu:.1f}x)")
                out.append(f"- {c.name} {t}T: " + ", ".join(parts))
    for cname, lr in loadres.items():
        first = lr["variants"][0]
        for v in lr["variants"][1:3]:   # the bases already in memory
            if v in lr["errors"]:
                out.append(f"- load {cname}, {v}: FAILED ({lr['errors'][v]})")
                continue
            xs = []
            for t in threads:
                x = med(lr["times"][v][t]) / med(lr["times"][first][t])
                xs.append(f"{t}T {x:.2f} ({mark(x <= 1.0)})")
            out.append(f"- load {cname}, {v}: time / time of the fine-tune alone (<= 1.00): " + ", ".join(xs))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--cases", default=",".join(ALL_CASES))
    ap.add_argument("--codecs", default="", help="comma list (default all): zipweights,z4ai,lmzip,xor+zstd3")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--load-runs", type=int, default=7)
    ap.add_argument("--no-load", action="store_true")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--retrain", action="store_true")
    ap.add_argument("--tag", default="", help="names the results file: delta-<machine>-<tag>.md")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    want = [c for c in args.cases.split(",") if c]
    bad = [c for c in want if c not in ALL_CASES]
    if bad:
        sys.exit(f"unknown case(s) {bad}; known: {ALL_CASES}")
    meta = {"start": datetime.datetime.now().isoformat(timespec="seconds"), "uptime0": uptime(),
            "machine": machine_name(), "threads": threads,
            "command": "python bench/delta_bench.py " + " ".join(sys.argv[1:])}
    log(meta["uptime0"])

    tools = delta_base.load_all(log)
    if args.codecs:
        sel = args.codecs.split(",")
        tools = [t for t in tools if t.name in sel]
    if not tools:
        sys.exit("no codecs")

    cases = []
    for m in ("minilm", "craft"):
        if m in want:
            ft = os.path.join(CORPUS, f"{m}-bf16-ft.safetensors")
            base = os.path.join(CORPUS, f"{m}-bf16.safetensors")
            if not (os.path.exists(ft) and os.path.exists(base)):
                sys.exit("corpus ft pairs missing: run python bench/build_corpus.py")
            cases.append(Case(m, ft, base))
    if any(c.startswith(("ckpt", "chain")) for c in want):
        folder, steps, cfg, info = train_series(args)
        if len(steps) < 3:
            sys.exit("the series needs at least 3 checkpoints (--steps / --save-every)")
        meta["series"] = {"cfg": cfg, "info": info, "folder": folder}
        p = lambda s, d: os.path.join(folder, f"step-{s:06d}.{d}.safetensors")  # noqa: E731
        k2, k1, k = steps[-3:]
        for d in ("bf16", "fp32"):
            if f"ckpt-{d}" in want:
                cases.append(Case(f"ckpt-{d}", p(k, d), p(k1, d)))
            if f"chain-{d}" in want:
                cases.append(Case(f"chain-{d}", p(k, d), p(k1, d), anchor=p(k2, d)))

    meta["h0"] = {c.name: xor_entropy(c.ft, c.base) for c in cases}
    meta["same"] = {c.name: identical_fraction(c.ft, c.base) for c in cases}
    for c in cases:
        log(f"{c.name}: {c.size / 1e6:.1f} MB, {100 * meta['same'][c.name]:.1f} % same, H0(XOR) {meta['h0'][c.name]:.4f}")

    results, loads = {}, []
    for c in cases:
        log(f"{c.name} ...")
        results[c.name], ls = run_case(c, tools, threads, args.runs)
        loads += ls
    loadres = {}
    if not args.no_load:
        for c in cases:
            if c.anchor is None and c.name in ("minilm", "craft", "ckpt-bf16"):
                log(f"load {c.name} ...")
                loadres[c.name] = run_load(c, threads, args.load_runs)
                loads += loadres[c.name]["loads"]
    meta["end"] = datetime.datetime.now().isoformat(timespec="seconds")
    meta["uptime1"] = uptime()
    meta["load_med"] = med(loads) if loads else float("nan")
    meta["load_max"] = max(loads) if loads else float("nan")
    meta["checked"] = sum(r["checked"] for cr in results.values() for r in cr.values())
    meta["failed"] = sum(len(r["errors"]) for cr in results.values() for r in cr.values())
    meta["targets"] = targets(cases, results, loadres, threads, meta["h0"])
    md = render(args, cases, tools, results, loadres, meta)
    print(md)
    if not args.no_write:
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, f"delta-{meta['machine']}" + (f"-{args.tag}" if args.tag else "") + ".md")
        with open(path, "w") as f:
            f.write(md)
        raw = {c.name: {n: {k: v for k, v in r.items()} for n, r in results[c.name].items()} for c in cases}
        with open(os.path.join(WORK, "last.json"), "w") as f:
            json.dump({"meta": {k: v for k, v in meta.items() if k != "series"}, "results": raw,
                       "load": loadres}, f, default=str)
        log(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
