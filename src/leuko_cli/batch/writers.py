"""Writers: result rows out as CSV, JSON Lines or readable tables, as they are graded.

Each output row is the input row as read (columns named like a result column are kept as
NAME_input) followed by the batch result columns (fields.BATCH_RESULTS).
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any

from leuko_cli.fields import BATCH_FIELDS, BATCH_RESULTS
from leuko_cli.sanitize import escape_json_unsafe, inert
from leuko_cli.streams import unicode_output

FORMATS = ("csv", "jsonl", "table")


def out_names(names: list) -> list[str]:
    """Input columns named like a result column keep their value under NAME_input."""
    taken = set(BATCH_RESULTS)
    return [f"{n}_input" if n in taken else str(n) for n in names]


def json_line(obj: dict, ascii_only: bool = False) -> str:
    """One JSON Lines row: as output.json_text, C1 controls and bidi overrides escaped, and
    every non-ASCII character escaped on an output that cannot encode it."""
    if ascii_only:
        return json.dumps(obj, ensure_ascii=True) + "\n"
    return escape_json_unsafe(json.dumps(obj, ensure_ascii=False)) + "\n"


def csv_value(v: Any) -> Any:
    """A CSV cell. Text is made inert (an ESC in a lab export id is written as `\\x1b`), so
    `cat out.csv` cannot recolour a terminal or open a link; documented in docs/batch.md."""
    if isinstance(v, str):
        return inert(v)
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return inert(json.dumps(v, ensure_ascii=False))
    return v


class CsvWriter:
    """Rows with known columns (the CSV header, or the first JSON object's keys) as CSV,
    JSON Lines or a table in chunks."""

    def __init__(self, out: IO[str], header: list, fmt: str = "csv", chunk: int = 200):
        self.columns = out_names(header) + list(BATCH_RESULTS)
        self.out, self.fmt, self.chunk = out, fmt, chunk
        self.pending: list[list] = []
        self.cells: dict[tuple, list] = {}  # result -> its CSV cells
        self.ascii_only = not unicode_output(out)
        if fmt == "csv":
            self.writer = csv.writer(out, lineterminator="\n")
            self.writer.writerow([csv_value(c) for c in self.columns])

    def write(self, row, result: tuple) -> None:
        if self.fmt == "csv" and isinstance(row, list):
            # a CSV row is text; when every cell is printable, inert() leaves it as it is
            if not "".join(row).isprintable():
                row = [csv_value(v) for v in row]
            cells = self.cells.get(result)
            if cells is None:
                cells = self._result_cells(result)
            self.writer.writerow(row + cells)
            return
        values = [*row, *result] if isinstance(row, list) else self._from_object(row, result)
        if self.fmt == "csv":
            self.writer.writerow([csv_value(v) for v in values])
        elif self.fmt == "jsonl":
            self.out.write(json_line(dict(zip(self.columns, values)), self.ascii_only))
        else:
            self.pending.append(values)
            if len(self.pending) >= self.chunk:
                self._flush_table()

    def _result_cells(self, result: tuple) -> list:
        """The result columns as CSV cells, remembered: a batch repeats a few answers."""
        cells = [csv_value(v) for v in result]
        if len(self.cells) >= 4096:
            self.cells.clear()
        self.cells[result] = cells
        return cells

    def _from_object(self, obj: dict, result: tuple) -> list:
        own = {(f"{k}_input" if k in BATCH_RESULTS else k): v for k, v in obj.items()}
        return [own.get(c) for c in self.columns[: -len(BATCH_RESULTS)]] + list(result)

    def _flush_table(self) -> None:
        if self.pending:
            from leuko_cli import render_batch

            render_batch.batch_table(self.columns, self.pending)
            self.pending = []

    def close(self) -> None:
        if self.fmt == "table":
            self._flush_table()


class ObjectWriter:
    """Output from JSON Lines input: JSON Lines, or CSV/table whose columns are the first
    object's keys plus the field columns it lacks (keys first seen later are dropped)."""

    def __init__(self, out: IO[str], fmt: str):
        self.out, self.fmt = out, fmt
        self.table: CsvWriter | None = None
        self.started = False  # the first row's header was tried (it may have failed)
        self.ascii_only = not unicode_output(out)

    def write(self, obj: dict, result: tuple) -> None:
        if self.fmt == "jsonl":
            own = {(f"{k}_input" if k in BATCH_RESULTS else k): v for k, v in obj.items()}
            self.out.write(json_line({**own, **dict(zip(BATCH_RESULTS, result))}, self.ascii_only))
            return
        if self.table is None:
            self.started = True
            self.table = CsvWriter(self.out, self._header(obj), self.fmt)
        self.table.write(obj, result)

    @staticmethod
    def _header(obj: dict) -> list:
        from .readers import field_of

        have = {field_of(k) for k in obj}
        return list(obj) + [f.name for f in BATCH_FIELDS if f.name not in have]

    def close(self) -> None:
        # no rows: still write the header (not after the first row's header failed to write)
        if self.fmt != "jsonl" and self.table is None and not self.started:
            self.table = CsvWriter(self.out, [f.name for f in BATCH_FIELDS], self.fmt)
        if self.table is not None:
            self.table.close()
