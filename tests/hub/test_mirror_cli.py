"""`zipw mirror` as a user runs it (a real subprocess against olah on loopback): the
overall bar moves while the first big file is still downloading (a proxy holds that
download half way until the bar has said so), -v into a log is plain lines, what the
mirror adds to the destination (README.md's note, .zipw-mirror.json) is listed by
--dry-run, and --restore gives the model card back byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "cli"))
from _zipw_cli import zipw_command  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from _flaky_proxy import HoldingProxy  # noqa: E402

from zipweights.format import safetensors_header as sth  # noqa: E402

BIG = "a-big.safetensors"


def _weights(n: int, seed: int = 0) -> bytes:
    x = (np.random.default_rng(seed).standard_normal(n) * 0.02).astype(np.float32)
    raw = x.tobytes()
    return sth.build([("w", "F32", (n,), len(raw))], {"format": "pt"}) + raw


def _env(tmp_path, *, hf_bars: bool = False) -> dict:
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf_home"), HF_HUB_CACHE=str(tmp_path / "hf_home" / "hub"),
               HF_HUB_DISABLE_XET="1", HF_TOKEN="")
    if hf_bars:  # huggingface_hub's own bars left on: zipw must turn them off itself
        env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    return env


def _zipw(*args, env) -> subprocess.CompletedProcess:
    return subprocess.run([*zipw_command(), *map(str, args)], capture_output=True, env=env)


@pytest.fixture(scope="module")
def big_repo(hub):
    """A repo whose first file is bigger than huggingface_hub's 10 MB download chunk."""
    files = {BIG: _weights(6_000_000), "config.json": b'{"model_type": "x"}', "README.md": b"# Big\n\nno newline"}
    hub.commit("mcli/big", files)
    return files


def test_overall_bar_moves_while_the_first_file_downloads(hub, big_repo, tmp_path):
    size = len(big_repo[BIG])
    with HoldingProxy(hub.port, BIG, hold_at=12 << 20) as proxy:
        proc = subprocess.Popen([*zipw_command(), "mirror", "-v", "--endpoint", proxy.endpoint, "mcli/big",
                                 str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env(tmp_path, hf_bars=True))
        lines, during = [], []
        for raw in proc.stderr:
            line = raw.decode()
            lines.append(line)
            if proxy.holding.is_set() and not proxy.resumed.is_set() and line.startswith("mcli/big: file 1/2"):
                during.append(line)  # the overall bar, with half of the big file still to come
                proxy.release.set()
        proc.wait()
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert during and "%" in during[0] and BIG in during[0], text
    assert "\r" not in text  # plain lines into a pipe, huggingface_hub's bars off
    overall = [x for x in lines if x.startswith("mcli/big: file ")]
    per_file = [x for x in lines if x.startswith(f"{BIG}: ")]
    assert overall[-1].startswith("mcli/big: file 2/2, config.json: 100%"), overall
    assert per_file and per_file[-1].startswith(f"{BIG}: 100%"), text
    # the overall bar spoke before the big file was coded at all
    assert lines.index(during[0]) < lines.index(per_file[0])
    assert os.path.getsize(tmp_path / "out" / (BIG + ".zipw")) < size


def test_what_the_mirror_adds_is_listed_and_restore_gives_the_card_back(hub, big_repo, tmp_path):
    env = _env(tmp_path)
    ep = ("--endpoint", hub.endpoint)
    r = _zipw("mirror", *ep, "--dry-run", "mcli/big", tmp_path / "m", env=env)
    assert r.returncode == 0, r.stderr
    out = r.stderr.decode().splitlines()
    assert any(x.startswith("would write README.md: the source's card with a note between <!-- zipw-mirror -->")
               for x in out), out
    assert any(x.startswith("would write .zipw-mirror.json") for x in out), out
    assert not (tmp_path / "m").exists()
    r = _zipw("mirror", *ep, "-q", "mcli/big", tmp_path / "m", env=env)
    assert r.returncode == 0, r.stderr
    card = (tmp_path / "m" / "README.md").read_bytes()
    assert card.startswith(b"# Big\n\nno newline\n<!-- zipw-mirror -->\n") and card.endswith(b"<!-- /zipw-mirror -->\n")
    assert sorted(os.listdir(tmp_path / "m")) == [".zipw-mirror.json", "README.md", BIG + ".zipw", "config.json"]
    # the compressed folder as a repo, restored from there
    hub.commit("mcli/big-zipw", {n: str(tmp_path / "m" / n) for n in os.listdir(tmp_path / "m")})
    r = _zipw("mirror", *ep, "--restore", "-q", "mcli/big-zipw", tmp_path / "plain", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plain" / "README.md").read_bytes() == big_repo["README.md"]  # no newline added
    assert (tmp_path / "plain" / BIG).read_bytes() == big_repo[BIG]


def test_a_card_that_was_only_the_note_is_not_restored(hub, tmp_path):
    env = _env(tmp_path)
    hub.commit("mcli/nocard", {"m.safetensors": _weights(3000, seed=1)})
    ep = ("--endpoint", hub.endpoint)
    assert _zipw("mirror", *ep, "-q", "mcli/nocard", tmp_path / "m", env=env).returncode == 0
    card = (tmp_path / "m" / "README.md").read_bytes()
    assert card.startswith(b"<!-- zipw-mirror -->\n**Compressed with")
    hub.commit("mcli/nocard-zipw", {n: str(tmp_path / "m" / n) for n in os.listdir(tmp_path / "m")})
    r = _zipw("mirror", *ep, "--restore", "-q", "mcli/nocard-zipw", tmp_path / "plain", env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "plain")) == [".zipw-mirror.json", "m.safetensors"]


@pytest.mark.parametrize("card", ["", "abc", "abc\n", "abc\n\n", "# t\r\n", "x\n\n\n"])
def test_note_comes_off_byte_for_byte(card):
    from zipweights.hub.mirror import add_note, strip_note

    noted = add_note(card, "NOTE")
    assert strip_note(noted) == card
    assert add_note(noted, "NEW") == add_note(card, "NEW")  # a rerun replaces the note, adds none


def test_restore_of_local_paths_is_a_usage_error(tmp_path):
    r = _zipw("mirror", "--restore", "./m2", "./r3", env=_env(tmp_path))
    err = r.stderr.decode()
    assert r.returncode == 2 and err.startswith("zipw: mirror: SRC ./m2 is a local path"), err
    assert "Traceback" not in err and "HFValidationError" not in err


def test_a_failing_pair_of_a_list_is_skipped_and_the_rest_done(hub, tmp_path):
    env = _env(tmp_path)
    hub.commit("mcli/small", {"m.safetensors": _weights(3000, seed=2), "README.md": b"# small\n"})
    lst = tmp_path / "pairs.txt"
    lst.write_text(f"mcli/no-such-repo {tmp_path / 'x'}\nmcli/small {tmp_path / 'y'}\n")
    r = _zipw("mirror", "--endpoint", hub.endpoint, "-q", "--list", lst, env=env)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert err.startswith(f"zipw mirror: mcli/no-such-repo -> {tmp_path / 'x'}: "), err
    assert "Traceback" not in err and not (tmp_path / "x").exists()
    assert sorted(os.listdir(tmp_path / "y")) == [".zipw-mirror.json", "README.md", "m.safetensors.zipw"]


def test_on_a_terminal_our_bars_and_not_huggingface_hubs(hub, tmp_path):
    import shlex
    import shutil

    if shutil.which("script") is None:
        pytest.skip("no `script` to give zipw a terminal")
    hub.commit("mcli/tty", {"m.safetensors": _weights(3000, seed=3), "config.json": b"{}", "README.md": b"# t\n"})
    cmd = shlex.join([*zipw_command(), "mirror", "--endpoint", hub.endpoint, "mcli/tty", str(tmp_path / "o")])
    # a terminal of a known size: tqdm draws nothing on one of 0 columns
    r = subprocess.run(["script", "-qec", f"stty cols 120 rows 40; {cmd}", "/dev/null"], capture_output=True,
                       env=_env(tmp_path, hf_bars=True))
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, out
    assert "mcli/tty: file 2/2, m.safetensors: 100%|" in out, out  # tqdm's bar, over the whole mirror
    assert "README.md:" not in out, out  # huggingface_hub's download bar of the card (ours name no card)
