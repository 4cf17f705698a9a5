import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
def H(sym):
    c = np.bincount(sym.ravel()); c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum(), len(c)
CH = int(sys.argv[1]) * 1024
for model in ["minilm", "craft"]:
  for dt in ["bf16", "f16"]:
    ts = tensors(model, dt)
    tot = 0; best = 0; cnt = {}
    for name, b in ts:
        v = np.frombuffer(b, np.uint16).astype(np.int64); r = ((v << 1) | (v >> 15)) & 0xffff
        for s in range(0, len(v), CH):
            n = len(v[s:s+CH]); tot += 2*n; opts = []
            for rot, src in ((1, r[s:s+CH]), (0, v[s:s+CH])):
                for B in range(8, 14):
                    h, u = H(src >> (16 - B))
                    opts.append((h/8 + (16-B)*n/8 + u*1.5 + 8, rot, B))
            o = min(opts); best += o[0]; cnt[o[1:]] = cnt.get(o[1:], 0) + 1
    print(model, dt, round(best/tot, 4), cnt)
