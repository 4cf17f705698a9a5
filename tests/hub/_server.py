"""A Hugging Face-compatible Hub on loopback for the tests: olah serving local git repos
(through _olah_hub.py, which answers a missing file the way the Hub does).

Repos live at <root>/mirrors/models/<org>/<name>; big files are committed as git-lfs
pointer files with their content under .git/lfs/objects/<oid[:2]>/<oid[2:4]>/<oid>, the
way git-lfs would store them (no git-lfs binary needed). Nothing here reaches any host
but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

LFS_SUFFIXES = (".safetensors", ".zipw", ".bin", ".pt", ".onnx")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_env(prefix: str) -> tuple[int, str]:
    """Point this process's huggingface_hub at a loopback hub on a free port, with its
    home in a new temporary folder, before huggingface_hub is imported (the benchmarks'
    set-up; the tests' conftest does the same per test): (port, that folder)."""
    import tempfile

    port = free_port()
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    root = tempfile.mkdtemp(prefix=prefix)
    os.environ["HF_HOME"] = os.path.join(root, "hf_home")
    return port, root


def _git(repo: str, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_NOSYSTEM="1", HOME=repo)
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


class HubServer:
    def __init__(self, root: str, port: int | None = None):
        self.root = root
        self.mirrors = os.path.join(root, "mirrors")
        self.repos_path = os.path.join(root, "repos")
        os.makedirs(os.path.join(self.mirrors, "models"), exist_ok=True)
        os.makedirs(self.repos_path, exist_ok=True)
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    # -- server ---------------------------------------------------------------------
    def start(self) -> None:
        conf = os.path.join(self.root, "olah.toml")
        with open(conf, "w") as f:
            f.write(
                "[basic]\n"
                f'host = "127.0.0.1"\nport = {self.port}\n'
                f'repos-path = "{self.repos_path}"\n'
                f'mirror-netloc = "127.0.0.1:{self.port}"\nmirror-lfs-netloc = "127.0.0.1:{self.port}"\n'
                f'mirrors-path = ["{self.mirrors}"]\n'
                "[accessibility]\noffline = true\n"
            )
        logs = os.path.join(self.root, "logs")
        os.makedirs(logs, exist_ok=True)
        self.log = open(os.path.join(logs, "stdout.txt"), "wb")
        launcher = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_olah_hub.py")
        self.proc = subprocess.Popen(
            [sys.executable, launcher, "-c", conf, "--log-path", logs],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root,
            env=dict(os.environ, ZIPW_OLAH_MIRRORS=self.mirrors),
        )

    def wait_ready(self, repo_id: str, timeout: float = 30.0) -> None:
        url = f"{self.endpoint}/api/models/{repo_id}/revision/main"
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError(f"olah did not answer {url} within {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    # -- repos ----------------------------------------------------------------------
    def repo_dir(self, repo_id: str) -> str:
        return os.path.join(self.mirrors, "models", *repo_id.split("/"))

    def olah_as_is(self, repo_id: str) -> None:
        """Let olah answer missing files of this repo its own way (RepoNotFound)."""
        open(os.path.join(self.repo_dir(repo_id), ".git", "zipw-olah-as-is"), "w").close()

    def commit(self, repo_id: str, files: dict, message: str = "update", delete=()) -> str:
        """Commit `files` ({path in repo: bytes, or a local file path as str}) to the repo
        (created if new); LFS for weight-like names. Returns the commit sha."""
        repo = self.repo_dir(repo_id)
        if not os.path.isdir(os.path.join(repo, ".git")):
            os.makedirs(repo, exist_ok=True)
            _git(repo, "init", "-q", "-b", "main")
            with open(os.path.join(repo, ".gitattributes"), "w") as f:
                for s in LFS_SUFFIXES:
                    f.write(f"*{s} filter=lfs diff=lfs merge=lfs -text\n")
            _git(repo, "add", ".gitattributes")
            # olah's model_info without a revision reads this file
            meta = os.path.join(self.repos_path, "api", "models", *repo_id.split("/"), "revision", "main")
            os.makedirs(meta, exist_ok=True)
        for path in delete:
            _git(repo, "rm", "-q", path)
        for path, content in files.items():
            dest = os.path.join(repo, *path.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if path.endswith(LFS_SUFFIXES):
                h, size = hashlib.sha256(), 0
                obj_tmp = os.path.join(repo, ".git", "lfs-incoming")
                if isinstance(content, (bytes, bytearray)):
                    h.update(content)
                    size = len(content)
                    with open(obj_tmp, "wb") as f:
                        f.write(content)
                else:
                    shutil.copyfile(content, obj_tmp)
                    with open(obj_tmp, "rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            h.update(block)
                            size += len(block)
                oid = h.hexdigest()
                obj = os.path.join(repo, ".git", "lfs", "objects", oid[:2], oid[2:4], oid)
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                os.replace(obj_tmp, obj)
                with open(dest, "w") as f:
                    f.write(f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n")
            else:
                if isinstance(content, (bytes, bytearray)):
                    with open(dest, "wb") as f:
                        f.write(content)
                else:
                    shutil.copyfile(content, dest)
            _git(repo, "add", path)
        _git(repo, "commit", "-q", "--allow-empty", "-m", message)
        return _git(repo, "rev-parse", "HEAD")
