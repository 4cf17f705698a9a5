import sys, numpy as np
sys.path.insert(0, "/work/main/bench/kernels")
from models import tensors

def H(sym, nsym=None):
    c = np.bincount(sym.ravel())
    c = c[c > 0].astype(np.float64)
    p = c / c.sum()
    return -(c * np.log2(p)).sum()

def Hcond(ctx, sym):
    # H(sym|ctx) in total bits
    key = ctx.astype(np.int64) * 65536 + sym
    return H(key) - H(ctx)

CH = 128 * 1024
for model in ["minilm", "craft"]:
    ts = tensors(model, "bf16")
    tot = 0; acc = {}
    for name, b in ts:
        v = np.frombuffer(b, np.uint16)
        r = ((v << 1) | (v >> 15)).astype(np.uint16)
        for s in range(0, len(v), CH):
            c = r[s:s+CH]; n = len(c); tot += 2*n
            e = (c >> 8).astype(np.int64); lo = c & 0xff
            m1 = (lo >> 7); m2 = lo >> 6; m3 = lo >> 5
            def add(k, bits): acc[k] = acc.get(k, 0) + bits
            add("e+8raw", H(e) + 8*n)
            add("e,m1+7", H(e*2+m1) + 7*n)
            add("e,m2+6", H(e*4+m2) + 6*n)
            add("e,m3+5", H(e*8+m3) + 5*n)
            add("16bit", H(c.astype(np.int64)))
            pe = np.concatenate([[0], e[:-1]])
            add("e|e-1 +8", Hcond(pe, e) + 8*n)
            add("e,m2|e-1 +6", Hcond(pe, e*4+m2) + 6*n)
            pe2 = np.concatenate([np.zeros(32, np.int64), e[:-32]])
            add("e,m2|e-32 +6", Hcond(pe2, e*4+m2) + 6*n)
            add("e|e-32 +8", Hcond(pe2, e) + 8*n)
    print(model, {k: round(v/8/tot, 4) for k, v in acc.items()})
