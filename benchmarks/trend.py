"""Benchmark `leuko trend` summaries against reading the same file (not a pytest test).

    .venv/bin/python benchmarks/trend.py [SUBJECTS] [COUNTS]

Generates SUBJECTS x COUNTS dated ANC rows (default 10,000 x 30: a chemotherapy-like dip with
noise, every other day) in a temporary directory, then times, in-process with the KB loaded:

  read       the reader layer alone: every row read, its date parsed (no grading)
  summarise  the whole command: read, grade every count through assess, group, sort, and
             compute every figure per subject (the cyclic screen's sampling check included)

and prints summarise / read. Target: under 10.
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path


def generate(path: Path, subjects: int, counts: int, seed: int = 17) -> None:
    rnd = random.Random(seed)
    d0 = date(2024, 1, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("subject,date,anc\n")
        for s in range(subjects):
            depth = rnd.uniform(0.5, 3.5)
            for i in range(counts):
                day = 2 * i
                ln = math.log(3000) - depth * math.exp(-(((day - 12) / 5) ** 2))
                v = round(math.exp(ln + rnd.gauss(0, 0.15)))
                fh.write(f"S{s:05d},{(d0 + timedelta(days=day)).isoformat()},{v}\n")


def main() -> None:
    subjects = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    counts = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    from leuko_cli.kb import load
    from leuko_cli.trend import command, series

    kb = load()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "series.csv"
        generate(path, subjects, counts)
        t = time.perf_counter()
        with open(path, encoding="utf-8", newline="") as fh:
            n = 0
            for _line, _subject, when, _fields in series.rows(kb, fh, str(path), None, "anc", []):
                series.parse_when(when)
                n += 1
        read = time.perf_counter() - t
        t = time.perf_counter()
        answer = command.trend(str(path))
        full = time.perf_counter() - t
    assert len(answer.data["subjects"]) == subjects
    print(f"rows       {n:,} ({subjects:,} subjects x {counts})")
    print(f"read       {read:.2f} s")
    print(f"summarise  {full:.2f} s")
    print(f"ratio      {full / read:.1f}x (target < 10)")


if __name__ == "__main__":
    main()
