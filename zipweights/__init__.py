"""zipweights: lossless compression for neural-network weights.

    import zipweights
    zipweights.compress_file("model.safetensors")            # -> model.safetensors.zipw
    zipweights.decompress_file("model.safetensors.zipw", "back.safetensors")

Names are imported on first use (PEP 562), so `import zipweights` and `zipw --version`
cost no numpy, no kernels and no safetensors until something is read or written.
"""

import importlib

from .errors import (
    BadMagicError,
    BaseMismatchError,
    BaseNotFoundError,
    ChecksumMismatchError,
    CorruptDataError,
    InvalidArgumentError,
    InvalidSafetensorsError,
    LimitExceededError,
    TensorNotFoundError,
    TruncatedDataError,
    UnsupportedFeatureError,
    UnsupportedVersionError,
    ZipWeightsError,
)

__version__ = "0.1.0"

_NAMES = {
    "ZipwFile": "reader",
    "decompress_file": "reader",
    "verify_file": "reader",
    "compress_file": "writer",
    "safe_open": "lazy",
    "enable": "transparent",
    "disable": "transparent",
    "enabled": "transparent",
    "is_enabled": "transparent",
}
# submodules reachable as attributes after a bare `import zipweights`, as when this file
# imported them eagerly
_SUBMODULES = {"reader", "writer", "lazy", "transparent", "dtypes", "codec", "format", "errors"}

__all__ = [
    "BadMagicError",
    "BaseMismatchError",
    "BaseNotFoundError",
    "ChecksumMismatchError",
    "CorruptDataError",
    "InvalidArgumentError",
    "InvalidSafetensorsError",
    "LimitExceededError",
    "TensorNotFoundError",
    "TruncatedDataError",
    "UnsupportedFeatureError",
    "UnsupportedVersionError",
    "ZipWeightsError",
    "ZipwFile",
    "compress_file",
    "decompress_file",
    "verify_file",
    "safe_open",
    "enable",
    "disable",
    "enabled",
    "is_enabled",
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'zipweights' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | _SUBMODULES)
