"""Byte-level views of Arrow string arrays: per-cell checks as a few numpy passes over the
UTF-8 bytes (no per-cell kernel, no regex), for the two questions asked of every cell:

- is it a plain decimal (`[0-9]+(.[0-9]+)?`, what `inputs.number` reads the same way)?
- can it be written to CSV as it is (printable ASCII, no comma or quote)?
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_DOT = ord(".")
# byte -> 0 for a digit, 1 for a dot, 4 for anything else (so a cell's sum is 4 * others + dots)
_DECIMAL = np.full(256, 4, dtype=np.uint8)
_DECIMAL[ord("0") : ord("9") + 1] = 0
_DECIMAL[_DOT] = 1
# bytes a CSV cell can hold as it is: printable ASCII but the delimiter and the quote
_PLAIN_BYTE = np.zeros(256, dtype=bool)
_PLAIN_BYTE[0x20:0x7F] = True
_PLAIN_BYTE[[ord(","), ord('"')]] = False
_BLANKS = (ord(" "), ord("\t"))


def parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string or large_string Array: offsets has len(arr) + 1 entries
    and indexes straight into bytes (no copy)."""
    kind = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=kind)[arr.offset : arr.offset + len(arr) + 1]
    data = bufs[2]
    return offsets, np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, "u1")


def _sums(offsets: np.ndarray, per_byte: np.ndarray) -> np.ndarray:
    """The sum of `per_byte` over each cell (per_byte covers bytes[offsets[0]:offsets[-1]])."""
    total = np.zeros(len(per_byte) + 1, dtype=np.int64)
    np.cumsum(per_byte, out=total[1:], dtype=np.int64)
    rel = offsets - offsets[0]
    return total[rel[1:]] - total[rel[:-1]]


def has_blanks(arr: pa.Array) -> bool:
    offsets, data = parts(arr)
    used = data[offsets[0] : offsets[-1]]
    return bool(len(used)) and bool(np.isin(used, _BLANKS).any())


def plain_decimals(arr: pa.Array) -> np.ndarray:
    """True where a cell is a plain decimal with no blanks: digits, at most one dot, and a digit
    at each end. (Cells with blanks are the caller's: see has_blanks.)"""
    offsets, data = parts(arr)
    if not len(arr):
        return np.zeros(0, dtype=bool)
    used = data[offsets[0] : offsets[-1]]
    if not len(used):
        return np.zeros(len(arr), dtype=bool)
    if used.min() >= ord("0") and used.max() <= ord("9"):  # whole numbers only (common)
        return np.diff(offsets) > 0
    sums = _sums(offsets, _DECIMAL[used])
    start, end = offsets[:-1] - offsets[0], offsets[1:] - offsets[0]
    filled = end > start
    first = used[np.minimum(start, len(used) - 1)]
    last = used[np.maximum(end - 1, 0)]
    return filled & (sums <= 1) & (first != _DOT) & (last != _DOT)


def with_validity(arr: pa.Array, valid: np.ndarray) -> pa.Array:
    """The same string cells, null where `valid` is false (no copy of the text)."""
    bits = np.concatenate([np.zeros(arr.offset, dtype=bool), valid]) if arr.offset else valid
    bitmap = pa.py_buffer(np.packbits(bits, bitorder="little"))
    bufs = arr.buffers()
    return pa.Array.from_buffers(arr.type, len(arr), [bitmap, bufs[1], bufs[2]], offset=arr.offset)


def writable(arr: pa.Array) -> np.ndarray | None:
    """None when every cell can be written to CSV as it is; else True per cell that can."""
    offsets, data = parts(arr)
    used = data[offsets[0] : offsets[-1]] if len(arr) else data[:0]
    if not len(used):
        return None
    if used.min() >= 0x20 and used.max() < 0x7F:  # printable ASCII: a comma or a quote?
        if not ((used == ord(",")).any() or (used == ord('"')).any()):
            return None
    bad = ~_PLAIN_BYTE[used]
    return _sums(offsets, bad) == 0
