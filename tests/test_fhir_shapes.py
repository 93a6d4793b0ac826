"""FHIR as it comes (issue 16): the HL7 example CBC report in Bundle, DiagnosticReport and NDJSON
form; skipped Observations; referenceRange.low as the LLN; body temperature; grouping."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
FORMS = ["hl7-cbc-report.json", "hl7-cbc-bundle.json", "cbc-bulk.ndjson"]
# the HL7 example CBC (DiagnosticReport 101) typed by hand, with its reference-range lows
HL7_BY_HAND = [
    "--anc", "0.9", "--wbc", "4.6", "--neutrophils", "20", "--lymphocytes", "0.9",
    "--lln", "2.0", "--wbc-lln", "4.0", "--lymphocytes-lln", "1.1", "--unit", "10^9/L",
]  # fmt: skip
SKIPPED_HL7 = 13  # 17 results: WBC, neutrophil %, ANC and lymphocytes are read


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def write(tmp_path, doc, name="fhir.json") -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def graded(result: dict) -> dict:
    """The result without its provenance (the FHIR block, notes, setting origins)."""
    out = {k: v for k, v in result.items() if k not in ("fhir", "notes")}
    out["settings"] = {k: s["value"] for k, s in result["settings"].items()}
    return out


def run_json(invoke, path, *flags) -> tuple[object, object]:
    res = invoke("assess", "--fhir", path, "--json", *flags)
    assert res.exit_code in (0, 1), res.stderr
    return json.loads(res.stdout), res


def obs(ident, code, value, unit, *, low=None, low_unit=None, when="2026-01-05T08:00:00Z", **kw):
    o = {
        "resourceType": "Observation",
        "id": ident,
        "status": kw.get("status", "final"),
        "code": {"coding": [{"system": "http://loinc.org", "code": code}], "text": kw.get("text")},
        "subject": {"reference": kw.get("subject", "Patient/a")},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit},
    }
    if low is not None:
        o["referenceRange"] = [
            {"low": {"value": low, "system": "http://unitsofmeasure.org", "code": low_unit or unit}}
        ]
    return o


def bundle(*resources, kind="collection"):
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


# --- the done-when: the HL7 example CBC in three forms ----------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_hl7_cbc_grades_anc_wbc_and_lymphocytes_with_its_ranges(invoke, form):
    got, res = run_json(invoke, str(EXAMPLES / form), "--ctcae-version", "5.0")
    first = got[0] if isinstance(got, list) else got
    assert res.exit_code == 0
    assert first["fhir"]["subject"] == "Patient/pat2"
    assert first["anc"] == 900 and first["ctcae_grade"] == 3
    assert first["wbc"]["ctcae_grade"] == 0  # 4.6 is above its LLN 4.0
    assert first["lymphocytes"]["ctcae_grade"] == 1  # 0.9 below its LLN 1.1: grade 1, not unknown
    assert first["fhir"]["reference_ranges"] == {
        "wbc_lln": {"low": 4.0, "unit": "10^9/L", "from": "Observation 'r7'"},
        "lln": {"low": 2.0, "unit": "10^9/L", "from": "Observation 'r9'"},
        "lymphocytes_lln": {"low": 1.1, "unit": "10^9/L", "from": "Observation 'r11'"},
    }
    by_hand = invoke("assess", *HL7_BY_HAND, "--ctcae-version", "5.0", "--json")
    assert graded(first) == graded(json.loads(by_hand.stdout))
    skipped = first["fhir"]["skipped"]
    assert len(skipped) == SKIPPED_HL7 and skipped[0] == {
        "id": "r1",
        "code": "718-7",
        "name": "Haemoglobin",
        "reason": "not graded",
    }
    assert "skipped" in res.stderr and "Haemoglobin 718-7" in res.stderr


def test_hl7_cbc_human_output_one_block_per_group(invoke):
    res = invoke("assess", "--fhir", str(EXAMPLES / "cbc-bulk.ndjson"))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.count("FHIR Patient/") == 2
    assert "FHIR Patient/pat2 · 2011-03-04T08:30:00+11:00" in res.stdout
    assert "LLN from the FHIR referenceRange.low of Observation 'r11'" in res.stdout
    line = res.stderr.strip()
    assert line.startswith("leuko: skipped 14 observations: Haemoglobin 718-7, Red Cell Count")
    assert len(res.stderr.strip().splitlines()) == 1


def test_ndjson_many_patients_and_temperature(invoke):
    got, _res = run_json(invoke, str(EXAMPLES / "cbc-bulk.ndjson"))
    assert [r["fhir"]["subject"] for r in got] == ["Patient/pat2", "Patient/p2"]
    p2 = got[1]
    assert p2["febrile_neutropenia"] is True and p2["fever"]["temp_c"] == 38.61
    assert p2["fhir"]["loinc"]["temp"] == "8310-5"
    by_hand = invoke(
        "assess",
        *("--anc", "0.4", "--wbc", "2.1", "--unit", "10^9/L", "--temp", "101.5F"),
        *("--lln", "1.8", "--wbc-lln", "4.5", "--json"),
    )
    assert graded(p2) == graded(json.loads(by_hand.stdout))


# --- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["collection", "transaction", "searchset", "batch-response"])
def test_bundle_types(invoke, tmp_path, kind):
    doc = load(EXAMPLES / "hl7-cbc-bundle.json")
    doc["type"] = kind
    if kind == "batch-response":  # a batch answer holds a searchset Bundle per request
        inner = dict(doc, type="searchset")
        doc = {"resourceType": "Bundle", "type": kind, "entry": [{"resource": inner}]}
    got, _ = run_json(invoke, write(tmp_path, doc))
    assert got["anc"] == 900 and got["lymphocytes"]["ctcae_grade"] == 1


@pytest.mark.parametrize(
    "reference",
    ["#x", "Observation/x", "urn:uuid:0c3a", "http://h.org/fhir/Observation/x/_history/2"],
)
def test_report_references(invoke, tmp_path, reference):
    """A report's result points at a contained resource, an entry by type/id, or a fullUrl;
    the Observation takes the report's subject and time when it has none."""
    o = obs("x", "751-8", 450, "/uL")
    del o["subject"], o["effectiveDateTime"]
    report = {
        "resourceType": "DiagnosticReport",
        "id": "rep",
        "subject": {"reference": "Patient/z"},
        "effectiveDateTime": "2026-02-01",
        "result": [{"reference": reference}],
    }
    if reference == "#x":
        doc = dict(report, contained=[o])
    else:
        url = reference if reference.startswith("urn") else "http://h.org/fhir/Observation/x"
        doc = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": report}, {"fullUrl": url, "resource": o}],
        }
    got, _ = run_json(invoke, write(tmp_path, doc))
    assert got["anc"] == 450 and got["fhir"]["subject"] == "Patient/z"
    assert got["fhir"]["effective"] == "2026-02-01"
    assert got["fhir"]["observations"] == ["x"]  # once, though both an entry and a result


def test_report_result_not_in_the_file_is_listed(invoke, tmp_path):
    report = {
        "resourceType": "DiagnosticReport",
        "subject": {"reference": "Patient/a"},
        "effectiveDateTime": "2026-01-05T08:00:00Z",
        "result": [{"reference": "Observation/elsewhere"}],
    }
    doc = bundle(report, obs("a", "751-8", 800, "/uL"))
    got, res = run_json(invoke, write(tmp_path, doc))
    assert got["anc"] == 800
    assert got["fhir"]["skipped"][0]["reason"] == "not in the file"
    assert "Observation/elsewhere (not in the file)" in res.stderr


def test_ndjson_and_pretty_json_give_the_same_answer(invoke, tmp_path):
    resources = [obs("a", "751-8", 0.8, "10*3/uL"), obs("h", "718-7", 9.1, "g/dL")]
    ndjson = "".join(json.dumps(r) + "\n" for r in resources)
    one, _ = run_json(invoke, write(tmp_path, ndjson, "x.ndjson"))
    two, _ = run_json(invoke, write(tmp_path, json.dumps(bundle(*resources), indent=2)))
    assert one == two


# --- skipped, never fatal ----------------------------------------------------------------------


def test_skipped_statuses_and_absent_values_are_counted(invoke, tmp_path):
    absent = obs("z", "751-8", 1, "/uL")
    del absent["valueQuantity"]
    absent["dataAbsentReason"] = {"text": "specimen clotted"}
    doc = bundle(
        obs("a", "751-8", 800, "/uL"),
        obs("b", "751-8", 100, "/uL", status="entered-in-error"),
        obs("c", "731-0", 100, "/uL", status="cancelled"),
        absent,
    )
    got, res = run_json(invoke, write(tmp_path, doc))
    assert got["anc"] == 800 and "lymphocytes" not in got
    assert [s["reason"] for s in got["fhir"]["skipped"]] == [
        "entered-in-error",
        "cancelled",
        "no value (dataAbsentReason)",
    ]
    assert "skipped 3 observations" in res.stderr


def test_skipped_names_are_inert(invoke, tmp_path):
    doc = bundle(obs("a", "751-8", 800, "/uL"), obs("h", "718-7", 9, "g/dL", text="Hb\x1b[31m"))
    res = invoke("assess", "--fhir", write(tmp_path, doc))
    assert res.exit_code == 0 and "\x1b" not in res.stderr and "Hb\\x1b[31m 718-7" in res.stderr


# --- referenceRange.low as the LLN -------------------------------------------------------------


@pytest.mark.parametrize(
    "low, low_unit, grade",
    [
        (1.1, "10*9/L", 1),  # same unit
        (1100, "/uL", 1),  # converted through the KB units
        (1.1, "10*3/uL", 1),
        (0.85, "10*9/L", 0),  # 0.9 is not below this LLN
        (1.1, "mmol/L", None),  # unknown unit: not used, never guessed
    ],
)
def test_reference_range_low_is_the_lln(invoke, tmp_path, low, low_unit, grade):
    doc = obs("l", "731-0", 0.9, "10*9/L", low=low, low_unit=low_unit)
    got, _ = run_json(invoke, write(tmp_path, doc), "--ctcae-version", "5.0")
    assert got["lymphocytes"]["ctcae_grade"] == grade
    if grade is None:
        assert any("unit 'mmol/L' is unknown; not used as the LLN" in n for n in got["notes"])


def test_a_reference_low_of_zero_is_not_used_as_the_lln(invoke, tmp_path):
    """A range "0-4.0" has no lower limit: not an LLN of 0 (which grades every count "not
    decreased"), and not a refusal of the whole document naming a flag no one gave."""
    doc = obs("l", "731-0", 0.9, "10*9/L", low=0)
    got, _ = run_json(invoke, write(tmp_path, doc), "--ctcae-version", "5.0")
    assert got["lymphocytes"]["ctcae_grade"] is None
    assert any("referenceRange.low is 0" in n for n in got["notes"])


def test_ranges_that_are_not_used(invoke, tmp_path):
    no_unit = obs("l", "731-0", 0.9, "10*9/L", low=1.1)
    del no_unit["referenceRange"][0]["low"]["code"], no_unit["referenceRange"][0]["low"]["system"]
    got, _ = run_json(invoke, write(tmp_path, no_unit), "--ctcae-version", "5.0")
    assert got["lymphocytes"]["ctcae_grade"] is None
    assert any("referenceRange.low has no unit" in n for n in got["notes"])
    treatment = obs("l", "731-0", 0.9, "10*9/L", low=1.1)
    treatment["referenceRange"][0]["type"] = {"coding": [{"code": "treatment"}]}
    got, _ = run_json(invoke, write(tmp_path, treatment), "--ctcae-version", "5.0")
    assert got["lymphocytes"]["ctcae_grade"] is None and got["fhir"]["reference_ranges"] == {}


def test_the_observation_range_wins_over_the_flag(invoke, tmp_path):
    """As a batch row's own column overrides a flag: the flag is the default for groups whose
    Observation has no range."""
    with_range = obs("l", "731-0", 900, "/uL", low=1100)
    got, _ = run_json(
        invoke, write(tmp_path, with_range), "--lymphocytes-lln", "500", "--ctcae-version", "5.0"
    )
    assert got["lymphocytes"]["ctcae_grade"] == 1
    without = obs("l", "731-0", 900, "/uL")
    got, _ = run_json(
        invoke, write(tmp_path, without), "--lymphocytes-lln", "500", "--ctcae-version", "5.0"
    )
    assert got["lymphocytes"]["ctcae_grade"] == 0


def test_mixed_units_convert_the_lln_too(invoke, tmp_path):
    doc = bundle(
        obs("w", "6690-2", 3000, "/uL", low=4.0, low_unit="10*9/L"),
        obs("l", "731-0", 0.9, "10*9/L", low=1100, low_unit="/uL"),
    )
    got, _ = run_json(invoke, write(tmp_path, doc), "--ctcae-version", "5.0")
    by_hand = invoke(
        "assess",
        *("--wbc", "3000", "--lymphocytes", "900", "--wbc-lln", "4000"),
        *("--lymphocytes-lln", "1100", "--ctcae-version", "5.0", "--json"),
    )
    assert graded(got) == graded(json.loads(by_hand.stdout))


# --- body temperature --------------------------------------------------------------------------


@pytest.mark.parametrize("value, unit, typed", [(38.6, "Cel", "38.6"), (101.5, "[degF]", "101.5F")])
def test_temperature_feeds_the_fever_rule(invoke, tmp_path, value, unit, typed):
    doc = bundle(obs("a", "751-8", 300, "/uL"), obs("t", "8310-5", value, unit))
    got, _ = run_json(invoke, write(tmp_path, doc))
    by_hand = invoke("assess", "--anc", "300", "--temp", typed, "--json")
    assert graded(got) == graded(json.loads(by_hand.stdout))
    assert got["febrile_neutropenia"] is True


def test_temperature_at_another_time_is_skipped(invoke, tmp_path):
    doc = bundle(
        obs("a", "751-8", 300, "/uL"), obs("t", "8310-5", 39, "Cel", when="2026-01-05T09:00:00Z")
    )
    got, res = run_json(invoke, write(tmp_path, doc))
    assert got["fever"] is None
    assert "body temperature 8310-5 (no count at the same subject and time)" in res.stderr


def test_two_temperatures_that_differ_are_refused(invoke, tmp_path):
    doc = bundle(
        obs("a", "751-8", 300, "/uL"), obs("t", "8310-5", 39, "Cel"), obs("u", "8310-5", 37, "Cel")
    )
    res = invoke("assess", "--fhir", write(tmp_path, doc))
    assert res.exit_code == 2 and "a second body temperature" in res.stderr


# --- many groups: one bad group does not sink the others ---------------------------------------


def test_a_bad_group_among_many_is_an_error_entry(invoke, tmp_path):
    doc = bundle(
        obs("a", "751-8", 300, "/uL", subject="Patient/1"),
        obs("b", "751-8", 300, "mg/dL", subject="Patient/2"),
    )
    res = invoke("assess", "--fhir", write(tmp_path, doc), "--json")
    assert res.exit_code == 1
    got = json.loads(res.stdout)
    assert got[0]["anc"] == 300 and "mg/dL" in got[1]["error"]
    assert got[1]["fhir"]["subject"] == "Patient/2"
    assert "2 case(s), 1 graded, 1 error(s)" in res.stderr
    human = invoke("assess", "--fhir", write(tmp_path, doc))
    assert human.exit_code == 1 and "Not graded: Observation 'b'" in human.stdout


# --- the wrong reader: a one-line hint naming the right option ---------------------------------


def test_fhir_given_to_the_table_reader_gets_a_hint(invoke, tmp_path):
    pretty = write(tmp_path, json.dumps(load(EXAMPLES / "observation.json"), indent=2), "o.json")
    res = invoke("assess", "--input", pretty, "--input-format", "jsonl")
    assert res.exit_code == 2 and f"--fhir {pretty}" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    ndjson = str(EXAMPLES / "cbc-bulk.ndjson")
    res = invoke("assess", "--input", ndjson)
    assert res.exit_code == 2 and "FHIR resources" in res.stderr and "--fhir" in res.stderr


def test_a_table_given_to_fhir_gets_a_hint(invoke):
    path = str(EXAMPLES / "labs.csv")
    res = invoke("assess", "--fhir", path)
    assert res.exit_code == 2 and f"--input {path}" in res.stderr


def test_ndjson_faults_are_one_line(invoke, tmp_path):
    good = json.dumps(obs("a", "751-8", 800, "/uL"))
    for text, expect in (
        (good + "\n{broken\n", "line 2: not valid JSON"),
        (good + "\n[1]\n", "line 2: expected a FHIR resource"),
    ):
        res = invoke("assess", "--fhir", write(tmp_path, text, "x.ndjson"))
        assert res.exit_code == 2 and expect in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


def test_trend_reads_the_same_shapes(kb):
    """`leuko trend` reads FHIR through the same groups: a DiagnosticReport works there too."""
    from leuko_cli.batch import fhir

    doc = load(EXAMPLES / "hl7-cbc-report.json")
    groups = fhir.groups(kb, copy.deepcopy(doc))
    fields, _notes = fhir.request_values(kb, groups[0])
    assert fields["anc"] == 0.9 and fields["lln"] == 2.0 and fields["unit"] == "10^9/L"


# --- a US Core-style CBC: searchset, report with contained results, NDJSON ---------------------


def _us_core_forms() -> dict[str, str]:
    """The same CBC three ways, from the searchset example file."""
    search = load(EXAMPLES / "us-core-cbc-searchset.json")
    report = next(e["resource"] for e in search["entry"] if e["resource"]["id"] == "cbc")
    results = [e["resource"] for e in search["entry"] if e["resource"] is not report]
    contained = copy.deepcopy(report)
    contained["contained"] = []
    for o in copy.deepcopy(results):
        del o["subject"], o["effectiveDateTime"]  # taken from the report
        contained["contained"].append(o)
    contained["result"] = [{"reference": f"#{o['id']}"} for o in results]
    lines = "".join(json.dumps(r) + "\n" for r in [report, *results])
    return {"searchset": json.dumps(search), "contained": json.dumps(contained), "ndjson": lines}


@pytest.mark.parametrize("form", ["searchset", "contained", "ndjson"])
def test_us_core_style_cbc(invoke, tmp_path, form):
    path = write(tmp_path, _us_core_forms()[form], f"cbc.{form}")
    got, res = run_json(invoke, path, "--ctcae-version", "5.0")
    assert res.exit_code == 0 and got["fhir"]["subject"] == "Patient/example"
    # mixed units (10*3/uL and /uL): counts and LLNs go to the core in cells/uL
    by_hand = invoke(
        "assess",
        *("--anc", "1200", "--wbc", "10000", "--neutrophils", "12", "--lymphocytes", "600"),
        *("--lln", "1800", "--wbc-lln", "4500", "--lymphocytes-lln", "1000"),
        *("--ctcae-version", "5.0", "--json"),
    )
    assert graded(got) == graded(json.loads(by_hand.stdout))
    assert (got["ctcae_grade"], got["wbc"]["ctcae_grade"], got["lymphocytes"]["ctcae_grade"]) == (
        2,
        0,
        2,
    )
    assert [s["code"] for s in got["fhir"]["skipped"]] == ["718-7", "777-3"]
