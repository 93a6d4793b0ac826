"""The batch memo's second level (batch/intervals.py) against assess row by row (issue 18).

Rows whose numbers fall in the same intervals between the knowledge base's bounds share one
answer. These tests put values on, just around and between every bound, for the ANC, the WBC
with a differential, the age and the temperature, in several contexts and in random order (so
a later row often reuses an answer an earlier row in its interval computed), and check the
output is byte for byte what grading every row with assess gives.
"""

from __future__ import annotations

import csv
import io
import json
import random

import pytest

from leuko_cli import grading
from leuko_cli.batch.command import grade_stream
from leuko_cli.batch.grade import Grader
from leuko_cli.batch.intervals import Intervals, kb_bounds
from leuko_cli.settings import resolve_all

HEADER = "id,anc,wbc,neutrophils,bands,unit,ctcae_version,lln,wbc_lln,age,duffy_null,temp,sustained"


def _graded(kb, text: str, memo: bool, fmt: str = "csv") -> str:
    out = io.StringIO()
    grade_stream(Grader(kb, resolve_all(kb), memo=memo), io.StringIO(text), out, fmt=fmt)
    return out.getvalue()


def _near(rnd: random.Random, bounds: list) -> float:
    b = rnd.choice(bounds)
    return max(0.0, b + rnd.choice([0, 0, 0, -1e-9, 1e-9, -0.001, 0.001, -0.5, 0.5, -1, 1, 7]))


def _export(kb, seed: int, n: int) -> str:
    rnd = random.Random(seed)
    bounds = kb_bounds(kb)
    lines = [HEADER]
    for i in range(n):
        unit = rnd.choice(["", "", "cells/uL", "10^9/L"])
        f = 1000 if unit == "10^9/L" else 1
        count = f"{_near(rnd, bounds) / f:.12g}"
        anc = wbc = neut = bands = ""
        if rnd.random() < 0.6:
            anc = count
        else:
            wbc = rnd.choice([count, f"{rnd.choice([800, 2000, 3000, 4000, 12000]) / f:g}"])
            if rnd.random() < 0.8:
                neut = rnd.choice(["", "0", "10", "49.5", f"{rnd.uniform(0, 90):.3g}", "99"])
                bands = rnd.choice(["", "0", "1", "5", "0.5"])
        lln = rnd.choice(["", "", f"{rnd.choice([1500, 1800, 2000, 1210]) / f:g}", count])
        wbc_lln = rnd.choice(["", "", f"{rnd.choice([3000, 4000]) / f:g}"])
        days = _near(rnd, bounds)
        age = rnd.choice(["", "", f"{days:.12g}d", f"{days / 365.25:.6g}", str(rnd.randint(0, 95))])
        temp = rnd.choice(["", "", f"{_near(rnd, [25, 36, 37.5, 38, 38.3, 39, 45]):.4g}", "101.2F"])
        lines.append(
            ",".join(
                [
                    str(i),
                    anc,
                    wbc,
                    neut,
                    bands,
                    unit,
                    rnd.choice(["", "", "5.0", "6.0"]),
                    lln,
                    wbc_lln,
                    age,
                    rnd.choice(["", "", "true", "no"]),
                    temp,
                    rnd.choice(["", "", "", "yes"]) if temp else "",
                ]
            )
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", [18, 19])
def test_shared_answers_match_assess_on_every_row(kb, seed):
    text = _export(kb, seed, 4000)
    fast = _graded(kb, text, memo=True)
    assert fast == _graded(kb, text, memo=False)
    assert fast.count("\n") == 4001


def test_every_bound_and_its_neighbours_in_both_units(kb):
    """Each bound, the floats either side of it and a step either side, as an ANC and as a
    WBC, twice over in shuffled order (the second pass is served from shared answers)."""
    import math

    values = []
    for b in kb_bounds(kb):
        values += [b, math.nextafter(b, -1), math.nextafter(b, math.inf), b - 0.5, b + 0.5]
    values = [v for v in values if v >= 0]
    lines = [HEADER]
    rnd = random.Random(6)
    for unit, f in (("", 1), ("10^9/L", 1000)):
        for v in values:
            for lln in ("", "1800"):
                lines.append(f"a,{v / f!r},,,,{unit},,{lln and f'{1800 / f:g}'},,,,38.5,")
                lines.append(f"w,,{v / f!r},40,5,{unit},,,,,,,")
    body = lines[1:] * 2
    rnd.shuffle(body)
    text = "\n".join([HEADER, *body]) + "\n"
    assert _graded(kb, text, memo=True) == _graded(kb, text, memo=False)


def test_json_lines_types_are_not_confused(kb):
    """1, 1.0, "1" and true are different inputs: a shared answer never crosses them."""
    rows = [
        {"anc": 1500},
        {"anc": 1500.0},
        {"anc": "1500"},
        {"anc": True},
        {"anc": 1},
        {"anc": -1},
        {"anc": -1.0},
        {"anc": 450, "age": 1},
        {"anc": 450, "age": True},
        {"anc": 450, "duffy_null": True},
        {"anc": 450, "duffy_null": 1},
        {"anc": 450, "temp": 38.5, "sustained": True},
        {"anc": 450, "temp": 38.5, "sustained": 1},
    ]
    text = "".join(json.dumps(r) + "\n" for r in rows * 2)
    assert _graded(kb, text, memo=True, fmt="jsonl") == _graded(kb, text, memo=False, fmt="jsonl")


def test_bounds_hold_every_number_assess_compares_with(kb):
    """Spot checks: the scale bands, the fever rule, reference ranges and the code's limits."""
    bounds = set(kb_bounds(kb))
    rule = kb.get("fever_rules", kb.settings["fever_rule"])
    assert {rule["anc_below"], rule["single_temp_c"], rule["sustained_temp_c"]} <= bounds
    for scale in kb.table("scales"):
        for band in scale["bands"]:
            for b in (band["lower"], band.get("upper")):
                if isinstance(b, (int, float)):
                    assert b in bounds
    assert {0, 100, 25.0, 45.0} <= bounds


def test_rows_outside_the_shape_take_the_full_path(kb):
    iv = Intervals(kb, resolve_all(kb))
    assert iv.key({"anc": "450", "lymphocytes": "900"}) is None
    assert iv.key({"anc": "450", "wbc": "3000"}) is None
    assert iv.key({"anc": "n/a"}) is None
    assert iv.key({"wbc": "3000", "neutrophils": "60", "bands": "40"}) is None
    assert iv.key({"anc": "450", "age": "abc"}) is None
    same, other = iv.key({"anc": "450"}), iv.key({"anc": "451"})
    assert same[0] == other[0] and (same[1], other[1]) == (450, 451)
    assert iv.key({"anc": "500"})[0] != same[0]  # a bound: its own slot


def _neighbours(numbers) -> list:
    import math

    out = []
    for b in numbers:
        out += [b, math.nextafter(b, -1), math.nextafter(b, math.inf), b - 0.05, b + 0.05]
    return [v for v in out if v >= 0]


# other inputs held at values where the answers differ: ANCs either side of the fever rules'
# and the age-dependent and Duffy-null ranges' limits, WBCs either side of the WBC ranges, the
# ages of each reference range and DAIDS scale, a fever and none, Duffy-null and not
_ANCS = ("50", "450", "700", "900", "1100", "1200", "1220", "1600", "1800", "2500", "7900")
_WBCS = ("2900", "3100", "6000", "12000")
_AGES = ("", "0d", "5d", "1", "10", "50")
_TEMPS = ("", "37.9", "38.5")


def _row(**cells) -> str:
    return ",".join(str(cells.get(name, "")) for name in HEADER.split(","))


def _probes(kb, name: str, held: tuple = (_ANCS, _WBCS, _AGES, _TEMPS)) -> list[str]:
    """Rows that put `name` at, just around and near every number of the KB (not only the
    ones the schema says it is compared with), each beside the values `held` (ANCs, WBCs,
    ages, temperatures: by default the ones above)."""
    _ANCS, _WBCS, _AGES, _TEMPS = held
    rows = []
    # and the adult age grading puts in for an absent age (no bound: is it compared?)
    for v in _neighbours([*kb_bounds(kb), grading.ADULT_DAYS]):
        if name == "anc":
            rows += [_row(id="a", anc=repr(v), age=a, temp=t) for a in _AGES for t in _TEMPS]
            rows += [
                _row(id="a", anc=repr(v), age=a, duffy_null="yes", temp=t)
                for a in ("", *_AGES[-4:])
                for t in ("", "38.5")
            ]
        elif name == "wbc":
            for a in ("", *_AGES):
                rows += [
                    _row(id="w", wbc=repr(v), age=a),
                    _row(id="w", wbc=repr(v), neutrophils=40, bands=5, age=a, temp="38.5"),
                    _row(id="w", wbc=repr(v), neutrophils=40, age=a, duffy_null="yes"),
                ]
        elif name == "age" and v <= 47000:
            for duffy in ("", "yes"):
                age = f"{v!r}d"
                rows += [_row(id="g", anc=a, age=age, duffy_null=duffy, temp="38.5") for a in _ANCS]
                rows += [
                    _row(id="g", wbc=w, neutrophils=30, bands=5, age=age, duffy_null=duffy)
                    for w in _WBCS
                ]
        elif name == "temp" and 25 <= v <= 45:
            rows += [
                _row(id="t", anc=a, temp=repr(v), sustained=s) for a in _ANCS for s in ("", "yes")
            ]
    return rows


@pytest.mark.parametrize("name", ["anc", "wbc", "age", "temp"])
def test_each_input_at_every_number_of_the_kb(kb, name):
    """Each input is split only at the numbers the schema says are compared with it
    (input_bounds). Put it at and around every number of the KB, the others held still, in
    one run: a number the schema places wrongly leaves two rows that grade differently in
    one interval, and the second is then given the first one's answer."""
    _probed_both_ways(kb, _probes(kb, name), seed=7)


def _probed_both_ways(kb, rows: list[str], seed: int) -> None:
    """The rows twice over in shuffled order: memo and no memo give the same bytes, and most
    rows are graded (not refused, which would prove nothing). Without the memo each row is
    graded by assess alone, its line a function of the row: the second pass's lines are the
    first's again, so the rows are graded that way once and their lines written twice."""
    random.Random(seed).shuffle(rows)
    text = "\n".join([HEADER, *rows, *rows]) + "\n"
    fast = _graded(kb, text, memo=True)
    head, _, once = _graded(kb, "\n".join([HEADER, *rows]) + "\n", memo=False).partition("\n")
    assert fast == f"{head}\n{once}{once}"
    graded = list(csv.DictReader(io.StringIO(fast)))
    errors = [r["error"] for r in graded if r["error"]]
    assert len(graded) == 2 * len(rows) and len(errors) < len(graded) // 3, errors[:3]


# A personal overlay whose every compared number is its own (no other number of the KB, nor
# its floor or ceiling, equals it), so that each "compares" mark is needed: in the bundled KB
# the fever rules' ANC limits are also band limits, the sustained 38.0 is also floor(38.3), and
# the severity scale is an ANC scale, so marking any of them wrongly changes no bound.
OVERLAY = """
[settings]
severity_scale = "local-severity"

[[scales]]
id = "local-severity"
name = "A severity scale written on the WBC measure (graded on the ANC through the setting)"
system = "Local"
version = "1"
term = "Neutropenia"
measure = "wbc"
unit = "cells/uL"
references = ["ctcae6"]
bands = [
  { lower = 0, upper = 321.5, grade = 3, label = "severe" },
  { lower = 321.5, upper = 876.5, grade = 2, label = "moderate", upper_inclusive = true },
  { lower = 876.5, upper = 1456.5, grade = 1, label = "mild" },
  { lower = 1456.5, grade = 0, label = "none" },
]

[[fever_rules]]
id = "idsa-2010-febrile-neutropenia"
name = "Local fever rule"
system = "IDSA"
version = "2010"
single_temp_c = 38.15
single_inclusive = true
sustained_temp_c = 37.65
sustained_minutes = 60
anc_below = 612.5
summary = "s"
emergency_action = "e"
patient_action = "p"
falling_summary = "f"
references = ["freifeld2011"]

[[fever_rules]]
id = "ctcae-febrile-neutropenia"
name = "Local CTCAE rule"
system = "CTCAE"
version = "5.0/6.0"
single_temp_c = 38.45
single_inclusive = false
sustained_temp_c = 37.85
sustained_minutes = 60
anc_below = 1111.5
grade = 3
summary = "s"
emergency_action = "e"
patient_action = "p"
references = ["ctcae5"]

[[reference_ranges]]
id = "anc-over-one-year"
name = "ANC, 1 to 11 years (local)"
measure = "anc"
population = "general"
age_min_days = 365.25
age_max_days = 4017.75
lower = 1500
severity_scale_applies = true
references = ["manroe1979"]

[[reference_ranges]]
id = "anc-from-eleven-local"
name = "ANC, from 11 years (local)"
measure = "anc"
population = "general"
age_min_days = 4017.75
lower = 1345.5
severity_scale_applies = true
references = ["manroe1979"]

[[reference_ranges]]
id = "anc-duffy-null-child-local"
name = "ANC, Duffy-null children 3 to 14 years (local)"
measure = "anc"
population = "duffy-null"
age_min_days = 1095.75
age_max_days = 5113.5
lower_limit_min = 950.5
lower_limit_max = 1180.5
note = "local bracket"
references = ["manroe1979"]
"""
# held values either side of each of those numbers (ANCs 450 | 612.5 | 700, 900 | 950.5 |
# 1000, 1150 | 1111.5, 1180.5 | 1220 | 1345.5 | 1400 | 1456.5, 1500 | 1600; 10, 12 and 15
# years either side of 4017.75 and 5113.5 days; 37.7 between the sustained and single
# thresholds)
_OVERLAY_HELD = (
    ("450", "700", "900", "1000", "1150", "1220", "1400", "1600", "2500"),
    _WBCS,
    ("", "0d", "5d", "1", "10", "12", "15", "50"),
    ("", "37.7", "38.3", "38.5"),
)


@pytest.fixture(scope="module")
def overlay_kb(tmp_path_factory):
    from leuko_cli.kb import load

    path = tmp_path_factory.mktemp("overlay") / "overlay.toml"
    path.write_text(OVERLAY, encoding="utf-8")
    return load(overlay=path, use_cache=False)


@pytest.mark.parametrize("name", ["anc", "wbc", "age", "temp"])
def test_each_input_at_every_number_of_an_overlay(overlay_kb, name):
    """As above, on a KB where no compared number is shared with another input: each mark
    the schema gives a number the batch columns depend on (the fever rules' ANC limits and
    temperatures, the ANC ranges' limits and ages, the severity setting) is needed here."""
    kb = overlay_kb
    assert kb.settings["severity_scale"] == "local-severity"
    assert kb.get("fever_rules", "idsa-2010-febrile-neutropenia")["anc_below"] == 612.5
    _probed_both_ways(kb, _probes(kb, name, _OVERLAY_HELD), seed=8)


def test_input_bounds_are_kb_bounds_cut_by_the_schema(kb):
    from leuko_cli.batch.intervals import INPUTS, input_bounds

    every, split = set(kb_bounds(kb)), input_bounds(kb)
    assert set(split) == set(INPUTS)
    for name in INPUTS:
        assert set(split[name]) <= every
    rule = kb.get("fever_rules", kb.settings["fever_rule"])
    assert rule["single_temp_c"] in split["temp"] and rule["single_temp_c"] not in split["anc"]
    assert rule["anc_below"] in split["anc"]
    assert 6574.5 in split["age"] and 6574.5 not in split["anc"]  # an adult range's age limit


def test_scales_only_listed_in_grades_split_nothing(kb):
    """DAIDS grades reach no batch column: their bands and age limits are no bounds (the
    boundary tests above still put values at each of them and compare with assess)."""
    from leuko_cli.assess import summarised
    from leuko_cli.batch.intervals import input_bounds

    split = input_bounds(kb)
    daids = {s["id"]: s for s in kb.table("scales") if s["system"] == "DAIDS"}
    assert daids and not any(summarised(kb, s) for s in daids.values())
    assert summarised(kb, kb.get("scales", kb.settings["severity_scale"]))
    for number, measure in ((1250, "anc"), (2500, "wbc"), (1827, "age")):
        assert number in kb_bounds(kb) and number not in split[measure]
