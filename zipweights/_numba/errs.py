"""The Numba kernels' error ids: each is one message of the C kernels (csrc/*.c,
zw_fail) with its zw_code's class (spec/CODERS.md, "Errors"), so both backends raise the
same class with the same words. A kernel returns the id and puts the numbers of its
message in info[]; raise_for() turns that into the exception."""

from __future__ import annotations

from ..errors import CorruptDataError, InvalidArgumentError, LimitExceededError, TruncatedDataError

T = TruncatedDataError  # ZW_ETRUNC
C = CorruptDataError  # ZW_ECORRUPT, ZW_ETRAIL, ZW_ESIZE

MESSAGES = {}


def _m(i: int, cls, fmt: str) -> int:
    MESSAGES[i] = (cls, fmt)
    return i


# table reader (rans.c)
T_CUT = _m(1, T, "payload truncated: frequency table cut short")
T_ALPHABET = _m(2, C, "frequency table invalid: {0} symbols in an alphabet of {1}")
T_SLOTS = _m(3, C, "frequency table invalid: {0} symbols do not fit in a table of {1} slots")
T_TRUNC = _m(4, T, "frequency table invalid or truncated")
T_RANGE = _m(5, C, "frequency table invalid: symbol out of range")
T_WEIGHT = _m(6, C, "frequency table invalid: weight code {0}")
# rANS stream (rans.c)
R_STATES = _m(7, T, "payload truncated: need 128 bytes of rANS states, have {0}")
R_STATE = _m(8, C, "rANS state out of range")
R_EARLY = _m(9, T, "payload truncated: rANS stream ends early")
R_FINAL = _m(10, C, "rANS stream corrupted: final state mismatch")
R_TRAIL = _m(11, C, "trailing bytes: {0} unused bytes after the rANS stream")
# shared by the payload readers
NEED = _m(12, T, "payload truncated: need {0} bytes, have {1}")
NEED_TRAIL = _m(13, C, "trailing bytes: need {0} bytes, have {1}")
TABLE_LEN = _m(14, C, "frequency table invalid: {0} bytes declared, {1} used")
# ent payload (ent.c)
ENT_HEADER = _m(20, T, "payload truncated: need 5 bytes of header, have {0}")
ENT_SIZE = _m(21, C, "size mismatch: payload holds {0} bytes, destination has {1}")
ENT_STORED_TRAIL = _m(22, C, "trailing bytes: {0} after stored data")
ENT_TABLE = _m(23, T, "payload truncated: table needs {0} bytes, have {1}")
ENT_NORM = _m(24, C, "frequency table invalid: {0} symbols")
ENT_MODE = _m(25, C, "unknown ent payload mode {0}")
# float payload (floatc.c)
F_KIND = _m(30, InvalidArgumentError, "unsupported float kind {0} (0=BF16, 1=F16, 2=F32)")
F_DST = _m(31, InvalidArgumentError, "destination size {0} is not a multiple of the value size {1}")
F_SRC = _m(32, InvalidArgumentError, "source size {0} is not a multiple of the value size {1}")
F_LIMIT = _m(33, LimitExceededError, "chunk too large: {0} values, at most {1}")
F_HEADER = _m(34, T, "payload truncated: need 6 bytes of header, have {0}")
F_KIND_MISMATCH = _m(35, C, "kind mismatch: payload is kind {0}, caller asked for {1}")
F_SIZE = _m(36, C, "size mismatch: payload holds {0} values, destination has {1}")
F_MODE = _m(37, C, "unknown float payload mode {0}")
F_B = _m(38, C, "invalid symbol width {0}")
F_C = _m(39, C, "invalid context count {0}")
F_P = _m(40, C, "invalid probability precision {0}")
F_THR = _m(41, C, "invalid context thresholds")
F_TABLES = _m(42, T, "payload truncated: tables need {0} bytes, have {1}")
F_NORM = _m(43, C, "frequency table invalid: {0} symbols at precision {1}")
F_PLANE = _m(44, T, "payload truncated: byte plane needs {0} bytes, have {1}")
F_RAW = _m(45, T, "payload truncated: raw bits need {0} bytes, have {1}")
# sparse (sparse.c)
S_BITMAP_LEN = _m(50, C, "bitmap holds {0} bytes, expected {1}")
S_PAST = _m(51, C, "bitmap has bits set past the last value")
S_MARKS = _m(52, C, "bitmap marks {0} values, {1} stored")

# delta payload (delta.c)
D_KIND = _m(60, InvalidArgumentError, "unsupported delta kind {0} (0=BF16, 1=F16, 2=F32)")
D_WHOLE = _m(61, InvalidArgumentError, "size {0} is not a multiple of the value size {1}")
D_BASE = _m(62, InvalidArgumentError, "base holds {0} bytes, the chunk {1}")
D_HEADER = _m(63, T, "payload truncated: need {0} bytes of header, have {1}")
D_OP = _m(64, C, "unknown delta transform {0}")
D_ELO = _m(65, C, "invalid first context exponent {0}")
D_TOKEN = _m(66, C, "frequency table invalid: token {0} of {1}")
D_RAW_OUT = _m(67, T, "payload truncated: raw bits run out")
D_RAW_PAD = _m(68, C, "raw bits: {0} of {1} bytes used or non-zero padding")


def raise_for(err: int, info) -> None:
    cls, fmt = MESSAGES[err]
    raise cls(fmt.format(*(int(v) for v in info)))
