"""Transparent mode: unchanged code calling huggingface_hub (or transformers) works on
repos that hold compressed weights, and uploads compress.

`enable()` replaces, and `disable()` puts back exactly (the same objects, and attributes
that were not set are removed again), these names:

- public: `huggingface_hub.hf_hub_download`, `.snapshot_download`, `.create_commit`,
  `.upload_file`, `.upload_folder`, the same names in `huggingface_hub.hf_api`,
  `huggingface_hub.file_download.hf_hub_download`, and the methods
  `HfApi.create_commit`, `HfApi.upload_file`, `HfApi.upload_folder`;
- the home of the public `snapshot_download`, `huggingface_hub._snapshot_download`,
  which `HfApi.snapshot_download` imports from at call time (pinned by
  tests/hub/test_pins.py, as is `HfApi.hf_hub_download` importing from file_download);
- modules of transformers (and diffusers, sentence_transformers) that bound
  `hf_hub_download` / `snapshot_download` with `from huggingface_hub import ...`:
  those loaded now are rebound, those imported later are rebound as they load (an
  import hook active only while enabled).

Both functions are idempotent and thread-safe.
"""

from __future__ import annotations

import importlib
import sys
import types

from .. import basemodel
from .._hooks import HUB_LOCK as _LOCK, HUB_PATCHES as _PATCHES, PostImportHook, mark_ours

_FINDER = None
REBIND_PACKAGES = ("transformers", "diffusers", "sentence_transformers")


def is_enabled() -> bool:
    return bool(_PATCHES)


def _set(owner, name: str, value) -> None:
    d = owner.__dict__
    _PATCHES.append((owner, name, name in d, d.get(name)))
    setattr(owner, name, value)


def _replacements():
    from huggingface_hub import HfApi

    from . import download, upload

    funcs = {download.ORIG_HF_HUB_DOWNLOAD: download.hf_hub_download,
             download.ORIG_SNAPSHOT_DOWNLOAD: download.snapshot_download}
    methods = {"create_commit": upload.hf_create_commit, "upload_file": upload.hf_upload_file,
               "upload_folder": upload.hf_upload_folder}
    return HfApi, funcs, methods


def _rebind(module) -> None:
    """Point a module's `hf_hub_download` / `snapshot_download` bound from
    huggingface_hub at ours (only names that hold huggingface_hub's own functions)."""
    _, funcs, _ = _replacements()
    originals = {v: k for k, v in funcs.items()}
    d = getattr(module, "__dict__", {})
    for name in ("hf_hub_download", "snapshot_download"):
        value = d.get(name)
        if value is None:
            continue
        if value in funcs:
            _set(module, name, funcs[value])
        elif value in originals:  # imported while enabled: bound ours; disable() gives it the original
            _PATCHES.append((module, name, True, originals[value]))


def _wanted(fullname: str) -> bool:
    return fullname.split(".", 1)[0] in REBIND_PACKAGES and is_enabled()


def _loaded(module) -> None:
    with _LOCK:
        if is_enabled():
            _rebind(module)


def enable() -> None:
    """Route huggingface_hub downloads and uploads through zipweights.hub."""
    global _FINDER
    with _LOCK:
        if is_enabled():
            return
        import huggingface_hub
        from huggingface_hub import file_download, hf_api

        snapshot_module = importlib.import_module("huggingface_hub._snapshot_download")
        HfApi, funcs, methods = _replacements()
        for fn in list(funcs.values()) + list(methods.values()):
            mark_ours(fn)
        from . import download

        try:
            _set(huggingface_hub, "hf_hub_download", download.hf_hub_download)
            _set(huggingface_hub, "snapshot_download", download.snapshot_download)
            _set(file_download, "hf_hub_download", download.hf_hub_download)
            _set(snapshot_module, "snapshot_download", download.snapshot_download)
            for name, fn in methods.items():
                _set(HfApi, name, fn)
                bound = types.MethodType(fn, hf_api.api)
                _set(hf_api, name, bound)
                _set(huggingface_hub, name, bound)
            for modname, module in list(sys.modules.items()):
                if module is not None and modname.split(".", 1)[0] in REBIND_PACKAGES:
                    _rebind(module)
            _FINDER = PostImportHook(_wanted, _loaded)
            sys.meta_path.insert(0, _FINDER)
            basemodel.add_resolver(download.resolve_from_hub)  # delta files find bases on the hub
        except BaseException:
            _undo()
            raise


def _undo() -> None:
    global _FINDER
    if "zipweights.hub.download" in sys.modules:
        basemodel.remove_resolver(sys.modules["zipweights.hub.download"].resolve_from_hub)
    if _FINDER is not None:
        try:
            sys.meta_path.remove(_FINDER)
        except ValueError:
            pass
        _FINDER = None
    while _PATCHES:
        owner, name, had, old = _PATCHES.pop()
        if had:
            setattr(owner, name, old)
        else:
            try:
                delattr(owner, name)
            except AttributeError:
                pass


def disable() -> None:
    """Put huggingface_hub (and the rebound modules) back exactly as they were."""
    with _LOCK:
        _undo()
