"""Grading against the source tables at every boundary, in both units and both CTCAE versions.

Expected grades are written out here from shared/clinical-facts.md §1–2 (CTCAE 5.0/6.0 tables,
three-tier scale), independently of the KB, so a wrong band in data/causes.toml fails a test.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leuko_cli import assess as core
from leuko_cli import grading, inputs
from leuko_cli.errors import InputError
from leuko_cli.settings import resolve_all

# (ANC cells/uL, three-tier severity, CTCAE 5.0 grade without LLN, CTCAE 6.0 grade).
# CTCAE 5.0 grade 1 is "<LLN - 1500": at or above 1500 the grade is 0 or 1, which only the
# lab's LLN decides, so without one it is unknown (None), never 0 (issue 13).
ANC_TABLE = [
    (5000, "normal", None, 0),
    (1500, "normal", None, 0),
    (1499.9, "mild", 2, 1),
    (1000, "mild", 2, 1),
    (999.9, "moderate", 3, 2),
    (800, "moderate", 3, 2),
    (500, "moderate", 3, 2),
    (499.9, "severe", 4, 3),
    (300, "severe", 4, 3),
    (100, "severe", 4, 3),
    (99.9, "severe", 4, 4),
    (50, "severe", 4, 4),
    (0, "severe", 4, 4),
]


def _req(**kw):
    """A request as the CLI passes it: field name -> value as typed (False switch = absent)."""
    return {k: v for k, v in kw.items() if v is not False}


def assess(kb, values: dict) -> dict:
    return core.assess(kb, values, resolve_all(kb))


@pytest.mark.parametrize("unit,factor", [("cells/uL", 1), ("10^9/L", 1000)])
@pytest.mark.parametrize("anc,severity,ctcae5,ctcae6", ANC_TABLE)
def test_anc_boundaries_both_units_both_versions(kb, unit, factor, anc, severity, ctcae5, ctcae6):
    value = anc / factor
    if unit == "cells/uL" and 0 < anc < 10:  # below the plausibility floor for cells/uL
        pytest.skip("implausible in cells/uL")
    r5 = assess(kb, _req(anc=str(value), unit=unit, ctcae_version="5.0"))
    r6 = assess(kb, _req(anc=str(value), unit=unit, ctcae_version="6.0"))
    assert r5["severity"] == r6["severity"] == severity
    assert math.isclose(r5["anc"], anc, abs_tol=1e-6)
    assert (r5["ctcae_version"], r5["ctcae_grade"]) == ("5.0", ctcae5)
    assert (r6["ctcae_version"], r6["ctcae_grade"]) == ("6.0", ctcae6)


@pytest.mark.parametrize(
    "anc,lln,grade",
    [
        (1499.9, 2000, 2),
        (1500, 2000, 1),
        (1999.9, 2000, 1),
        (2000, 2000, 0),
        (1600, None, None),
        (1600, 1500, 0),
        (1450, 1400, 2),
    ],
)
def test_ctcae5_grade1_depends_on_lln(kb, anc, lln, grade):
    r = assess(kb, _req(anc=str(anc), lln=None if lln is None else str(lln), ctcae_version="5.0"))
    assert r["ctcae_grade"] == grade


def test_ctcae5_without_lln_says_so(kb):
    r = assess(kb, _req(anc="1700", ctcae_version="5.0"))
    assert r["ctcae_grade"] is None  # unknown, not 0
    ctcae = next(g for g in r["grades"] if g["system"] == "CTCAE")
    assert ctcae["possible_grades"] == [0, 1] and "lower limit" in ctcae["label"]
    assert any("--lln" in n for n in r["notes"])
    r6 = assess(kb, _req(anc="1700", ctcae_version="6.0"))
    assert not any("--lln" in n for n in r6["notes"])


# WBC decreased is the same in 5.0 and 6.0: <LLN-3000, <3000-2000, <2000-1000, <1000
WBC_TABLE = [
    (3000, None, None),  # 0 or 1: needs the lab's LLN
    (3000, 2900, 0),
    (2999.9, None, 2),
    (2000, None, 2),
    (1999.9, None, 3),
    (1000, None, 3),
    (999.9, None, 4),
    (3500, 4000, 1),
    (4000, 4000, 0),
]


@pytest.mark.parametrize("version", ["5.0", "6.0"])
@pytest.mark.parametrize("unit,factor", [("cells/uL", 1), ("10^9/L", 1000)])
@pytest.mark.parametrize("wbc,lln,grade", WBC_TABLE)
def test_wbc_boundaries(kb, version, unit, factor, wbc, lln, grade):
    r = assess(
        kb,
        _req(
            wbc=str(wbc / factor),
            unit=unit,
            ctcae_version=version,
            wbc_lln=None if lln is None else str(lln / factor),
        ),
    )
    assert r["wbc"]["ctcae_grade"] == grade
    assert r["wbc"]["ctcae_version"] == version
    assert r["anc"] is None and r["ctcae_grade"] is None


# Lymphocyte count decreased (CTCAE 5.0): <LLN-800, <800-500, <500-200, <200
LYMPH_TABLE = [(800, None), (799.9, 2), (500, 2), (499.9, 3), (200, 3), (199.9, 4), (10, 4)]


@pytest.mark.parametrize("unit,factor", [("cells/uL", 1), ("10^9/L", 1000)])
@pytest.mark.parametrize("lymph,grade", LYMPH_TABLE)
def test_lymphocyte_boundaries(kb, unit, factor, lymph, grade):
    r = assess(kb, _req(lymphocytes=str(lymph / factor), unit=unit, ctcae_version="5.0"))
    assert r["lymphocytes"]["ctcae_grade"] == grade


def test_lymphocytes_under_6_are_graded_with_5_and_say_so(kb):
    r = assess(kb, _req(lymphocytes="450", ctcae_version="6.0"))
    assert r["lymphocytes"]["ctcae_version"] == "5.0"
    assert r["lymphocytes"]["ctcae_grade"] == 3
    assert any("graded with CTCAE 5.0" in n for n in r["notes"])


def test_anc_from_differential_worked_example(kb):
    # WBC 5200/uL, 15% segs + 4% bands -> ANC 988/uL (clinical-facts 8.1)
    r = assess(kb, _req(wbc="5200", neutrophils="15", bands="4"))
    assert r["anc"] == 988
    assert r["anc_source"]["method"] == "computed"
    assert "5200 x (15 + 4) / 100" in r["anc_source"]["arithmetic"]
    assert r["severity"] == "moderate"


@pytest.mark.parametrize(
    "age,duffy,lower,below",
    [
        (None, False, 1500, True),
        (30, True, 1210, False),
        ("0.01", False, 1750, True),  # 3.65 days: Manroe, 1,750 from 72 h
        ("0.5", False, 1000, False),
        ("1.0", False, 1500, True),
        (10, True, 1500, True),
        ("6mo", False, 1000, False),
        ("2w", False, 1000, False),
        ("13d", False, 1750, True),
    ],
)
def test_reference_ranges(kb, age, duffy, lower, below):
    r = assess(kb, _req(anc="1300", age=None if age is None else str(age), duffy_null=duffy))
    assert r["reference_range"]["lower"] == lower
    assert r["below_reference"] is below


# The first 72 hours (clinical-facts 5.1; Manroe 1979 as summarised by Nittala 2012): the lower
# limit is 7,800 at 12-24 h and 1,750 from 72 h; between 24 and 72 h it lies between the two;
# before 12 h it is not established. (age, ANC, range id, below the range?)
NEONATES = [
    ("6h", 9000, "anc-neonate-0-12h", None),
    ("11.9h", 300, "anc-neonate-0-12h", None),
    ("12h", 7800, "anc-neonate-12-24h", False),
    ("12h", 7799, "anc-neonate-12-24h", True),
    ("23.9h", 5000, "anc-neonate-12-24h", True),
    ("1d", 7799, "anc-neonate-24-72h", None),
    ("36h", 7800, "anc-neonate-24-72h", False),
    ("36h", 1749, "anc-neonate-24-72h", True),
    ("36h", 1750, "anc-neonate-24-72h", None),
    ("71.9h", 6000, "anc-neonate-24-72h", None),
    ("72h", 1750, "anc-neonate-72h-14d", False),
    ("3d", 1749, "anc-neonate-72h-14d", True),
    ("14d", 1200, "anc-infant", False),
    ("364d", 999, "anc-infant", True),
    ("1y", 1499, "anc-over-one-year", True),
]


@pytest.mark.parametrize("age,anc,range_id,below", NEONATES)
def test_neonatal_and_infant_bands(kb, age, anc, range_id, below):
    r = assess(kb, _req(anc=str(anc), age=age))
    assert r["reference_range"]["id"] == range_id
    assert r["below_reference"] is below
    if below is None:
        assert r["reference_range"]["unknown_because"]
        assert any("Reference range: unknown" in n for n in r["notes"])
    # babies are not headed with adult severity words (issue 13)
    basis = "severity" if range_id == "anc-over-one-year" else "reference"
    assert r["headline"]["basis"] == basis


def test_duffy_null_adult_within_its_range_is_headed_by_that_range(kb):
    r = assess(kb, _req(anc="1300", duffy_null=True))
    assert r["headline"] == {
        "basis": "reference",
        "label": "within the reference range",
        "range": "anc-duffy-null-adult",
        "name": "ANC, Duffy-null adults (US reference interval)",
    }
    assert r["severity"] == "mild"  # still reported, not the headline


# DAIDS 2.1 splits the ANC table by age in completed days (clinical-facts §12): >7 days,
# 2-7 days, <=1 day. At ANC 450 the three tables give grades 3, 4 and 4.
DAIDS_AGES = [
    (
        None,
        [
            ("daids-2.1-anc-over-7-days", 3),
            ("daids-2.1-anc-2-7-days", 4),
            ("daids-2.1-anc-up-to-1-day", 4),
        ],
    ),
    ("30", [("daids-2.1-anc-over-7-days", 3)]),
    ("8d", [("daids-2.1-anc-over-7-days", 3)]),
    ("7d", [("daids-2.1-anc-2-7-days", 4)]),
    ("48h", [("daids-2.1-anc-2-7-days", 4)]),
    ("47h", [("daids-2.1-anc-up-to-1-day", 4)]),
    ("0d", [("daids-2.1-anc-up-to-1-day", 4)]),
]


@pytest.mark.parametrize("age,expected", DAIDS_AGES)
def test_daids_grades_are_the_patients_age_group(kb, age, expected):
    r = assess(kb, _req(anc="450", age=age) if age else _req(anc="450"))
    daids = [g for g in r["grades"] if g["system"] == "DAIDS"]
    assert [(g["scale"], g["grade"]) for g in daids] == expected
    for g in daids:  # each names its ages, so a list for every age reads unambiguously
        scale = kb.get("scales", g["scale"])
        assert (g["age_min_days"], g["age_max_days"]) == (
            scale.get("age_min_days"),
            scale.get("age_max_days"),
        )


@pytest.mark.parametrize(
    "args,shown,hidden",
    [
        ([], ["(aged 8 days or more)", "(aged 2-7 days)", "(aged 0-1 days)", "no age given"], []),
        (["--age", "30"], ["(aged 8 days or more)", "age 30 years"], ["(aged 2-7 days)"]),
        (["--age", "1d"], ["(aged 0-1 days)", "age 1 day)"], ["(aged 8 days"]),
    ],
)
def test_human_grades_name_the_daids_age_group(invoke, args, shown, hidden):
    result = invoke("assess", "--anc", "450", *args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # wrapped lines joined
    assert all(s in out for s in shown), out
    assert not any(h in out for h in hidden), out


@pytest.mark.parametrize(
    "age,days",
    [
        ("36h", 1.5),
        ("3d", 3),
        ("6w", 42),
        ("2y", 730.5),
        ("40", 14610),
        ("1.5", 547.875),
        ("6mo", 182.625),
    ],
)
def test_ages_as_paediatrics_writes_them(age, days):
    assert math.isclose(inputs.age_days(age), days)


@pytest.mark.parametrize(
    "age,fragment",
    [
        ("3x", "unknown age unit"),
        ("200", "130 years"),
        ("-2d", "negative"),
        ("1,5y", "decimal comma"),
    ],
)
def test_bad_ages_are_refused(age, fragment):
    with pytest.raises(InputError, match=fragment):
        inputs.age_days(age)


def test_duffy_null_child_has_no_specific_range_and_says_so(kb):
    r = assess(kb, _req(anc="1300", age="10", duffy_null=True))
    assert any("Duffy-null" in n for n in r["notes"])


@pytest.mark.parametrize(
    "anc,temp,sustained,fn",
    [
        (450, "38.3", False, True),
        (450, "38.29", False, False),
        (450, "38.0", True, True),
        (450, "37.9", True, False),
        (500, "39", False, False),  # definite FN needs < 500; see the falling table
        (499.9, "39", False, True),
        (450, "101F", False, True),
        (450, "100.4F", True, True),
        (450, "100.4F", False, False),
    ],
)
def test_febrile_neutropenia_idsa(kb, anc, temp, sustained, fn):
    r = assess(kb, _req(anc=str(anc), temp=temp, sustained=sustained))
    assert r["febrile_neutropenia"] is fn
    if fn:
        assert r["emergency"]["basis"] == "anc-below"


# Fever with an ANC from 500 up to the CTCAE limit (1000): febrile neutropenia if the count is
# expected to fall below 500 within 48 h (IDSA 2010), with the same urgency; and the CTCAE
# adverse event (grade 3 when ANC < 1000 with one reading > 38.3 C, or >= 38 C for over an
# hour). (ANC, temp, sustained, IDSA definite, IDSA if falling, CTCAE grade)
FN_TABLE = [
    (499.9, "38.3", False, True, False, None),  # IDSA >= 38.3; CTCAE needs > 38.3
    (499.9, "38.31", False, True, False, 3),
    (500, "38.3", False, False, True, None),
    (999.9, "39", False, False, True, 3),
    (1000, "39", False, False, False, None),
    (800, "38.0", True, False, True, 3),
    (800, "37.9", True, False, False, None),
    (800, "38.2", False, False, False, None),
    (1500, "40", False, False, False, None),
]


@pytest.mark.parametrize("anc,temp,sustained,definite,falling,ctcae", FN_TABLE)
def test_febrile_neutropenia_boundaries(kb, anc, temp, sustained, definite, falling, ctcae):
    r = assess(kb, _req(anc=str(anc), temp=temp, sustained=sustained, ctcae_version="5.0"))
    assert r["febrile_neutropenia"] is definite
    assert r["febrile_neutropenia_if_falling"] is falling
    assert ("emergency" in r) is (definite or falling)
    if falling:
        assert r["emergency"]["basis"] == "anc-expected-to-fall"
        assert "48 hours" in r["emergency"]["summary"]
    ae = r["ctcae_febrile_neutropenia"]
    assert ae["grade"] == ctcae and ae["criteria_met"] is (ctcae is not None)


def test_a_reading_just_under_the_rule_says_how_to_recheck(kb):
    r = assess(kb, _req(anc="450", temp="38.1"))
    assert r["fever"]["fever"] is False
    assert r["fever"]["recheck"]["sustained_temp_c"] == 38.0
    assert assess(kb, _req(anc="450", temp="38.1", sustained=True))["fever"]["recheck"] is None
    assert assess(kb, _req(anc="450", temp="37.5"))["fever"]["recheck"] is None


def test_no_temperature_means_febrile_neutropenia_null(kb):
    assert assess(kb, _req(anc="300"))["febrile_neutropenia"] is None


@pytest.mark.parametrize(
    "anc,duffy,category",
    [
        (1500, False, "normal range"),
        (1499, False, "mild neutropenia"),
        (999, False, "moderate neutropenia"),
        (499, False, "severe neutropenia"),
        (1000, True, "normal BEN range"),
        (999, True, "BEN neutropenia"),
        (499, True, "BEN severe neutropenia"),
    ],
)
def test_clozapine_monitoring_tables(kb, anc, duffy, category):
    r = assess(kb, _req(anc=str(anc), drug="Clozaril", duffy_null=duffy))
    assert r["drug_monitoring"]["category"] == category
    assert "REMS" in r["drug_monitoring"]["status"]


@pytest.mark.parametrize(
    "answers,points,risk",
    [
        ({}, 0, "high"),
        (
            {
                "burden-mild": 1,
                "no-hypotension": 1,
                "no-copd": 1,
                "solid-tumour-or-no-fungal": 1,
                "no-dehydration": 1,
                "outpatient": 1,
                "age-under-60": 1,
            },
            26,
            "low",
        ),
        (
            {
                "burden-mild": 1,
                "no-hypotension": 1,
                "no-copd": 1,
                "solid-tumour-or-no-fungal": 1,
                "no-dehydration": 1,
            },
            21,
            "low",
        ),
        (
            {
                "burden-moderate": 1,
                "no-hypotension": 1,
                "no-copd": 1,
                "solid-tumour-or-no-fungal": 1,
                "no-dehydration": 1,
                "age-under-60": 1,
            },
            21,
            "low",
        ),
        (
            {
                "burden-moderate": 1,
                "no-hypotension": 1,
                "no-copd": 1,
                "solid-tumour-or-no-fungal": 1,
                "no-dehydration": 1,
            },
            19,
            "high",
        ),
    ],
)
def test_mascc(kb, answers, points, risk):
    given = {k: bool(v) for k, v in answers.items()}
    r = grading.score(kb, "mascc", given, none_apply=not any(given.values()))
    assert (r["points"], r["risk"]) == (points, risk)


def test_mascc_burden_options_exclude_each_other(kb):
    with pytest.raises(InputError, match="exclude each other"):
        grading.score(kb, "mascc", {"burden-mild": True, "burden-moderate": True})


# --- properties ---------------------------------------------------------------------------

counts = st.floats(min_value=10, max_value=100_000, allow_nan=False, allow_infinity=False)


@given(a=counts, b=counts, version=st.sampled_from(["5.0", "6.0"]))
def test_grade_never_decreases_as_count_falls(a, b, version):
    from leuko_cli import kb as kbmod

    kb = _cached_kb(kbmod)
    lo, hi = sorted((a, b))
    for measure in ("anc", "wbc"):
        scale = grading.ctcae_scale(kb, measure, version)
        g_lo, g_hi = grading.grade(scale, lo), grading.grade(scale, hi)
        # an unknown grade (no LLN) is compared by the grades it could be
        lo_best = min(g_lo.get("possible_grades") or [g_lo["grade"]])
        hi_worst = max(g_hi.get("possible_grades") or [g_hi["grade"]])
        assert lo_best >= hi_worst or g_lo["grade"] is None or g_hi["grade"] is None
    sev = kb.get("scales", kb.settings["severity_scale"])
    assert grading.grade(sev, lo)["grade"] >= grading.grade(sev, hi)["grade"]


@given(value=st.floats(min_value=0.01, max_value=100, allow_nan=False))
def test_unit_round_trip(value):
    from leuko_cli import kb as kbmod

    kb = _cached_kb(kbmod)
    giga = inputs.find_unit(kb, "10^9/L")
    cells = inputs.to_cells(kb, "anc", value, giga, "--anc")
    assert math.isclose(inputs.from_cells(cells, giga), value, rel_tol=1e-12)
    r1 = assess(kb, _req(anc=repr(value), unit="G/L"))
    r2 = assess(kb, _req(anc=repr(cells), unit="/uL")) if cells >= 10 else r1
    assert r1["severity"] == r2["severity"] and r1["ctcae_grade"] == r2["ctcae_grade"]


_KB = {}


def _cached_kb(kbmod):
    if "kb" not in _KB:
        _KB["kb"] = kbmod.load(overlay=False, use_cache=False)
    return _KB["kb"]


BAD = st.one_of(
    st.floats(max_value=-1e-9, allow_nan=False).map(repr),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "", "abc", "1e400", "--", "1,2,3x"]),
    st.text(alphabet=st.characters(blacklist_categories=("Nd",)), min_size=1, max_size=8),
)


@given(bad=BAD, flag=st.sampled_from(["anc", "wbc", "lymphocytes"]))
def test_bad_counts_raise_input_error(bad, flag):
    from leuko_cli import kb as kbmod

    kb = _cached_kb(kbmod)
    with pytest.raises(InputError):
        assess(kb, _req(**{flag: bad}))


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"anc": "450", "neutrophils": "40", "wbc": "2000"}, "disagree"),
        ({"anc": "5000", "wbc": "3000"}, "above the WBC"),
        ({"lymphocytes": "3500", "wbc": "3000"}, "above the WBC"),
        ({"anc": "2000", "lymphocytes": "1500", "wbc": "3000"}, "exceed the WBC"),
        ({"anc": "450", "unit": "10^9/L"}, "--unit cells/uL"),
        ({"wbc": "3000", "neutrophils": "101"}, "cannot exceed 100"),
        ({"wbc": "3000", "neutrophils": "90", "bands": "20"}, "exceeds 100%"),
        ({"neutrophils": "50"}, "need --wbc"),
        ({}, "give a count"),
        ({"anc": "450", "unit": "furlongs"}, "unknown unit"),
        ({"anc": "450", "ctcae_version": "3.0"}, "unknown CTCAE version"),
        ({"anc": "450", "temp": "50"}, "outside 25"),
        ({"anc": "450", "temp": "hot"}, "--temp expects"),
        ({"anc": "450", "age": "-1"}, "cannot be negative"),
        ({"wbc": "3.2"}, "--unit 10^9/L"),
        ({"anc": "4500", "unit": "10^9/L"}, "--unit cells/uL"),
        ({"anc": "5000000"}, "implausibly high"),
        ({"anc": "450", "drug": "aspirin"}, "no monitoring table"),
        ({"anc": "450", "sustained": True}, "add --temp"),
    ],
)
def test_bad_input_messages_name_the_fix(kb, kw, fragment):
    with pytest.raises(InputError, match=fragment.replace("^", r"\^")):
        assess(kb, _req(**kw))


@given(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(10**16), 10**16).map(float),
        st.sampled_from([0.0, -0.0, 1e15, -1e15, 999999999999999.0, 1e15 - 1, 0.1 + 0.2]),
        st.integers(-(10**20), 10**20),
    )
)
def test_significant_is_the_15_digit_rounding(x):
    """The whole-number shortcut gives what formatting at 15 digits gives, sign of zero too."""
    expected = float(f"{x:.15g}")
    got = grading.significant(x)
    assert got == expected and math.copysign(1, got) == math.copysign(1, expected)
    assert type(got) is float
