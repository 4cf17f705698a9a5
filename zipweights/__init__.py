"""zipweights: lossless compression for neural-network weights.

    import zipweights
    zipweights.compress_file("model.safetensors")            # -> model.safetensors.zipw
    zipweights.decompress_file("model.safetensors.zipw", "back.safetensors")
"""

from .errors import (
    BadMagicError,
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
from .reader import ZipwFile, decompress_file, verify_file
from .writer import compress_file
from .lazy import safe_open
from .transparent import disable, enable, enabled, is_enabled

__version__ = "0.1.0"

__all__ = [
    "BadMagicError",
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
