"""The columnar engine's fast paths give the bytes of its reference paths.

- pyarrow's CSV writer (csvout.write_rows) against the per-cell formatter (tables._cells), on
  every column type the engine writes and on hostile text;
- the byte-level plain-decimal check (text.plain_decimals) against the stream's regex;
- batches, runs of quoted rows between pyarrow's runs, and whole joined batches: the shared
  sample of test_columnar.py, byte for byte against the stream, at sizes that cut it everywhere.
"""

from __future__ import annotations

import random
import re

import pytest

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")

from leuko_cli.columnar import csvout, tables, text  # noqa: E402

_HOSTILE = ["", "a", "a,b", 'say "hi"', "tab\there", "\x1b[31m", "\u202e", "é", "日本", " x "]
_HOSTILE += ["\x85", "\x7f", "line\nbreak", "cr\r", '"', ","]


def _floats(rnd: random.Random, n: int) -> list:
    out = []
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.1:
            out.append(None)
        elif kind < 0.2:
            out.append(rnd.choice([0.0, -0.0, 1e-4, 1e7, 1e7 - 0.5, 9999999.999, 1e-5, 1e16]))
        elif kind < 0.22:
            out.append(rnd.choice([float("nan"), float("inf"), -float("inf"), -3.5, -2.0]))
        elif kind < 0.5:
            out.append(float(rnd.randrange(0, 10 ** rnd.randint(1, 18))))
        else:
            out.append(round(10 ** rnd.uniform(-8, 20), rnd.randint(0, 17)))
    return out


def _reference(columns: list) -> bytes:
    return bytes(csvout._joined(columns))


def _fast(columns: list) -> bytes:
    return bytes(csvout.write_rows(columns))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("split", [1, 10**9])  # whole batches joined; runs between quoted rows
def test_arrow_writer_matches_the_cell_formatter(seed, split, monkeypatch):
    monkeypatch.setattr(csvout, "_SPLIT", split)
    rnd = random.Random(seed)
    n = 400
    dirty = seed % 3  # 0: every cell plain; 1: a few hostile; 2: many hostile
    share = (0.0, 0.01, 0.4)[dirty]

    def word() -> str:
        return rnd.choice(_HOSTILE) if rnd.random() < share else f"P{rnd.randrange(10**6)}"

    columns = [
        pa.array([word() for _ in range(n)]),
        pa.array(_floats(rnd, n), pa.float64()),
        pa.array([rnd.choice([None, *range(-3, 6)]) for _ in range(n)], pa.int8()),
        pa.array([rnd.choice([None, -128, 0, 127]) for _ in range(n)], pa.int8()),
        pa.array([rnd.choice([0, 5, 9]) for _ in range(n)], pa.int8()),
        pa.array([rnd.choice([None, 0, 200, 255]) for _ in range(n)], pa.uint8()),
        pa.array([rnd.choice([None, -(2**40), 0, 7]) for _ in range(n)], pa.int64()),
        pa.array([float(rnd.choice([0, 40, 3000])) for _ in range(n)], pa.float64()),
        pa.array([rnd.choice([None, 1.0, 2e6]) for _ in range(n)], pa.float64()),
        pa.array([rnd.choice([None, 0.0, 0.5, 1e7 - 0.25, 1e7, 6.08e12]) for _ in range(n)]),
        pa.array([rnd.choice([True, False]) for _ in range(n)], pa.bool_()),
        pa.nulls(n, pa.bool_()),
        pa.array([rnd.choice([None, True, False]) for _ in range(n)], pa.bool_()),
        pa.array([rnd.choice([None, word()]) for _ in range(n)], pa.large_string()),
        pa.array([rnd.choice(["mild", "moderate", "a,b"]) for _ in range(n)]).dictionary_encode(),
        pa.array([rnd.choice([None, 0, 19000]) for _ in range(n)], pa.date32()),
        pa.nulls(n, pa.string()),
        pa.array(_floats(rnd, n), pa.float32()),
        pa.array([word() for _ in range(n)]).slice(0, n),
    ]
    assert _fast(columns) == _reference(columns)
    sliced = [c.slice(37, 200) for c in columns]
    assert _fast(sliced) == _reference(sliced)


_PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?")


def test_plain_decimals_is_the_regex():
    rnd = random.Random(18)
    alphabet = "0123456789.....e-+x é"
    cells = ["", ".", "0", "5.", ".5", "1.2.3", "007", "1e3", "12.50", "٣"]
    cells += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 6))) for _ in range(5000)]
    cells = [c.replace(" ", "") for c in cells]  # blanks go to the regex path (has_blanks)
    arr = pa.array(cells)
    for part in (arr, arr.slice(3, 2000)):
        got = text.plain_decimals(part).tolist()
        assert got == [bool(_PLAIN.fullmatch(c)) for c in part.to_pylist()]
    assert not text.has_blanks(arr) and text.has_blanks(pa.array(["1", " 2"]))
    whole = pa.array(["12", "", "007", "5", None])  # digits only: the shortcut
    assert text.plain_decimals(whole).tolist() == [True, False, True, True, False]
    assert text.plain_decimals(whole.slice(1)).tolist() == [False, True, True, False]


@pytest.mark.parametrize("rows, split", [(7, 1), (7, 10**9), (1000, 10**9), (1 << 18, 1)])
def test_batches_and_runs_keep_the_stream_bytes(invoke, tmp_path, monkeypatch, rows, split):
    """The shared sample, cut into batches of `rows`, quoted rows written in runs (split big)
    or whole batches joined (split 1): always the stream's bytes."""
    import csv

    from test_columnar import HEADER, sample_rows

    from leuko_cli import kb as kbmod

    path = tmp_path / "sample.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(sample_rows(kbmod.load(overlay=False, use_cache=False), n=600))
    monkeypatch.setattr(tables, "BATCH_ROWS", rows)
    monkeypatch.setattr(csvout, "_SPLIT", split)
    stream = invoke("assess", "--input", str(path))
    columnar = invoke("assess", "--input", str(path), "--engine", "columnar")
    assert columnar.stdout == stream.stdout and columnar.stderr == stream.stderr
    assert columnar.exit_code == stream.exit_code


def test_every_count_scale_by_id_matches_the_row_engine(kb):
    """vector.grade(scale=ID) on every KB count scale, at, around and between its bounds:
    inclusive upper bounds (DAIDS) grade the bound and the values just above it differently."""
    from leuko_cli import grading, vector

    checked = 0
    for scale in kb.table("scales"):
        if scale.get("measure") not in ("anc", "wbc", "lymphocytes", "cd4"):
            continue
        limits = kb.get("measures", scale["measure"])
        xs = sorted(
            {
                x
                for b in vector.scale_bounds(scale)
                for x in (b, b - 0.5, b + 0.5, b * (1 + 1e-16), b * (1 - 1e-16), b + 1e-9)
                if x >= limits["min_positive_cells_per_ul"]
            }
        )
        got = vector.grade(xs, scale=scale["id"], kb=kb)
        assert got.to_list() == [grading.grade(scale, x)["grade"] for x in xs], scale["id"]
        checked += 1
    assert checked > 15
