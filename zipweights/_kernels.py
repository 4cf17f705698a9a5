"""Which kernels run: the C extension (zipweights._ckernels) where it was built, else the
Numba ports (zipweights._numba), which produce the same bytes and raise the same errors.

ZIPWEIGHTS_KERNELS=c or =numba forces one (read once, at import). The codec calls
``_kernels.float_encode`` and the rest by attribute, so this module re-exports them under
the names the C module has always had; anything else the C module has (new kernels, the
tests' ``_simd``/``_set_simd``) is forwarded by ``__getattr__``.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

from .errors import UnsupportedFeatureError

ENV = "ZIPWEIGHTS_KERNELS"
BACKENDS = ("c", "numba")

# what every backend provides: the codec's whole use of the kernels
KERNELS = (
    "float_encode",
    "float_decode",
    "ent_encode",
    "ent_decode",
    "split_planes",
    "merge_planes",
    "sparse_split",
    "sparse_merge",
    "delta_encode",
    "delta_decode",
)


class KernelUnavailableError(UnsupportedFeatureError, AttributeError):
    """The backend in use has no kernel of that name (a Numba port not written yet).
    Also an AttributeError, so ``hasattr``/``getattr(..., default)`` keep their meaning."""


def _load_c():
    try:
        from . import _ckernels
    except ImportError as e:
        return None, e
    return _ckernels, None


def _load_numba():
    try:
        import numba  # noqa: F401  (the one optional dependency this backend needs)
    except ImportError as e:
        return None, e
    from . import _numba

    return _numba, None


def _in_source_tree():
    """The checkout this package is imported from, if it is one (csrc/ and setup.py
    beside the package), for a message that says how to build there."""
    import pathlib  # only on this failure path: every zipw start imports this module

    root = pathlib.Path(__file__).resolve().parent.parent
    return root if (root / "csrc").is_dir() and (root / "setup.py").is_file() else None


def _choose():
    forced = os.environ.get(ENV, "").strip().lower()
    if forced and forced not in BACKENDS:
        raise ImportError(f"{ENV}={os.environ[ENV]!r}: expected one of {', '.join(BACKENDS)} (or unset)")
    if forced == "c":
        mod, err = _load_c()
        if mod is None:
            raise ImportError(
                f"{ENV}=c but the C kernels (zipweights._ckernels) are not built or do not load "
                f"({err}); build them with a C compiler (pip install . / python setup.py "
                f"build_ext --inplace), or unset {ENV} to use the Numba kernels"
            ) from err
        return "c", mod
    if forced == "numba":
        mod, err = _load_numba()
        if mod is None:
            raise ImportError(
                f"{ENV}=numba but numba is not installed ({err}); pip install numba, "
                f"or unset {ENV} to use the C kernels"
            ) from err
        return "numba", mod
    mod, c_err = _load_c()
    if mod is not None:
        return "c", mod
    mod, nb_err = _load_numba()
    root = _in_source_tree()
    if mod is not None:
        if root is not None:
            # from a checkout the missing build is most likely an oversight: say so once
            # (the Numba kernels give the same bytes, after a JIT start-up)
            warnings.warn(
                f"zipweights is imported from its source tree ({root}), where its C kernels are "
                f"not built ({c_err}); running on the Numba kernels instead (the same bytes, "
                f"slower to start). Either build the C kernels there (python setup.py build_ext "
                f"--inplace, or pip install -e .), or import zipweights from outside the source "
                f"tree to use the installed one. Set {ENV}=numba to silence this.",
                RuntimeWarning,
                stacklevel=2,
            )
        return "numba", mod
    if root is not None:
        # numpy's habit: an import from a checkout names the checkout and the ways out
        raise ImportError(
            f"zipweights is imported from its source tree ({root}), where its C kernels are "
            f"not built ({c_err}) and numba is not installed ({nb_err}). Either build the C "
            f"kernels there (python setup.py build_ext --inplace, or pip install -e .), or "
            f"pip install numba to run the Numba kernels; or import zipweights from outside "
            f"the source tree if it is installed elsewhere."
        ) from c_err
    raise ImportError(
        f"zipweights has no kernels: the C extension was not built when it was installed "
        f"({c_err}) and numba is not installed ({nb_err}); pip install numba, or reinstall "
        f"zipweights where a C compiler is available"
    ) from c_err


BACKEND, _impl = _choose()

float_encode = _impl.float_encode
float_decode = _impl.float_decode
ent_encode = _impl.ent_encode
ent_decode = _impl.ent_decode
split_planes = _impl.split_planes
merge_planes = _impl.merge_planes
sparse_split = _impl.sparse_split
sparse_merge = _impl.sparse_merge
delta_encode = _impl.delta_encode
delta_decode = _impl.delta_decode


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(_impl, name)
    except AttributeError:
        pass
    if BACKEND == "numba":
        have_c = importlib.util.find_spec(f"{__package__}._ckernels") is not None
        raise KernelUnavailableError(
            f"kernel {name!r} is not in the Numba kernels (the backend in use"
            + (f", {ENV}=numba" if os.environ.get(ENV) else "")
            + "); it needs the C kernels: "
            + (f"unset {ENV}" if have_c else "install zipweights where a C compiler is available")
        )
    raise AttributeError(f"module {__name__!r} (C kernels) has no attribute {name!r}")
