"""Set up every Ray worker process of the Ray mirror tests (runtime_env
worker_process_setup_hook "_ray_worker.setup"; tests/hub on the workers' PYTHONPATH).

- Uploads: no local server accepts them, so, as conftest.CommitCapture does in the test
  process, HfApi.create_commit commits the operations it is handed into the git repo that
  olah serves (ZIPW_TEST_HUB_ROOT, ZIPW_TEST_HUB_PORT). The workers are other processes, so
  that fixture cannot reach them; this is its counterpart there.
- A log (ZIPW_TEST_EVENTS, one JSON line per event, appended with O_APPEND so lines from
  many processes never interleave): "compressed" after each real compress_file returns,
  "committed" after each commit, both tagged with ZIPW_TEST_RUN. The tests count them to
  show that no file is compressed or uploaded twice. Nothing is replaced but the upload
  boundary: compress_file is the real one, called through.
"""

from __future__ import annotations

import json
import os
import time


def event(kind: str, **fields) -> None:
    path = os.environ.get("ZIPW_TEST_EVENTS")
    if not path:
        return
    line = json.dumps(dict(fields, event=kind, run=os.environ.get("ZIPW_TEST_RUN", ""), pid=os.getpid(),
                           t=time.time())) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def setup() -> None:
    from zipweights.hub import mirror

    real = mirror.compress_file

    def compress_file(src, dst, **kwargs):
        stats = real(src, dst, **kwargs)
        event("compressed", sha256=stats.sha256, output=os.path.relpath(dst, os.path.dirname(os.path.dirname(dst))))
        return stats

    mirror.compress_file = compress_file

    root = os.environ.get("ZIPW_TEST_HUB_ROOT")
    if not root:
        return
    from _server import HubServer
    from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi

    hub = HubServer(root, port=int(os.environ["ZIPW_TEST_HUB_PORT"]))

    def create_commit(self, repo_id, operations, *, commit_message="", **kwargs):
        files = {}
        for op in operations:
            if isinstance(op, CommitOperationAdd):
                src = op.path_or_fileobj
                files[op.path_in_repo] = bytes(src) if isinstance(src, (bytes, bytearray)) else str(src)
        sha = hub.commit(repo_id, files, message=commit_message or "upload")
        for path in files:
            event("committed", repo=repo_id, path=path)
        return CommitInfo(commit_url=f"{hub.endpoint}/{repo_id}/commit/{sha}", commit_message=commit_message,
                          commit_description="", oid=sha, pr_url=None)

    HfApi.create_commit = create_commit
    HfApi.create_repo = lambda self, repo_id, **kwargs: None
