"""One core, every channel: the same 40 cases give the same result fields through
`assess --json`, CSV batch, JSON Lines batch and FHIR (issue 12)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from leuko_cli.fields import BATCH_RESULTS, BY_NAME, batch_values

# field -> value as typed; a mix of units, versions, limits, ages, fevers and errors
CASES = [
    {"anc": "450"},
    {"anc": "0"},
    {"anc": "99"},
    {"anc": "100"},
    {"anc": "499.9"},
    {"anc": "500"},
    {"anc": "999"},
    {"anc": "1000"},
    {"anc": "1499"},
    {"anc": "1500"},
    {"anc": "0.45", "unit": "10^9/L"},
    {"anc": "1.2", "unit": "G/L"},
    {"anc": "0.8", "unit": "10^9/L", "ctcae_version": "5.0"},
    {"anc": "800", "ctcae_version": "6.0"},
    {"anc": "1700", "ctcae_version": "5.0", "lln": "1800"},
    {"anc": "1700", "ctcae_version": "5.0"},
    {"wbc": "5200", "neutrophils": "15", "bands": "4"},
    {"wbc": "3.1", "neutrophils": "20", "unit": "10^9/L"},
    {"wbc": "2000", "neutrophils": "10"},
    {"wbc": "2500", "lymphocytes": "400"},
    {"lymphocytes": "450", "ctcae_version": "5.0"},
    {"wbc": "1800", "wbc_lln": "4000", "ctcae_version": "5.0"},
    {"anc": "1300", "duffy_null": "true"},
    {"anc": "1300", "age": "0.5"},
    {"anc": "1300", "age": "10", "duffy_null": "true"},
    {"anc": "300", "temp": "38.6"},
    {"anc": "300", "temp": "38.1"},
    {"anc": "300", "temp": "38.1", "sustained": "true"},
    {"anc": "800", "temp": "101.2F"},
    {"anc": "90", "temp": "39.1"},
    # refused, with the same message everywhere
    {"anc": "0,45"},
    {"anc": "1,500"},
    {"anc": "-5"},
    {"anc": "n/a"},
    {"anc": "3.2"},
    {"anc": "450", "unit": "furlongs"},
    {"anc": "450", "ctcae_version": "3.0"},
    {"anc": "1800", "wbc": "6000", "neutrophils": "40"},
    {"anc": "450", "temp": "50"},
    {"wbc": "3000", "neutrophils": "90", "bands": "20"},
]
assert len(CASES) == 40

COUNTS = ("anc", "wbc", "neutrophils", "bands", "lymphocytes")
FHIR_UNITS = {"cells/uL": "/uL", "10^9/L": "10*9/L", "G/L": "10*9/L"}


def _argv(case: dict) -> list[str]:
    argv = []
    for name, value in case.items():
        field = BY_NAME[name]
        if field.kind == "switch":
            argv.append(field.flag)
        else:
            argv += [field.flag, value]
    return argv


@pytest.fixture(scope="module")
def by_hand():
    """Each case typed on the command line: (exit code, JSON result or error line)."""
    from typer.testing import CliRunner

    from leuko_cli.cli import app

    runner = CliRunner()
    out = []
    for case in CASES:
        r = runner.invoke(app, ["assess", *_argv(case), "--json"], prog_name="leuko")
        if r.exit_code == 0:
            out.append(json.loads(r.stdout))
        else:
            assert r.exit_code == 2, r.stderr
            out.append(r.stderr.strip().removeprefix("leuko: error: "))
    return out


def _expected_columns(result) -> dict:
    if isinstance(result, str):
        return {**{k: None for k in BATCH_RESULTS[:-1]}, "error": result}
    return {**dict(zip(BATCH_RESULTS[:-1], batch_values(result))), "error": None}


def test_cases_cover_answers_and_refusals(by_hand):
    assert 20 < sum(isinstance(r, dict) for r in by_hand) < 40


def test_jsonl_batch_gives_the_same_fields(invoke, by_hand):
    text = "".join(json.dumps({"id": f"c{i}", **case}) + "\n" for i, case in enumerate(CASES))
    res = invoke("assess", "--input", "-", "--json", input=text)
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 40
    for case, row, expected in zip(CASES, rows, by_hand):
        assert {k: row[k] for k in BATCH_RESULTS} == _expected_columns(expected), case


def test_csv_batch_gives_the_same_fields(invoke, by_hand):
    names = sorted({k for case in CASES for k in case})
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", *names])
    for i, case in enumerate(CASES):
        writer.writerow([f"c{i}", *(case.get(n, "") for n in names)])
    res = invoke("assess", "--input", "-", input=buf.getvalue())
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 40

    def text(v):
        return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    for case, row, expected in zip(CASES, rows, by_hand):
        want = {k: text(v) for k, v in _expected_columns(expected).items()}
        assert {k: row[k] for k in BATCH_RESULTS} == want, case


def _bundle(case: dict) -> dict:
    from leuko_cli.fields import INPUTS

    unit = FHIR_UNITS.get(case.get("unit", "cells/uL"), case.get("unit"))
    entries = []
    for f in INPUTS:
        if f.name in case and f.loinc:
            ucum = "%" if f.kind == "percent" else unit
            value = case[f.name]
            if f.kind == "temperature":  # a body-temperature Observation (LOINC 8310-5)
                ucum = "[degF]" if value.endswith("F") else "Cel"
                value = value.removesuffix("F")
            entries.append(
                {
                    "resource": {
                        "resourceType": "Observation",
                        "id": f.name,
                        "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": f.loinc[0]}]},
                        "subject": {"reference": "Patient/x"},
                        "effectiveDateTime": "2026-11-29",
                        "valueQuantity": {
                            "value": float(value),
                            "system": "http://unitsofmeasure.org",
                            "code": ucum,
                        },
                    }
                }
            )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _fhir_cases():
    """Cases FHIR can carry: counts FHIR has LOINC codes for, as valid JSON numbers."""
    for i, case in enumerate(CASES):
        counts = [k for k in case if k in COUNTS]
        try:
            [float(case[k]) for k in counts]
        except ValueError:
            continue
        if (
            "bands" in case
            or case.get("unit", "cells/uL") not in FHIR_UNITS
            or any(float(case[k]) < 0 for k in counts)
        ):
            continue
        yield i


def _without_provenance(result: dict) -> dict:
    out = {k: v for k, v in result.items() if k not in ("fhir", "notes")}
    out["settings"] = {k: s["value"] for k, s in result["settings"].items()}
    return out


def test_fhir_gives_the_same_fields(invoke, by_hand, tmp_path):
    checked = 0
    for i in _fhir_cases():
        case = CASES[i]
        path = tmp_path / f"case{i}.json"
        path.write_text(json.dumps(_bundle(case)))
        in_file = (*COUNTS, "unit", "temp")  # what the Observations carry
        flags = _argv({k: v for k, v in case.items() if k not in in_file})
        res = invoke("assess", "--fhir", str(path), *flags, "--json")
        expected = by_hand[i]
        if isinstance(expected, str):
            # the same refusal; a value from the file is named as its Observation, not as the
            # flag ("--temp 50 is outside" / "... body temperature 50.0 is outside"), and the
            # fix is in the file, not --unit ("...; if it is in 10^9/L, add --unit 10^9/L")
            if expected.startswith("--temp"):
                reason = expected.split(" ", 2)[2]
            elif expected.startswith("--"):
                reason = expected.split(" ", 1)[1].split(";")[0]
            else:
                reason = expected
            assert res.exit_code == 2 and reason in res.stderr, (case, res.stderr)
        else:
            assert res.exit_code == 0, (case, res.stderr)
            assert _without_provenance(json.loads(res.stdout)) == _without_provenance(expected), (
                case
            )
        checked += 1
    assert checked >= 25


def test_config_get_agrees_with_assess_under_an_overlay(invoke, isolated_dirs):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text('[settings]\nctcae_default_version = "5.0"\n')
    got = invoke("config", "get", "ctcae_version", "--json")
    assert got.exit_code == 0, got.stderr
    setting = json.loads(got.stdout)
    result = json.loads(invoke("assess", "--anc", "800", "--json").stdout)
    assert setting["value"] == result["ctcae_version"] == "5.0"
    assert result["ctcae_grade"] == 3  # CTCAE 5.0 (grade 2 under 6.0)
    assert result["settings"]["ctcae_version"]["origin"] == setting["origin"]
    assert invoke("config", "get", "ctcae_version").stdout == "5.0\n"
