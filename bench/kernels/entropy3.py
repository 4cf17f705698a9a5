import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
def H(sym):
    c = np.bincount(sym.ravel()); c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum()
CH = 128 * 1024
model = sys.argv[1]
ts = tensors(model, "bf16")
rows = []
T = 0
for name, b in ts:
    v = np.frombuffer(b, np.uint16).astype(np.int64); r = ((v << 1) | (v >> 15)) & 0xffff
    n = len(r); T += 2*n
    k2 = H(r >> 6) + 6 * n; f = H(r); sgn = H(r >> 1) + n
    rows.append((k2 - f, name, n, k2/16/n, f/16/n, sgn/16/n, len(np.unique(r))))
rows.sort(reverse=True)
for x in rows[:12]: print("%.0f bytes gap %s n=%d k2=%.4f full=%.4f nosign=%.4f uniq=%d" % (x[0]/8, *x[1:]))
print("total bytes", T)
