"""The entropy measurements behind the float coder's design (order-0 entropies of
exponent / mantissa splits, the value of exponent contexts at several lags), on the
two real models (models.py). One experiment per run:

  python bench/kernels/entropy.py split  [--chunk 128]   bits kept raw below the top 8+k (bf16/f16/f32)
  python bench/kernels/entropy.py gaps   --model minilm  tensors whose 10-bit split loses most to full 16-bit symbols
  python bench/kernels/entropy.py choose [--chunk 128]   best (rotation, B) per chunk, counting a table's cost
  python bench/kernels/entropy.py order1 [--chunk 128]   B-bit symbols, with tables, against an order-1 exponent context
  python bench/kernels/entropy.py lag    [--chunk 256]   H(sign, exp, 2 mantissa bits | exponent `lag` values back)

--chunk is in KiB of values (as the scripts this replaces took it); results are bytes
coded per byte of input (the ratio an ideal coder reaches).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from models import tensors  # noqa: E402

MODELS = ["minilm", "craft"]


def H(sym):
    """Order-0 entropy of `sym` in bits (total), and the number of distinct symbols."""
    c = np.bincount(sym.ravel())
    c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum(), len(c)


def rotated(b, width):
    """The values of `b` as int64, and rotated left by one bit (sign below the mantissa)."""
    v = np.frombuffer(b, np.uint16 if width == 16 else np.uint32).astype(np.int64)
    return v, ((v << 1) | (v >> (width - 1))) & ((1 << width) - 1)


def chunks(x, ch):
    for s in range(0, len(x), ch):
        yield s, x[s : s + ch]


def report(model, dt, acc, tot):
    print(model, dt, {k: round(v / 8 / tot, 4) for k, v in acc.items()})


def split(ch, _model):
    for model in MODELS:
        for dt in ["bf16", "f16", "f32"]:
            W = 16 if dt != "f32" else 32
            tot, acc = 0, {}
            for _, b in tensors(model, dt):
                _, r = rotated(b, W)
                for _, c in chunks(r, ch):
                    n = len(c)
                    tot += W // 8 * n
                    for k in range(0, 5):
                        B = 8 + k
                        sym = c >> (W - B)
                        acc[f"k{k}"] = acc.get(f"k{k}", 0) + H(sym)[0] + (W - B) * n
                        if W == 32:  # the rest planes coded order-0 per byte
                            rest = c & ((1 << (W - B)) - 1)
                            bits = H(sym)[0] + (W - B - 16) * n + H((rest >> 8) & 0xFF)[0] + H(rest & 0xFF)[0]
                            acc[f"k{k}+lo2 coded"] = acc.get(f"k{k}+lo2 coded", 0) + bits
                    if W == 32:
                        acc["planes order0"] = acc.get("planes order0", 0) + sum(
                            H((c >> sh) & 0xFF)[0] for sh in (0, 8, 16, 24))
            report(model, dt, acc, tot)


def gaps(_ch, model):
    rows, T = [], 0
    for name, b in tensors(model, "bf16"):
        _, r = rotated(b, 16)
        n = len(r)
        T += 2 * n
        k2 = H(r >> 6)[0] + 6 * n
        f = H(r)[0]
        sgn = H(r >> 1)[0] + n
        rows.append((k2 - f, name, n, k2 / 16 / n, f / 16 / n, sgn / 16 / n, len(np.unique(r))))
    rows.sort(reverse=True)
    for x in rows[:12]:
        print("%.0f bytes gap %s n=%d k2=%.4f full=%.4f nosign=%.4f uniq=%d" % (x[0] / 8, *x[1:]))
    print("total bytes", T)


def choose(ch, _model):
    for model in MODELS:
        for dt in ["bf16", "f16"]:
            tot, best, cnt = 0, 0, {}
            for _, b in tensors(model, dt):
                v, r = rotated(b, 16)
                for s, c in chunks(v, ch):
                    n = len(c)
                    tot += 2 * n
                    opts = []
                    for rot, src in ((1, r[s : s + ch]), (0, c)):
                        for B in range(8, 14):
                            h, u = H(src >> (16 - B))
                            opts.append((h / 8 + (16 - B) * n / 8 + u * 1.5 + 8, rot, B))
                    o = min(opts)
                    best += o[0]
                    cnt[o[1:]] = cnt.get(o[1:], 0) + 1
            print(model, dt, round(best / tot, 4), cnt)


def order1(ch, _model):
    for model in MODELS:
        tot, acc = 0, {}

        def add(k, b):
            acc[k] = acc.get(k, 0) + b

        for _, b in tensors(model, "bf16"):
            v, _ = rotated(b, 16)
            for _, c in chunks(v, ch):
                n = len(c)
                tot += 2 * n
                for B in (9, 10, 11, 12, 16):
                    h, u = H(c >> (16 - B))
                    add(f"B{B}", h + (16 - B) * n)
                    add(f"B{B}tab", h + (16 - B) * n + u * 12)
                # order-1: sign+exp given the previous exponent (8 bits, no sign)
                se = c >> 7
                pe = np.concatenate([[0], (c[:-1] >> 7) & 0xFF])
                h1, h0, hm = H(pe * 512 + se)[0], H(pe)[0], H(c >> 5)[0]  # hm: the full B=11 symbol
                add("o1 se|pe + m2|se", (h1 - h0) + (hm - H(se)[0]) + 5 * n)
        report(model, "bf16", acc, tot)


def lag(ch, _model):
    for model in MODELS:
        acc, tot = {}, 0
        for _, b in tensors(model, "bf16"):
            v, _ = rotated(b, 16)
            for _, c in chunks(v, ch):
                n = len(c)
                tot += 2 * n
                sym, e = c >> 5, (c >> 7) & 0xFF
                acc["none"] = acc.get("none", 0) + H(sym)[0] + 5 * n
                for k in (1, 2, 8, 32):
                    pe = np.concatenate([np.zeros(k, np.int64), e[:-k]])[:n]
                    q = np.quantile(e, [0.25, 0.5, 0.75])  # 4 quantile contexts of the previous exponent
                    ctx = np.searchsorted(q, pe, side="right")
                    for nm, cx in ((f"full lag{k}", pe), (f"q4 lag{k}", ctx)):
                        acc[nm] = acc.get(nm, 0) + H(cx * 4096 + sym)[0] - H(cx)[0] + 5 * n
        print(model, {k: round(v / 8 / tot, 4) for k, v in acc.items()})


EXPERIMENTS = {"split": (split, 128), "gaps": (gaps, 128), "choose": (choose, 128), "order1": (order1, 128),
               "lag": (lag, 256)}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiment", choices=sorted(EXPERIMENTS))
    ap.add_argument("--chunk", type=int, help="KiB of values per chunk (default: the experiment's own)")
    ap.add_argument("--model", default="minilm", help="for gaps: minilm or craft")
    args = ap.parse_args()
    fn, default_chunk = EXPERIMENTS[args.experiment]
    fn((args.chunk or default_chunk) * 1024, args.model)
