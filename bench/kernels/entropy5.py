import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
def H(sym):
    c = np.bincount(sym.ravel()); c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum(), len(c)
CH = int(sys.argv[1]) * 1024
for model in ["minilm", "craft"]:
  for dt in ["bf16"]:
    ts = tensors(model, dt)
    tot = 0; acc = {}
    def add(k, b): acc[k] = acc.get(k, 0) + b
    for name, b in ts:
        v = np.frombuffer(b, np.uint16).astype(np.int64)
        for s in range(0, len(v), CH):
            c = v[s:s+CH]; n = len(c); tot += 2*n
            for B in (9, 10, 11, 12, 16):
                h, u = H(c >> (16 - B)); add(f"B{B}", h + (16-B)*n); add(f"B{B}tab", h + (16-B)*n + u*12)
            # order-1: sign+exp given previous exp (8 bits, no sign)
            se = c >> 7; pe = np.concatenate([[0], (c[:-1] >> 7) & 0xff])
            h1, _ = H(pe * 512 + se); h0, _ = H(pe)
            hm, _ = H(c >> 5)  # full sym B=11
            add("o1 se|pe + m2|se", (h1 - h0) + (hm - H(se)[0]) + 5*n)
    print(model, dt, {k: round(v/8/tot, 4) for k, v in acc.items()})
