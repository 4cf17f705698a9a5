"""Every limit a .zipw reader imposes, in one table (spec/FORMAT.md section 8).

The reader checks each declared size against these before it allocates or loops on
it; the writer calls the same checks (`check_safetensors_header_limits` through
safetensors_header.parse, `check_index_limits` through index.encode, and may call
`check_index_size` before coding), so that whatever the writer writes, the reader
reads.

`max_output_size` is the one limit a caller sets (like zstd's `--memory` or
python-zstandard's `max_output_size`): the most bytes one call may decode, so that a
small file that declares terabytes is refused before anything is allocated.
"""

from __future__ import annotations

from ..errors import InvalidArgumentError, LimitExceededError

# -- fixed by the format (a reader MAY refuse more; the writer never writes more) ---------
MAX_INDEX_SIZE = 1 << 31  # bytes of the index
MAX_HEADER_SIZE = 100_000_000  # bytes of a safetensors JSON header (safetensors' own limit)
MAX_PREFIX_SIZE = MAX_HEADER_SIZE + 8  # the kept header with its 8-byte length
MAX_CHUNK_SIZE = 1 << 26  # original bytes per chunk
MAX_NDIM = 64  # dimensions of a tensor
MAX_ENTRIES = 1 << 21  # entries in the index: more than a 100 MB safetensors header can list
MAX_DIM = (1 << 64) - 1  # one dimension, a data offset, a product of dimensions (u64)
MAX_JSON_DEPTH = 3  # header object > tensor object > shape list: all safetensors has
MAX_LOCATION_SIZE = 1 << 16  # bytes of a delta file's base location (JSON)
MAX_BASE_DEPTH = 8  # bases of bases a delta file may chain through (a delta of a delta ...)

# -- set by the caller --------------------------------------------------------------------
DEFAULT_MAX_OUTPUT_SIZE = 1 << 40  # 1 TiB: bytes one call may decode (a file, a tensor)

TABLE = {
    "index size": MAX_INDEX_SIZE,
    "safetensors header size": MAX_HEADER_SIZE,
    "prefix size": MAX_PREFIX_SIZE,
    "chunk size": MAX_CHUNK_SIZE,
    "dimensions": MAX_NDIM,
    "entries": MAX_ENTRIES,
    "dimension / offset value": MAX_DIM,
    "header JSON nesting": MAX_JSON_DEPTH,
    "base location size": MAX_LOCATION_SIZE,
    "base chain depth": MAX_BASE_DEPTH,
    "max_output_size default": DEFAULT_MAX_OUTPUT_SIZE,
}


def output_limit(max_output_size) -> int:
    """The caller's `max_output_size` as a byte count (None: the default)."""
    if max_output_size is None:
        return DEFAULT_MAX_OUTPUT_SIZE
    if isinstance(max_output_size, bool) or not isinstance(max_output_size, int) or max_output_size < 0:
        raise InvalidArgumentError(f"max_output_size must be a byte count >= 0 or None, got {max_output_size!r}")
    return max_output_size


def check_output_size(nbytes: int, limit: int, what: str) -> None:
    """Refuse to decode `nbytes` when they exceed the caller's limit."""
    if nbytes > limit:
        raise LimitExceededError(
            f"{what} is {nbytes} bytes, more than max_output_size ({limit} bytes); "
            "pass a larger max_output_size to read it"
        )


def check_ndim(ndim: int, what: str) -> None:
    if ndim > MAX_NDIM:
        raise LimitExceededError(f"{what}: {ndim} dimensions exceed {MAX_NDIM}")


def check_entry_count(n: int, what: str) -> None:
    if n > MAX_ENTRIES:
        raise LimitExceededError(f"{what}: {n} entries exceed {MAX_ENTRIES}")


def check_safetensors_header_limits(header, where: str = "input") -> None:
    """The limits of this format on a parsed safetensors header (a
    safetensors_header.SafetensorsHeader) that safetensors itself does not impose:
    at most MAX_NDIM dimensions per tensor and MAX_ENTRIES tensors."""
    check_entry_count(len(header.tensors), f"{where}: the safetensors header")
    for t in header.tensors:
        check_ndim(len(t.shape), f"{where}: tensor {t.name!r}")


def check_index_limits(index, where: str = "output") -> None:
    """The limits on an index (a format.index.Index) a writer is about to write; the
    encoded index's own size is checked by `index.encode`."""
    if len(index.prefix) > MAX_PREFIX_SIZE:
        raise LimitExceededError(f"{where}: prefix of {len(index.prefix)} bytes exceeds {MAX_PREFIX_SIZE}")
    check_entry_count(len(index.entries), where)
    for k, e in enumerate(index.entries):
        check_ndim(len(e.shape), f"{where}: entry {k} ({e.name!r})")
        if e.chunk_size > MAX_CHUNK_SIZE:
            raise LimitExceededError(f"{where}: entry {k} ({e.name!r}): chunk size {e.chunk_size} exceeds {MAX_CHUNK_SIZE}")


def index_size(prefix_length: int, entries) -> int:
    """Bytes of the index for a prefix and entries given as (name bytes, ndim, chunk
    count): what `index.encode` will produce, known before any chunk is coded."""
    size = 8 + 32 + 1 + 1 + 6 + 8 + prefix_length + 4
    for name_length, ndim, n_chunks in entries:
        size += 8 + name_length + 8 * ndim + 24 + 24 * n_chunks
    return size


def check_index_size(prefix_length: int, entries, where: str = "output") -> None:
    """LimitExceededError before coding when the index would exceed MAX_INDEX_SIZE
    (a tiny chunk size on a large input: 24 bytes of chunk table per chunk)."""
    n = index_size(prefix_length, entries)
    if n > MAX_INDEX_SIZE:
        raise LimitExceededError(f"{where}: the index would be {n} bytes, more than {MAX_INDEX_SIZE}; use a larger chunk size")
