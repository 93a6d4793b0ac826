"""Readers: turn a lab export into rows of field values, whatever the format.

A row is (line number, fields, passthrough): `fields` maps field names (fields.INPUTS) to the
raw values found (an empty CSV cell or a JSON null is absent); `passthrough` is the row as read,
for the output. Column names map through the field table's batch columns (case-insensitive;
spaces and hyphens count as `_`). Two columns that mean the same field are refused, the same
way in CSV and in JSON Lines.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from typing import Iterable, Iterator

from leuko_cli.errors import SAVE_AS_UTF8, UTF16, InputError, is_utf16
from leuko_cli.fields import column_aliases

INPUT_FORMATS = ("csv", "jsonl")
_ALIASES = column_aliases()
_FOLD = re.compile(r"[\s\-]+")


class RowError(Exception):
    """A row that cannot be read: it becomes an error row, the file goes on."""


class StreamError(Exception):
    """The file itself breaks at `line` (not UTF-8, a line over the limit): the run stops."""

    def __init__(self, line: int, reason: str, fix: str | None = None) -> None:
        super().__init__(reason)
        self.line, self.reason, self.fix = line, reason, fix


class LineSource:
    """The lines of a byte stream, read at most `limit` bytes at a time and decoded one by one.

    Why not a TextIOWrapper: its readline has no bound (`--input /dev/zero` read until memory
    ran out) and it decodes in 8 KiB chunks, so bad UTF-8 could not be tied to a line. Here a
    line over the limit or a line that is not UTF-8 raises StreamError naming the line, and
    `line` always holds the number of the last line read (for csv errors too). Line ends are
    kept as they are (CSV needs them); a lone CR ends a line, as with newline="" text files."""

    def __init__(self, stream, limit: int) -> None:
        self.stream, self.limit, self.line = stream, limit, 0
        self.split = False  # a lone CR was met: one raw line gave several lines

    def __iter__(self):
        readline, limit = self.stream.readline, self.limit
        raw = readline(limit + 1)
        bom = 0
        if not self.line and isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
            raw, bom = raw[3:], 3  # the UTF-8 byte-order mark Excel writes
        if not self.line and is_utf16(raw):
            raise StreamError(1, UTF16, SAVE_AS_UTF8)
        while raw:
            self.line += 1
            # (the BOM was read as part of the first line: a line cut short is never passed on)
            if len(raw) + bom > limit and raw[-1:] not in (b"\n", "\n"):
                raise StreamError(
                    self.line, f"line longer than {limit} bytes (the limit: LEUKO_MAX_LINE_BYTES)"
                )
            bom = 0
            if isinstance(raw, bytes):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise StreamError(
                        self.line,
                        f"not UTF-8 text (byte {err.start + 1} of the line: {err.reason})",
                    ) from None
            else:
                text = raw.lstrip("\ufeff") if self.line == 1 else raw
            if text.find("\r", 0, len(text) - 2) != -1:  # lone CRs: old Mac line ends
                pieces = text.splitlines(keepends=True)
                self.split = True
                yield pieces[0]
                for piece in pieces[1:]:
                    self.line += 1
                    yield piece
            else:
                yield text
            raw = readline(limit + 1)


def field_of(column: object) -> str | None:
    """The field a column name means, or None for a passthrough column."""
    return _ALIASES.get(_FOLD.sub("_", str(column).strip().casefold()))


def lookalike_notes(names) -> list[str]:
    """A line for each column that is not read but looks like a field's column ('temp_c',
    'body_temp', 'temprature'): kept as it is, so its values reach no grade, and a fever or
    a count there would go unseen without a word."""
    import difflib

    notes = []
    for name in names:
        folded = _FOLD.sub("_", str(name).strip().casefold())
        if not folded or folded in _ALIASES:
            continue
        parts = folded.split("_")
        near = [a for a in _ALIASES if a in (parts[0], parts[-1])] or difflib.get_close_matches(
            folded, _ALIASES, n=1, cutoff=0.8
        )
        if near:
            notes.append(
                f"leuko: column {str(name)!r} is not read, only kept as it is; "
                f"name it {near[0]!r} to have it graded"
            )
    return notes


def field_columns(names: list) -> dict[str, int]:
    """field name -> index of the column that carries it; two columns for one field refused."""
    found: dict[str, int] = {}
    for i, name in enumerate(names):
        field = field_of(name)
        if field is None:
            continue
        if field in found:
            raise RowError(
                f"columns {names[found[field]]!r} and {name!r} both mean {field}; keep one"
            )
        found[field] = i
    return found


def detect_format(name: str | None, first_line: str) -> str:
    if name:
        low = name.lower()
        if low.endswith((".jsonl", ".ndjson")):
            return "jsonl"
        if low.endswith((".csv", ".tsv")):
            return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def peek(lines: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The first non-blank line, and an iterator over every line (that one included)."""
    it = iter(lines)
    held: list[str] = []
    for line in it:
        held.append(line)
        if line.strip():
            break
    return (held[-1] if held else ""), itertools.chain(held, it)


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class CsvRows:
    """CSV rows. `header` is the file's header row; iterating yields (line, fields, row)."""

    def __init__(self, stream: Iterator[str], first: str) -> None:
        self.reader = csv.reader(stream, delimiter=_delimiter(first))
        header: list[str] = []
        for header in self.reader:
            if any(h.strip() for h in header):
                break
        self.header = header
        self.offset = 0  # lines read before `reader` started (after a hand-back in blocks.py)
        try:
            self.columns = field_columns(header)
        except RowError as err:
            raise InputError(f"the CSV header: {err}") from None
        if not {"anc", "wbc", "lymphocytes"} & set(self.columns):
            raise InputError(
                "the CSV header needs an anc, wbc or lymphocytes column (got: "
                f"{', '.join(header)[:120]}); add a header row such as id,anc,temp"
            )

    def __iter__(self):
        width, columns = len(self.header), list(self.columns.items())
        for row in self.reader:
            if row:  # else a blank line
                yield csv_record(self.reader.line_num + self.offset, row, width, columns)


def csv_record(line: int, row: list[str], width: int, columns: list[tuple[str, int]]) -> tuple:
    """(line, fields or RowError, the row as written back) of one non-blank CSV record;
    `columns` pairs each field with its column index. batch/blocks.py uses it too."""
    if len(row) != width:
        return (
            line,
            RowError(f"row has {len(row)} field(s) but the header has {width}"),
            (row + [""] * width)[:width],
        )
    return line, {f: row[i] for f, i in columns if row[i] != ""}, row


def _unique_keys(pairs: list[tuple]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise RowError(f"key {dup!r} appears twice in the object; keep one")
    return dict(pairs)


def _no_constant(name: str):
    # NaN and Infinity are not JSON (Python accepts them): refused, never written back out
    raise RowError(f"{name} is not a JSON number; write null or a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):
        raise RowError(f"the number {text[:40]} is too large")
    return value


_INF = float("inf")


def _json_reason(err: BaseException) -> str:
    """A short reason for invalid JSON, for the message (Python's own can be very long)."""
    if isinstance(err, RecursionError):
        return "nested too deeply"
    if hasattr(err, "msg"):
        return err.msg
    if "digits" in str(err):  # int_max_str_digits: an integer of over 4,300 digits
        return "an integer with too many digits"
    return str(err)[:120]


def jsonl_rows(stream: Iterator[str], start: int = 1):
    """JSON Lines rows: (line, fields or RowError, the object as read); `start` is the
    number of the stream's first line."""
    for line_no, line in enumerate(stream, start=start):
        if not line.strip():
            continue
        try:
            obj = json.loads(
                line,
                object_pairs_hook=_unique_keys,
                parse_constant=_no_constant,
                parse_float=_finite_float,
            )
        except RowError as err:
            yield line_no, RowError(f"line {line_no}: {err}"), {}
            continue
        except (ValueError, RecursionError) as err:
            reason = _json_reason(err)
            yield (
                line_no,
                RowError(
                    f"line {line_no}: not valid JSON ({reason}); each line must be one JSON object"
                ),
                {},
            )
            continue
        if not isinstance(obj, dict):
            yield (
                line_no,
                RowError(f"line {line_no}: expected a JSON object, got {type(obj).__name__}"),
                {},
            )
            continue
        try:
            columns = field_columns(list(obj))
        except RowError as err:
            yield line_no, err, obj
            continue
        keys = list(obj)
        fields = {f: obj[keys[i]] for f, i in columns.items() if obj[keys[i]] is not None}
        yield line_no, fields, obj
