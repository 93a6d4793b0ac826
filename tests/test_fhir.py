"""`leuko assess --fhir`: FHIR R4 Observation / Bundle input (issue 6)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def obs(
    ident, code, value, unit, *, subject="Patient/p1", when="2026-11-20T08:30:00Z", status="final"
):
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": status,
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": subject},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def bundle(*resources):
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def write(tmp_path, doc, name="fhir.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def strip(result: dict) -> dict:
    """The result fields without their provenance: the FHIR block, and the origins of the
    settings (the unit comes from the Observation there, from a flag by hand)."""
    out = {k: v for k, v in result.items() if k != "fhir"}
    out["settings"] = {k: s["value"] for k, s in result["settings"].items()}
    return out


def test_bundle_grades_like_numbers_typed_by_hand(invoke):
    res = invoke("assess", "--fhir", str(EXAMPLES / "bundle.json"), "--json")
    assert res.exit_code == 0, res.stderr
    by_hand = invoke(
        "assess",
        "--wbc",
        "5.2",
        "--neutrophils",
        "19",
        "--lymphocytes",
        "1.1",
        "--unit",
        "10^9/L",
        "--json",
    )
    got = json.loads(res.stdout)
    assert strip(got) == strip(json.loads(by_hand.stdout))
    assert got["anc"] == 988 and got["severity"] == "moderate"
    assert got["fhir"]["observations"] == ["wbc-1", "neut-pct-1", "lymph-1"]
    assert got["fhir"]["loinc"] == {"wbc": "6690-2", "neutrophils": "770-8", "lymphocytes": "731-0"}


def test_single_observation_with_flags(invoke):
    res = invoke(
        "assess",
        "--fhir",
        str(EXAMPLES / "observation.json"),
        "--temp",
        "38.5",
        "--ctcae-version",
        "5.0",
        "--json",
    )
    by_hand = invoke(
        "assess",
        "--anc",
        "0.45",
        "--unit",
        "10^9/L",
        "--temp",
        "38.5",
        "--ctcae-version",
        "5.0",
        "--json",
    )
    assert res.exit_code == 0, res.stderr
    assert strip(json.loads(res.stdout)) == strip(json.loads(by_hand.stdout))
    assert json.loads(res.stdout)["febrile_neutropenia"] is True


def test_human_output(invoke):
    res = invoke("assess", "--fhir", str(EXAMPLES / "observation.json"))
    assert res.exit_code == 0
    assert "Patient/example" in res.stdout and "SEVERE" in res.stdout


@pytest.mark.parametrize(
    "unit, value", [("/uL", 450), ("/mm3", 450), ("10*9/L", 0.45), ("10*3/uL", 0.45)]
)
def test_ucum_units(invoke, tmp_path, unit, value):
    res = invoke("assess", "--fhir", write(tmp_path, obs("a", "26499-4", value, unit)), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["anc"] == 450


def test_mixed_units_are_converted(invoke, tmp_path):
    doc = bundle(
        obs("w", "6690-2", 5200, "/uL"),
        obs("n", "770-8", 19, "%"),
        obs("l", "26474-7", 1.1, "10*9/L"),
    )
    res = invoke("assess", "--fhir", write(tmp_path, doc), "--json")
    got = json.loads(res.stdout)
    assert got["anc"] == 988 and got["lymphocytes"]["value"] == 1100


def test_anc_with_a_differential_must_agree(invoke, tmp_path):
    """A CBC report carries the ANC and the neutrophil % together: they are checked against
    each other, as the same numbers typed by hand are (issue 13)."""
    agree = bundle(
        obs("a", "751-8", 1500, "/uL"), obs("w", "6690-2", 5000, "/uL"), obs("n", "770-8", 30, "%")
    )
    got = json.loads(invoke("assess", "--fhir", write(tmp_path, agree), "--json").stdout)
    assert got["anc"] == 1500 and got["anc_source"]["method"] == "given"
    assert "5000 x (30 + 0) / 100 = 1500" in got["anc_source"]["differential_agrees"]
    disagree = bundle(
        obs("a", "751-8", 800, "/uL"), obs("w", "6690-2", 5000, "/uL"), obs("n", "770-8", 30, "%")
    )
    res = invoke("assess", "--fhir", write(tmp_path, disagree), "--json")
    assert res.exit_code == 2
    assert "--anc 800" in res.stderr and "1500" in res.stderr and "disagree" in res.stderr


def test_groups_by_subject_and_time(invoke, tmp_path):
    doc = bundle(
        obs("a1", "751-8", 400, "/uL", when="2026-11-01"),
        obs("a2", "751-8", 1600, "/uL", when="2026-11-08"),
    )
    got = json.loads(invoke("assess", "--fhir", write(tmp_path, doc), "--json").stdout)
    assert isinstance(got, list) and [g["anc"] for g in got] == [400, 1600]
    assert [g["fhir"]["effective"] for g in got] == ["2026-11-01", "2026-11-08"]


def test_one_instant_written_with_two_offsets_is_one_group(invoke, tmp_path):
    """08:00Z and 09:00+01:00 are the same sample time: one case, the ANC computed from the
    WBC and % and checked against the reported ANC, as for the counts typed together."""
    doc = bundle(
        obs("w", "6690-2", 2.0, "10*3/uL", when="2024-03-05T08:00:00Z"),
        obs("n", "770-8", 20, "%", when="2024-03-05T09:00:00+01:00"),
        obs("a", "751-8", 0.4, "10*3/uL", when="2024-03-05T08:00:00.000+00:00"),
    )
    res = invoke("assess", "--fhir", write(tmp_path, doc), "--json")
    assert res.exit_code == 0, res.stderr
    got = json.loads(res.stdout)
    assert isinstance(got, dict), [g["fhir"]["effective"] for g in got]
    assert got["anc"] == 400 and got["fhir"]["observations"] == ["w", "n", "a"]
    assert got["fhir"]["effective"] == "2024-03-05T08:00:00Z"
    # a time without an offset is not an instant: it stays its own group
    doc["entry"][2]["resource"]["effectiveDateTime"] = "2024-03-05T08:00:00"
    res = invoke("assess", "--fhir", write(tmp_path, doc), "--json")
    assert isinstance(json.loads(res.stdout), list)


def test_same_value_twice_is_fine_different_is_an_error(invoke, tmp_path):
    same = bundle(obs("a", "751-8", 800, "/uL"), obs("b", "753-4", 0.8, "10*3/uL"))
    assert invoke("assess", "--fhir", write(tmp_path, same), "--json").exit_code == 0
    diff = bundle(obs("a", "751-8", 800, "/uL"), obs("b", "753-4", 900, "/uL"))
    res = invoke("assess", "--fhir", write(tmp_path, diff, "d.json"), "--json")
    assert res.exit_code == 2 and "second ANC value" in res.stderr


def test_entered_in_error_is_skipped(invoke, tmp_path):
    doc = bundle(
        obs("a", "751-8", 800, "/uL"), obs("b", "751-8", 100, "/uL", status="entered-in-error")
    )
    got = json.loads(invoke("assess", "--fhir", write(tmp_path, doc), "--json").stdout)
    assert got["anc"] == 800


@pytest.mark.parametrize(
    "doc, message",
    [
        (obs("x", "718-7", 13.5, "g/dL"), "count found (ANC 751-8"),
        (obs("x", "718-7", 13.5, "g/dL"), "skipped 1 observation: LOINC 718-7"),
        (obs("x", "751-8", 450, "mg/dL"), "unit 'mg/dL' is not supported for ANC"),
        # no unit at all: said as such (it read "unit None"), with the fix
        (obs("x", "751-8", 0.4, None), "has no unit; give valueQuantity.code"),
        (obs("x", "770-8", 40, "/uL"), "not a percentage"),
        (obs("x", "751-8", 45, "%"), "unit '%' is not supported"),
        (bundle(obs("n", "770-8", 40, "%")), "no ANC, WBC or lymphocyte count"),
        ({"resourceType": "Patient"}, "resourceType 'Patient' is not supported"),
        (obs("t", "8310-5", 38.5, "Cel"), "no ANC, WBC or lymphocyte count found"),
        (obs("t", "8310-5", 38.5, "K"), "body temperature unit 'K'"),
        (bundle(), "no Observation entries"),
    ],
)
def test_bad_fhir_exits_2(invoke, tmp_path, doc, message):
    res = invoke("assess", "--fhir", write(tmp_path, doc))
    assert res.exit_code == 2, res.stdout
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def _with_low(o, value, unit):
    o["referenceRange"] = [
        {"low": {"value": value, "system": "http://unitsofmeasure.org", "code": unit}}
    ]
    return o


@pytest.mark.parametrize(
    "doc, message",
    [
        (obs("x", "751-8", -1, "10*3/uL"), "Observation 'x'"),
        (obs("x", "751-8", 4500, "10*3/uL"), "Observation 'x'"),
        (obs("x", "770-8", 140, "%"), "Observation 'x'"),
        (_with_low(obs("x", "751-8", 1.2, "10*3/uL"), -5, "10*3/uL"), "Observation 'x'"),
        (_with_low(obs("x", "751-8", 1.2, "10*3/uL"), 1500, "10*3/uL"), "Observation 'x'"),
    ],
)
def test_a_bad_number_names_the_observation_not_a_flag(invoke, tmp_path, doc, message):
    """--anc, --lln and --unit are refused with --fhir: the fix is in the file."""
    if doc["code"]["coding"][0]["code"] == "770-8":
        doc = bundle(doc, obs("w", "6690-2", 3.0, "10*3/uL"))
    res = invoke("assess", "--fhir", write(tmp_path, doc))
    assert res.exit_code == 2, res.stdout
    err = res.stderr.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not any(f in err for f in ("--anc", "--lln", "--unit", "--neutrophils")), err


def test_bad_flags_and_files(invoke, tmp_path):
    path = write(tmp_path, obs("a", "751-8", 800, "/uL"))
    for args, message in (
        (["--anc", "3"], "--anc cannot be combined with --fhir"),
        (["--unit", "10^9/L"], "--unit cannot be combined with --fhir"),
        (["--input", path], "not both"),
        (["--format", "csv"], "--format applies to --input"),
    ):
        res = invoke("assess", "--fhir", path, *args)
        assert res.exit_code == 2 and message in res.stderr, (args, res.stderr)
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    res = invoke("assess", "--fhir", str(bad))
    assert res.exit_code == 2 and "not valid JSON" in res.stderr
    assert invoke("assess", "--fhir", str(tmp_path / "none.json")).exit_code == 2


def test_stdin(invoke):
    doc = obs("a", "751-8", 450, "/uL")
    res = invoke("assess", "--fhir", "-", "--json", input=json.dumps(doc))
    assert res.exit_code == 0 and json.loads(res.stdout)["severity"] == "severe"


def test_non_loinc_codings_are_ignored(invoke, tmp_path):
    doc = obs("a", "751-8", 450, "/uL")
    doc = copy.deepcopy(doc)
    doc["code"]["coding"].insert(0, {"system": "http://snomed.info/sct", "code": "30630007"})
    res = invoke("assess", "--fhir", write(tmp_path, doc), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["anc"] == 450


def _one(**changes):
    """An ANC Observation (LOINC 751-8, 0.45 10^9/L) with `changes` applied; None deletes."""
    o = obs("anc-1", "751-8", 0.45, "10*9/L")
    for path, value in changes.items():
        where, key = (o["valueQuantity"], path[3:]) if path.startswith("vq_") else (o, path)
        if value is None:
            where.pop(key, None)
        else:
            where[key] = value
    return o


@pytest.mark.parametrize(
    "changes,error",
    [
        ({"status": "finale"}, "status 'finale' is not a FHIR Observation status"),
        ({"status": None}, "no status is not a FHIR Observation status"),
        (
            {"dataAbsentReason": {"text": "haemolysed"}},
            "has both a value and a dataAbsentReason",
        ),
        ({"vq_unit": "/uL"}, "valueQuantity.code '10*9/L' and .unit '/uL' name"),
    ],
)
def test_a_contradictory_observation_is_refused_not_read_one_way(invoke, tmp_path, changes, error):
    """Never silently chosen: a status FHIR does not define, a value beside a dataAbsentReason,
    a code and a unit text that name different units."""
    res = invoke("assess", "--fhir", write(tmp_path, bundle(_one(**changes))), "--json")
    assert res.exit_code != 0
    assert error in res.stdout + res.stderr


@pytest.mark.parametrize(
    "changes,note",
    [
        ({}, None),
        ({"vq_unit": "K/uL"}, None),  # a display text leuko does not read: the code decides
        ({"vq_unit": "10^9/L"}, None),  # the same unit written two ways
        ({"status": "preliminary"}, "status 'preliminary', not final"),
        ({"status": "amended"}, None),
    ],
)
def test_a_consistent_observation_is_graded(invoke, tmp_path, changes, note):
    res = invoke("assess", "--fhir", write(tmp_path, bundle(_one(**changes))), "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    got = json.loads(res.stdout)
    assert got["anc"] == 450 and got["ctcae_grade"] == 3
    notes = [n for n in got["notes"] if "not final" in n]
    assert notes == (
        [] if note is None else [f"Observation 'anc-1': {note}: the result may still change"]
    )


def _anc_with_low(invoke, tmp_path, **low) -> dict:
    """assess --json (CTCAE 5.0) of an ANC of 1.6 x10^9/L whose referenceRange.low is a UCUM
    1.8 x10^9/L with `low` added: grade 1 when that low is the LLN, unknown when it is not."""
    o = obs("anc-1", "751-8", 1.6, "10*9/L")
    quantity = {"value": 1.8, "system": "http://unitsofmeasure.org", "code": "10*9/L", **low}
    o["referenceRange"] = [{"low": quantity}]
    args = ("assess", "--fhir", write(tmp_path, bundle(o)), "--ctcae-version", "5.0", "--json")
    return json.loads(invoke(*args).stdout)


def test_a_reference_low_with_a_comparator_is_not_an_lln(invoke, tmp_path):
    """referenceRange.low is a SimpleQuantity (no comparator): '>1.5' is not the lab's LLN."""
    got = _anc_with_low(invoke, tmp_path, comparator=">")
    assert got["ctcae_grade"] is None  # grade 0 or 1: no LLN taken from '>1.8'
    assert any("has a comparator ('>'); not used as the LLN" in n for n in got["notes"])
    got = _anc_with_low(invoke, tmp_path)
    assert got["ctcae_grade"] == 1  # the same low without it is the LLN: 1.6 < 1.8


def test_a_low_or_temperature_whose_code_and_unit_disagree_is_not_read_one_way(invoke, tmp_path):
    """The same rule as a count's: a referenceRange.low is left out with a note, a body
    temperature refuses its case."""
    got = _anc_with_low(invoke, tmp_path, unit="/uL")
    assert got["ctcae_grade"] is None
    assert any(
        "referenceRange.low.code '10*9/L' and .unit '/uL' name different units; not used as "
        "the LLN" in n
        for n in got["notes"]
    )
    temp = obs("t-1", "8310-5", 38.6, "Cel")
    temp["valueQuantity"]["unit"] = "[degF]"
    res = invoke(
        "assess", "--fhir", write(tmp_path, bundle(obs("anc-1", "751-8", 0.4, "10*9/L"), temp))
    )
    assert res.exit_code == 2
    assert "body temperature valueQuantity.code 'Cel' and .unit '[degF]' name different" in (
        res.stderr
    )
