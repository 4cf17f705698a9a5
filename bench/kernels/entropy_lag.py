"""H(sign,exp,2 mantissa bits | exponent of the value `lag` positions back), per 256K chunk."""
import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
def H(sym):
    c = np.bincount(sym.ravel()); c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum()
CH = 256 * 1024
for model in ["minilm", "craft"]:
    acc = {}; tot = 0
    for name, b in tensors(model, "bf16"):
        v = np.frombuffer(b, np.uint16).astype(np.int64)
        for s in range(0, len(v), CH):
            c = v[s:s+CH]; n = len(c); tot += 2 * n
            sym = c >> 5; e = (c >> 7) & 0xff
            acc["none"] = acc.get("none", 0) + H(sym) + 5 * n
            for lag in (1, 2, 8, 32):
                pe = np.concatenate([np.zeros(lag, np.int64), e[:-lag]])[:n]
                # 4 quantile contexts of the previous exponent
                q = np.quantile(e, [0.25, 0.5, 0.75])
                ctx = np.searchsorted(q, pe, side="right")
                for nm, cx in ((f"full lag{lag}", pe), (f"q4 lag{lag}", ctx)):
                    acc[nm] = acc.get(nm, 0) + H(cx * 4096 + sym) - H(cx) + 5 * n
    print(model, {k: round(v / 8 / tot, 4) for k, v in acc.items()})
