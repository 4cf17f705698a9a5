"""One module per tool; each exposes peers() -> [Peer]. A tool that fails to
import is skipped with a message."""
import importlib

MODULES = ["tool_zipweights", "tool_zstd", "tool_zipnn", "tool_blosc2", "tool_pcodec",
           "tool_z4ai"]


def load_all(log=print):
    out = []
    for m in MODULES:
        try:
            out += importlib.import_module(f"{__name__}.{m}").peers()
        except Exception as e:  # missing tool or API: skip it, say why
            log(f"skipping {m[5:]}: {type(e).__name__}: {e}")
    return out
