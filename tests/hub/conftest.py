"""Fixtures for the Hub tests: an olah server on loopback serving local git repos.

The server is started once per session (a free port found by binding port 0 on
127.0.0.1) and stopped at the end; every test gets its own HF_HOME / cache under
tmp_path. huggingface_hub's HF_ENDPOINT is read at import, so the endpoint is passed
explicitly or patched into huggingface_hub.constants.
"""

from __future__ import annotations

import os
import sys

import pytest

# before huggingface_hub is imported by anything in this session
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

sys.path.insert(0, os.path.dirname(__file__))
from _server import HubServer, free_port  # noqa: E402

# The port is chosen now so that anything importing huggingface_hub or transformers
# later in this session reads a loopback HF_ENDPOINT; no test can reach another host.
PORT = free_port()
os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{PORT}"


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    pytest.importorskip("olah")
    server = HubServer(str(tmp_path_factory.mktemp("hub")), port=PORT)
    server.commit("zipw-test/ready", {"README.md": b"ready\n"})
    server.start()
    try:
        server.wait_ready("zipw-test/ready")
        yield server
    finally:
        server.stop()


@pytest.fixture
def hf_env(hub, tmp_path, monkeypatch):
    """Point huggingface_hub at the loopback server and a fresh cache."""
    from huggingface_hub import constants

    home = tmp_path / "hf_home"
    cache = home / "hub"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # HF_HUB_DISABLE_XET=1 even if huggingface_hub was imported before this conftest
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "")
    return str(cache)


class CommitCapture:
    """The upload boundary. No local Hub server accepts uploads (olah answers 405), so
    HfApi.create_commit is replaced: the operations huggingface_hub was handed are
    recorded, and their files are committed into the git repo that olah serves, from
    where the tests download them back over HTTP. Everything before create_commit
    (our compression, huggingface_hub's own operation building) runs for real;
    huggingface_hub's preupload/LFS/xet transport does not."""

    def __init__(self, hub):
        self.hub = hub
        self.commits = []  # (repo_id, [operation, ...])

    def create_commit(self, api, repo_id, operations, *, commit_message="", **kwargs):
        from huggingface_hub import CommitInfo, CommitOperationAdd, CommitOperationDelete

        ops = list(operations)
        self.commits.append((repo_id, ops))
        files, delete = {}, []
        for op in ops:
            if isinstance(op, CommitOperationAdd):
                src = op.path_or_fileobj
                if isinstance(src, (bytes, bytearray)):
                    files[op.path_in_repo] = bytes(src)
                elif hasattr(src, "read"):
                    src.seek(0)
                    files[op.path_in_repo] = src.read()
                else:
                    files[op.path_in_repo] = str(src)
            elif isinstance(op, CommitOperationDelete):
                delete.append(op.path_in_repo)
        sha = self.hub.commit(repo_id, files, message=commit_message or "upload", delete=delete)
        return CommitInfo(commit_url=f"{self.hub.endpoint}/{repo_id}/commit/{sha}", commit_message=commit_message,
                          commit_description="", oid=sha, pr_url=None)

    @property
    def paths(self):
        return [op.path_in_repo for _, ops in self.commits for op in ops]


@pytest.fixture
def capture(hub, monkeypatch):
    from huggingface_hub import HfApi

    cap = CommitCapture(hub)

    def create_commit(self, repo_id, operations, **kwargs):
        return cap.create_commit(self, repo_id, operations, **kwargs)

    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    monkeypatch.setattr(HfApi, "_validate_yaml", lambda self, *a, **k: None)  # olah has no /api/validate-yaml
    monkeypatch.setattr(HfApi, "create_repo", lambda self, repo_id, **k: None, raising=False)
    return cap


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection these tests open goes to 127.0.0.1 (olah itself runs offline)."""
    import socket

    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def _check(host):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"a test tried to reach {host!r}; only loopback is allowed")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            _check(address[0])
        return real_connect(self, address)

    def getaddrinfo(host, *a, **k):
        _check(host.decode() if isinstance(host, bytes) else host)
        return real_getaddrinfo(host, *a, **k)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
