"""`leuko batch` on CDISC data: agreement with admiral on the public CDISC pilot (issue 16),
the layouts, units, admiral's semantics, and the file formats a programmer has."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT.parent / "shared" / "data" / "cdisc_pilot_labs.csv"
XPT = Path(__file__).resolve().parent / "data" / "adlb_pilot_slice.xpt"
CD4 = "LYMPH=CD4 lymphocytes decreased"


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def pilot_graded():
    """The pilot file as shipped, graded as admiral's ADLB template does: CTCAE v4 criteria,
    the lymphocyte parameter mapped to the CD4 term."""
    from typer.testing import CliRunner

    from leuko_cli.cli import app

    assert PILOT.is_file(), f"the CDISC pilot data is expected at {PILOT} (../shared/data)"
    res = CliRunner().invoke(
        app, ["batch", str(PILOT), "--ctcae-version", "4.03", "--term", CD4], prog_name="leuko"
    )
    assert res.exit_code == 0, res.stderr
    return rows(res.stdout), res.stderr


def test_pilot_agrees_with_admiral_on_every_row(pilot_graded):
    out, summary = pilot_graded
    agreement = Counter((r["paramcd"], r["ATOXGRL"] == r["atoxgrl_input"]) for r in out)
    assert agreement == {("WBC", True): 2499, ("LYMPH", True): 2498}
    assert "4997 row(s)" in summary


def test_pilot_terms_versions_and_reasons(pilot_graded):
    out, _ = pilot_graded
    assert {r["ATOXDSCL"] for r in out} == {
        "White blood cell decreased",
        "CD4 lymphocytes decreased",
    }
    assert {r["ATOXGRL_VERSION"] for r in out} == {"CTCAE 4.03"}
    for r in out:  # every empty grade says why; no graded row carries a reason
        assert bool(r["ATOXGRL"]) != bool(r["ATOXGRL_REASON"])
    # the unit of the 12 CALCULATION rows comes from the PARAM label "(10^9/L)"
    calc = [r for r in out if r["dtype"] == "CALCULATION"]
    assert len(calc) == 12 and calc[0]["aval"] == "0.289" and calc[0]["ATOXGRL"] == "2"


def test_binary_artefacts_grade_as_the_number_they_print(invoke, tmp_path):
    path = tmp_path / "adlb.csv"
    path.write_text(
        "USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO\n"
        "a,LYMPH,0.7999999999999999,GI/L,1.0\n"  # 0.8: grade 1, not 2
        "b,WBC,1.9999999999999998,GI/L,3.8\n"
    )  # 2.0: grade 2, not 3
    out = rows(invoke("batch", str(path), "--ctcae-version", "5.0").stdout)
    assert [r["ATOXGRL"] for r in out] == ["1", "2"]


@pytest.mark.parametrize(
    "row,grade,reason",
    [
        ("a,WBC,3.5,GI/L,", "", "needs the lab's lower limit"),
        ("a,WBC,3.5,GI/L,3.8", "1", ""),
        ("a,WBC,2.5,,3.8", "", "no unit"),
        ("a,WBC,,GI/L,3.8", "", "no value"),
        ("a,HGB,120,g/L,130", "", "not one leuko grades"),
        ("a,WBC,2500,THOU/uL,3.8", "", "implausibly high"),
        ("a,WBC,2.5,10^3/mL,3.8", "", "implausibly low"),
        ("a,NEUT,0.9,10*9/L,1.8", "3", ""),
        # an LLN of 0 is used as given, as admiral does (assess --lln 0 is refused instead)
        ("a,NEUT,1.7,GI/L,0", "0", ""),
    ],
)
def test_row_by_row(invoke, tmp_path, row, grade, reason):
    path = tmp_path / "lb.csv"
    path.write_text("USUBJID,LBTESTCD,LBSTRESN,LBSTRESU,LBSTNRLO\n" + row + "\n")
    res = invoke("batch", str(path), "--ctcae-version", "5.0")
    r = rows(res.stdout)[0]
    assert r["ATOXGRL"] == grade and reason in r["ATOXGRL_REASON"]


def test_an_implausible_value_names_a_fix_batch_has(invoke, tmp_path):
    """`leuko batch` has no --unit option: the reason points at the row's unit column."""
    path = tmp_path / "adlb.csv"
    path.write_text(
        "USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO\na,WBC,3.0,10^9/L,3500\nb,WBC,3000,cells/uL,3.5\n"
    )
    out = rows(invoke("batch", str(path), "--ctcae-version", "5.0").stdout)
    for r in out:
        assert "implausibly" in r["ATOXGRL_REASON"], r
        assert "--unit" not in r["ATOXGRL_REASON"] and "LBSTRESU" in r["ATOXGRL_REASON"], r


@pytest.mark.parametrize("flag", ["--lln-col", "--unit-col", "--id-col", "--age-col"])
def test_a_column_option_naming_no_column_is_refused(invoke, tmp_path, flag):
    """--value-col NOPE is refused; --lln-col NOPE must be too, not graded as if no LLN."""
    path = tmp_path / "adlb.csv"
    path.write_text("USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO,AGE\na,WBC,3.0,10^9/L,3.5,40\n")
    res = invoke("batch", str(path), flag, "NOPE")
    assert res.exit_code == 2, res.stdout
    assert flag in res.stderr and "NOPE" in res.stderr and len(res.stderr.splitlines()) == 1


def test_a_role_column_twice_in_another_case_is_refused(invoke, tmp_path):
    """AVAL and aval: names match ignoring case, so which one is graded must not be guessed."""
    path = tmp_path / "adlb.csv"
    path.write_text("USUBJID,PARAMCD,AVAL,aval,LBSTRESU,ANRLO\na,WBC,3.0,9.0,10^9/L,3.5\n")
    res = invoke("batch", str(path))
    assert res.exit_code == 2, res.stdout
    assert "AVAL" in res.stderr and "aval" in res.stderr and len(res.stderr.splitlines()) == 1


def test_daids_reads_the_age_unit_column(invoke, tmp_path):
    """ADSL/ADLB carry AGEU: AGE 5 with AGEU DAYS is a 5-day-old (DAIDS ANC 2-7 days: 900/mm3
    is grade 3), not 5 years (grade 1). An AGEU leuko cannot read is an error row."""
    path = tmp_path / "adlb.csv"
    path.write_text(
        "USUBJID,PARAMCD,AVAL,LBSTRESU,AGE,AGEU\n"
        "a,NEUT,0.9,10^9/L,5,DAYS\nb,NEUT,0.9,10^9/L,5,YEARS\nc,NEUT,0.9,10^9/L,5,DECADES\n"
        "d,NEUT,0.9,10^9/L,5,\n"
    )
    res = invoke("batch", str(path), "--criteria", "DAIDS")
    out = rows(res.stdout)
    assert [r["ATOXGRL"] for r in out] == ["3", "1", "", ""], out
    assert "AGEU" in out[2]["ATOXGRL_REASON"] and "AGEU" in out[3]["ATOXGRL_REASON"]


def test_a_term_this_version_lacks_is_not_graded_silently_with_another(invoke, tmp_path):
    path = tmp_path / "adlb.csv"
    path.write_text("USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO\na,LYMPH,0.3,GI/L,1.0\n")
    r = rows(invoke("batch", str(path), "--ctcae-version", "6.0").stdout)[0]
    assert r["ATOXGRL"] == "" and "no 'Lymphocyte count decreased' criteria" in r["ATOXGRL_REASON"]
    cd4 = rows(invoke("batch", str(path), "--ctcae-version", "6.0", "--term", CD4).stdout)[0]
    assert cd4["ATOXGRL"] == "2"


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--term", "LYMPH"], "PARAMCD=TERM"),
        (["--term", "LYMPH=Nonsense decreased"], "no CTCAE term"),
        (["--preset", "sdtm"], "unknown --preset"),
        (["--ctcae-version", "3.0"], "unknown CTCAE version"),
        (["--format", "xlsx"], "unknown --format"),
        # empty: refused, not the default (`--param-col "$COL"` with COL unset)
        (["--format", ""], "--format is empty"),
        (["--param-col", ""], "--param-col is empty"),
        (["--value-col", " "], "--value-col is empty"),
    ],
)
def test_bad_options_are_one_line(invoke, tmp_path, args, fragment):
    path = tmp_path / "adlb.csv"
    path.write_text("USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO\na,WBC,3.5,GI/L,3.8\n")
    res = invoke("batch", str(path), *args)
    assert res.exit_code == 2 and fragment in res.stderr and res.stderr.count("\n") == 1


def test_a_wide_file_grades_every_analyte_a_row_carries(invoke, tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("id,anc,wbc,lymphocytes,wbc_lln\na,450,2000,500,4000\n")
    r = rows(invoke("batch", str(path)).stdout)[0]
    graded = (r["ctcae_grade"], r["wbc_ctcae_grade"], r["lymphocytes_ctcae_grade"])
    assert graded == ("3", "2", "2")
    other = tmp_path / "other.csv"
    other.write_text("id,hb\na,120\n")
    res = invoke("batch", str(other))
    assert res.exit_code == 2 and "no anc, wbc or lymphocytes column" in res.stderr


def test_dataset_json_in_and_out(invoke, tmp_path):
    doc = {
        "datasetJSONVersion": "1.1.0",
        "name": "ADLB",
        "label": "Lab",
        "records": 2,
        "columns": [
            {"itemOID": f"IT.{n}", "name": n, "label": n, "dataType": t}
            for n, t in (
                ("USUBJID", "string"),
                ("PARAMCD", "string"),
                ("AVAL", "float"),
                ("LBSTRESU", "string"),
                ("ANRLO", "float"),
            )
        ],
        "rows": [["a", "WBC", 1.5, "GI/L", 3.8], ["b", "LYMPH", 0.45, "GI/L", None]],
    }
    path = tmp_path / "adlb.json"
    path.write_text(json.dumps(doc))
    res = invoke("batch", str(path), "--ctcae-version", "5.0")
    out = json.loads(res.stdout)
    assert out["name"] == "ADLB" and out["records"] == 2
    names = [c["name"] for c in out["columns"]]
    assert names[-4:] == ["ATOXDSCL", "ATOXGRL", "ATOXGRL_VERSION", "ATOXGRL_REASON"]
    assert [r[names.index("ATOXGRL")] for r in out["rows"]] == [3, 3]
    assert out["columns"][0]["itemOID"] == "IT.USUBJID"  # the input's own metadata kept
    csv_out = rows(invoke("batch", str(path), "--format", "csv", "--ctcae-version", "5.0").stdout)
    assert [r["ATOXGRL"] for r in csv_out] == ["3", "3"]


def test_sas_transport_through_the_optional_reader(invoke):
    pytest.importorskip("pyreadstat")
    out = rows(invoke("batch", str(XPT), "--ctcae-version", "4.03", "--term", CD4).stdout)
    assert len(out) == 13
    assert all(r["ATOXGRL"] == r["ADMGRL"] for r in out)  # admiral's grades, in the slice


def test_tsv_and_jsonl(invoke, tmp_path):
    path = tmp_path / "lb.tsv"
    path.write_text("USUBJID\tLBTESTCD\tLBSTRESN\tLBSTRESU\tLBSTNRLO\na\tWBC\t1.5\tGI/L\t3.8\n")
    tsv = invoke("batch", str(path), "--ctcae-version", "5.0").stdout
    assert tsv.splitlines()[1].split("\t")[-3:-1] == ["3", "CTCAE 5.0"]
    line = json.loads(
        invoke("batch", str(path), "--format", "jsonl", "--ctcae-version", "5.0").stdout
    )
    assert line["ATOXGRL"] == 3 and line["USUBJID"] == "a"


def test_json_is_json_lines_as_for_assess_input(invoke, tmp_path):
    """--json on every command: `leuko batch FILE --json` was 'No such option'."""
    path = tmp_path / "lb.tsv"
    path.write_text("USUBJID\tLBTESTCD\tLBSTRESN\tLBSTRESU\tLBSTNRLO\na\tWBC\t1.5\tGI/L\t3.8\n")
    res = invoke("batch", str(path), "--ctcae-version", "5.0", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["ATOXGRL"] == 3
    res = invoke("batch", str(path), "--json", "--format", "csv")
    assert res.exit_code == 2 and "--json" in res.stderr and res.stderr.count("\n") == 1


# DAIDS Corrected v2.1 (clinical-facts 12.2, written out here independently of the KB): "A to B"
# includes both ends, as admiral reads it. (term, age in days, count /mm3, grade)
DAIDS = [
    ("Absolute neutrophil count (ANC), low", 30, 1000.01, 0),
    ("Absolute neutrophil count (ANC), low", 30, 1000, 1),
    ("Absolute neutrophil count (ANC), low", 30, 800, 1),
    ("Absolute neutrophil count (ANC), low", 30, 799.9, 2),
    ("Absolute neutrophil count (ANC), low", 30, 600, 2),
    ("Absolute neutrophil count (ANC), low", 30, 599.9, 3),
    ("Absolute neutrophil count (ANC), low", 30, 400, 3),
    ("Absolute neutrophil count (ANC), low", 30, 399.9, 4),
    ("Absolute neutrophil count (ANC), low", 5, 1500, 1),
    ("Absolute neutrophil count (ANC), low", 5, 1249, 2),
    ("Absolute neutrophil count (ANC), low", 5, 749, 4),
    ("Absolute neutrophil count (ANC), low", 1, 5000, 1),
    ("Absolute neutrophil count (ANC), low", 1, 5001, 0),
    ("Absolute neutrophil count (ANC), low", 1, 1499, 4),
    ("WBC, decreased", 30, 2500, 0),
    ("WBC, decreased", 30, 2499, 1),
    ("WBC, decreased", 30, 1999, 2),
    ("WBC, decreased", 30, 999, 4),
    ("WBC, decreased", 3, 6999, 1),
    ("WBC, decreased", 3, 7000, 0),
    ("WBC, decreased", 3, 2499, 4),
    ("Absolute lymphocyte count, low", 3650, 650, 0),  # admiral once had this boundary wrong
    ("Absolute lymphocyte count, low", 3650, 649.9, 1),
    ("Absolute lymphocyte count, low", 3650, 349.9, 4),
    ("Absolute CD4+ count, low", 3650, 400, 0),
    ("Absolute CD4+ count, low", 3650, 399, 1),
    ("Absolute CD4+ count, low", 3650, 99, 4),
]


@pytest.mark.parametrize("term,age_days,count,grade", DAIDS)
def test_daids_boundaries(kb, term, age_days, count, grade):
    from leuko_cli import grading

    scale = grading.scale_for(kb, "DAIDS", "2.1", term, age_days)
    assert grading.grade(scale, count)["grade"] == grade


def test_daids_has_no_lymphocyte_criteria_at_five_or_under(kb):
    from leuko_cli import grading

    assert grading.scale_for(kb, "DAIDS", "2.1", "Absolute lymphocyte count, low", 365) is None


def test_daids_through_leuko_batch(invoke, tmp_path):
    path = tmp_path / "adlb.csv"
    path.write_text(
        "USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO,AGE\n"
        "a,NEUT,1.0,GI/L,1.8,40\n"
        "b,WBC,1.9,GI/L,3.8,40\n"
        "c,NEUT,1.0,GI/L,1.8,\n"
    )
    out = rows(invoke("batch", str(path), "--criteria", "DAIDS").stdout)
    assert [r["ATOXGRL"] for r in out] == ["1", "2", ""]
    assert out[0]["ATOXGRL_VERSION"] == "DAIDS 2.1" and "no age" in out[2]["ATOXGRL_REASON"]
    res = invoke("batch", str(path), "--criteria", "DAIDS", "--ctcae-version", "5.0")
    assert res.exit_code == 2 and "--criteria CTCAE" in res.stderr


@pytest.mark.parametrize(
    "example", ["cbc-bulk.ndjson", "hl7-cbc-report.json", "hl7-cbc-bundle.json"]
)
def test_fhir_files_go_through_leuko_batch_too(invoke, example):
    path = ROOT / "docs" / "examples" / example
    res = invoke("batch", str(path), "--ctcae-version", "5.0")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    first = out[0] if isinstance(out, list) else out
    assert first["anc"] == 900 and first["ctcae_grade"] == 3
    assert first["lymphocytes"]["ctcae_grade"] == 1  # LLN from its reference range


def test_fhir_refuses_table_options(invoke):
    path = ROOT / "docs" / "examples" / "cbc-bulk.ndjson"
    res = invoke("batch", str(path), "--term", CD4)
    assert res.exit_code == 2 and "FHIR input takes none" in res.stderr


def test_bad_bytes_and_endless_input_are_one_line(invoke, tmp_path, monkeypatch):
    path = tmp_path / "adlb.csv"
    path.write_bytes(b"USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO\na,WBC,\xff,GI/L,3.8\n")
    res = invoke("batch", str(path))
    assert res.exit_code == 2 and f"{path}:2: not UTF-8 text" in res.stderr
    monkeypatch.setenv("LEUKO_MAX_TABLE_BYTES", "4096")
    res = invoke("batch", "/dev/zero")
    assert res.exit_code == 2 and "LEUKO_MAX_TABLE_BYTES" in res.stderr


def test_daids_says_when_a_term_has_no_criteria_at_that_age(invoke, tmp_path):
    path = tmp_path / "adlb.csv"
    path.write_text("USUBJID,PARAMCD,AVAL,LBSTRESU,ANRLO,AGE\na,LYMPH,0.3,GI/L,1.0,3\n")
    r = rows(invoke("batch", str(path), "--criteria", "DAIDS").stdout)[0]
    assert r["ATOXGRL"] == "" and "for this age" in r["ATOXGRL_REASON"]
