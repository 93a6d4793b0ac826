"""The stream writer's CSV (writers.CsvWriter), byte for byte, from Arrow batches.

Most cells are written by pyarrow's CSV writer, unquoted (`quoting_style="none"`), which is
what Python's csv module writes too for the cells it is given here:

- text that is printable ASCII without a comma or a quote (a byte check, text.writable);
  other text goes through `tables._text_cells` (made inert, quoted when needed) first;
- floats: whole ones as integers; the rest from 1e-4 up to 1e7 as they are, where pyarrow
  prints them as Python does (the shortest round-trip digits); others (and NaN) are formatted
  by `tables._number_cells` first;
- integers and nulls (empty); int8 grades and booleans (true/false) as texts looked up.

A row with a cell that must be quoted (a comma or a quote in an id or in an error text) is
joined by `tables._cells` instead and spliced into pyarrow's output in place of the row it
wrote there (that cell left empty); when such rows are many, the whole batch is joined that
way. Either way the bytes are the stream's.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import text

_SPLIT = 256  # at most one quoted row per this many rows: spliced; more: join the whole batch
_SAFE_LOW, _SAFE_HIGH = 1e-4, 1e7  # where pyarrow's float text is Python's repr (tested)


def _ready(arr: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """(cells pyarrow writes as the stream would, rows that are right: None for all)."""
    from .tables import _cells, _number_cells

    t = arr.type
    if pa.types.is_boolean(t) or pa.types.is_int8(t):
        return _looked_up(arr), None  # grades and flags: a take from their few texts
    if pa.types.is_integer(t) or pa.types.is_null(t):
        return arr, None
    if pa.types.is_floating(t):
        wide = pc.cast(arr, pa.float64())  # a float32 is written as its float64 value
        x = wide.to_numpy(zero_copy_only=False)
        valid = _valid(wide)
        with np.errstate(invalid="ignore"):
            whole = valid & (x == np.floor(x)) & (np.abs(x) < 2.0**53) & ~np.signbit(x)
            if np.array_equal(whole, valid):  # pyarrow writes integers faster than floats
                return pa.array(np.where(whole, x, 0).astype(np.int64), mask=~valid), None
            below = x < _SAFE_HIGH  # pyarrow writes 6081425428235.0 as 6.081425428235e+12
            safe = ~valid | (whole & below) | ((x >= _SAFE_LOW) & below)
        return (wide, None) if safe.all() else (_number_cells(wide), None)
    if pa.types.is_dictionary(t):  # result texts (and Parquet's): the dictionary, once
        values, good = _ready(arr.dictionary)
        cells = values.take(arr.indices)
        if good is None:
            return cells, None
        codes = pc.fill_null(arr.indices, 0).to_numpy(zero_copy_only=False)
        return cells, ~np.isin(codes, np.flatnonzero(~good)) | ~_valid(arr)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        ok = text.writable(arr)
        if ok is None:
            return arr, None
        rows = np.flatnonzero(~ok)
        fixed = _cells(arr.take(pa.array(rows)))
    else:  # dates, lists... (Parquet): as text, every cell
        rows = np.arange(len(arr))
        fixed = _cells(arr)
    quoted = np.asarray(pc.starts_with(fixed, '"').to_numpy(zero_copy_only=False), dtype=bool)
    fixed = pc.if_else(pa.array(quoted), "", fixed)  # those rows are joined, not written here
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    base = arr if pa.types.is_string(t) or pa.types.is_large_string(t) else pa.nulls(len(arr))
    cells = pc.replace_with_mask(base.cast(fixed.type), pa.array(mask), fixed)
    good = np.ones(len(arr), dtype=bool)
    good[rows[quoted]] = False
    return cells, good


_SMALL = pa.array([*(str(i) for i in range(-128, 128)), "false", "true", None])
_FALSE, _NULL = 256, 258  # where the booleans and the null start in _SMALL


def _looked_up(arr: pa.Array) -> pa.Array:
    """int8 or boolean cells as text, by a take from a table of every value's text."""
    if pa.types.is_boolean(arr.type):
        codes = pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(np.int32) + _FALSE
    else:  # the int8 values as stored (a null's slot holds some int8 too)
        values = np.frombuffer(arr.buffers()[1], dtype=np.int8)[arr.offset : arr.offset + len(arr)]
        codes = values.astype(np.int32) + 128
    if arr.null_count:
        codes[~_valid(arr)] = _NULL
    return _SMALL.take(codes)


def _valid(arr: pa.Array) -> np.ndarray:
    if not arr.null_count:
        return np.ones(len(arr), dtype=bool)
    return np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False), dtype=bool)


def write_rows(columns: list[pa.Array]):
    """The CSV bytes of one batch of rows (input columns, then BATCH_RESULTS)."""
    import pyarrow.csv as pacsv

    n = len(columns[0])
    cells, bad = [], np.zeros(n, dtype=bool)
    for arr in columns:
        ready, good = _ready(arr)
        cells.append(ready)
        if good is not None:
            bad |= ~good
    table = pa.Table.from_arrays(cells, names=[f"c{i}" for i in range(len(cells))])
    options = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)
    rows = np.flatnonzero(bad)
    if len(rows) * _SPLIT > n:
        return _joined(columns)
    # pyarrow writes every row (a quoted cell left empty); the joined rows replace theirs
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, options)
    written = sink.getvalue()
    if not len(rows):
        return written
    ends = np.flatnonzero(np.frombuffer(written, dtype=np.uint8) == 10) + 1  # no cell has one
    lines = _joined([c.take(pa.array(rows)) for c in columns], keep=True)
    offsets, data = text.parts(lines)
    cuts = np.flatnonzero(np.diff(rows) != 1) + 1  # runs of consecutive joined rows
    first, last = np.r_[0, cuts], np.r_[cuts, len(rows)]  # each run: rows[first:last]
    done, raw, joined, pieces = 0, memoryview(written), memoryview(data), []
    for k0, k1 in zip(first.tolist(), last.tolist()):
        start = int(ends[rows[k0] - 1]) if rows[k0] else 0
        pieces += [raw[done:start], joined[offsets[k0] : offsets[k1]]]
        done = int(ends[rows[k1 - 1]])
    pieces.append(raw[done:])
    return b"".join(pieces)  # one copy costs less than many small writes


def _joined(columns: list, keep: bool = False):
    """The rows as the stream writes them, every cell through tables._cells: the lines as one
    string array (keep), or their bytes end to end."""
    from .tables import _buffer, _cells

    lines = pc.binary_join_element_wise(*[_cells(c) for c in columns], ",")
    lines = pc.binary_join_element_wise(lines, pa.scalar("\n"), "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    return lines if keep else _buffer(lines)
