"""Benchmark `leuko assess --input` against a plain csv read-and-write loop (not a pytest test).

    .venv/bin/python benchmarks/batch.py [ROWS]

Generates a lab export (default 200,000 rows: ANC or WBC + differential, some temperatures and
ages, a few bad rows) in a temporary directory, then times:

  baseline  csv.reader -> csv.writer over the same file (no grading)
  batch     leuko_cli.batch.run over the same file, in-process (KB loaded beforehand)
  cli       `python -m leuko_cli assess --input FILE` end to end, in a subprocess

and prints the ratios and the peak RSS of the CLI subprocess. Target: batch / baseline <= 2.5.
"""

from __future__ import annotations

import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(path: Path, rows: int, seed: int = 6) -> None:
    rnd = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "anc", "wbc", "neutrophils", "bands", "temp", "age"])
        for i in range(rows):
            temp = f"{rnd.uniform(36.0, 40.0):.1f}" if rnd.random() < 0.2 else ""
            age = str(rnd.randint(0, 95)) if rnd.random() < 0.5 else ""
            r = rnd.random()
            if r < 0.001:
                w.writerow([f"P{i}", "n/a", "", "", "", temp, age])  # bad row
            elif r < 0.8:
                w.writerow([f"P{i}", str(rnd.randrange(0, 8000, 10)), "", "", "", temp, age])
            else:
                w.writerow(
                    [
                        f"P{i}",
                        "",
                        str(rnd.randrange(500, 12000, 100)),
                        str(rnd.randint(0, 80)),
                        str(rnd.randint(0, 10)),
                        temp,
                        age,
                    ]
                )


def baseline(src: Path, dst: Path) -> float:
    t = time.perf_counter()
    with (
        open(src, newline="", encoding="utf-8") as fi,
        open(dst, "w", newline="", encoding="utf-8") as fo,
    ):
        w = csv.writer(fo, lineterminator="\n")
        for row in csv.reader(fi):
            w.writerow(row)
    return time.perf_counter() - t


def batch_inprocess(src: Path, dst: Path) -> float:
    from leuko_cli import batch, kb

    knowledge = kb.load()
    t = time.perf_counter()
    with (
        open(src, newline="", encoding="utf-8-sig") as fi,
        open(dst, "w", newline="", encoding="utf-8") as fo,
    ):
        summary = batch.run(knowledge, fi, fo, name=str(src), fmt="csv")
    elapsed = time.perf_counter() - t
    print(f"  {summary.line()}")
    return elapsed


def cli(src: Path, dst: Path) -> tuple[float, float]:
    t = time.perf_counter()
    with open(dst, "w", encoding="utf-8") as fo:
        proc = subprocess.run(
            [sys.executable, "-m", "leuko_cli", "assess", "--input", str(src)],
            stdout=fo,
            stderr=subprocess.PIPE,
            text=True,
        )
    elapsed = time.perf_counter() - t
    print(f"  cli exit {proc.returncode}: {proc.stderr.strip()}")
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, rss_kb / 1024  # Linux reports KiB


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "labs.csv"
        generate(src, rows)
        print(f"{rows} rows, {os.path.getsize(src) / 1e6:.1f} MB")
        base = min(baseline(src, Path(tmp) / "base.csv") for _ in range(3))
        ours = min(batch_inprocess(src, Path(tmp) / "out.csv") for _ in range(3))
        end_to_end, rss = cli(src, Path(tmp) / "cli.csv")
        print(f"baseline csv loop : {base:.3f} s")
        print(f"batch (in-process): {ours:.3f} s  ratio {ours / base:.2f}x (target <= 2.5x)")
        print(
            f"cli end to end    : {end_to_end:.3f} s  ratio {end_to_end / base:.2f}x "
            "(includes interpreter start and KB load)"
        )
        print(f"cli peak RSS      : {rss:.1f} MiB")


if __name__ == "__main__":
    main()
