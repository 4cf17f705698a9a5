"""Where the bytes go: table bytes vs total, B/C choices (float payloads)."""
import sys, collections
sys.path.insert(0, __import__("os").path.dirname(__file__))
from models import tensors
import zipweights._kernels as K
KIND = {"bf16": 0, "f16": 1, "f32": 2}
CH = 256 * 1024
for model in sys.argv[1].split(","):
    for dt in sys.argv[2].split(","):
        kind = KIND[dt]; isz = 4 if kind == 2 else 2
        tot = raw = tab = 0; choice = collections.Counter()
        for name, b in tensors(model, dt):
            for s in range(0, len(b), CH * isz):
                c = b[s:s + CH * isz]; p = K.float_encode(c, kind, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
                raw += len(c); tot += len(p)
                if p[1] in (1, 2):  # coded; mode 2 = contexts also split by sign
                    B, C = p[6], p[7]; pos = 9 + (C // 2 if p[1] == 2 else C) - 1
                    tab += int.from_bytes(p[pos:pos + 4], "little")
                    choice[(B, C, p[8]) + (("sign",) if p[1] == 2 else ())] += len(c)
                else:
                    choice["stored"] += len(c)
        print(model, dt, f"ratio {tot/raw:.4f} tables {tab/raw:.4%} of raw", {k: round(v / raw, 3) for k, v in choice.most_common()})
