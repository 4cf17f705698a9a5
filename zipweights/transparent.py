"""Transparent mode: existing safetensors / transformers code reads .zipw unchanged.

    import zipweights
    zipweights.enable()
    model = AutoModel.from_pretrained("compressed-folder/")   # model.safetensors.zipw inside
    state = safetensors.torch.load_file("model.safetensors.zipw")
    zipweights.disable()                                       # every original back

    with zipweights.enabled():                                 # the same, scoped
        ...

What is patched, and how it is undone:

- `safetensors.safe_open`, `safetensors.{numpy,torch}.{load_file,load}` are replaced by
  wrappers that look at the file's (or bytes') magic: a zipweights file goes to
  zipweights, anything else to the original function, unchanged. A name that does
  not exist but has a `.zipw` sibling (a shard listed in an index JSON, say) is read
  from the sibling.
- Copies bound at import time (`from safetensors import safe_open` in transformers,
  in safetensors.torch itself, anywhere) are found by identity in every loaded
  module and replaced; modules imported while enabled bind the wrappers, and
  `disable()` finds those too. Every replaced attribute is put back exactly
  (`is`-identical to the original).
- `transformers.PreTrainedModel.from_pretrained` (if transformers is imported, now or
  later: a post-import hook waits for it) gets a thin wrapper: when a local folder
  holds `X.zipw` files whose `X` is missing, it loads from a shadow folder of
  symbolic links where `X` points to `X.zipw` (plus links to everything else), so
  transformers finds the names it looks for, in any version, and the safetensors
  hook decodes them. The model's `name_or_path` is set back to the real folder.
- `zipweights.hub.transparent` (download/upload filters), when present, is enabled and
  disabled with the rest.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import sys
import tempfile
import threading

from ._hooks import PostImportHook
from .format.container import SUFFIX
from .lazy import ZipwSafeOpen, is_zipw_file, load_zipw_bytes, zipw_bytes_candidate, zipw_path

__all__ = ["enable", "disable", "enabled", "is_enabled"]

_lock = threading.RLock()
_state: dict | None = None  # while enabled: what was patched, to undo it
_shadow_dirs: list[str] = []
_blocks = 0  # enabled() blocks under way, in every thread
_off_after_blocks = False  # whether the mode was off when the first of them began
_TRANSFORMERS_MODULE = "transformers.modeling_utils"
_SKIP_MODULES = ("zipweights.", "safetensors._safetensors_rust")


# -- wrappers (built once per enable(), around the originals) ---------------------------------
def _make_wrappers(orig: dict) -> dict:
    wrappers = {}

    if "safe_open" in orig:
        o = orig["safe_open"]

        def safe_open(filename, framework, device="cpu", *args, **kwargs):
            z = zipw_path(filename)
            if z is not None:
                return ZipwSafeOpen(z, framework, device, **kwargs)
            return o(filename, framework, device, *args, **kwargs)

        functools.update_wrapper(safe_open, o, assigned=("__doc__",))
        wrappers["safe_open"] = safe_open

    if "torch.load_file" in orig:
        o_tl = orig["torch.load_file"]

        def load_file(filename, device="cpu", *args, **kwargs):
            z = zipw_path(filename)
            if z is not None:
                with ZipwSafeOpen(z, "pt", device) as f:
                    return f.get_tensors()
            return o_tl(filename, device, *args, **kwargs)

        functools.update_wrapper(load_file, o_tl)
        wrappers["torch.load_file"] = load_file

    if "numpy.load_file" in orig:
        o_nl = orig["numpy.load_file"]

        def np_load_file(filename, *args, **kwargs):
            z = zipw_path(filename)
            if z is not None:
                with ZipwSafeOpen(z, "np") as f:
                    return f.get_tensors()
            return o_nl(filename, *args, **kwargs)

        functools.update_wrapper(np_load_file, o_nl)
        wrappers["numpy.load_file"] = np_load_file

    for fw, key in (("pt", "torch.load"), ("np", "numpy.load")):
        if key in orig:
            wrappers[key] = _make_load(orig[key], fw)
    return wrappers


def _make_load(o, framework):
    def load(data, *args, **kwargs):
        if zipw_bytes_candidate(data):
            return load_zipw_bytes(data, framework)
        return o(data, *args, **kwargs)

    functools.update_wrapper(load, o)
    return load


def _originals() -> dict:
    """The objects to replace, from the safetensors modules (importing safetensors.torch
    only if torch is already imported: enable() must not import torch)."""
    import safetensors
    import safetensors.numpy as st_np

    orig = {"safe_open": safetensors.safe_open, "numpy.load_file": st_np.load_file, "numpy.load": st_np.load}
    if "torch" in sys.modules or "safetensors.torch" in sys.modules:
        import safetensors.torch as st_pt

        orig["torch.load_file"] = st_pt.load_file
        orig["torch.load"] = st_pt.load
    return orig


# -- patching by identity -----------------------------------------------------------------------
def _swap_everywhere(table: dict, record: list | None) -> None:
    """In every loaded module, replace each attribute that `is` a key of `table` by its
    value; append (module, name, old) to `record`."""
    ids = {id(k): v for k, v in table.items()}
    keep = {id(k): k for k in table}
    for modname, mod in list(sys.modules.items()):
        if modname.startswith(_SKIP_MODULES):
            continue  # zipweights keeps the originals; the extension module defines them
        try:
            d = mod.__dict__
        except Exception:
            continue
        if not isinstance(d, dict):
            continue
        hits = []
        try:
            for name, value in list(d.items()):
                if id(value) in ids and value is keep[id(value)]:
                    hits.append((name, value))
        except Exception:
            continue
        for name, value in hits:
            d[name] = ids[id(value)]
            if record is not None:
                record.append((mod, name, value))


# -- transformers -----------------------------------------------------------------------------------
def _shadow_for(folder: str, subfolder: str):
    """A shadow folder for `folder` if its (sub)folder holds X.zipw with X missing."""
    target = os.path.join(folder, subfolder) if subfolder else folder
    try:
        names = os.listdir(target)
    except OSError:
        return None
    renames = {}
    for n in names:
        if n.endswith(SUFFIX) and n[: -len(SUFFIX)] not in names:
            p = os.path.join(target, n)
            if os.path.isfile(p) and is_zipw_file(p):
                renames[n[: -len(SUFFIX)]] = p
    if not renames:
        return None
    root = tempfile.mkdtemp(prefix="zipw-shadow-")
    with _lock:
        _shadow_dirs.append(root)
    # mirror the path down to the target: real folders along `subfolder`, links beside
    parts = [p for p in os.path.normpath(subfolder).split(os.sep) if p not in ("", ".")] if subfolder else []
    src, dst = os.path.abspath(folder), root
    for part in parts:
        for n in os.listdir(src):
            if n != part:
                os.symlink(os.path.join(src, n), os.path.join(dst, n))
        src, dst = os.path.join(src, part), os.path.join(dst, part)
        os.mkdir(dst)
    for n in os.listdir(src):
        os.symlink(os.path.join(src, n), os.path.join(dst, n))
    for n, p in renames.items():
        os.symlink(os.path.abspath(p), os.path.join(dst, n))
    return root


def _wrap_from_pretrained(original_cm):
    func = original_cm.__func__

    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        path = pretrained_model_name_or_path
        shadow = None
        if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
            shadow = _shadow_for(os.fspath(path), kwargs.get("subfolder") or "")
        if shadow is None:
            return func(cls, pretrained_model_name_or_path, *args, **kwargs)
        result = func(cls, shadow, *args, **kwargs)
        model = result[0] if isinstance(result, tuple) else result
        for obj in (getattr(model, "config", None), getattr(model, "generation_config", None)):
            if obj is not None and getattr(obj, "_name_or_path", None) == shadow:
                obj._name_or_path = str(path)
        if getattr(model, "name_or_path", None) == shadow:
            try:
                model.name_or_path = str(path)
            except Exception:
                pass
        return result

    functools.update_wrapper(from_pretrained, func)
    from_pretrained.__zipweights_wrapped__ = True
    return classmethod(from_pretrained)


def _patch_transformers(state: dict) -> None:
    mod = sys.modules.get(_TRANSFORMERS_MODULE)
    if mod is None or state.get("from_pretrained") is not None:
        return
    cls = getattr(mod, "PreTrainedModel", None)
    original = cls.__dict__.get("from_pretrained") if cls is not None else None
    if not isinstance(original, classmethod):
        return
    state["from_pretrained"] = (cls, original)
    setattr(cls, "from_pretrained", _wrap_from_pretrained(original))
    # modeling_utils bound safe_open / load at import: swap those copies too
    _swap_everywhere(state["forward"], state["record"])


def _hook(name: str, patch) -> PostImportHook:
    """Runs `patch(state, module)` when `name` is imported, if the enable() that made
    this hook is still the current one (an import already under way when disable()
    removed the hook still reaches its loader)."""

    def loaded(module):
        with _lock:
            if _state is not None and hook in _state.get("hooks", ()):
                patch(_state, module)

    hook = PostImportHook(lambda fullname: fullname == name, loaded)
    return hook


# -- the switch ------------------------------------------------------------------------------------
def enable() -> None:
    """Make safetensors (and transformers, and the hub helpers if present) read .zipw
    files and folders. Idempotent; if it fails, nothing stays patched."""
    global _state
    with _lock:
        if _state is not None:
            return
        orig = _originals()
        wrappers = _make_wrappers(orig)
        forward = {orig[k]: wrappers[k] for k in orig}
        state = {"orig": orig, "wrappers": wrappers, "forward": forward, "record": [], "from_pretrained": None,
                 "hooks": [], "hub": None}
        _state = state  # from here on disable() can undo whatever was done
        try:
            _swap_everywhere(forward, state["record"])
            _patch_transformers(state)
            # safetensors.torch imports torch, which enable() must not do: if it is imported
            # later, patch it as it arrives; transformers likewise.
            if "torch.load_file" not in orig:
                state["hooks"].append(_hook("safetensors.torch", _patch_safetensors_torch))
            if state["from_pretrained"] is None:
                state["hooks"].append(_hook(_TRANSFORMERS_MODULE, lambda st, m: _patch_transformers(st)))
            for h in state["hooks"]:
                sys.meta_path.insert(0, h)
            hub = _hub()
            if hub is not None:
                hub.enable()
                state["hub"] = hub
        except BaseException:
            disable()
            raise


def _patch_safetensors_torch(state, module) -> None:
    orig = {"torch.load_file": module.load_file, "torch.load": module.load}
    wrappers = _make_wrappers(orig)
    for k, o in orig.items():
        state["orig"][k] = o
        state["wrappers"][k] = wrappers[k]
        state["forward"][o] = wrappers[k]
    _swap_everywhere({o: wrappers[k] for k, o in orig.items()}, state["record"])


def disable() -> None:
    """Undo `enable()`: every patched attribute gets its original object back."""
    global _state
    with _lock:
        state, _state = _state, None
        if state is None:
            return
        for h in state.get("hooks", ()):
            if h in sys.meta_path:
                sys.meta_path.remove(h)
        if state.get("from_pretrained") is not None:
            cls, original = state["from_pretrained"]
            setattr(cls, "from_pretrained", original)
        for mod, name, value in reversed(state["record"]):
            try:
                mod.__dict__[name] = value
            except Exception:
                pass
        # copies of the wrappers bound while enabled (modules imported meanwhile)
        _swap_everywhere({w: state["orig"][k] for k, w in state["wrappers"].items()}, None)
        hub = state.get("hub")
        if hub is not None:
            hub.disable()
        _cleanup_shadows()


def is_enabled() -> bool:
    return _state is not None


@contextlib.contextmanager
def enabled():
    """`with zipweights.enabled(): ...` turns transparent mode on for the block (and
    leaves it on afterwards if it was on before).

    Blocks are counted, not each compared with the state it found: with blocks in
    several threads, the one that found the mode off may end first, and turning it
    off then would pull the patches from under the others. The mode goes back to
    what it was before the first block when the last block ends."""
    global _blocks, _off_after_blocks
    with _lock:
        if _blocks == 0:
            _off_after_blocks = not is_enabled()
        enable()
        _blocks += 1
    try:
        yield
    finally:
        with _lock:
            _blocks -= 1
            if _blocks == 0 and _off_after_blocks:
                disable()


def _hub():
    try:
        from .hub import transparent as hub_transparent
    except ImportError:
        return None
    if not (hasattr(hub_transparent, "enable") and hasattr(hub_transparent, "disable")):
        return None
    return hub_transparent


def _cleanup_shadows() -> None:
    with _lock:
        dirs = list(_shadow_dirs)
        _shadow_dirs.clear()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_shadows)
