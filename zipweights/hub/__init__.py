"""Hugging Face Hub integration: repos that hold X.safetensors.zipw instead of X.safetensors.

    from zipweights import hub
    path = hub.hf_hub_download("org/name", "model.safetensors")   # restored from .zipw
    folder = hub.snapshot_download("org/name")
    hub.upload_folder(repo_id="org/name", folder_path="ckpt/")     # uploads *.safetensors.zipw
    hub.enable()     # the same for unchanged code calling huggingface_hub / transformers
    hub.disable()

Signatures are huggingface_hub's. See download.py, upload.py, transparent.py, mirror.py.
Names are imported on first use, so `zipw` (whose `mirror` subcommand calls mirror.py)
starts without importing huggingface_hub.
"""

import importlib

WEIGHTS_SUFFIX = ".safetensors"  # the files the hub filters compress and restore

_NAMES = {
    "HubRestoreMixin": "download",
    "download_restored": "download",
    "hf_hub_download": "download",
    "snapshot_download": "download",
    "enable": "transparent",
    "disable": "transparent",
    "is_enabled": "transparent",
    "create_commit": "upload",
    "upload_file": "upload",
    "upload_folder": "upload",
    "mirror_file": "mirror",
    "FileRecord": "mirror",
}

__all__ = sorted(_NAMES)


def __getattr__(name):
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'zipweights.hub' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES))
