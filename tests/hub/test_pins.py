"""Pins on huggingface_hub / transformers internals that zipweights.hub relies on.

If one of these fails, huggingface_hub or transformers changed the way a name is looked
up, and transparent mode may silently stop reaching some callers: update
zipweights/hub/transparent.py (and download.py) before relaxing the pin.
"""

from __future__ import annotations

import importlib
import inspect

import huggingface_hub
from huggingface_hub import HfApi, file_download, hf_api


def test_hfapi_download_methods_import_at_call_time():
    # transparent.py patches the homes of the functions, not the methods
    assert "from .file_download import hf_hub_download" in inspect.getsource(HfApi.hf_hub_download)
    assert "from ._snapshot_download import snapshot_download" in inspect.getsource(HfApi.snapshot_download)
    snap = importlib.import_module("huggingface_hub._snapshot_download")
    assert snap.snapshot_download is huggingface_hub.snapshot_download


def test_module_level_upload_functions_are_bound_methods_of_one_api():
    for name in ("create_commit", "upload_file", "upload_folder"):
        f = getattr(hf_api, name)
        assert f.__self__ is hf_api.api and f.__func__ is getattr(HfApi, name), name


def test_helpers_used_by_download():
    assert file_download.repo_folder_name(repo_id="a/b", repo_type="model") == "models--a--b"
    assert file_download.REGEX_COMMIT_HASH.fullmatch("0" * 40)
    assert hasattr(huggingface_hub, "get_cached_repo_tree")
    from huggingface_hub.errors import IncompleteSnapshotError

    assert "snapshot_path" in inspect.signature(IncompleteSnapshotError.__init__).parameters


def test_upload_folder_reaches_create_commit_without_xet():
    src = inspect.getsource(HfApi.upload_folder)
    assert "is_xet_available()" in src and "self.create_commit(" in src


def test_transformers_binds_download_functions_at_import():
    import pytest

    pytest.importorskip("transformers")
    th = importlib.import_module("transformers.utils.hub")
    from zipweights.hub import download

    assert th.hf_hub_download in (download.ORIG_HF_HUB_DOWNLOAD, download.hf_hub_download)
    assert th.snapshot_download in (download.ORIG_SNAPSHOT_DOWNLOAD, download.snapshot_download)
    src = inspect.getsource(th.cached_files)
    assert "hf_hub_download(" in src and "snapshot_download(" in src


def test_the_suite_cannot_leave_loopback():
    import socket

    import pytest

    with pytest.raises(AssertionError, match="only loopback"):
        socket.create_connection(("huggingface.co", 443), timeout=1)
