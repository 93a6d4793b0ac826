"""The columnar engine and the vectorised grading API agree with the row engine, row for row.

The shared sample: a few thousand rows mixing every band bound of the KB scales (and values a
binary artefact away from them), both units, every CTCAE version and an alias, LLNs, WBC with
differentials, lymphocytes, ages and temperatures (graded by the row engine inside the columnar
one), and rows the row engine refuses. The stream's CSV output is the reference, byte for byte.
"""

from __future__ import annotations

import csv
import random

import pytest

pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")

from leuko_cli import grading, vector  # noqa: E402


def _bounds(kb) -> list[float]:
    """Every numeric band bound of every KB scale, in cells/uL (never literals)."""
    return sorted({float(b) for s in kb.table("scales") for b in vector.scale_bounds(s)})


def sample_rows(kb, n: int = 3000, seed: int = 18) -> list[list[str]]:
    rnd = random.Random(seed)
    bounds = _bounds(kb)

    def count(unit: str) -> str:
        pick = rnd.random()
        if pick < 0.35:
            cells = rnd.choice(bounds)
            cells = rnd.choice([cells, cells - 1, cells + 1, cells * (1 - 1e-16), cells - 1e-9])
        elif pick < 0.9:
            cells = rnd.uniform(0, 6000)
            cells = round(cells) if rnd.random() < 0.6 else round(cells, 2)
        else:
            return rnd.choice(["1,2", "-5", "1e3", "n/a", " ", "0", "5.", "999999", "3", " 450"])
        if unit == "10^9/L":
            return repr(round(cells / 1000, rnd.choice([1, 2, 3, 17])))
        return repr(cells) if cells != int(cells) else str(int(cells))

    rows = []
    for i in range(n):
        unit = rnd.choice(["", "", "cells/uL", "10^9/L", "G/L", "/mm3", "furlongs"])
        version = rnd.choice(["", "", "6.0", "5.0", "4.03", "v5", "7.0"])
        kind = rnd.random()
        anc = wbc = neut = bands = lymph = ""
        if kind < 0.55:
            anc = count(unit)
        elif kind < 0.8:
            wbc = count(unit)
            neut = str(rnd.randint(0, 90)) if rnd.random() < 0.9 else "101"
            bands = rnd.choice(["", str(rnd.randint(0, 15))])
        elif kind < 0.95:
            wbc, lymph = count(unit), count(unit)
            anc = rnd.choice(["", count(unit)])
        elif kind < 0.97:
            neut = "40"  # a differential without a WBC
        lln = rnd.choice(["", "", count(unit), "1500", "1800"]) if unit in ("", "cells/uL") else ""
        wbc_lln = rnd.choice(["", "4000"]) if unit in ("", "cells/uL") else ""
        age = rnd.choice([""] * 12 + ["2", "0.5", "40", "3d"])
        temp = rnd.choice([""] * 10 + ["38.6", "37.0", "101.2F"])
        ident = f"P{i}" + rnd.choice([""] * 20 + ["\x1b[31m", "\u202e", ',"q"', "é", "\t"])
        rows.append([ident, anc, wbc, neut, bands, lymph, unit, version, lln, wbc_lln, age, temp])
    return rows


HEADER = [
    "id", "anc", "wbc", "neutrophils", "bands", "lymphocytes", "unit", "ctcae_version", "lln",
    "wbc_lln", "age", "temp",
]  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from leuko_cli import kb as kbmod

    path = tmp_path_factory.mktemp("columnar") / "sample.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(sample_rows(kbmod.load(overlay=False, use_cache=False)))
    return path


def test_columnar_csv_is_byte_identical_to_the_stream(invoke, sample):
    stream = invoke("assess", "--input", str(sample))
    columnar = invoke("assess", "--input", str(sample), "--engine", "columnar")
    assert columnar.exit_code == stream.exit_code == 1  # the sample has error rows
    assert columnar.stdout == stream.stdout
    assert columnar.stderr == stream.stderr
    rows = list(csv.DictReader(stream.stdout.splitlines()))
    assert len(rows) == 3000
    graded = [r for r in rows if not r["error"]]
    assert len(graded) > 1000 and len(rows) - len(graded) > 200  # both kinds, in numbers
    assert {r["ctcae_version"] for r in graded} == {"4.03", "5.0", "6.0"}
    assert any(r["ctcae_grade"] == "" for r in graded)  # needs an LLN: unknown, not 0


def test_columnar_with_flags_as_defaults(invoke, sample):
    args = ["--input", str(sample), "--ctcae-version", "5.0", "--lln", "1700"]
    stream = invoke("assess", *args)
    columnar = invoke("assess", *args, "--engine", "columnar")
    assert columnar.stdout == stream.stdout and columnar.stderr == stream.stderr


def test_parquet_input_grades_like_the_stream(invoke, sample, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(
        sample,
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in HEADER},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )  # empty cells: null, as a Parquet export writes them
    pq.write_table(table, tmp_path / "sample.parquet")
    stream = invoke("assess", "--input", str(sample))
    columnar = invoke("assess", "--input", str(tmp_path / "sample.parquet"), "--engine", "columnar")
    assert columnar.stdout == stream.stdout
    out = invoke(
        "assess", "--input", str(tmp_path / "sample.parquet"), "--engine", "columnar",
        "--format", "parquet",
    )  # fmt: skip
    assert out.exit_code == 1
    assert out.stdout_bytes.startswith(b"PAR1")


def test_typed_parquet_columns(invoke, tmp_path):
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": ["a", "b", "c", "d"],
            "anc": pa.array([450.0, None, float("nan"), 0.7999999999999999]),
            "unit": ["cells/uL", "cells/uL", "cells/uL", "10^9/L"],
            "lymphocytes": pa.array([None, 900, None, None], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet")
    res = invoke("assess", "--input", str(tmp_path / "t.parquet"), "--engine", "columnar")
    rows = list(csv.DictReader(res.stdout.splitlines()))
    assert [r["ctcae_grade"] for r in rows] == ["3", "", "", "2"]
    assert "finite" in rows[2]["error"]  # NaN is refused as the row engine refuses it
    assert rows[1]["lymphocytes_ctcae_grade"] == "" and not rows[1]["error"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--engine", "turbo"], "unknown --engine"),
        (["--engine", "columnar", "--json"], "--engine stream"),
        (["--engine", "columnar", "--on-error", "skip"], "--engine stream"),
        (["--engine", "columnar", "--input-format", "jsonl"], "--engine stream"),
    ],
)
def test_columnar_refusals_name_the_fix(invoke, sample, args, needle):
    from helpers import one_line_error

    assert needle in one_line_error(invoke("assess", "--input", str(sample), *args), 2)


def test_an_lln_of_zero_is_refused_as_by_the_stream(invoke, tmp_path):
    path = tmp_path / "l0.csv"
    path.write_text("anc,lln,ctcae_version\n1700,0,5.0\n1200,0,5.0\n1700,1800,5.0\n", "utf-8")
    stream = invoke("assess", "--input", str(path))
    columnar = invoke("assess", "--input", str(path), "--engine", "columnar")
    assert columnar.stdout == stream.stdout and stream.stdout.count("--lln 0") == 2
    from leuko_cli import vector

    g = vector.grade([1700, 1700], measure="anc", version="5.0", lln=[0, 1800])
    assert g.to_list() == [None, 1] and g.reason_text()[0] == vector.REASONS[vector.BAD_LLN]


def test_a_utf16_csv_is_named_with_the_fix_as_by_the_stream(invoke, tmp_path):
    from helpers import one_line_error

    path = tmp_path / "export.csv"
    path.write_bytes("id,anc\na,450\n".encode("utf-16"))
    line = one_line_error(invoke("assess", "--input", str(path), "--engine", "columnar"), 2)
    assert "UTF-16 text" in line and "save it as UTF-8" in line


def test_a_csv_arrow_cannot_read_exactly_goes_to_the_stream(invoke, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text('id,anc\n"a\nb",450\nc,300,extra\nd,800\n', encoding="utf-8")
    stream = invoke("assess", "--input", str(path))
    columnar = invoke("assess", "--input", str(path), "--engine", "columnar")
    assert columnar.stdout == stream.stdout
    assert "graded by the stream engine" in columnar.stderr


# --- the vectorised API ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["4.03", "5.0", "6.0"])
@pytest.mark.parametrize("measure", ["anc", "wbc", "lymphocytes", "cd4"])
def test_vector_grade_matches_grading_grade(kb, version, measure):
    scale = grading.ctcae_scale(kb, measure, version)
    if scale is None:
        with pytest.raises(Exception, match="versions with one"):
            vector.grade([500], measure=measure, version=version, kb=kb)
        return
    rnd = random.Random(version + measure)
    limits = kb.get("measures", measure)
    bounds = [b for b in _bounds(kb) if limits["min_positive_cells_per_ul"] < b]
    xs = [rnd.choice([rnd.uniform(200, 5000), *bounds]) for _ in range(2000)]
    xs = [x * rnd.choice([1, 1 - 1e-16, 1 + 2e-16]) for x in xs]
    llns = [rnd.choice([None, 1200.0, 1500.0, 1800.0, 3000.0, 4000.0]) for _ in xs]
    got = vector.grade(xs, measure=measure, version=version, lln=llns, kb=kb)
    want = [grading.grade(scale, x, lln)["grade"] for x, lln in zip(xs, llns)]
    assert got.to_list() == want
    assert got.scale == scale["id"] and got.version == version
    unknown = [r for r, w in zip(got.reason_text(), want) if w is None]
    assert set(unknown) <= {vector.REASONS[vector.NEEDS_LLN]}


def test_vector_reasons_and_inputs(kb):
    import numpy as np

    values = np.array([450.0, np.nan, -1.0, 5.0, 200000.0, 1600.0, 1600.0])
    g = vector.grade(values, version="5.0", lln=[None, None, None, None, None, None, 1.0], kb=kb)
    assert g.to_list() == [4, None, None, None, None, None, None]
    assert list(g.reason) == [
        vector.GRADED, vector.MISSING, vector.INVALID, vector.TOO_LOW, vector.TOO_HIGH,
        vector.NEEDS_LLN, vector.BAD_LLN,
    ]  # fmt: skip
    arrow = vector.grade(pa.array([0.45, None]), unit="10^9/L", kb=kb).to_arrow()
    assert arrow.to_pylist() == [3, None]
    with pytest.raises(TypeError):
        vector.grade(["450"], kb=kb)
    by_term = vector.grade([150], term="CD4 lymphocytes decreased", version="v5", kb=kb)
    assert by_term.term == "CD4 lymphocytes decreased" and by_term.version == "5.0"


def test_duckdb_calls_the_vectorised_grade(kb):
    """The docs/scale.md DuckDB example, run for real: an Arrow UDF over a table."""
    duckdb = pytest.importorskip("duckdb")
    try:
        from duckdb.sqltypes import BIGINT, DOUBLE
    except ImportError:  # duckdb < 1.4
        from duckdb.typing import BIGINT, DOUBLE

    def ctcae6(anc):
        return vector.grade(anc, measure="anc", version="6.0", kb=kb).to_arrow().cast(pa.int64())

    con = duckdb.connect()
    con.create_function(
        "ctcae6_anc", ctcae6, [DOUBLE], BIGINT, type="arrow", null_handling="special"
    )
    con.execute("CREATE TABLE labs AS SELECT range * 7.5 AS anc FROM range(0, 400)")
    con.execute("INSERT INTO labs VALUES (NULL), (99.99999999999999), (5.0)")
    rows = con.execute("SELECT anc, ctcae6_anc(anc) FROM labs").fetchall()
    scale = grading.ctcae_scale(kb, "anc", "6.0")
    limits = kb.get("measures", "anc")
    for anc, got in rows:
        plausible = anc is not None and not 0 < anc < limits["min_positive_cells_per_ul"]
        assert got == (grading.grade(scale, anc)["grade"] if plausible else None), anc


def test_the_benchmark_script_runs_at_a_tiny_size(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent.parent / "benchmarks" / "columnar.py"
    res = subprocess.run(
        [sys.executable, str(script), "300"], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "ratio stream/columnar" in res.stdout and "outputs identical" in res.stdout
