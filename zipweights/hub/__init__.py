"""Hugging Face Hub integration: repos that hold X.safetensors.zipw instead of X.safetensors.

    from zipweights import hub
    path = hub.hf_hub_download("org/name", "model.safetensors")   # restored from .zipw
    folder = hub.snapshot_download("org/name")
    hub.upload_folder(repo_id="org/name", folder_path="ckpt/")     # uploads *.safetensors.zipw
    hub.enable()     # the same for unchanged code calling huggingface_hub / transformers
    hub.disable()

Signatures are huggingface_hub's. See download.py, upload.py, transparent.py, mirror.py.
"""

from .download import HubRestoreMixin, download_restored, hf_hub_download, snapshot_download
from .transparent import disable, enable, is_enabled
from .upload import create_commit, upload_file, upload_folder

__all__ = [
    "HubRestoreMixin",
    "create_commit",
    "disable",
    "download_restored",
    "enable",
    "hf_hub_download",
    "is_enabled",
    "snapshot_download",
    "upload_file",
    "upload_folder",
]
