import sys, numpy as np
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
def H(sym):
    c = np.bincount(sym.ravel()); c = c[c > 0].astype(np.float64)
    return -(c * np.log2(c / c.sum())).sum()
CH = 128 * 1024
for model in ["minilm", "craft"]:
  for dt in (["bf16", "f16", "f32"] if model == "minilm" else ["bf16", "f16", "f32"]):
    ts = tensors(model, dt); W = 16 if dt != "f32" else 32
    tot = 0; acc = {}
    def add(k, bits): acc[k] = acc.get(k, 0) + bits
    for name, b in ts:
        if W == 16:
            v = np.frombuffer(b, np.uint16).astype(np.int64); r = ((v << 1) | (v >> 15)) & 0xffff
        else:
            v = np.frombuffer(b, np.uint32).astype(np.int64); r = ((v << 1) | (v >> 31)) & 0xffffffff
        for s in range(0, len(v), CH):
            c = r[s:s+CH]; n = len(c); tot += W // 8 * n
            for k in range(0, 5):
                B = 8 + k
                sym = c >> (W - B)
                add(f"k{k}", H(sym) + (W - B) * n)
                if W == 32:
                    # rest planes coded order-0 per byte
                    rest = c & ((1 << (W - B)) - 1)
                    bits = H(sym) + (W - B - 16) * n + H((rest >> 8) & 0xff) + H(rest & 0xff)
                    add(f"k{k}+lo2 coded", bits)
            if W == 32:
                add("planes order0", sum(H((c >> sh) & 0xff) for sh in (0, 8, 16, 24)))
    print(model, dt, {k: round(v/8/tot, 4) for k, v in acc.items()})
