"""`leuko assess --input FILE`: grade a lab export row by row (CSV or JSON Lines), streaming.

Pure Python: no Typer, no Rich (the optional progress bar and the table format are drawn by
`render`, imported only when used). Every grade comes from `assess.assess`; this module only
reads rows, applies defaults, and writes results as it goes (bounded memory).

Speed: a lab export has few distinct contexts (unit, CTCAE version, reference range, fever
state) and every grade the output reports is a step function of the ANC whose steps are the
numeric bounds in the knowledge base. So the first row that lands in a (context, interval)
pair is graded by `assess.assess` and its answer is reused for later rows in the same pair;
anything unusual (conflicting or missing columns, parse errors) takes the full `assess` path,
so error messages are exactly the ones `leuko assess` gives.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter
from typing import IO, Any, Callable, Iterable, Iterator

from . import grading
from .assess import AssessRequest, assess
from .errors import InputError, LeukoError
from .kb import KnowledgeBase

# Input columns leuko reads (any other column is passed through untouched).
COUNT_COLUMNS = ("anc", "wbc", "neutrophils", "bands", "lymphocytes")
CONTEXT_COLUMNS = ("unit", "ctcae_version", "lln", "wbc_lln", "lymphocytes_lln", "age",
                   "duffy_null", "temp", "sustained")
COLUMNS = COUNT_COLUMNS + CONTEXT_COLUMNS
# Output columns appended to each row, in this order.
RESULT_COLUMNS = ("anc", "severity", "ctcae_version", "ctcae_grade", "febrile_neutropenia",
                  "below_reference", "error")
FORMATS = ("csv", "jsonl", "table")
INPUT_FORMATS = ("csv", "jsonl")

_ALIASES = {"id": "id", "anc": "anc", "wbc": "wbc", "neutrophils": "neutrophils",
            "neut": "neutrophils", "segs": "neutrophils", "bands": "bands",
            "lymphocytes": "lymphocytes", "alc": "lymphocytes", "unit": "unit",
            "units": "unit", "ctcae_version": "ctcae_version", "ctcae": "ctcae_version",
            "lln": "lln", "wbc_lln": "wbc_lln", "lymphocytes_lln": "lymphocytes_lln",
            "age": "age", "duffy_null": "duffy_null", "duffy": "duffy_null", "temp": "temp",
            "temperature": "temp", "sustained": "sustained"}
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d+)?\s*$")
_MEMO_LIMIT = 50_000  # entries per memo before it is cleared (bounded memory)


def normalise_column(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", str(name).strip().casefold())
    return _ALIASES.get(key, key)


@dataclass
class Defaults:
    """Global flags: the value for every row whose own column is empty or absent."""

    unit: str | None = None
    ctcae_version: str | None = None
    lln: str | None = None
    wbc_lln: str | None = None
    lymphocytes_lln: str | None = None
    age: str | None = None
    duffy_null: bool = False
    temp: str | None = None
    sustained: bool = False


@dataclass
class Summary:
    rows: int = 0
    graded: int = 0
    errors: int = 0

    def line(self) -> str:
        return f"leuko: {self.rows} row(s), {self.graded} graded, {self.errors} error(s)"


def _flag_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().casefold()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InputError(f"{name} expects true or false (or yes/no, 1/0), got {value!r}")


def _check_comma(value: Any, flag: str) -> None:
    """grading.parse_number drops commas as thousands separators; a decimal comma (0,8) would
    silently become 8, so refuse anything that is not a clean thousands grouping."""
    if isinstance(value, str) and "," in value and not _THOUSANDS.match(value):
        raise InputError(f"{flag} {value!r} has a comma that is not a thousands separator; "
                         "write decimals with a point (e.g. 0.8)")


class _Slow(Exception):
    """Internal: this row needs the full `assess` path."""


class _Context:
    """One canonical grading context: the interval bounds and the answers found so far
    (`slots` as Python values, `csv_slots` already formatted for CSV)."""

    __slots__ = ("bounds", "slots", "csv_slots")  # csv_slots: see _csv_rest

    def __init__(self, bounds: list[float]):
        self.bounds = bounds
        self.slots: list[tuple | None] = [None] * (len(bounds) + 1)
        self.csv_slots: list[tuple | None] = [None] * (len(bounds) + 1)


class _RowContext:
    """The resolved context columns of a row (memoised by their raw values). `memos` maps a
    measure (anc, wbc, lymphocytes, pct) to {raw value: parsed value} for this unit; `lines`
    maps a raw ANC to the CSV text of its result columns (the CSV loop's shortcut)."""

    __slots__ = ("unit", "memos", "ctx", "version", "lines", "wbc", "pct")

    def __init__(self, unit: dict, memos: dict, ctx: _Context, version: str, lines: dict):
        self.unit, self.memos, self.ctx, self.version = unit, memos, ctx, version
        self.lines = lines
        self.wbc, self.pct = memos["wbc"], memos["pct"]


def _memo(store: dict, key: Any, compute: Callable[[], Any]) -> Any:
    try:
        return store[key]
    except KeyError:
        if len(store) > _MEMO_LIMIT:
            store.clear()
        value = store[key] = compute()
        return value
    except TypeError:  # unhashable (a JSON list or object): no memo
        return compute()


class Grader:
    """Grade rows: `counts` is (anc, wbc, neutrophils, bands, lymphocytes) and `context` the
    CONTEXT_COLUMNS values; "" or None means absent (the default applies)."""

    def __init__(self, kb: KnowledgeBase, defaults: Defaults | None = None, *, fast: bool = True):
        self.kb = kb
        self.defaults = d = defaults or Defaults()
        self.fast = fast
        self.default_unit = d.unit or kb.settings["default_unit"]
        self.default_version = d.ctcae_version or kb.settings["ctcae_default_version"]
        self.rule = kb.get("fever_rules", kb.settings["fever_rule"])
        bounds: set[float] = {self.rule["anc_below"]}
        for scale in kb.table("scales"):
            if scale["measure"] == "anc":
                for band in scale["bands"]:
                    for b in (band["lower"], band.get("upper")):
                        if isinstance(b, (int, float)) and not isinstance(b, bool):
                            bounds.add(b)
        for rng in kb.table("reference_ranges"):
            if rng["measure"] == "anc":
                bounds.update(b for b in (rng["lower"], rng.get("upper")) if b is not None)
        self._base_bounds = bounds
        self._contexts: dict[tuple, _Context] = {}
        self._row_contexts: dict[tuple, _RowContext | None] = {}
        self._count_memo: dict[str, dict] = {}
        self._anc_memo: dict[tuple, dict] = {}
        self._parts: dict[tuple, Any] = {}  # per-column parse results

    # --- validation of the global defaults (exit 2 before any row is read) ------------------

    def check_defaults(self) -> None:
        d = self.defaults
        unit = grading.find_unit(self.kb, self.default_unit)
        grading.check_ctcae_version(self.kb, self.default_version)
        for raw, measure, flag in ((d.lln, "anc", "--lln"), (d.wbc_lln, "wbc", "--wbc-lln"),
                                   (d.lymphocytes_lln, "lymphocytes", "--lymphocytes-lln")):
            if raw is not None:
                _check_comma(raw, flag)
                grading.to_cells(self.kb, measure, grading.parse_number(raw, flag), unit, flag)
        if d.age is not None:
            grading.parse_age_days(d.age)
        if d.temp is not None:
            grading.parse_temperature(d.temp)

    # --- the full path ---------------------------------------------------------------------

    def request(self, counts: tuple, context: tuple) -> AssessRequest:
        d = self.defaults
        anc, wbc, neut, bands, lym = (None if v == "" else v for v in counts)
        unit, version, lln, wbc_lln, lym_lln, age, duffy, temp, sustained = (
            None if v == "" else v for v in context)
        for value, flag in ((anc, "--anc"), (wbc, "--wbc"), (neut, "--neutrophils"),
                            (bands, "--bands"), (lym, "--lymphocytes"), (lln, "--lln"),
                            (wbc_lln, "--wbc-lln"), (lym_lln, "--lymphocytes-lln"),
                            (age, "--age")):
            _check_comma(value, flag)
        return AssessRequest(
            anc=anc, wbc=wbc, neutrophils=neut, bands=bands, lymphocytes=lym,
            unit=unit if unit is not None else self.default_unit,
            ctcae_version=version if version is not None else self.default_version,
            lln=lln if lln is not None else d.lln,
            wbc_lln=wbc_lln if wbc_lln is not None else d.wbc_lln,
            lymphocytes_lln=lym_lln if lym_lln is not None else d.lymphocytes_lln,
            age=age if age is not None else d.age,
            duffy_null=_flag_bool(duffy, "duffy_null") if duffy is not None else d.duffy_null,
            temp=temp if temp is not None else d.temp,
            sustained=_flag_bool(sustained, "sustained") if sustained is not None
            else d.sustained)

    def slow(self, counts: tuple, context: tuple) -> tuple:
        """Grade with `assess.assess`; returns the RESULT_COLUMNS values (error last)."""
        try:
            r = assess(self.kb, self.request(counts, context))
        except LeukoError as err:
            return (None, None, None, None, None, None, str(err))
        return (r["anc"], r["severity"], r["ctcae_version"], r["ctcae_grade"],
                r["febrile_neutropenia"], r["below_reference"], None)

    # --- the fast path ---------------------------------------------------------------------

    def row_context(self, context: tuple) -> _RowContext | None:
        """The resolved context, or None when it needs the full path (e.g. it is invalid)."""
        rc = self._row_contexts.get(context, False)
        if rc is False:
            try:
                rc = self._resolve(context)
            except (_Slow, LeukoError):
                rc = None
            except TypeError:  # unhashable JSON value in a context column
                return None
            if len(self._row_contexts) > _MEMO_LIMIT:
                self._row_contexts.clear()
            self._row_contexts[context] = rc
        return rc

    def _resolve(self, context: tuple) -> _RowContext:
        d, kb, parts = self.defaults, self.kb, self._parts
        unit, version, lln, wbc_lln, lym_lln, age, duffy, temp, sustained = (
            None if v == "" else v for v in context)
        unit = unit if unit is not None else self.default_unit
        unit_entry = _memo(parts, ("unit", unit), lambda: grading.find_unit(kb, unit))
        version = version if version is not None else self.default_version
        version = _memo(parts, ("version", version),
                        lambda: grading.check_ctcae_version(kb, version))
        age = age if age is not None else d.age
        duffy = _flag_bool(duffy, "duffy_null") if duffy is not None else d.duffy_null
        rng_id = _memo(parts, ("range", age, duffy), lambda: self._range_id(age, duffy))
        temp = temp if temp is not None else d.temp
        sustained = _flag_bool(sustained, "sustained") if sustained is not None \
            else d.sustained
        if sustained and temp is None:
            raise _Slow
        fever = None if temp is None else _memo(
            parts, ("fever", temp, sustained),
            lambda: grading.has_fever(self.rule, grading.parse_temperature(temp), sustained))
        lln = lln if lln is not None else d.lln
        lln_cells = None
        if lln is not None:
            lln_cells = self._count(unit_entry, "anc", lln, "--lln")
        for raw, measure, flag in (
                (wbc_lln if wbc_lln is not None else d.wbc_lln, "wbc", "--wbc-lln"),
                (lym_lln if lym_lln is not None else d.lymphocytes_lln, "lymphocytes",
                 "--lymphocytes-lln")):
            if raw is not None:
                self._count(unit_entry, measure, raw, flag)
        canon = (version, lln_cells, rng_id, fever)
        ctx = self._contexts.get(canon)
        if ctx is None:
            bounds = set(self._base_bounds)
            if lln_cells is not None:
                bounds.add(lln_cells)
            ctx = self._contexts[canon] = _Context(sorted(bounds))
        memos = self._count_memo.get(unit_entry["id"])
        if memos is None:
            memos = self._count_memo[unit_entry["id"]] = {
                "anc": {}, "wbc": {}, "lymphocytes": {}, "pct": {}}
        lines = self._anc_memo.setdefault((unit_entry["id"], canon), {})
        return _RowContext(unit_entry, memos, ctx, version, lines)

    def _range_id(self, age: Any, duffy: bool) -> str | None:
        age_days = grading.parse_age_days(age) if age is not None else None
        rng, _note = grading.reference_range(self.kb, "anc", age_days, duffy)
        return rng["id"] if rng else None

    def _count(self, unit: dict, measure: str, raw: Any, flag: str) -> float:
        if isinstance(raw, bool):
            raise _Slow
        _check_comma(raw, flag)
        if measure == "pct":
            return grading.parse_percent(raw, flag)
        return grading.to_cells(self.kb, measure, grading.parse_number(raw, flag), unit, flag)

    def _cells(self, rc: _RowContext, measure: str, raw: Any, flag: str) -> float:
        return _memo(rc.memos[measure], raw, lambda: self._count(rc.unit, measure, raw, flag))

    def grade(self, counts: tuple, context: tuple) -> tuple:
        """RESULT_COLUMNS values for one row (errors included, never raised)."""
        if not self.fast:
            return self.slow(counts, context)
        rc = self.row_context(context)
        if rc is None:
            return self._fallback(counts, context)
        try:
            anc, wbc, neut, bands, lym = counts
            differential = neut not in (None, "") or bands not in (None, "")
            has_anc, has_wbc = anc not in (None, ""), wbc not in (None, "")
            if differential and (has_anc or not has_wbc):
                raise _Slow
            wbc_cells = self._cells(rc, "wbc", wbc, "--wbc") if has_wbc else None
            if has_anc:
                anc_cells = self._cells(rc, "anc", anc, "--anc")
            elif differential:
                segs = self._cells(rc, "pct", neut if neut not in (None, "") else 0,
                                   "--neutrophils")
                band = self._cells(rc, "pct", bands if bands not in (None, "") else 0,
                                   "--bands")
                if segs + band > 100:
                    raise _Slow
                anc_cells = wbc_cells * (segs + band) / 100
            else:
                anc_cells = None
            if lym not in (None, ""):
                self._cells(rc, "lymphocytes", lym, "--lymphocytes")
            elif anc_cells is None and wbc_cells is None:
                raise _Slow
        except (_Slow, LeukoError, TypeError):
            return self._fallback(counts, context)
        if anc_cells is None:  # WBC and/or lymphocytes only: no ANC grades to report
            return (None, None, rc.version, None, None, None, None)
        ctx = rc.ctx
        i = bisect_right(ctx.bounds, anc_cells)
        hit = ctx.slots[i]
        if hit is None:
            full = self.slow(counts, context)
            if full[-1] is None:
                ctx.slots[i] = full[1:]
                ctx.csv_slots[i] = _csv_rest(full[1:])
            return full
        r = round(anc_cells, 3)
        return (int(r) if r == int(r) else r, *hit)

    def _fallback(self, counts: tuple, context: tuple) -> tuple:
        return self.slow(counts, context)  # assess gives the error, in its own order


# --- reading ----------------------------------------------------------------------------------

def detect_format(name: str | None, first_line: str) -> str:
    if name:
        low = name.lower()
        if low.endswith((".jsonl", ".ndjson")):
            return "jsonl"
        if low.endswith((".csv", ".tsv")):
            return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def peek_lines(lines: Iterable[str]) -> tuple[str, Iterator[str]]:
    """The first non-blank line, and an iterator over every line (that one included)."""
    it = iter(lines)
    held: list[str] = []
    for line in it:
        held.append(line)
        if line.strip():
            break
    first = held[-1] if held else ""

    return first, itertools.chain(held, it)


def _delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


class Writer:
    """Writes result rows as CSV, JSON Lines or (in chunks) Rich tables."""

    def __init__(self, out: IO[str], fmt: str, columns: list[str], *, chunk: int = 200):
        self.out, self.fmt, self.columns = out, fmt, columns
        self.pending: list[list] = []
        self.chunk = chunk
        if fmt == "csv":
            self.csv = csv.writer(out, lineterminator="\n")
            self.csv.writerow(columns)

    def write(self, values: list) -> None:
        if self.fmt == "csv":
            self.csv.writerow([_csv_value(v) for v in values])
        elif self.fmt == "jsonl":
            self.out.write(json.dumps(dict(zip(self.columns, values)), ensure_ascii=False)
                           + "\n")
        else:
            self.pending.append(values)
            if len(self.pending) >= self.chunk:
                self.flush()

    def flush(self) -> None:
        if self.fmt == "table" and self.pending:
            from . import render

            render.batch_table(self.columns, self.pending)
            self.pending = []


def _csv_value(v: Any) -> Any:
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return ""
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return v


def _csv_rest(values: tuple) -> str:
    """The CSV text after the anc column: ",severity,...,error\\n"."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["", *(_csv_value(v) for v in values)])
    return buf.getvalue()


def _out_names(names: list[str]) -> list[str]:
    """Input columns named like a result column keep their value under NAME_input."""
    taken = set(RESULT_COLUMNS)
    return [f"{n}_input" if n in taken else n for n in names]


def run(kb: KnowledgeBase, lines: Iterable[str], out: IO[str], *, name: str | None = None,
        input_format: str | None = None, fmt: str = "csv", defaults: Defaults | None = None,
        progress: Callable[[int], None] | None = None, fast: bool = True) -> Summary:
    """Grade every row of `lines` (a text stream) and write results to `out` as they come."""
    if fmt not in FORMATS:
        raise InputError(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if input_format is not None and input_format not in INPUT_FORMATS:
        raise InputError(f"unknown --input-format {input_format!r}; use one of: "
                         f"{', '.join(INPUT_FORMATS)}")
    grader = Grader(kb, defaults, fast=fast)
    grader.check_defaults()
    first, stream = peek_lines(lines)
    if not first.strip():
        raise InputError(f"{name or 'input'} is empty; give a CSV with a header row or JSON "
                         "Lines")
    kind = input_format or detect_format(name, first)
    summary = Summary()
    if kind == "csv":
        _run_csv(grader, stream, first, out, fmt, summary, progress)
    else:
        _run_jsonl(grader, stream, out, fmt, summary, progress)
    return summary


def _run_csv(grader: Grader, stream: Iterator[str], first: str, out: IO[str], fmt: str,
             summary: Summary, progress) -> None:
    reader = csv.reader(stream, delimiter=_delimiter(first))
    header: list[str] = []
    for header in reader:
        if any(h.strip() for h in header):
            break
    names = [normalise_column(h) for h in header]
    if not any(c in names for c in ("anc", "wbc", "lymphocytes")):
        raise InputError("the CSV header needs an anc, wbc or lymphocytes column (got: "
                         f"{', '.join(header)[:120]}); add a header row such as id,anc,temp")
    width = len(header)
    # a missing column reads the empty string appended at index `width` of every row
    count_get = itemgetter(*(names.index(c) if c in names else width for c in COUNT_COLUMNS))
    present = [(k, names.index(c)) for k, c in enumerate(CONTEXT_COLUMNS) if c in names]
    if present:
        part_get = itemgetter(*(i for _k, i in present))
        if len(present) == 1:
            def ctx_get(row, _g=part_get):
                return (_g(row),)
        else:
            ctx_get = part_get
    else:
        def ctx_get(row):
            return ()
    empty = ("",) * len(CONTEXT_COLUMNS)

    def full_context(part: tuple) -> tuple:
        ctx = list(empty)
        for (k, _i), v in zip(present, part):
            ctx[k] = v
        return tuple(ctx)

    columns = _out_names(header) + list(RESULT_COLUMNS)
    grade, row_context = grader.grade, grader.row_context
    contexts: dict[tuple, tuple] = {}  # raw context columns -> (full context, resolved)
    n = errors = 0
    if fmt != "csv":
        writer = Writer(out, fmt, columns)
        for row in reader:
            if not row:
                continue
            n += 1
            if progress is not None and not n % 1000:
                progress(n)
            if len(row) != width:
                result = _width_error(row, width)
                row = (row + [""] * width)[:width]
            else:
                row.append("")
                part = ctx_get(row)
                known = contexts.get(part)
                if known is None:
                    full = full_context(part)
                    known = contexts[part] = (full, row_context(full))
                result = grade(count_get(row), known[0])
                row.pop()
            errors += result[-1] is not None
            writer.write([*row, *result])
        writer.flush()
    else:
        # Each row is written as its own fields plus an empty field (the separator before the
        # results), then the result columns as text: much cheaper than one long writerow.
        write_own = csv.writer(out, lineterminator="").writerow
        write = out.write
        write_own([*columns[:width], ""])
        write("anc" + _csv_rest(RESULT_COLUMNS[1:]))
        rests: dict[tuple, str] = {}
        fast = grader.fast
        for row in reader:
            if not row:
                continue  # blank line
            n += 1
            if progress is not None and not n % 1000:
                progress(n)
            if len(row) != width:
                result = _width_error(row, width)
                row = (row + [""] * width)[:width]
                row.append("")
            else:
                row.append("")
                part = ctx_get(row)
                known = contexts.get(part)
                if known is None:
                    if len(contexts) > _MEMO_LIMIT:
                        contexts.clear()
                    full = full_context(part)
                    known = contexts[part] = (full, row_context(full) if fast else None)
                anc, wbc, neut, bands, lym = count_get(row)
                rc = known[1]
                if rc is not None and not lym:
                    if not wbc:
                        line = rc.lines.get(anc)  # the common case: an ANC seen before
                        if line is not None:
                            write_own(row)
                            write(line)
                            continue
                    elif not anc and (neut or bands):  # WBC + differential, all seen before
                        pct = rc.pct
                        w = rc.wbc.get(wbc)
                        sp = pct.get(neut) if neut else 0.0
                        bp = pct.get(bands) if bands else 0.0
                        if w is not None and sp is not None and bp is not None \
                                and sp + bp <= 100:
                            cells = w * (sp + bp) / 100  # as assess computes it
                            ctx = rc.ctx
                            rest = ctx.csv_slots[bisect_right(ctx.bounds, cells)]
                            if rest is not None:
                                r = round(cells, 3)
                                write_own(row)
                                write(str(int(r) if r == int(r) else r) + rest)
                                continue
                result = grade((anc, wbc, neut, bands, lym), known[0])
                if rc is not None and not (wbc or lym or neut or bands) \
                        and result[-1] is None:
                    lines = rc.lines
                    if len(lines) > _MEMO_LIMIT:
                        lines.clear()
                    lines[anc] = str(result[0]) + _rest(rests, result[1:])
            write_own(row)
            if result[-1] is not None:
                errors += 1
                write(_csv_rest(result)[1:])
            else:
                write(("" if result[0] is None else str(result[0]))
                      + _rest(rests, result[1:]))
    summary.rows, summary.errors, summary.graded = n, errors, n - errors
    if progress is not None:
        progress(n)


def _width_error(row: list, width: int) -> tuple:
    return (None, None, None, None, None, None,
            f"row has {len(row)} field(s) but the header has {width}")


def _rest(cache: dict, values: tuple) -> str:
    rest = cache.get(values)
    if rest is None:
        rest = cache[values] = _csv_rest(values)
    return rest


def _run_jsonl(grader: Grader, stream: Iterator[str], out: IO[str], fmt: str, summary: Summary,
               progress) -> None:
    writer: Writer | None = None
    keymap: dict[str, str] = {}
    n = 0
    for lineno, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        n += 1
        try:
            obj = json.loads(line)
        except ValueError as err:
            obj, result = {}, (None, None, None, None, None, None,
                               f"line {lineno}: not valid JSON ({err.msg}); each line must be "
                               "one JSON object")
        else:
            if isinstance(obj, dict):
                fields: dict[str, Any] = {}
                for k, v in obj.items():
                    nk = keymap.get(k)
                    if nk is None:
                        nk = keymap[k] = normalise_column(k)
                    if isinstance(v, bool) and nk in COUNT_COLUMNS:
                        v = str(v).lower()
                    fields[nk] = "" if v is None else v
                result = grader.grade(tuple(fields.get(c, "") for c in COUNT_COLUMNS),
                                      tuple(fields.get(c, "") for c in CONTEXT_COLUMNS))
            else:
                obj, result = {}, (None, None, None, None, None, None,
                                   f"line {lineno}: expected a JSON object, got "
                                   f"{type(obj).__name__}")
        if result[-1] is None:
            summary.graded += 1
        else:
            summary.errors += 1
        if writer is None and fmt != "jsonl":  # columns: the first object's keys + leuko's
            own = list(obj)
            have = {normalise_column(k) for k in own}
            own += [c for c in COLUMNS if c not in have]
            writer = Writer(out, fmt, _out_names(own) + list(RESULT_COLUMNS))
        if fmt == "jsonl":
            own = {(f"{k}_input" if k in RESULT_COLUMNS else k): v for k, v in obj.items()}
            out.write(json.dumps({**own, **dict(zip(RESULT_COLUMNS, result))},
                                 ensure_ascii=False) + "\n")
        else:  # csv/table: other keys first seen after the first object are dropped
            own_cols = writer.columns[:-len(RESULT_COLUMNS)]
            values = {(f"{k}_input" if k in RESULT_COLUMNS else k): v for k, v in obj.items()}
            if isinstance(obj, dict):
                for k, v in obj.items():
                    values.setdefault(normalise_column(k), v)
            writer.write([values.get(c) for c in own_cols] + list(result))
        if progress is not None and not n % 1000:
            progress(n)
    summary.rows = n
    if writer is not None:
        writer.flush()
    elif fmt != "jsonl":  # no rows: still write the CSV header
        Writer(out, fmt, _out_names(list(COLUMNS)) + list(RESULT_COLUMNS)).flush()
    if progress is not None:
        progress(n)


# --- the `assess --input/--fhir` command ------------------------------------------------------

_COUNT_FLAGS = {"anc": "--anc", "wbc": "--wbc", "neutrophils": "--neutrophils",
                "bands": "--bands", "lymphocytes": "--lymphocytes"}


def dispatch(values: dict, *, input_file: str | None, fhir_file: str | None,
             input_format: str | None, out_format: str | None, as_json: bool,
             audience: str | None) -> int:
    """Run `assess --input` or `assess --fhir`; returns the exit code (1 if any row failed).

    values: the other `assess` options as typed (AssessRequest fields; None when not given)."""
    from . import config
    from .kb import load

    if input_file is None and fhir_file is None:
        raise InputError("--format and --input-format need --input FILE")
    if input_file is not None and fhir_file is not None:
        raise InputError("give --input or --fhir, not both")
    opt = "--input" if input_file is not None else "--fhir"
    for key, flag in _COUNT_FLAGS.items():
        if values.get(key) is not None:
            where = "columns in the file" if opt == "--input" else "Observations"
            raise InputError(f"{flag} cannot be combined with {opt}: the counts come from the "
                             f"{where}")
    if input_format is not None and opt != "--input":
        raise InputError("--input-format applies to --input only")
    kb = load()
    if opt == "--fhir":
        if out_format is not None:
            raise InputError("--format applies to --input; use --json for JSON from --fhir")
        if values.get("unit") is not None:
            raise InputError("--unit cannot be combined with --fhir: each Observation carries "
                             "its own UCUM unit")
        base = {k: v for k, v in values.items() if k not in _COUNT_FLAGS and k != "unit"}
        base["ctcae_version"] = config.setting("ctcae_version", base.get("ctcae_version"), kb)
        return _fhir_command(kb, fhir_file, base, as_json=as_json,
                             audience=config.setting("audience", audience, kb))
    if values.get("drug") is not None:
        raise InputError("--drug cannot be combined with --input; run `leuko assess --anc N "
                         "--drug NAME` per patient")
    if as_json and out_format not in (None, "jsonl"):
        raise InputError(f"--json means --format jsonl; drop --json or --format {out_format}")
    fmt = out_format or ("jsonl" if as_json else "csv")
    defaults = Defaults(
        unit=config.setting("unit", values.get("unit"), kb),
        ctcae_version=config.setting("ctcae_version", values.get("ctcae_version"), kb),
        lln=values.get("lln"), wbc_lln=values.get("wbc_lln"),
        lymphocytes_lln=values.get("lymphocytes_lln"), age=values.get("age"),
        duffy_null=bool(values.get("duffy_null")), temp=values.get("temp"),
        sustained=bool(values.get("sustained")))
    return command(kb, input_file, input_format=input_format, fmt=fmt, defaults=defaults)


def command(kb: KnowledgeBase, path: str, *, input_format: str | None, fmt: str,
            defaults: Defaults) -> int:
    import sys

    if fmt not in FORMATS:  # before reading anything
        raise InputError(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        stream = io.TextIOWrapper(buffer, encoding="utf-8-sig", newline="") \
            if buffer is not None else sys.stdin
        name = None
    else:
        try:
            stream = open(path, encoding="utf-8-sig", newline="")
        except OSError as err:
            raise InputError(f"--input {path}: cannot read ({err.strerror})") from None
        name = path
    out = _buffered_stdout()
    try:
        if sys.stderr.isatty():
            from . import render

            with render.batch_progress() as progress:
                summary = run(kb, stream, out, name=name, input_format=input_format, fmt=fmt,
                              defaults=defaults, progress=progress)
        else:
            summary = run(kb, stream, out, name=name, input_format=input_format, fmt=fmt,
                          defaults=defaults)
    except UnicodeDecodeError as err:
        raise InputError(f"--input {path}: not UTF-8 text ({err.reason}); save the export "
                         "as UTF-8 CSV") from None
    finally:
        if stream is not sys.stdin:
            if path == "-":
                stream.detach()  # leave the caller's stdin open
            else:
                stream.close()
        out.flush()
    sys.stderr.write(summary.line() + "\n")
    return 1 if summary.errors else 0


def _buffered_stdout():
    """stdout with a real write buffer: under PYTHONUNBUFFERED (or -u) every row would be its
    own system call. Rows are still written as they are graded, 64 KiB at a time."""
    import sys

    stdout = sys.stdout
    if not getattr(stdout, "write_through", False):
        return stdout
    try:
        fd = stdout.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a test runner's in-memory stdout
        return stdout
    stdout.flush()
    return open(fd, "w", encoding=stdout.encoding or "utf-8", errors=stdout.errors,
                newline="", closefd=False, buffering=1 << 16)


def _fhir_command(kb: KnowledgeBase, path: str, base: dict, *, as_json: bool,
                  audience: str) -> int:
    import sys

    from . import fhir

    doc = fhir.read(path, sys.stdin.read() if path == "-" else None)
    results = fhir.assess_doc(kb, doc, base)
    if as_json:
        payload = [{**{k: v for k, v in r.items() if k != "severity_detail"},
                    "audience": audience, "disclaimer": kb.settings["disclaimer"]}
                   for r in results]
        sys.stdout.write(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2,
                                    ensure_ascii=False) + "\n")
        return 0
    from . import render

    for r in results:
        render.fhir_header(r["fhir"])
        render.assess(kb, r, audience)
    return 0
