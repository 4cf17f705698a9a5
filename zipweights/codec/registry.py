"""The shape of a codec table (in the manner of numcodecs' registry): one row per id,
each naming the coder and its encode and decode functions. codec/chain.py holds the
chunk codecs, codec/entropy.py the stream coders; spec/FORMAT.md lists the same rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Row:
    """encode returns the payload, or None where the coder does not take the input;
    decode writes exactly the decoded size into its `out` view. Their arguments are
    the table's own (see chain.CODECS and entropy.CODERS)."""

    id: int
    name: str
    encode: Callable
    decode: Callable


def table(*rows: Row) -> dict[int, Row]:
    """id -> row, refusing an id given twice."""
    out = {r.id: r for r in rows}
    if len(out) != len(rows):
        raise ValueError("a codec id is listed twice")
    return out


def names(rows: dict[int, Row]) -> dict[int, str]:
    return {r.id: r.name for r in rows.values()}
