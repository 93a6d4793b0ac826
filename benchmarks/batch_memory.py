"""Peak memory of a large batch with a different lower limit on every row (not a pytest test).

    .venv/bin/python benchmarks/batch_memory.py [ROWS]

Generates ROWS (default 1,000,000) CSV rows whose `lln` column differs from row to row, so the
batch memo cannot collapse them into a few cases, runs `python -m leuko_cli assess --input FILE`
in a subprocess with output to /dev/null, and prints the child's peak RSS (getrusage). Target:
at most 64 MiB at 1 M rows, and about the same at 100 k rows (memory flat in the row count).
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


def generate(path: Path, rows: int, seed: int = 14) -> None:
    rnd = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "anc", "lln", "temp", "age"])
        for i in range(rows):
            temp = f"{rnd.uniform(36.0, 40.0):.1f}" if rnd.random() < 0.2 else ""
            lln = 1000 + i % 900_001 / 1000  # a new lower limit on every row
            w.writerow([f"P{i}", rnd.randrange(0, 8000, 10), lln, temp, rnd.randint(18, 90)])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labs.csv"
        generate(path, rows)
        env = dict(os.environ, LEUKO_CACHE_DIR=tmp, LEUKO_CONFIG_DIR=tmp, LEUKO_DATA_DIR=tmp)
        start = time.perf_counter()
        with open(os.devnull, "w") as null:
            done = subprocess.run(
                [sys.executable, "-m", "leuko_cli", "assess", "--input", str(path)],
                stdout=null,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        elapsed = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
        print(done.stderr.strip())
        print(
            f"{rows:,} rows in {elapsed:.1f} s; exit {done.returncode}; "
            f"peak RSS {peak_kib / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()
