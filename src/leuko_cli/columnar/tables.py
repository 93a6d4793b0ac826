"""Read CSV and Parquet into Arrow tables; write the graded table as CSV or Parquet.

CSV is read as text, every column a string, so a cell means what it means to the stream
reader (an empty cell is absent; "1e3" stays text and the row engine refuses it). Where Arrow
and Python's csv module could disagree (a quoted newline, a row of the wrong width, text that
is not UTF-8) Arrow stops, and `NotColumnar` hands the whole file to the stream engine.

CSV output is byte for byte what the stream writes (writers.CsvWriter): the same header, the
same minimal quoting, text made inert the same way, numbers and booleans written the same way.
`_cells` is the reference formatter, cell by cell; csvout.py gets the same bytes faster from
pyarrow's CSV writer and uses `_cells` for what that writer would write differently.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leuko_cli.batch.readers import _delimiter
from leuko_cli.batch.writers import csv_value, out_names
from leuko_cli.fields import BATCH_RESULTS
from leuko_cli.sanitize import inert

from .engine import TYPES

_NEEDS_QUOTES = r'[,"\r\n]'
BATCH_ROWS = 1 << 18  # rows graded, formatted and written at a time (memory stays flat)
BLOCK = 1 << 22  # bytes of CSV a reader thread parses at a time
THREADS = 2  # batches graded and rendered at once (numpy and pyarrow release the GIL)


class NotColumnar(Exception):
    """This file is read by the stream engine instead (the reason says why)."""


def detect(path: str, input_format: str | None) -> str:
    if input_format is not None:
        return input_format
    if path.lower().endswith((".parquet", ".pq")):
        return "parquet"
    with open(path, "rb") as fh:
        return "parquet" if fh.read(4) == b"PAR1" else "csv"


def _header(path: str) -> tuple[str, list[str]]:
    """(delimiter, header names) as the stream reader finds them."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        for line in fh:
            if line.strip():
                delimiter = _delimiter(line)
                return delimiter, next(csv.reader([line], delimiter=delimiter))
    return ",", []


def read_csv(path: str) -> tuple[pa.Table, list[str]]:
    import pyarrow.csv as pacsv

    delimiter, header = _header(path)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, UnicodeDecodeError) as err:
        raise NotColumnar(str(err).splitlines()[0][:160]) from None
    if table.column_names != header or not all(pa.types.is_string(t) for t in table.schema.types):
        raise NotColumnar("the header is not one Arrow reads the same way")
    return table, header


def read_parquet(path: str) -> tuple[pa.Table, list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table, table.column_names


def assemble(out: dict, n: int) -> dict[str, pa.Array]:
    """The typed BATCH_RESULTS columns: the vectorised rows with the row engine's rows put in
    place (in numpy, before any Arrow array is built)."""
    rows, results = out["_slow"]
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(BATCH_RESULTS):
        slow = [r[j] for r in results]
        kind = TYPES[name]
        if pa.types.is_floating(kind):
            x = out[name]
            x[rows] = [np.nan if v is None else v for v in slow]
            cols[name] = pa.array(x, type=kind, mask=np.isnan(x))
        elif pa.types.is_string(kind):
            codes, choices = out.get(name, (np.full(n, -1), []))
            if slow:
                extra = {v: k for k, v in enumerate(dict.fromkeys(slow), start=len(choices))}
                codes[rows] = [-1 if v is None else extra[v] for v in slow]
                choices = [*choices, *extra]
            indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
            cols[name] = pa.DictionaryArray.from_arrays(indices, pa.array(choices, kind))
        else:  # int8 grades, booleans: -1 where unknown
            codes = out.get(name, np.full(n, -1, dtype=np.int8))
            codes[rows] = [-1 if v is None else int(v) for v in slow]
            if pa.types.is_boolean(kind):
                cols[name] = pa.array(codes == 1, type=kind, mask=codes < 0)
            else:
                cols[name] = pa.array(codes, type=kind, mask=codes < 0)
    return cols


def _text_cells(arr: pa.Array) -> pa.Array:
    """Text as csv_value writes it: inert, quoted when it holds a comma, quote or newline."""
    arr = pc.fill_null(arr, "")
    # what inert would change is never printable; Python's inert decides for the rest
    unsafe = pc.and_(pc.invert(pc.utf8_is_printable(arr)), pc.not_equal(arr, ""))
    if pc.any(unsafe).as_py():
        fixed = pa.array([inert(v) for v in arr.filter(unsafe).to_pylist()], pa.string())
        arr = pc.replace_with_mask(arr, unsafe, fixed)
    quote = pc.match_substring_regex(arr, _NEEDS_QUOTES)
    if pc.any(quote).as_py():
        quoted = pc.binary_join_element_wise(
            '"', pc.replace_substring(arr.filter(quote), '"', '""'), '"', ""
        )
        arr = pc.replace_with_mask(arr, quote, quoted)
    return arr


def _number_cells(arr: pa.Array) -> pa.Array:
    """Floats as Python writes them (whole numbers without .0, as assess rounds them)."""
    values = arr.to_numpy(zero_copy_only=False)
    valid = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(values) & (np.abs(values) < 2.0**62)
        whole &= values == np.floor(np.where(whole, values, 0))
    ints = np.where(whole, values, 0).astype(np.int64)
    text = pc.cast(pa.array(ints, mask=~whole), pa.string())
    rest = valid & ~whole
    if rest.any():  # fractions, huge whole numbers, infinities: Python decides
        uniq, inverse = np.unique(values[rest], return_inverse=True)
        shown = np.array([_python_number(float(u)) for u in uniq], dtype=object)[inverse]
        text = pc.replace_with_mask(text, pa.array(rest), pa.array(list(shown), pa.string()))
    return pc.fill_null(text, "")


def _python_number(x: float) -> str:
    whole = abs(x) != float("inf") and x == int(x)
    return str(int(x)) if whole else repr(x)  # inf: "inf", as Python's csv writes it


def _cells(arr) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_string(t):
        return _text_cells(arr)
    if pa.types.is_large_string(t):
        return _text_cells(pc.cast(arr, pa.string()))
    if pa.types.is_floating(t):
        return _number_cells(pc.cast(arr, pa.float64()))
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pc.fill_null(pc.cast(arr, pa.string()), "")  # booleans: true / false
    try:
        return _text_cells(pc.cast(arr, pa.string()))
    except pa.ArrowNotImplementedError:
        return _text_cells(pa.array([None if v is None else str(v) for v in arr.to_pylist()]))


class CsvSink:
    """The stream writer's CSV to a binary stream: `render` a batch (any thread), `put` the
    rendered batches in order."""

    def __init__(self, out, header: list) -> None:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow(
            [csv_value(c) for c in out_names(header) + list(BATCH_RESULTS)]
        )
        out.write(line.getvalue().encode("utf-8"))
        self.out = out

    def render(self, batch, results: dict):
        from .csvout import write_rows

        if not batch.num_rows:
            return b""
        return write_rows(list(batch.columns) + list(results.values()))

    def put(self, rendered) -> None:
        self.out.write(rendered)

    def close(self) -> None:
        pass


def _buffer(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of every line of a string array, end to end (no copy)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:end]


class ParquetSink:
    """One Parquet file: the input columns as read, then the typed BATCH_RESULTS."""

    def __init__(self, out, header: list, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        fields = [pa.field(n, t) for n, t in zip(out_names(header), schema.types)]
        fields += [pa.field(name, TYPES[name]) for name in BATCH_RESULTS]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(out, self.schema)

    def render(self, batch, results: dict) -> pa.Table:
        arrays = list(batch.columns) + [a.cast(TYPES[k]) for k, a in results.items()]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def put(self, rendered: pa.Table) -> None:
        self.writer.write_table(rendered)

    def close(self) -> None:
        self.writer.close()
