"""Transparent mode: safetensors and transformers read .zipw unchanged while enabled;
disable() puts every original object back (identity)."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import types

import numpy as np
import pytest
import safetensors
import safetensors.numpy as st_np
import safetensors.torch as st_pt
import torch

import zipweights
from zipweights import transparent

from .conftest import tensor_bytes


def _public_objects():
    """Every object transparent mode may replace, where it lives now."""
    objs = {
        "safetensors.safe_open": safetensors.safe_open,
        "safetensors.numpy.safe_open": st_np.safe_open,
        "safetensors.torch.safe_open": st_pt.safe_open,
        "safetensors.numpy.load_file": st_np.load_file,
        "safetensors.numpy.load": st_np.load,
        "safetensors.torch.load_file": st_pt.load_file,
        "safetensors.torch.load": st_pt.load,
    }
    mu = sys.modules.get("transformers.modeling_utils")
    if mu is not None:
        objs["transformers.modeling_utils.safe_open"] = mu.safe_open
        objs["transformers.modeling_utils._safe_load_bytes"] = getattr(mu, "_safe_load_bytes", None)
        objs["PreTrainedModel.__dict__[from_pretrained]"] = mu.PreTrainedModel.__dict__["from_pretrained"]
    return objs


@pytest.fixture(autouse=True)
def _always_disabled_after():
    yield
    zipweights.disable()


def test_safetensors_reads_zipw_while_enabled_and_not_after(mixed_files):
    zw, st = mixed_files["zipw"], mixed_files["st"]
    ref = st_pt.load_file(st)
    with pytest.raises(safetensors.SafetensorError):
        st_pt.load_file(zw)
    zipweights.enable()
    assert zipweights.is_enabled()
    got = st_pt.load_file(zw)  # the module attribute, called as users do
    assert list(got) == list(ref) and all(tensor_bytes(got[k]) == tensor_bytes(ref[k]) for k in ref)
    with safetensors.safe_open(zw, framework="pt", device="cpu", backend="mmap") as f:
        assert f.keys() == sorted(ref) and f.metadata() == {"format": "pt"}
        assert tensor_bytes(f.get_slice("big.f32")[3:5]) == tensor_bytes(ref["big.f32"][3:5])
    npgot = st_np.load_file(zw)
    assert tensor_bytes(npgot["big.f32"]) == tensor_bytes(ref["big.f32"])
    assert tensor_bytes(st_pt.load(open(zw, "rb").read())["i64"]) == tensor_bytes(ref["i64"])
    assert tensor_bytes(st_np.load(open(zw, "rb").read())["i64"]) == tensor_bytes(ref["i64"])
    # plain files are untouched: the very object safetensors returns
    with safetensors.safe_open(st, "pt") as f:
        assert type(f).__module__ == "builtins"
    zipweights.disable()
    assert not zipweights.is_enabled()
    with pytest.raises(safetensors.SafetensorError):
        st_pt.load_file(zw)


def test_missing_name_falls_back_to_zipw_sibling(mixed_files, tmp_path):
    shutil.copy(mixed_files["zipw"], tmp_path / "shard.safetensors.zipw")
    with zipweights.enabled():
        got = st_pt.load_file(str(tmp_path / "shard.safetensors"))
    assert tensor_bytes(got["i8"]) == tensor_bytes(mixed_files["tensors"]["i8"])


def test_recognised_by_magic_not_name(mixed_files, tmp_path):
    odd = tmp_path / "weights.bin"
    shutil.copy(mixed_files["zipw"], odd)
    with zipweights.enabled():
        assert tensor_bytes(st_pt.load_file(str(odd))["i8"]) == tensor_bytes(mixed_files["tensors"]["i8"])


def test_disable_restores_every_original_object(tmp_path, monkeypatch):
    import transformers.modeling_utils  # noqa: F401  (a test dependency: missing = failure)  (so its import-time copies are covered)

    before = _public_objects()
    zipweights.enable()
    during = _public_objects()
    for k in ("safetensors.safe_open", "safetensors.torch.safe_open", "safetensors.torch.load_file",
              "transformers.modeling_utils.safe_open", "PreTrainedModel.__dict__[from_pretrained]"):
        assert during[k] is not before[k], k
    # a module imported while enabled binds the wrappers; disable() finds it too
    (tmp_path / "zw_bound_late.py").write_text(
        "from safetensors import safe_open\nfrom safetensors.torch import load_file as lf\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    late = importlib.import_module("zw_bound_late")
    assert late.safe_open is safetensors.safe_open is not before["safetensors.safe_open"]
    zipweights.enable()  # idempotent
    zipweights.disable()
    after = _public_objects()
    for k in before:
        assert after[k] is before[k], k
    assert late.safe_open is before["safetensors.safe_open"]
    assert late.lf is before["safetensors.torch.load_file"]
    zipweights.disable()  # idempotent
    sys.modules.pop("zw_bound_late", None)


def test_context_manager_nests(mixed_files):
    with zipweights.enabled():
        with zipweights.enabled():
            assert zipweights.is_enabled()
        assert zipweights.is_enabled()
    assert not zipweights.is_enabled()
    zipweights.enable()
    with zipweights.enabled():
        pass
    assert zipweights.is_enabled()


def test_one_switch_also_drives_the_hub_hooks(monkeypatch):
    calls = []
    fake = types.ModuleType("zipweights.hub.transparent")
    fake.enable = lambda: calls.append("on")
    fake.disable = lambda: calls.append("off")
    monkeypatch.setitem(sys.modules, "zipweights.hub.transparent", fake)
    import zipweights.hub as hub_pkg

    monkeypatch.setattr(hub_pkg, "transparent", fake, raising=False)
    with zipweights.enabled():
        assert calls == ["on"]
    assert calls == ["on", "off"]


# -- transformers -------------------------------------------------------------------------
def _tiny_bert():
    from transformers import BertConfig, BertModel

    cfg = BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    return BertModel(cfg).eval()


def _tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(vocab_size=120, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                     bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg).eval()


def _compress_folder(folder):
    names = sorted(n for n in os.listdir(folder) if n.endswith(".safetensors"))
    assert names
    for n in names:
        zipweights.compress_file(os.path.join(folder, n), threads=2)
        os.remove(os.path.join(folder, n))
    return names


def _same_model(a, b, x, out):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and tensor_bytes(sa[k]) == tensor_bytes(sb[k]), k
    with torch.no_grad():
        assert tensor_bytes(out(a(x))) == tensor_bytes(out(b(x)))


def test_transformers_loads_a_compressed_folder(tmp_path):
    import transformers
    m = _tiny_bert()
    folder = str(tmp_path / "bert")
    m.save_pretrained(folder)
    _compress_folder(folder)
    assert "model.safetensors" not in os.listdir(folder)
    x = torch.tensor([[1, 5, 7, 9, 2, 3]])
    with zipweights.enabled():
        m2 = transformers.AutoModel.from_pretrained(folder).eval()
    assert m2.name_or_path == folder and m2.config._name_or_path == folder
    _same_model(m, m2, x, lambda o: o.last_hidden_state)
    with pytest.raises(OSError):
        transformers.AutoModel.from_pretrained(folder)  # disabled again: transformers unchanged


def test_transformers_loads_a_sharded_compressed_folder(tmp_path):
    import transformers
    m = _tiny_gpt2()
    folder = str(tmp_path / "gpt2")
    m.save_pretrained(folder, max_shard_size="40KB")
    names = _compress_folder(folder)
    assert len(names) > 1 and "model.safetensors.index.json" in os.listdir(folder)
    x = torch.tensor([[1, 5, 7, 9, 2, 3]])
    with zipweights.enabled():
        m2 = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    _same_model(m, m2, x, lambda o: o.logits)
    assert m2.lm_head.weight.data_ptr() == m2.transformer.wte.weight.data_ptr()  # still tied


def test_transformers_imported_after_enable_is_hooked(tmp_path):
    """Run in a fresh interpreter: enable() first, transformers imported later."""
    import subprocess

    m = _tiny_bert()
    folder = str(tmp_path / "bert")
    m.save_pretrained(folder)
    _compress_folder(folder)
    ref = str(tmp_path / "ref.pt")
    torch.save({k: v.clone() for k, v in m.state_dict().items()}, ref)
    code = f"""
import sys, torch, zipweights
zipweights.enable()
assert 'transformers' not in sys.modules
from transformers import AutoModel
m = AutoModel.from_pretrained({folder!r})
ref = torch.load({ref!r})
sd = m.state_dict()
assert list(sd) == list(ref)
assert all(torch.equal(sd[k].view(-1).view(torch.uint8), ref[k].view(-1).view(torch.uint8)) for k in ref)
zipweights.disable()
import safetensors, transformers.modeling_utils as mu
assert mu.safe_open is safetensors.safe_open and type(safetensors.safe_open).__module__ == 'builtins'
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]


def test_enabled_blocks_in_threads_keep_the_mode_until_the_last_ends():
    import threading

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with zipweights.enabled():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with zipweights.enabled():
            b_in.set()
            a_out.wait(10)
            seen["after a ended"] = zipweights.is_enabled()

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert seen == {"after a ended": True}  # a found the mode off, but b was still inside
    assert not zipweights.is_enabled()


def test_failed_enable_leaves_nothing_patched(monkeypatch):
    original = safetensors.safe_open

    class BrokenHub:
        @staticmethod
        def enable():
            raise ImportError("simulated")

        @staticmethod
        def disable():
            raise AssertionError("never enabled, so never disabled")

    monkeypatch.setattr(transparent, "_hub", lambda: BrokenHub)
    with pytest.raises(ImportError, match="simulated"):
        zipweights.enable()
    assert not zipweights.is_enabled()
    assert safetensors.safe_open is original and st_pt.safe_open is original
    assert not any(isinstance(f, transparent.PostImportHook) for f in sys.meta_path)


def test_post_import_hooks_wanting_the_same_module_both_run(tmp_path, monkeypatch):
    (tmp_path / "zw_hooked.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []
    hooks = [transparent.PostImportHook(lambda n: n == "zw_hooked", lambda m, i=i: calls.append((i, m.x)))
             for i in range(2)]
    for h in hooks:
        sys.meta_path.insert(0, h)
    try:
        importlib.import_module("zw_hooked")
    finally:
        for h in hooks:
            sys.meta_path.remove(h)
        sys.modules.pop("zw_hooked", None)
    assert sorted(calls) == [(0, 1), (1, 1)]
