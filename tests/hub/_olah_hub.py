"""Run olah with one correction: a missing file in an existing repo is answered as the
Hugging Face Hub answers it (404, X-Error-Code: EntryNotFound, X-Repo-Commit), where
olah 0.5.4 offline says RepoNotFound. huggingface_hub then raises RemoteEntryNotFoundError
and marks the file missing in its cache (.no_exist), as with the real Hub; transformers
needs that to probe for model.safetensors before the sharded index. A repo whose
.git holds a file named `zipw-olah-as-is` keeps olah's own answer (to test that path).

    python tests/hub/_olah_hub.py -c olah.toml --log-path DIR   (ZIPW_OLAH_MIRRORS=<mirrors dir>)
"""

import os
import subprocess
import sys
from urllib.parse import unquote

from olah import server
from starlette.responses import Response

MIRRORS = os.environ["ZIPW_OLAH_MIRRORS"]


@server.app.middleware("http")
async def entry_not_found(request, call_next):
    response = await call_next(request)
    if response.status_code not in (401, 404) or response.headers.get("x-error-code") != "RepoNotFound":
        return response
    parts = unquote(request.url.path).strip("/").split("/")
    if len(parts) < 5 or parts[2] != "resolve":
        return response
    org, name, revision = parts[0], parts[1], parts[3]
    repo = os.path.join(MIRRORS, "models", org, name)
    if not os.path.isdir(os.path.join(repo, ".git")) or os.path.exists(os.path.join(repo, ".git", "zipw-olah-as-is")):
        return response
    try:
        commit = subprocess.run(["git", "rev-parse", "--verify", "-q", revision + "^{commit}"], cwd=repo,
                                capture_output=True, text=True, check=True).stdout.strip()
    except subprocess.CalledProcessError:
        return response  # an unknown revision: olah's answer
    return Response(status_code=404, headers={"x-error-code": "EntryNotFound",
                                              "x-error-message": "Entry not found", "x-repo-commit": commit})


if __name__ == "__main__":
    sys.argv[0] = "olah"
    server.main()
