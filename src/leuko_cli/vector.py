"""Vectorised grading: a stable Python API, arrays in, grades out (the optional extra
`leuko-cli[columnar]`; numpy is imported only here, never on the start-up path).

    from leuko_cli import vector
    g = vector.grade([450, 800, None], measure="anc", version="5.0", lln=[1800, None, 1800])
    g.grades          # numpy int8 array; only meaningful where g.known
    g.to_list()       # [3, 3, None]
    g.reason_text()   # ["graded", "graded", "missing"]
    g.scale, g.version, g.term   # the KB scale id, CTCAE version and term used

The contract (docs/scale.md): the same KB scales, the same 15-significant-digit comparison, the
same LLN rule and the same plausibility limits as the row engine (`grading.grade`,
`inputs.to_cells`). Bands are never copied into code: a scale is compiled, for one LLN, into its
sorted KB bounds and the grade `grading.grade` itself gives at each bound and between it and the
next (a grade is constant between two bounds, since every comparison is `bound <= x`, `x <
bound` or, for an inclusive upper bound, `x == bound`), and values are looked up with numpy
`searchsorted`. A value whose 15-digit rounding could cross a bound is rounded
exactly (in Python) before the lookup. A grade that needs the lab's LLN and has none is null,
never 0; so is a missing, invalid or implausible value, and `reason` says which.
"""

from __future__ import annotations

from . import grading
from .errors import InputError

API_VERSION = 1  # bumped only if the contract below changes incompatibly

# reason codes (Graded.reason); their order is part of the stable API
REASONS = (
    "graded",
    "missing",  # null / NaN value
    "needs the lab's lower limit of normal (lln)",
    "not a finite non-negative number",
    "implausibly low for the measure in this unit",
    "implausibly high for the measure in this unit",
    "lln is not a plausible lower limit in this unit",
)
GRADED, MISSING, NEEDS_LLN, INVALID, TOO_LOW, TOO_HIGH, BAD_LLN = range(len(REASONS))
_NEAR = 1e-12  # relative distance to a bound under which the exact 15-digit rounding decides


def _np():
    import numpy

    return numpy


def as_float_array(values):
    """A float64 numpy array from numpy, pyarrow, pandas or polars data, or a Python sequence
    (None and nulls become NaN). Text is refused: parsing text is the engines' job, strictly."""
    np = _np()
    if hasattr(values, "to_numpy") and hasattr(values, "null_count"):  # pyarrow (chunked) array
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            raise TypeError("vector.grade takes numbers, not text; parse the column first")
        values = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    elif hasattr(values, "to_numpy"):  # pandas or polars
        try:
            values = values.to_numpy(dtype="float64", na_value=np.nan)
        except TypeError:  # polars: nulls become NaN in a float column
            values = values.cast(float).to_numpy() if hasattr(values, "cast") else values
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    if isinstance(values, np.ndarray) and values.dtype.kind in "US":
        raise TypeError("vector.grade takes numbers, not text; parse the column first")
    out = []
    for v in values:
        if v is None:
            out.append(np.nan)
        elif isinstance(v, (str, bytes)):
            raise TypeError("vector.grade takes numbers, not text; parse the column first")
        else:
            out.append(float(v))
    return np.asarray(out, dtype=np.float64)


class Piecewise:
    """A function of a count (cells/µL) that is constant between sorted bounds, looked up with
    `searchsorted`: outputs[i] holds on [edges[i], edges[i+1]). `of` gives each bound two edges,
    the bound itself and the next float up, since a function may take one value at a bound and
    another just above it (an inclusive upper bound: DAIDS "1,250-1,500" holds 1,500)."""

    def __init__(self, edges: list[float], outputs: list) -> None:
        np = _np()
        self.edges = np.asarray(edges, dtype=np.float64)
        self.outputs = outputs
        self.exact = np.array([grading.significant(e) == e for e in edges], dtype=bool)

    @classmethod
    def of(cls, fn, bounds) -> Piecewise:
        """Compile `fn(cells)` whose every comparison is against one of `bounds`."""
        np = _np()
        points = sorted({0.0, *(float(b) for b in bounds if b is not None and b >= 0)})
        edges, outputs = [], []
        for k, point in enumerate(points):
            # the open interval above a bound is evaluated at its middle, far from any bound
            inside = (point + points[k + 1]) / 2 if k + 1 < len(points) else point * 2 + 1
            edges += [point, float(np.nextafter(point, np.inf))]
            outputs += [fn(point), fn(inside)]
        return cls(edges, outputs)

    def index(self, cells):
        """Index into `outputs` for each count (all >= 0, NaN-free), compared as the row engine
        compares: at 15 significant digits."""
        np = _np()
        edges = self.edges
        pos = np.searchsorted(edges, cells, side="right")
        below = np.maximum(pos - 1, 0)
        lo = edges[below]
        hi = edges[np.minimum(pos, len(edges) - 1)]
        # a count exactly on a bound that is already at 15 digits rounds to itself: not near
        near_lo = (np.abs(cells - lo) <= _NEAR * lo) & ~((cells == lo) & self.exact[below])
        near = near_lo | (np.abs(hi - cells) <= _NEAR * hi)
        if near.any():  # rare: exact rounding, then look these up again
            fixed = np.array([grading.significant(float(v)) for v in cells[near]])
            pos[near] = np.searchsorted(edges, fixed, side="right")
        return pos - 1


def scale_bounds(scale: dict) -> list[float]:
    return [
        b[k]
        for b in scale["bands"]
        for k in ("lower", "upper")
        if isinstance(b.get(k), (int, float)) and not isinstance(b.get(k), bool)
    ]


def compile_scale(scale: dict, lln_cells: float | None, key: str = "grade") -> Piecewise:
    """The scale for one LLN (cells/µL, already at 15 digits; None: no LLN) as a Piecewise
    whose outputs are `grading.grade(...)[key]` (None where the grade is unknown)."""
    bounds = scale_bounds(scale) + ([lln_cells] if lln_cells is not None else [])
    return Piecewise.of(lambda c: grading.grade(scale, c, lln_cells)[key], bounds)


def _kb(kb):
    if kb is not None:
        return kb
    from .kb import load

    return load()


def find_scale(kb, *, measure: str, term: str | None, version: str, scale: str | None) -> dict:
    """The KB scale named by id, or the CTCAE scale of (measure or term, version)."""
    if scale is not None:
        return kb.get("scales", scale)
    v = grading.check_ctcae_version(kb, version)
    found = [
        s
        for s in kb.table("scales")
        if s["system"] == "CTCAE"
        and s["version"] == v
        and (s["term"].casefold() == term.casefold() if term else s["measure"] == measure)
    ]
    if not found:
        have = sorted(
            {
                s["version"]
                for s in kb.table("scales")
                if s["system"] == "CTCAE"
                and (s["term"].casefold() == term.casefold() if term else s["measure"] == measure)
            }
        )
        what = f"term {term!r}" if term else f"measure {measure!r}"
        raise InputError(
            f"no CTCAE {v} scale for {what} in the knowledge base; versions with one: "
            f"{', '.join(have) or 'none'}"
        )
    return found[0]


class Graded:
    """The grades of an array of values, and what graded them."""

    def __init__(self, grades, reason, scale: dict) -> None:
        self.grades, self.reason = grades, reason
        self.scale, self.system = scale["id"], scale.get("system")
        self.version, self.term = scale.get("version"), scale.get("term")

    @property
    def known(self):
        return self.reason == GRADED

    def __len__(self) -> int:
        return len(self.grades)

    def to_list(self) -> list:
        return [int(g) if ok else None for g, ok in zip(self.grades, self.known)]

    def to_numpy(self):
        """A float64 array with NaN where the grade is unknown (pandas and Spark friendly)."""
        np = _np()
        return np.where(self.known, self.grades, np.nan)

    def to_arrow(self):
        """A pyarrow int8 array with nulls where the grade is unknown (DuckDB, polars)."""
        import pyarrow as pa

        return pa.array(self.grades, type=pa.int8(), mask=~self.known)

    def reason_text(self) -> list[str]:
        return [REASONS[r] for r in self.reason]


def grade(
    values,
    *,
    measure: str = "anc",
    term: str | None = None,
    unit: str = "cells/uL",
    version: str = "6.0",
    lln=None,
    scale: str | None = None,
    kb=None,
) -> Graded:
    """Grade counts given in `unit` on the CTCAE `version` scale of `measure` (or `term`, e.g.
    "CD4 lymphocytes decreased"; or any KB scale by id with `scale=`). `lln`: the lab's lower
    limit of normal in the same unit, one number or one per value (null: none for that value).
    """
    np = _np()
    kb = _kb(kb)
    chosen = find_scale(kb, measure=measure, term=term, version=version, scale=scale)
    from .inputs import find_unit

    factor = float(find_unit(kb, unit)["factor_to_cells_per_ul"])
    cells = as_float_array(values) * factor
    n = len(cells)
    if lln is None or np.isscalar(lln):
        lln_cells = np.full(n, np.nan if lln is None else float(lln) * factor)
    else:
        lln_cells = as_float_array(lln) * factor
        if len(lln_cells) != n:
            raise InputError(f"lln has {len(lln_cells)} value(s) for {n} count(s)")
    limits = kb.get("measures", chosen["measure"])
    reason = plausibility(cells, limits)
    with np.errstate(invalid="ignore"):  # an LLN of 0 is no limit (assess refuses it too)
        bad_lln = ~np.isnan(lln_cells) & (
            (plausibility(lln_cells, limits) != GRADED) | (lln_cells == 0)
        )
    reason[(reason == GRADED) & bad_lln] = BAD_LLN
    lln_cells[bad_lln] = np.nan
    grades = np.full(n, -1, dtype=np.int8)
    grade_into(grades, reason, chosen, cells, lln_cells)
    return Graded(grades, reason, chosen)


def plausibility(cells, limits: dict):
    """Reason codes for counts in cells/µL under a KB `[[measures]]` entry's limits."""
    np = _np()
    reason = np.zeros(len(cells), dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        reason[(cells < 0) | np.isinf(cells)] = INVALID
        reason[(cells > 0) & (cells < limits["min_positive_cells_per_ul"])] = TOO_LOW
        reason[np.isfinite(cells) & (cells > limits["max_cells_per_ul"])] = TOO_HIGH
    reason[np.isnan(cells)] = MISSING
    return reason


def grade_into(grades, reason, scale: dict, cells, lln_cells) -> None:
    """Fill `grades` (and NEEDS_LLN in `reason`) where reason is GRADED, one compiled scale per
    distinct LLN (labs use few)."""
    np = _np()
    todo = np.flatnonzero(reason == GRADED)
    if not len(todo):
        return
    llns = lln_cells[todo]
    has = ~np.isnan(llns)
    groups = [(None, todo[~has])] if (~has).any() else []
    if has.any():
        with_lln = todo[has]
        uniq, inverse = np.unique(llns[has], return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        cuts = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
        for k, value in enumerate(uniq):
            groups.append((float(value), with_lln[order[cuts[k] : cuts[k + 1]]]))
    for lln, rows in groups:
        table = compile_scale(scale, None if lln is None else grading.significant(lln))
        outputs = np.array([-1 if g is None else g for g in table.outputs], dtype=np.int8)
        got = outputs[table.index(cells[rows])]
        grades[rows] = got
        reason[rows[got == -1]] = NEEDS_LLN
