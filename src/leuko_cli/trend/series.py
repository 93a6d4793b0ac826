"""Reading a series: rows from any reader -> graded samples, grouped by subject, sorted.

Counts and units go through the batch readers (the field table's columns) and `assess.assess`,
so a count here is graded exactly as `leuko assess` grades it. The series columns (date,
subject, and the CDISC long-format test/value/unit) come from `series_fields.SERIES_COLUMNS`. A
row that cannot be used (no date, a bad date, a bad count, a second value at the same time)
becomes an error with its line number; the rest of the file is still read.
"""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime, timezone

from leuko_cli.batch import readers
from leuko_cli.errors import InputError, LeukoError
from leuko_cli.series_fields import CDISC_TESTS, SERIES_COLUMNS

MEASURES = ("anc", "wbc", "lymphocytes")
INPUT_FORMATS = ("csv", "jsonl", "fhir")
_ALIASES = {name: sc.columns for sc in SERIES_COLUMNS for name in [sc.name]}
_EPOCH = datetime(1970, 1, 1)


class Sample:
    """One graded count. `t` is days since 1970 (the instant, UTC when an offset was given);
    `day` is the calendar date as written (the lab's local day)."""

    __slots__ = ("line", "t", "day", "cells", "grade", "version")

    def __init__(self, line, t, day, cells, grade, version) -> None:
        self.line, self.t, self.day = line, t, day
        self.cells, self.grade, self.version = cells, grade, version


def fold(name: object) -> str:
    return readers._FOLD.sub("_", str(name).strip().casefold())


def parse_when(raw: object) -> tuple[float, date]:
    """(instant in days since 1970, local calendar date) of an ISO 8601 date or date-time."""
    if not isinstance(raw, str) or not raw.strip():
        raise readers.RowError("no date; give the sample date (ISO 8601, e.g. 2024-03-05)")
    text = raw.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise readers.RowError(
            f"date {text[:40]!r} is not an ISO 8601 date; write it as 2024-03-05 or "
            "2024-03-05T08:30"
        ) from None
    local_day = when.date()
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return (when - _EPOCH).total_seconds() / 86400, local_day


def parse_day1(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise InputError(f"--day1 {raw!r}: give a date such as 2024-03-05") from None


class Grader:
    """A count -> (cells/µL, CTCAE grade, version) through `assess`, memoised by the row's
    values (series repeat themselves; the memo is bounded)."""

    LIMIT = 65_536

    def __init__(self, kb, settings: dict, defaults: dict, measure: str) -> None:
        self.kb, self.settings, self.measure = kb, settings, measure
        self.defaults = {k: v for k, v in defaults.items() if v is not None}
        self.memo: dict = {}
        self.notes: dict[str, None] = {}  # assess's notes on a CTCAE version not used, in order

    def grade(self, fields: dict) -> tuple[float, int, str]:
        values = {**self.defaults, **fields}
        try:
            key = tuple(sorted(values.items()))
            hit = self.memo.get(key)
        except TypeError:  # a JSON list or object as a value
            key, hit = None, None
        if hit is not None:
            return hit
        from leuko_cli.assess import assess

        r = assess(self.kb, values, self.settings, origin="row")
        if self.measure == "anc":
            if r["anc"] is None:
                raise readers.RowError(
                    "no ANC in this row: give anc, or wbc with neutrophils (or choose "
                    "--measure wbc or lymphocytes)"
                )
            out = (float(r["anc"]), r["ctcae_grade"], r["ctcae_version"])
        else:
            entry = r.get(self.measure)
            if entry is None:
                raise readers.RowError(f"no {self.measure} count in this row")
            out = (float(entry["value"]), entry["ctcae_grade"], entry["ctcae_version"])
        asked = values.get("ctcae_version") or self.settings["ctcae_version"].value
        if out[2] != asked:  # a term this version lacks: graded with another, as assess says
            self.notes.update((n, None) for n in r["notes"] if n.startswith(f"CTCAE {asked}:"))
        if key is not None:
            if len(self.memo) >= self.LIMIT:
                self.memo.clear()
            self.memo[key] = out
        return out


# --- readers: (line, subject, date text, fields or RowError) ----------------------------------


def _pick(get, names) -> object:
    for name in names:
        v = get(name)
        if v not in (None, ""):
            return v
    return None


def _header(first: str) -> list[str]:
    return next(csv.reader([first], delimiter=readers._delimiter(first)), [])


def _index(header: list[str]) -> dict[str, int]:
    """folded column name -> first index."""
    out: dict[str, int] = {}
    for i, h in enumerate(header):
        out.setdefault(fold(h), i)
    return out


def _csv_wide(lines, first: str):
    rows = readers.CsvRows(lines, first)
    idx = _index(rows.header)
    for line, fields, row in rows:
        get = lambda n: row[idx[n]] if n in idx and idx[n] < len(row) else None  # noqa: E731
        yield line, _pick(get, _ALIASES["subject"]), _pick(get, _ALIASES["date"]), fields


def _csv_cdisc(lines, first: str, measure: str, skipped: list):
    """CDISC LB/ADLB long format: one test per row (PARAMCD/LBTESTCD, AVAL/LBSTRESN)."""
    reader = csv.reader(lines, delimiter=readers._delimiter(first))
    header = next(reader, [])
    idx = _index(header)
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        get = lambda n: row[idx[n]] if n in idx and idx[n] < len(row) else None  # noqa: E731
        test = _pick(get, _ALIASES["test"])
        field = CDISC_TESTS.get(str(test or "").strip().upper())
        if field != measure:
            skipped.append(line)  # another analyte: not part of this series
            continue
        value = _pick(get, _ALIASES["value"])
        fields: dict | readers.RowError = {field: value} if value is not None else {}
        unit = _pick(get, _ALIASES["value_unit"])
        if unit is not None and isinstance(fields, dict):
            fields["unit"] = unit
        if not fields:
            fields = readers.RowError(f"no {_ALIASES['value'][0].upper()} value in this row")
        yield line, _pick(get, _ALIASES["subject"]), _pick(get, _ALIASES["date"]), fields


def _jsonl(lines):
    for line, fields, obj in readers.jsonl_rows(lines):
        keys = {fold(k): k for k in obj} if isinstance(obj, dict) else {}
        get = lambda n: obj.get(keys[n]) if n in keys else None  # noqa: E731
        yield line, _pick(get, _ALIASES["subject"]), _pick(get, _ALIASES["date"]), fields


def _fhir(kb, text: str, name: str | None):
    from leuko_cli.batch import fhir

    label = name or "stdin"  # as the user gave the file: `trend FILE`, not --fhir
    doc = fhir.read(name or "-", text, label)
    for n, g in enumerate(fhir.groups(kb, doc, label), start=1):
        try:
            fields, _notes = fhir.request_values(kb, g, label)
            parse_when(g["effective"])  # `n` numbers groups, not lines: name the Observations
        except readers.RowError as err:
            ids = ", ".join(repr(i) for i in g["observations"] if i) or f"group {n}"
            fields = readers.RowError(f"Observation {ids}: {err}")
        except InputError as err:
            fields = readers.RowError(str(err))
        yield n, g["subject"], g["effective"], fields


def detect(name: str | None, first: str) -> str:
    low = (name or "").lower()
    if low.endswith(".json"):
        from leuko_cli.batch.fhir import is_resource_line

        if not _json_object(first) or is_resource_line(first):
            return "fhir"
        # a whole object naming no resourceType on line 1: JSON Lines rows under a .json name
        # (assess --input reads the same file so); as FHIR every row was refused
        return "jsonl"
    if first.lstrip().startswith("{") and '"resourceType"' in first:
        from leuko_cli.batch.fhir import is_resource_line

        if is_resource_line(first):
            if not low.endswith((".csv", ".tsv")):
                return "fhir"  # a resource on line 1: FHIR NDJSON, or one resource on a line
        elif not low.endswith((".jsonl", ".ndjson", ".csv", ".tsv")) and not _json_object(first):
            return "fhir"  # the start of a FHIR document on stdin or under another name
    elif first.strip() in ("{", "[") and not low.endswith((".csv", ".tsv")):
        # a pretty-printed JSON document: no JSON Lines row is a lone brace, so even under a
        # .jsonl or .ndjson name it has no other reading (as rows, every line was an error)
        return "fhir"
    return readers.detect_format(name, first)


def _json_object(line: str) -> bool:
    """A whole JSON object on the line (a JSON Lines row when it names no resourceType)."""
    import json

    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


class BoundedText:
    """The lines of a file or stdin through the batch reader's bounded line source: a line over
    LEUKO_MAX_LINE_BYTES (e.g. /dev/zero, which has no line ends) stops the read with the line
    named, instead of reading without end."""

    def __init__(self, raw, close: bool) -> None:
        from leuko_cli.batch.limits import limit

        self.raw, self._close = raw, close
        self.lines = readers.LineSource(raw, limit("line"))

    def __iter__(self):
        return iter(self.lines)

    def close(self) -> None:
        if self._close:
            self.raw.close()


def open_text(path: str) -> BoundedText:
    if path == "-":
        if sys.stdin is None:
            raise InputError("-: standard input is closed; pipe a file in or give a path")
        return BoundedText(getattr(sys.stdin, "buffer", sys.stdin), close=False)
    try:
        return BoundedText(open(path, "rb"), close=True)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror})") from None


def rows(kb, stream, name: str | None, input_format: str | None, measure: str, skipped: list):
    """The reader for the stream's format: yields (line, subject, date, fields or RowError)."""
    first, lines = readers.peek(stream)
    if not first.strip():
        raise InputError(f"{name or 'input'} is empty; give a CSV with date and anc columns")
    kind = input_format or detect(name, first)
    if kind == "fhir":
        return _fhir(kb, "".join(lines), name)
    if kind == "jsonl":
        return _jsonl(lines)
    header = {fold(h) for h in _header(first)}
    has_count = any(readers.field_of(h) in MEASURES for h in _header(first))
    cdisc = header & set(_ALIASES["test"]) and header & set(_ALIASES["value"])
    if cdisc and not has_count:
        return _csv_cdisc(lines, first, measure, skipped)
    return _csv_wide(lines, first)


# --- grouping, sorting, duplicates --------------------------------------------------------------


class Series:
    """Every subject's samples (sorted), row errors, and what was done to the input."""

    def __init__(self) -> None:
        self.subjects: dict[str | None, list[Sample]] = {}
        self.errors: list[tuple[int, str]] = []
        self.notes: list[str] = []
        self.rows = 0


def collect(row_iter, grader: Grader, only_subject: str | None = None) -> Series:
    s = Series()
    for line, subject, when, fields in row_iter:
        s.rows += 1
        subject = None if subject is None else str(subject)
        if only_subject is not None and subject != only_subject:
            continue
        try:
            if isinstance(fields, readers.RowError):
                raise fields
            t, day = parse_when(when)
            cells, grade, version = grader.grade(fields)
        except (readers.RowError, LeukoError) as err:
            s.errors.append((line, str(err)))
            continue
        s.subjects.setdefault(subject, []).append(Sample(line, t, day, cells, grade, version))
    unsorted = dupes = 0
    for subject, samples in s.subjects.items():
        if any(b.t < a.t for a, b in zip(samples, samples[1:])):
            unsorted += 1
            samples.sort(key=lambda x: (x.t, x.line))
        kept: list[Sample] = []
        for smp in samples:
            prev = kept[-1] if kept else None
            if prev is not None and prev.t == smp.t:
                if prev.cells == smp.cells:
                    dupes += 1
                    continue
                s.errors.append(
                    (
                        smp.line,
                        f"same time as line {prev.line} with a different value "
                        f"({smp.cells:g} vs {prev.cells:g} cells/µL); keep one",
                    )
                )
                continue
            kept.append(smp)
        s.subjects[subject] = kept
    if unsorted:
        s.notes.append(f"{unsorted} subject(s) had rows out of time order: sorted by date")
    if dupes:
        s.notes.append(f"{dupes} repeated row(s) (same time, same value) counted once")
    s.errors.sort()
    return s
