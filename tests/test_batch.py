"""`leuko assess --input`: batch grading of lab exports (issue 6)."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from leuko_cli.batch.command import grade_stream
from leuko_cli.batch.grade import Grader
from leuko_cli.settings import resolve_all


def stream(kb, lines, out, *, fmt="csv", memo=True):
    grader = Grader(kb, resolve_all(kb), memo=memo)
    return grade_stream(grader, lines, out, fmt=fmt)


EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"

MIXED = """id,anc,wbc,neutrophils,bands,temp,unit
P1,450,,,,,
P2,,5200,15,4,,
P3,n/a,,,,,
P4,0.8,,,,38.6,10^9/L
P5,3.2,,,,,
P6,90,,,,39.1,
"""


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("option", ["--format", "--engine"])
def test_an_empty_format_or_engine_is_refused_not_defaulted(invoke, tmp_path, option):
    path = tmp_path / "in.csv"
    path.write_text("anc\n450\n", "utf-8")
    r = invoke("assess", "--input", str(path), option, "")
    assert r.exit_code == 2 and r.stdout == "" and f"{option} is empty" in r.stderr, r.stderr


def test_mixed_export_graded_row_by_row_in_order(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text(MIXED)
    res = invoke("assess", "--input", str(path))
    assert res.exit_code == 1  # a row failed
    out = rows(res.stdout)
    assert [r["id"] for r in out] == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert out[0]["anc"] == "450" and out[0]["severity"] == "severe"
    assert out[0]["ctcae_version"] == "6.0" and out[0]["ctcae_grade"] == "3"
    assert out[0]["error"] == "" and out[0]["below_reference"] == "true"
    assert out[1]["anc"] == "988" and out[1]["severity"] == "moderate"  # 5200 x 19% (§8.1)
    assert out[2]["error"] == "--anc expects a number, got 'n/a'" and out[2]["severity"] == ""
    assert out[3]["anc"] == "800" and out[3]["febrile_neutropenia"] == "false"
    assert "implausibly low" in out[4]["error"] and "--unit 10^9/L" in out[4]["error"]
    assert out[5]["febrile_neutropenia"] == "true" and out[5]["ctcae_grade"] == "4"
    # the input's own anc column is kept next to the computed one
    assert out[3]["anc_input"] == "0.8"
    assert res.stderr.strip().splitlines()[-1] == "leuko: 6 row(s), 4 graded, 2 error(s)"
    assert "Traceback" not in res.stderr


def test_error_text_matches_single_assess(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\nx,-5\n")
    single = invoke("assess", "--anc", "-5")
    res = invoke("assess", "--input", str(path), "--json")
    assert single.exit_code == 2
    row = json.loads(res.stdout)
    assert f"leuko: error: {row['error']}" == single.stderr.strip()


def test_all_good_rows_exit_zero(invoke, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("id,anc\na,1200\nb,2000\n")
    res = invoke("assess", "--input", str(path))
    assert res.exit_code == 0
    assert [r["severity"] for r in rows(res.stdout)] == ["mild", "normal"]
    assert "2 row(s), 2 graded, 0 error(s)" in res.stderr


def test_stdin_input(invoke):
    res = invoke("assess", "--input", "-", input="id,anc\np,300\n")
    assert res.exit_code == 0
    assert rows(res.stdout)[0]["severity"] == "severe"


def test_stdin_jsonl_detected_by_first_char(invoke):
    res = invoke(
        "assess",
        "--input",
        "-",
        "--json",
        input='\n{"id": "a", "anc": 450}\n{"id": "b", "anc": "x"}\nnot json\n[1]\n',
    )
    assert res.exit_code == 1
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(out) == 4
    assert out[0]["anc"] == 450 and out[0]["ctcae_grade"] == 3 and out[0]["error"] is None
    assert out[0]["anc_input"] == 450 and out[0]["id"] == "a"
    assert out[1]["error"].startswith("--anc expects a number")
    assert "not valid JSON" in out[2]["error"]
    assert "expected a JSON object" in out[3]["error"]


@pytest.mark.parametrize("value", ["5", "true", "[5]"])
def test_a_setting_given_as_a_json_non_string_is_refused_per_row(invoke, value):
    """Once an internal error (AttributeError: .strip() on an int)."""
    res = invoke(
        "assess", "--input", "-", "--json",
        input=f'{{"anc": 450, "ctcae_version": {value}}}\n{{"anc": 450}}\n',
    )  # fmt: skip
    assert res.exit_code == 1, res.stderr
    first, second = (json.loads(line) for line in res.stdout.splitlines())
    assert first["error"].startswith("--ctcae-version: expects text, got ")
    assert second["error"] is None and second["ctcae_grade"] == 3


def test_examples_jsonl_to_csv(invoke):
    res = invoke("assess", "--input", str(EXAMPLES / "labs.jsonl"), "--format", "csv")
    assert res.exit_code == 1
    out = rows(res.stdout)
    assert [r["id"] for r in out] == ["P101", "P102", "P103", "P104", "P105"]
    assert out[1]["wbc"] == "5200" and out[1]["anc"] == "988"
    assert out[2]["ctcae_version"] == "5.0" and out[2]["ctcae_grade"] == "3"
    assert out[3]["below_reference"] == "false"  # Duffy-null range (lower 1210)
    assert out[4]["error"].startswith("--anc cannot be negative")


def test_examples_csv(invoke):
    res = invoke("assess", "--input", str(EXAMPLES / "labs.csv"))
    assert res.exit_code == 1
    out = rows(res.stdout)
    assert len(out) == 8 and sum(1 for r in out if r["error"]) == 3


def test_global_flags_are_defaults_a_row_overrides(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc,unit,ctcae_version\na,0.8,,\nb,800,cells/uL,\nc,0.8,,5.0\n")
    res = invoke("assess", "--input", str(path), "--unit", "10^9/L", "--ctcae-version", "6.0")
    out = rows(res.stdout)
    assert [r["anc"] for r in out] == ["800", "800", "800"]
    assert [r["ctcae_grade"] for r in out] == ["2", "2", "3"]  # v6 grade 2, v5 grade 3 (§1.3)
    assert out[2]["ctcae_version"] == "5.0" and out[2]["ctcae_version_input"] == "5.0"


def test_duffy_and_temp_defaults(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc,duffy_null,temp\na,1300,,\nb,1300,no,\nc,300,,37\n")
    res = invoke("assess", "--input", str(path), "--duffy-null", "--temp", "38.5")
    out = rows(res.stdout)
    assert [r["below_reference"] for r in out] == ["false", "true", "true"]
    assert [r["febrile_neutropenia"] for r in out] == ["false", "false", "false"]
    res = invoke("assess", "--input", str(path), "--temp", "38.5")
    assert rows(res.stdout)[0]["febrile_neutropenia"] == "false"  # 1300 is not < 500


def test_semicolon_delimiter_and_bom(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_bytes("\ufeffID;ANC\nx;450\n".encode())
    res = invoke("assess", "--input", str(path))
    assert res.exit_code == 0
    assert rows(res.stdout)[0]["severity"] == "severe"


def test_decimal_comma_is_refused_not_misread(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text('id,anc,unit\na,"0,8",10^9/L\nb,"1,500",\n')
    out = rows(invoke("assess", "--input", str(path)).stdout)
    assert "decimal comma; use a dot: 0.8" in out[0]["error"]
    # a thousands separator may be a decimal comma elsewhere: refused too (one parser for
    # every channel; issue 13)
    assert "thousands separator" in out[1]["error"] and out[1]["anc"] == ""


def test_ragged_row_is_an_error_row(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\na,450,extra\nb,300\n")
    res = invoke("assess", "--input", str(path))
    out = rows(res.stdout)
    assert out[0]["error"] == "row has 3 field(s) but the header has 2"
    assert out[1]["severity"] == "severe"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--anc", "400"], "--anc cannot be combined with --input"),
        (["--drug", "clozapine"], "--drug cannot be combined with --input"),
        (["--format", "xml"], "unknown --format 'xml'"),
        (["--input-format", "xls"], "unknown --input-format 'xls'"),
        (["--json", "--format", "csv"], "--json means --format jsonl"),
        (["--unit", "furlongs"], "unknown unit"),
    ],
)
def test_bad_flags_exit_2(invoke, tmp_path, args, message):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\na,450\n")
    res = invoke("assess", "--input", str(path), *args)
    assert res.exit_code == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_file_problems_exit_2(invoke, tmp_path):
    res = invoke("assess", "--input", str(tmp_path / "missing.csv"))
    assert res.exit_code == 2 and "cannot read" in res.stderr
    bad = tmp_path / "nohdr.csv"
    bad.write_text("450,38\n")
    res = invoke("assess", "--input", str(bad))
    assert res.exit_code == 2 and "needs an anc, wbc or lymphocytes column" in res.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("\n")
    assert invoke("assess", "--input", str(empty)).exit_code == 2
    res = invoke("assess", "--format", "csv")
    assert res.exit_code == 2 and "need --input" in res.stderr


def test_input_format_forced(invoke, tmp_path):
    path = tmp_path / "labs.txt"
    path.write_text('{"anc": 450}\n')
    res = invoke("assess", "--input", str(path), "--input-format", "jsonl", "--format", "jsonl")
    assert json.loads(res.stdout)["severity"] == "severe"


def test_table_format(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\na,450\n")
    res = invoke("assess", "--input", str(path), "--format", "table")
    assert res.exit_code == 0 and "severe" in res.stdout and "severity" in res.stdout


def test_wbc_and_lymphocyte_only_rows(invoke, tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,wbc,lymphocytes\na,3000,\nb,,400\n")
    out = rows(invoke("assess", "--input", str(path)).stdout)
    assert [r["error"] for r in out] == ["", ""]
    assert out[0]["anc"] == "" and out[0]["ctcae_version"] == "6.0"


def _random_export(seed: int, n: int) -> str:
    rnd = random.Random(seed)
    bounds = [0, 10, 100, 200, 500, 1000, 1210, 1500, 5000]
    out = [
        "id,anc,wbc,neutrophils,bands,lymphocytes,unit,ctcae_version,lln,age,duffy_null,"
        "temp,sustained"
    ]
    for i in range(n):
        unit = rnd.choice(["", "10^9/L", "cells/uL", "bogus"])
        f = 1000 if unit == "10^9/L" else 1
        x = max(0, rnd.choice(bounds) + rnd.choice([0, 0, -0.001, 0.001, -1, 1, 37]))
        v = f"{x / f:g}"
        anc = wbc = neut = bands = lym = ""
        shape = rnd.random()
        if shape < 0.5:
            anc = v
        elif shape < 0.8:
            wbc = f"{rnd.choice([0, 1000, 2500, 5200, 10000]) / f:g}"
            neut, bands = str(rnd.randint(0, 100)), rnd.choice(["", "0", "4", "30"])
        elif shape < 0.9:
            lym = v
        else:
            anc, wbc = v, rnd.choice(["", "3000", "abc"])
        lln = rnd.choice(["", "", "1800", "abc"]) if unit in ("", "cells/uL") else ""
        out.append(
            ",".join(
                [
                    str(i),
                    anc,
                    wbc,
                    neut,
                    bands,
                    lym,
                    unit,
                    rnd.choice(["", "5.0", "6", "7"]),
                    lln,
                    rnd.choice(["", "0.001", "0.5", "3", "40", "abc"]),
                    rnd.choice(["", "true", "no", "maybe"]),
                    rnd.choice(["", "38.0", "38.3", "38.29", "39", "101.2F", "x"]),
                    rnd.choice(["", "yes", "0"]),
                ]
            )
        )
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_memo_matches_assess_on_every_row(kb, fmt):
    """The memo must give exactly what assess.assess gives, bounds and errors included."""
    text = _random_export(6, 3000)
    fast, slow = io.StringIO(), io.StringIO()
    s1 = stream(kb, io.StringIO(text), fast, fmt=fmt)
    s2 = stream(kb, io.StringIO(text), slow, fmt=fmt, memo=False)
    assert fast.getvalue() == slow.getvalue()
    assert (
        (s1.rows, s1.graded, s1.errors)
        == (s2.rows, s2.graded, s2.errors)
        == (3000, s2.graded, 3000 - s2.graded)
    )
    assert 0 < s1.errors < 3000


def test_streams_without_reading_everything(kb):
    """Rows are written as they are read: a generator input is consumed lazily."""
    seen = []
    out = io.StringIO()

    def lines():
        yield "id,anc\n"
        for i in range(5):
            seen.append(i)
            # by the time row i is produced, row i-1 has already been written out
            if i:
                assert out.getvalue().count("\n") == i + 1  # header + rows so far
            yield f"r{i},{400 + i}\n"

    stream(kb, lines(), out, fmt="csv")
    assert len(seen) == 5


def test_json_batch_path_does_not_import_rich(tmp_path):
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\na,450\n")
    code = (
        "import sys\n"
        "from leuko_cli.cli import app\n"
        f"app(['assess', '--input', {str(path)!r}, '--json'], standalone_mode=False)\n"
        "sys.stderr.write('RICH=%s' % ('rich' in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "RICH=False" in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["severity"] == "severe"


@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_lymphocyte_grade_names_the_version_that_graded_it(invoke, tmp_path, engine):
    """The KB has no CTCAE 6.0 'Lymphocyte count decreased': assess grades it with 5.0 and says
    so. A batch row's ctcae_version (6.0) must not stand for that grade's version."""
    path = tmp_path / "labs.csv"
    path.write_text("id,anc,lymphocytes\na,450,300\nb,450,\n")
    out = rows(invoke("assess", "--input", str(path), "--engine", engine).stdout)
    assert out[0]["ctcae_version"] == "6.0" and out[0]["lymphocytes_ctcae_grade"] == "3"
    assert out[0]["lymphocytes_ctcae_version"] == "5.0"
    assert out[1]["lymphocytes_ctcae_version"] == ""
    out = rows(invoke("assess", "--input", str(path), "--ctcae-version", "4.03").stdout)
    assert out[0]["lymphocytes_ctcae_version"] == "4.03"


def test_table_format_ends_with_the_disclaimer(invoke, tmp_path, kb):
    """--format table is human output: it ends with the one-line disclaimer, as every
    clinical answer on screen does (CSV and JSON Lines stay plain data)."""
    path = tmp_path / "labs.csv"
    path.write_text("id,anc\na,450\nb,n/a\n")
    res = invoke("assess", "--input", str(path), "--format", "table")
    assert res.stdout.rstrip().endswith(kb.settings["disclaimer"])
    assert kb.settings["disclaimer"] not in invoke("assess", "--input", str(path)).stdout
    # for patients, the patient disclaimer, as every other answer for them (762224f)
    res = invoke("assess", "--input", str(path), "--format", "table", "--audience", "patient")
    assert res.stdout.rstrip().endswith(kb.settings["patient_disclaimer"])


@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_an_unknown_grade_says_why_in_its_row(invoke, tmp_path, engine):
    """Unknown is not zero, and not silent: a grade left empty because grade 1 needs the lab's
    lower limit names that reason in the row (CSV has no notes), as leuko batch does."""
    path = tmp_path / "labs.csv"
    path.write_text("id,anc,wbc\na,1600,5000\nb,450,\nc,1600,\n")
    args = ("assess", "--input", str(path), "--ctcae-version", "5.0", "--engine", engine)
    out = rows(invoke(*args).stdout)
    assert out[0]["ctcae_grade"] == "" and out[0]["wbc_ctcae_grade"] == ""
    assert out[0]["unknown_grade_reason"] == (
        "ctcae_grade needs lln; wbc_ctcae_grade needs wbc_lln"
    )
    assert out[1]["ctcae_grade"] == "4" and out[1]["unknown_grade_reason"] == ""
    assert out[2]["unknown_grade_reason"] == "ctcae_grade needs lln"
    with_lln = rows(invoke(*args, "--lln", "1800").stdout)
    assert with_lln[2]["ctcae_grade"] == "1" and with_lln[2]["unknown_grade_reason"] == ""


@pytest.mark.parametrize(
    "flags,env,named",
    [
        ([], {}, "cells/uL (default)"),
        (["--unit", "10^9/L"], {}, "10^9/L (flag)"),
        ([], {"LEUKO_UNIT": "10^9/L"}, "10^9/L (environment LEUKO_UNIT)"),
    ],
)
def test_a_batch_names_the_unit_of_rows_without_one(invoke, tmp_path, flags, env, named):
    """The rows name their CTCAE version; the unit they were read in is named on stderr,
    before the summary (which stays the last line)."""
    src = tmp_path / "in.csv"
    src.write_text("id,anc\nA,1.2\n")
    res = invoke("assess", "--input", str(src), *flags, env=env)
    lines = res.stderr.strip().splitlines()
    assert lines[-2] == f"leuko: counts in rows without a unit read as {named}"
    assert lines[-1].startswith("leuko: 1 row(s)")


@pytest.mark.parametrize(
    "header,named",
    [
        ("id,anc,temp_c", [("temp_c", "temp")]),
        ("id,anc,Body Temp", [("Body Temp", "temp")]),
        ("id,anc,temprature", [("temprature", "temperature")]),
        ("id,wbc_count,anc", [("wbc_count", "wbc")]),
        ("id,anc,temp,site,notes", []),  # read, or nothing like a field
    ],
)
@pytest.mark.parametrize("engine", ["stream", "columnar"])
def test_a_column_that_looks_like_a_field_is_named_not_silently_kept(
    invoke, tmp_path, engine, header, named
):
    """'temp_c' is kept as it is, not read: a fever there would reach no grade. The run says
    so once, before any row, in both engines, and the rows are graded as before."""
    src = tmp_path / "in.csv"
    src.write_text(
        header + "\n" + ",".join(["A"] + ["700"] + ["38.6"] * (header.count(",") - 1)) + "\n"
    )
    res = invoke("assess", "--input", str(src), "--engine", engine)
    assert res.exit_code == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if "is not read" in line]
    assert notes == [
        f"leuko: column {column!r} is not read, only kept as it is; name it {alias!r} to have "
        "it graded"
        for column, alias in named
    ]


def test_a_json_lines_key_that_looks_like_a_field_is_named(invoke, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "A", "anc": 700, "temp_c": 38.6}\n{"id": "B", "anc": 300}\n')
    res = invoke("assess", "--input", str(src))
    assert res.exit_code == 0, res.stderr
    assert res.stderr.splitlines()[0] == (
        "leuko: column 'temp_c' is not read, only kept as it is; name it 'temp' to have it graded"
    )
