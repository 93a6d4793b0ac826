"""Answers shared by rows that `assess` cannot tell apart: the batch memo's second level.

Within one context (unit, CTCAE version, lower limits, Duffy status, the sustained flag), each
batch result column except `anc` is a step function of the row's numbers: `assess` compares
the ANC, the WBC, the differential percentages, the age in days and the temperature in °C only
with constants of the knowledge base (scale bands, reference ranges, fever rules, measures,
settings), with a few constants of the code (0, 100 %, the 25-45 °C and 130-year limits) and
with the row's own lower limits. So two rows whose numbers fall in the same intervals between
those constants (or on the same constant) get the same grades, and only the `anc` column, which
prints the value itself, differs. Here a row is reduced to that key; the first row with a key
is graded by `assess` and its answer reused.

The bounds are the numbers in the tables `assess` reads, not a list of the ones it happens to
compare today: a new scale or rule is picked up without a change here, and a number that is
never compared only splits an interval in two (one more `assess` call, never a wrong answer).
The one exception is a scale whose grade is only listed in the result's `grades` (DAIDS, the
four-tier severity: `assess.summarised` says which): no batch column reads it, so its bands
split nothing (a third of the `assess` calls of a mixed ANC export, two thirds of a WBC one).
Each input (the ANC, the WBC, the age, the temperature) is split at the numbers the KB schema
says are compared with it (its "compares" marks: a scale's bands with its own measure, an age
limit with the age...) and at every number the schema does not mark, so a new field splits
every input until it is marked.
Each value is keyed both as read and at the 15 significant digits `grading.grade` compares at.
Whatever is outside this shape takes the full path: a row with lymphocytes or a drug, both an
ANC and a WBC, a value that does not parse (its error text names the value), a differential of
100 % or more, or an answer that is an error. tests/test_batch_intervals.py grades values at,
just around and between every bound both ways and compares the output byte for byte.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from leuko_cli import grading, inputs
from leuko_cli.assess import _round, summarised
from leuko_cli.errors import LeukoError
from leuko_cli.fields import BY_NAME
from leuko_cli.kb.schema import SCHEMA, SETTINGS

# the tables assess reads numbers from (drug_monitoring only with --drug, refused in batch)
TABLES = ("scales", "reference_ranges", "fever_rules", "measures", "units")
# numbers the code itself compares with, by the input they split (None: every input): a
# value below 0 and a percentage over 100, the temperature range and the oldest age (the adult
# age grading uses when none is given stands in for an absent age, which is a context of its
# own, and is compared with no age given)
CODE_BOUNDS = {
    None: (0, 100),
    "temp": (25.0, 45.0),
    "age": (inputs.MAX_AGE_YEARS * inputs.DAYS_PER_YEAR,),
}
# request fields that make up a row's context (every request field but the counts)
CONTEXT = (
    "unit",
    "ctcae_version",
    "lln",
    "wbc_lln",
    "lymphocytes_lln",
    "age",
    "duffy_null",
    "temp",
    "sustained",
    "region",
)
# entries per dictionary before it starts again, so memory stays flat: enough for every context
# of a large mixed export (about 4,000 in benchmarks/batch.py), and little enough that the worst
# case (a new lower limit on every row, benchmarks/batch_memory.py) stays within its target
LIMIT = 8192
ANSWERS = 65_536  # (context, intervals) answers: a mixed WBC + differential export has ~37,000
LIMIT_BOUNDS = 1024  # bound lists with a row's own lower limit (about 0.5 KiB each)
_NO = object()  # a context that needs the full path


def _numbers(obj, found: set, whole: bool = True) -> None:
    """Every finite number in obj, and with `whole` the whole numbers either side of it."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        if math.isfinite(obj):
            found.add(obj)
            if whole:
                found.update((math.floor(obj), math.ceil(obj)))
    elif isinstance(obj, dict):
        for value in obj.values():
            _numbers(value, found, whole)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _numbers(value, found, whole)


def kb_bounds(kb) -> list[float]:
    """Every number of the tables assess reads, its settings and CODE_BOUNDS (the tests put
    values at and around each, for every input)."""
    found: set = set()
    for table in TABLES:
        _numbers(kb.table(table), found)
    _numbers(kb.settings, found)
    _numbers(CODE_BOUNDS, found)
    return sorted(found)


# what a key reduces to intervals: the two counts (by their KB measure), the age, the temperature
INPUTS = ("anc", "wbc", "age", "temp")
# inputs also compared in whole units (grading.scale_for: completed days, int(age)): split at the
# whole numbers either side of each of their bounds as well
WHOLE = ("age",)


def input_bounds(kb) -> dict[str, list[float]]:
    """INPUTS -> its bounds: the numbers the schema marks as compared with it, every number it
    leaves unmarked, and its CODE_BOUNDS; a scale no batch column reads adds none. Each is a
    subset of kb_bounds(kb)."""
    marked: dict = {}
    loose: set = set()

    def add(value, to: str | None) -> None:
        _numbers(value, loose if to is None else marked.setdefault(to, set()), whole=False)

    for table in TABLES:
        for entry in kb.table(table):
            if table == "scales" and not summarised(kb, entry):
                continue  # its grade is only listed in `grades`, which no batch column reads
            _walk(entry, SCHEMA[table], entry, add)
    for key, value in kb.settings.items():
        extra = SETTINGS[key][2] if key in SETTINGS else {}
        if "compares" in extra and "ref" in extra and isinstance(value, str):
            add(kb.get(extra["ref"], value), extra["compares"])  # all of the entry it names
        else:
            add(value, None)
    for to, numbers in CODE_BOUNDS.items():
        add(numbers, to)
    found = {name: loose | marked.get(name, set()) for name in INPUTS}
    for name in WHOLE:
        _numbers(list(found[name]), found[name])
    return {name: sorted(numbers) for name, numbers in found.items()}


def _walk(obj: dict, spec: dict, entry: dict, add) -> None:
    for key, value in obj.items():
        kind, _required, extra = spec.get(key, (None, False, {}))
        if kind == "table" and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _walk(item, extra, entry, add)
                else:
                    add(item, None)
        else:
            add(value, _compared_with(extra.get("compares"), entry))


def _compared_with(mark: str | None, entry: dict) -> str | None:
    """The input a marked number is compared with; None (every input) when unmarked."""
    found = {"measure": entry.get("measure"), "self": entry.get("id")}.get(mark, mark)
    return found if isinstance(found, str) else None


def _slot(x: float, bounds: list) -> int:
    """Which interval between bounds x is in; a bound itself is a slot of its own."""
    i = bisect_left(bounds, x)
    return 2 * i + 1 if i < len(bounds) and bounds[i] == x else 2 * i


def _store(memo: dict, key, value) -> None:
    if len(memo) >= LIMIT:
        memo.clear()
    memo[key] = value


class Intervals:
    """Reduce a row's values (request field -> raw value, defaults applied) to its key."""

    def __init__(self, kb, settings: dict) -> None:
        self.kb, self.settings = kb, settings
        self.bounds = input_bounds(kb)  # input name -> its sorted bounds
        self.contexts: dict = {}  # raw context tuple -> (key, unit, lln, wbc_lln in cells/uL)
        self.parsed: dict = {}  # (field, raw, its type, unit id, limit) -> number and slots
        self.with_limit: dict = {}  # (measure, a lower limit in cells/uL) -> bounds with it
        # key -> the answer assess gave its first row; at most ANSWERS, and cleared with the
        # contexts (a file with a new lower limit on every row would otherwise fill it with
        # answers no later row can use)
        self.answers: dict = {}

    def key(self, v: dict) -> tuple | None:
        """(key, the row's `anc` column or None), or None when the row needs the full path.

        The caller sends no row with a JSON true or false in it (true equals 1 in a key); a
        switch given as a flag may be True, which means what 1 means."""
        if v.get("lymphocytes") is not None or v.get("drug") is not None:
            return None
        raw = tuple(map(v.get, CONTEXT))
        try:
            ctx = self.contexts.get(raw)
        except TypeError:  # a JSON list or object as a value
            return None
        if ctx is None:
            if len(self.contexts) >= LIMIT:  # answers are per context: they go with them
                self.contexts.clear()
                self.answers.clear()
            ctx = self.contexts[raw] = self._context(raw)
        if ctx is _NO:
            return None
        canon, unit, anc_limit, wbc_limit = ctx
        anc, wbc = v.get("anc"), v.get("wbc")
        neut, bands = v.get("neutrophils"), v.get("bands")
        if anc is not None:
            if wbc is not None or neut is not None or bands is not None:
                return None
            found = self._count("anc", anc, unit, anc_limit)
            if found is None:
                return None
            return (canon, False, found[1]), found[2]
        if wbc is None:
            return None
        found = self._count("wbc", wbc, unit, wbc_limit)
        if found is None:
            return None
        w = found[0]
        if neut is None and bands is None:
            return (canon, None, found[1]), None
        segs = self._percent("neutrophils", neut) if neut is not None else 0.0
        band = self._percent("bands", bands) if bands is not None else 0.0
        if segs is None or band is None or segs + band >= 100:
            return None
        x = grading.anc_from_differential(w, segs, band)  # as assess computes it
        if not x < w:
            return None
        # the percentages reach the answer only through this ANC (and the checks above)
        bounds, sx = self._bounds(BY_NAME["anc"].measure, anc_limit), grading.significant(x)
        return (canon, True, found[1], _slot(x, bounds), _slot(sx, bounds)), _round(x)

    def _count(self, name: str, raw, unit: dict, limit: float | None) -> tuple | None:
        """(cells/uL exactly as assess reads them, their slots as read and at 15 significant
        digits among the bounds and the row's lower limit, the value as the `anc` column
        prints it), or None when the value does not parse (assess then gives the error)."""

        def parse() -> tuple:
            x = inputs.cells(self.kb, BY_NAME[name], raw, unit)
            bounds = self._bounds(BY_NAME[name].measure, limit)
            return x, (_slot(x, bounds), _slot(grading.significant(x), bounds)), _round(x)

        return self._parsed((name, raw, type(raw), unit["id"], limit), parse)

    def _percent(self, name: str, raw) -> float | None:
        return self._parsed((name, raw, type(raw)), lambda: inputs.percent(raw, BY_NAME[name].flag))

    def _parsed(self, key: tuple, parse):
        """parse(), remembered by key; None when the value does not parse (assess then words
        the error) or cannot be a key (a JSON list or object)."""
        try:
            found = self.parsed.get(key)
        except TypeError:
            return None
        if found is None:
            try:
                found = parse()
            except LeukoError:
                found = _NO
            _store(self.parsed, key, found)
        return None if found is _NO else found

    def _bounds(self, measure: str, limit: float | None) -> list:
        """A count's bounds with a row's lower limit added (one sorted list per limit)."""
        if limit is None:
            return self.bounds[measure]
        found = self.with_limit.get((measure, limit))
        if found is None:
            found = sorted({*self.bounds[measure], limit, grading.significant(limit)})
            if len(self.with_limit) >= LIMIT_BOUNDS:
                self.with_limit.clear()
            self.with_limit[measure, limit] = found
        return found

    def _context(self, raw: tuple):
        v = dict(zip(CONTEXT, raw))
        try:
            unit = inputs.find_unit(
                self.kb, v["unit"] if v["unit"] is not None else self.settings["unit"].value
            )
            age = inputs.age_days(v["age"]) if v["age"] is not None else None
            temp = inputs.temperature(v["temp"]) if v["temp"] is not None else None
            limits = []
            for name in ("lln", "wbc_lln"):
                raw_limit = v[name]
                limits.append(
                    None
                    if raw_limit is None
                    else inputs.cells(self.kb, BY_NAME[name], raw_limit, unit)
                )
        except LeukoError:
            return _NO
        except TypeError:
            return _NO
        age_slot = None if age is None else _slot(age, self.bounds["age"])
        temp_slot = None if temp is None else _slot(temp, self.bounds["temp"])
        # the raw values stay in the key except the age and temperature, which are reduced
        # to their slots (the unit's own id is added: a lower limit is read in it)
        canon = (unit["id"], *raw[:5], age_slot, raw[6], temp_slot, *raw[8:])
        return canon, unit, limits[0], limits[1]
