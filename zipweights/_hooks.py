"""Import hooks and patch marks shared by the two transparent modes
(zipweights.transparent for safetensors/transformers, zipweights.hub.transparent for
huggingface_hub), so that neither imports the other and the hub's upload filter can
ask what transparent mode replaced without importing it.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading

# -- what hub transparent mode replaced ----------------------------------------------------
HUB_LOCK = threading.RLock()
HUB_PATCHES: list = []  # (owner, name, had_own_attribute, old_value), in the order set


def mark_ours(fn):
    """Mark `fn` as a zipweights.hub replacement (see is_ours)."""
    fn._zipweights_hub = True
    return fn


def is_ours(obj) -> bool:
    return bool(getattr(getattr(obj, "__func__", obj), "_zipweights_hub", False))


def replaced(owner, name: str):
    """What hub transparent mode found at owner.name (the value disable() puts back), or None."""
    with HUB_LOCK:
        for o, n, had, old in HUB_PATCHES:
            if o is owner and n == name and had:
                return old
    return None


# -- post-import hooks ---------------------------------------------------------------------
class PostImportHook(importlib.abc.MetaPathFinder):
    """A sys.meta_path entry that calls `loaded(module)` right after a module whose
    name satisfies `wanted(name)` has executed (used by both transparent modes).

    It asks the other finders for the spec, so other hooks (the other zipweights one,
    anyone's) still see the import, and wraps the loader it gets. A flag per hook and
    per thread keeps hooks that all do this from asking each other in circles; one
    flag per hook (not per class), or two hooks wanting the same module would hide it
    from each other and one of them would never run."""

    def __init__(self, wanted, loaded):
        self.wanted, self.loaded = wanted, loaded
        self._busy = threading.local()

    def find_spec(self, fullname, path, target=None):
        if getattr(self._busy, "on", False) or not self.wanted(fullname):
            return None
        self._busy.on = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.on = False
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookLoader(spec.loader, self.loaded)
        return spec


class _HookLoader(importlib.abc.Loader):
    def __init__(self, inner, loaded):
        self.inner, self.loaded = inner, loaded

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        self.loaded(module)

    def __getattr__(self, attr):  # get_source, get_resource_reader, ... of the real loader
        return getattr(self.inner, attr)
