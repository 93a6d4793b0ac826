"""Files a statistical programmer has, for `leuko batch`: CSV/TSV, CDISC Dataset-JSON v1.1 and
SAS transport (XPT, through pyreadstat in the optional `cdisc` extra), in and out.

Every reader yields (header, rows) with each cell as text: numbers as Python writes them back
exactly (repr), missing values as "". The strict reader (inputs.number) then reads them as any
other channel's values.
"""

from __future__ import annotations

import csv
import json
import math

from leuko_cli.errors import SAVE_AS_UTF8, UTF16, InputError, check_choice, is_utf16
from leuko_cli.sanitize import escape_json_unsafe, inert

FORMATS = ("csv", "tsv", "dataset-json", "xpt", "fhir")
OUT_FORMATS = ("csv", "tsv", "jsonl", "dataset-json")


def detect(path: str, requested: str | None) -> str:
    if requested:
        check_choice("--input-format", requested, FORMATS)
        return requested
    low = path.lower()
    if low.endswith(".xpt"):
        return "xpt"
    if low.endswith((".ndjson", ".jsonl")):
        return "fhir"
    if low.endswith(".json"):
        return "fhir" if _looks_like_fhir(path) else "dataset-json"
    if low.endswith(".tsv"):
        return "tsv"
    return "csv"


def _looks_like_fhir(path: str) -> bool:
    """A FHIR resource names its resourceType near the start; Dataset-JSON does not."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return b'"resourceType"' in head


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def read(path: str, kind: str):
    """(header, rows, meta) for the file; meta keeps Dataset-JSON's own metadata."""
    if kind == "xpt":
        return _read_xpt(path)
    from leuko_cli.batch.limits import read_capped

    data = read_capped(path, "table", path)
    if is_utf16(data):
        raise InputError(f"{path}: {UTF16}; {SAVE_AS_UTF8}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text ({err.reason}); save the dataset as UTF-8"
        ) from None
    if kind == "dataset-json":
        return _read_dataset_json(path, text)
    delimiter = "\t" if kind == "tsv" else _delimiter(text.split("\n", 1)[0])
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise InputError(f"{path} is empty; give a file with a header row")
    return header, ([c for c in row] for row in reader if row), {}


def _delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _read_dataset_json(path: str, text: str):
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InputError(f"{path}: not valid JSON ({getattr(err, 'msg', err)})") from None
    columns = doc.get("columns") if isinstance(doc, dict) else None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(columns, list) or not isinstance(rows, list):
        hint = (
            " (this looks like Dataset-JSON 1.0: save it as 1.1)"
            if isinstance(doc, dict) and "clinicalData" in doc
            else ""
        )
        raise InputError(f"{path}: not CDISC Dataset-JSON 1.1 (no 'columns' and 'rows'){hint}")
    header = []
    for i, col in enumerate(columns):
        name = col.get("name") if isinstance(col, dict) else None
        if not isinstance(name, str):
            raise InputError(f"{path}: columns[{i}] has no name")
        header.append(name)

    def cells():
        for n, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(header):
                raise InputError(f"{path}: rows[{n}] does not have {len(header)} values")
            yield [_text(v) for v in row]

    meta = {k: v for k, v in doc.items() if k not in ("rows", "records")}
    return header, cells(), meta


def _read_xpt(path: str):
    try:
        import pyreadstat
    except ImportError:
        raise InputError(
            "reading SAS transport (XPT) needs the optional extra: pip install "
            "'leuko-cli[cdisc]' (pyreadstat); or export the dataset as CSV or "
            "Dataset-JSON"
        ) from None
    try:  # the dict output needs neither pandas nor polars
        columns, _meta = pyreadstat.read_xport(path, output_format="dict")
    except Exception as err:  # noqa: BLE001 - pyreadstat raises its own types
        raise InputError(f"{path}: cannot read as SAS transport ({err})") from None
    header = [str(c) for c in columns]
    return header, ([_text(v) for v in row] for row in zip(*columns.values())), {}


class Writer:
    """Output rows: the input row followed by the toxicity columns."""

    def __init__(self, out, fmt: str, header: list[str], added: tuple[str, ...], meta: dict):
        check_choice("--format", fmt, OUT_FORMATS)
        taken = {a.upper() for a in added}
        own = [f"{h}_input" if h.strip().upper() in taken else h for h in header]
        self.columns = own + list(added)
        self.out, self.fmt, self.meta = out, fmt, meta
        self.rows: list[list] = []
        if fmt in ("csv", "tsv"):
            self.csv = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
            self.csv.writerow([inert(c) for c in self.columns])

    def write(self, row: list[str], added: tuple) -> None:
        values = [*row, *added]
        if self.fmt in ("csv", "tsv"):
            # cells are the dataset's own text: inert, as assess --input's CSV writes them (an
            # ESC is written as `\x1b`, a lone surrogate from a JSON "\ud800" as `\ud800`)
            self.csv.writerow(
                ["" if v is None else inert(v) if isinstance(v, str) else v for v in values]
            )
        elif self.fmt == "jsonl":
            self.out.write(
                escape_json_unsafe(json.dumps(dict(zip(self.columns, values)), ensure_ascii=False))
                + "\n"
            )
        else:
            self.rows.append(values)

    def close(self) -> None:
        if self.fmt != "dataset-json":
            return
        old = {c.get("name"): c for c in self.meta.get("columns", []) if isinstance(c, dict)}
        columns = []
        for name in self.columns:
            col = old.get(name) or {
                "itemOID": f"IT.{name}",
                "name": name,
                "label": name,
                "dataType": "integer" if name == "ATOXGRL" else "string",
            }
            columns.append(col)
        doc = {
            **{k: v for k, v in self.meta.items() if k != "columns"},
            "datasetJSONVersion": self.meta.get("datasetJSONVersion", "1.1.0"),
            "records": len(self.rows),
            "columns": columns,
            "rows": self.rows,
        }
        self.out.write(escape_json_unsafe(json.dumps(doc, ensure_ascii=False)) + "\n")
