"""One exception hierarchy for everything zipweights can refuse.

Every error raised on bad input is a ZipWeightsError; its kind tells a caller what went
wrong without parsing the message, and the message names the file, tensor or chunk.
"""


class ZipWeightsError(Exception):
    """Base class of every error zipweights raises on bad input or arguments."""


class BadMagicError(ZipWeightsError):
    """The file does not start with the zipweights magic: not a .zipw file."""


class CorruptDataError(ZipWeightsError):
    """A structure or payload violates the format."""


class TruncatedDataError(CorruptDataError):
    """The data ends before a structure it declares."""


class ChecksumMismatchError(CorruptDataError):
    """Decoded bytes do not hash to the checksum stored at compression time."""


class LimitExceededError(ZipWeightsError):
    """A declared size is beyond what this decoder accepts (checked before allocating)."""


class UnsupportedVersionError(ZipWeightsError):
    """The file was written by a newer format version than this reader knows."""


class UnsupportedFeatureError(ZipWeightsError):
    """The file uses a codec, transform or flag this reader does not implement."""


class InvalidArgumentError(ZipWeightsError, ValueError):
    """A caller passed an argument zipweights cannot act on (also a ValueError)."""


class InvalidSafetensorsError(InvalidArgumentError):
    """An input meant to be a safetensors file breaks safetensors' own rules."""


class BaseMismatchError(InvalidArgumentError):
    """The base model given is not the one a delta file was coded against (the message
    names both sha256s)."""


class BaseNotFoundError(InvalidArgumentError, FileNotFoundError):
    """A delta file needs its base model and it was found nowhere it was looked for."""


class TensorNotFoundError(InvalidArgumentError, KeyError):
    """The file holds no tensor of that name (also a KeyError, as for a mapping)."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class UsageError(Exception):
    """The command line asked for something it cannot do (not a ZipWeightsError: it is
    about the arguments, never the data)."""


# -- exit status of the `zipw` command ----------------------------------------------------
EXIT_OK, EXIT_DATA, EXIT_USAGE = 0, 1, 2


def exit_code(exc: BaseException) -> int:
    """The one mapping from what went wrong to the exit status: 2 for what the user
    asked (bad arguments, a missing or unreadable-kind input, an output that exists or
    that is not a regular file), 1 for the data (corrupt, truncated, a checksum, a
    safetensors header that breaks its rules, a limit of the format) and for the
    system (a full disk, a permission, a file too large)."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, InvalidSafetensorsError):  # the input's content, not the arguments
        return EXIT_DATA
    if isinstance(exc, InvalidArgumentError):
        return EXIT_USAGE
    if isinstance(exc, ZipWeightsError):
        return EXIT_DATA
    if isinstance(exc, (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return EXIT_USAGE
    return EXIT_DATA
