"""Grade a whole table column-wise: the rows the vectorised path can take, at numpy speed;
every other row through the row engine (`batch.grade.Grader`, i.e. `assess.assess`).

A row is vectorised only when nothing in it needs more than the band lookup: counts, limits
and percentages that are plain decimals, a known unit and CTCAE version, no age, Duffy status
or temperature, and no value the row engine would refuse (implausible, a differential without a
WBC, parts above the WBC...). Any other row, including every row that ends in an error, is
graded by the row engine itself, so its result and error text are the stream's by construction.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leuko_cli import grading, vector
from leuko_cli.assess import _round
from leuko_cli.batch.readers import field_columns
from leuko_cli.fields import BATCH_RESULTS, UNKNOWN_GRADES, unknown_grade_reason

from . import text

# a plain decimal the row engine reads the same way (inputs.number); anything else is its job
_PLAIN = r"^[ \t]*[0-9]+(\.[0-9]+)?[ \t]*$"
NUMBERS = ("anc", "wbc", "neutrophils", "bands", "lymphocytes", "lln", "wbc_lln", "lymphocytes_lln")
ROW_ONLY = ("age", "duffy_null", "temp", "sustained")  # fields only the row engine grades
MEASURE = {"lln": "anc", "wbc_lln": "wbc", "lymphocytes_lln": "lymphocytes"}
TYPES = {
    "anc": pa.float64(),
    "severity": pa.string(),
    "ctcae_version": pa.string(),
    "ctcae_grade": pa.int8(),
    "febrile_neutropenia": pa.bool_(),
    "febrile_neutropenia_if_falling": pa.bool_(),
    "below_reference": pa.bool_(),
    "wbc_ctcae_grade": pa.int8(),
    "lymphocytes_ctcae_grade": pa.int8(),
    "lymphocytes_ctcae_version": pa.string(),
    "unknown_grade_reason": pa.string(),
    "error": pa.string(),
}
assert tuple(TYPES) == BATCH_RESULTS, "columnar.engine.TYPES must follow fields.BATCH_RESULTS"


class Column:
    """One input field of the table: present / plain-decimal masks and values."""

    def __init__(self, arr, n: int, text_empty_is_absent: bool) -> None:
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        self.arr = arr
        if arr is None:
            self.present = np.zeros(n, dtype=bool)
            return
        valid = _bools(pc.is_valid(arr)) if arr.null_count else np.ones(len(arr), dtype=bool)
        if pa.types.is_string(arr.type) and text_empty_is_absent:
            valid &= np.diff(text.parts(arr)[0]) > 0  # not ""
        self.present = valid

    def numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, clean): values as float64 (NaN where absent), clean where a present value
        is a plain non-negative decimal the vectorised path may take."""
        n = len(self.present)
        if self.arr is None:
            return np.full(n, np.nan), np.zeros(n, dtype=bool)
        t = self.arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            if text.has_blanks(self.arr):  # rare: blanks around a number, the regex's job
                clean = _bools(pc.match_substring_regex(self.arr, _PLAIN)) & self.present
                cells = pc.if_else(pa.array(clean), pc.utf8_trim(self.arr, " \t"), None)
            else:  # a few numpy passes over the bytes
                clean = text.plain_decimals(self.arr) & self.present
                cells = text.with_validity(self.arr, clean)
            values = pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False)
        elif pa.types.is_integer(t) or pa.types.is_floating(t):
            values = pc.cast(self.arr, pa.float64()).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                clean = self.present & np.isfinite(values) & (values >= 0)
        else:  # booleans, dates...: the row engine words the refusal
            return np.full(n, np.nan), np.zeros(n, dtype=bool)
        return np.where(clean, values, np.nan), clean

    def texts(self) -> tuple[np.ndarray, list] | None:
        """(code per row, distinct values) for a text column (code -1: absent); None when the
        column is not text."""
        if self.arr is None:
            return np.full(len(self.present), -1), []
        if not pa.types.is_string(self.arr.type):
            return None
        enc = pc.dictionary_encode(self.arr)
        codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes[~self.present] = -1
        return codes, enc.dictionary.to_pylist()


def _bools(arr) -> np.ndarray:
    arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def _setting(grader, key: str, col: Column) -> tuple[np.ndarray, list, np.ndarray]:
    """(choice index per row, resolved values, bad rows) for the unit or CTCAE version."""
    from leuko_cli.settings import normalise

    n = len(col.present)
    found = col.texts()
    if found is None:
        return np.zeros(n, dtype=np.int64), [grader.settings[key].value], col.present.copy()
    codes, distinct = found
    resolved, bad = [], []
    for value in distinct:
        try:
            resolved.append(normalise(grader.kb, key, value))
            bad.append(False)
        except Exception:  # the row engine words the refusal
            resolved.append(grader.settings[key].value)
            bad.append(True)
    resolved.append(grader.settings[key].value)  # code -1: absent, the setting applies
    index = np.where(codes < 0, len(resolved) - 1, codes)
    return index, resolved, np.asarray(bad + [False], dtype=bool)[index]


def grade_table(grader, table, *, text_empty_is_absent: bool) -> tuple[dict, int]:
    """BATCH_RESULTS as typed arrays, one value a row, and the number of error rows."""
    n = table.num_rows
    where = field_columns(table.column_names)  # RowError: two columns for one field
    cols = {
        f: Column(table.column(i) if f in where else None, n, text_empty_is_absent)
        for f, i in ((f, where.get(f)) for f in (*NUMBERS, "unit", "ctcae_version", *ROW_ONLY))
    }
    kb = grader.kb
    slow = np.zeros(n, dtype=bool)
    if set(grader.defaults) - {"region", *MEASURE}:
        slow[:] = True  # an age, temperature... for every row: the row engine's job
    for f in ROW_ONLY:
        slow |= cols[f].present
    unit_ix, units, bad_unit = _setting(grader, "unit", cols["unit"])
    ver_ix, versions, bad_ver = _setting(grader, "ctcae_version", cols["ctcae_version"])
    slow |= bad_unit | bad_ver
    factors = np.array([float(_unit(kb, u)["factor_to_cells_per_ul"]) for u in units])
    factor = factors[unit_ix]
    val, has = {}, {}
    for f in NUMBERS:
        v, clean = cols[f].numbers()
        present = cols[f].present
        if grader.defaults.get(f) is not None:  # a flag such as --lln fills empty cells
            default = grader.defaults[f]
            if isinstance(default, str) and re.fullmatch(_PLAIN, default):
                v = np.where(present, v, float(default.strip(" \t")))
                clean, present = clean | ~present, np.ones(n, dtype=bool)
            else:
                slow |= ~present  # the row engine reads (and refuses) the flag itself
        slow |= present & ~clean
        val[f], has[f] = v, present & clean
    cells = {f: val[f] * factor for f in NUMBERS if f not in ("neutrophils", "bands")}
    for f, measure in (
        ("anc", "anc"),
        ("wbc", "wbc"),
        ("lymphocytes", "lymphocytes"),
        *MEASURE.items(),
    ):
        reason = vector.plausibility(cells[f], kb.get("measures", measure))
        slow |= has[f] & (reason != vector.GRADED)
        if f in MEASURE:  # an LLN of 0: the row engine refuses it
            slow |= has[f] & (cells[f] == 0)
    differential = has["neutrophils"] | has["bands"]
    slow |= ~(has["anc"] | has["wbc"] | has["lymphocytes"])
    slow |= differential & ~has["wbc"]
    slow |= differential & has["anc"]  # the agreement check is worded by the row engine
    segs, bands = np.nan_to_num(val["neutrophils"]), np.nan_to_num(val["bands"])
    slow |= (segs > 100) | (bands > 100) | (segs + bands > 100)
    anc = np.where(
        has["anc"],
        cells["anc"],
        np.where(differential, grading.anc_from_differential(cells["wbc"], segs, bands), np.nan),
    )
    wbc, lym = cells["wbc"], cells["lymphocytes"]
    with np.errstate(invalid="ignore"):
        slow |= has["wbc"] & ((anc > wbc) | (lym > wbc) | (anc + lym > wbc))
    fast = ~slow
    out = _vectorised(grader, fast, anc, wbc, lym, cells, has, ver_ix, versions)
    errors = _row_engine(grader, table, np.flatnonzero(slow), out, text_empty_is_absent)
    return out, errors


def _unit(kb, unit_id: str) -> dict:
    from leuko_cli.inputs import find_unit

    return find_unit(kb, unit_id)


def _vectorised(grader, fast, anc, wbc, lym, cells, has, ver_ix, versions) -> dict:
    kb = grader.kb
    n = len(fast)
    anc_fast = fast & ~np.isnan(anc)
    out: dict = {}
    out["anc"] = np.where(anc_fast, _rounded(np.where(anc_fast, anc, 0.0)), np.nan)
    severity_scale = kb.get("scales", kb.settings["severity_scale"])
    labels = vector.compile_scale(severity_scale, None, key="label")
    sev = np.full(n, -1)
    sev[anc_fast] = labels.index(anc[anc_fast])
    out["severity"] = (sev, labels.outputs)
    out["ctcae_version"] = (np.where(fast, ver_ix, -1), versions)
    grades = {k: np.full(n, -1, dtype=np.int8) for k in ("anc", "wbc", "lymphocytes")}
    needs_lln = {k: np.zeros(n, dtype=bool) for k in grades}
    lym_used = np.full(n, -1)  # index into `used_versions`: the version that graded it
    used_versions: list[str] = []
    for k, version in enumerate(versions):
        in_version = fast & (ver_ix == k)
        for measure, count, limit in (
            ("anc", anc, "lln"),
            ("wbc", wbc, "wbc_lln"),
            ("lymphocytes", lym, "lymphocytes_lln"),
        ):
            rows = in_version & ~np.isnan(count)
            if not rows.any():
                continue
            scale, used = grading.ctcae_scale_or_newest(kb, measure, version)
            if measure == "lymphocytes":
                if used not in used_versions:
                    used_versions.append(used)
                lym_used[rows] = used_versions.index(used)
            reason = np.where(rows, vector.GRADED, vector.MISSING).astype(np.uint8)
            llns = np.where(has[limit], cells[limit], np.nan)
            vector.grade_into(grades[measure], reason, scale, count, llns)
            needs_lln[measure] |= reason == vector.NEEDS_LLN
    out["ctcae_grade"] = grades["anc"]
    out["wbc_ctcae_grade"] = grades["wbc"]
    out["lymphocytes_ctcae_grade"] = grades["lymphocytes"]
    out["lymphocytes_ctcae_version"] = (lym_used, used_versions)
    # unknown_grade_reason: one text per combination of unknown grades (bit k: UNKNOWN_GRADES[k])
    bits = needs_lln["anc"] * 1 + needs_lln["wbc"] * 2 + needs_lln["lymphocytes"] * 4
    texts = [
        unknown_grade_reason([c for k, (c, _p, _l) in enumerate(UNKNOWN_GRADES) if b >> k & 1])
        for b in range(8)
    ]
    out["unknown_grade_reason"] = (np.where(bits > 0, bits - 1, -1), texts[1:])
    rng, _ = grading.reference_range(kb, "anc", None, False)
    below = np.full(n, -1, dtype=np.int8)
    if rng is not None:
        table = vector.Piecewise.of(
            lambda c: grading.compare_with_range(rng, c)[0],
            [rng.get("lower"), rng.get("lower_limit_min"), rng.get("lower_limit_max")],
        )
        codes = np.array([-1 if b is None else int(b) for b in table.outputs], dtype=np.int8)
        below[anc_fast] = codes[table.index(anc[anc_fast])]
    out["below_reference"] = below
    out["_fast"] = fast
    return out


def _rounded(x: np.ndarray) -> np.ndarray:
    """assess._round for every value: whole numbers exactly, the rest (few distinct) in Python."""
    whole = x == np.floor(x)
    out = x.copy()
    rest = ~whole
    if rest.any():
        uniq, inverse = np.unique(x[rest], return_inverse=True)
        out[rest] = np.array([float(_round(float(u))) for u in uniq])[inverse]
    return out


def _row_engine(grader, table: pa.Table, rows: np.ndarray, out: dict, text_empty) -> int:
    """Grade the rows the vectorised path left, one by one; store them in `out["_slow"]`."""
    if not len(rows):
        out["_slow"] = (rows, [])
        return 0
    where = field_columns(table.column_names)
    picked = table.select(list(where.values())).take(pa.array(rows))
    columns = [picked.column(k).to_pylist() for k in range(picked.num_columns)]
    results = []
    for values in zip(*columns):
        fields = {
            f: v for f, v in zip(where, values) if v is not None and not (text_empty and v == "")
        }
        results.append(grader.columns(fields))
    out["_slow"] = (rows, results)
    return sum(1 for r in results if r[-1] is not None)
