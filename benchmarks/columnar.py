"""Benchmark the columnar engine against the stream engine (not a pytest test).

    .venv/bin/python benchmarks/columnar.py [ROWS] [--stream-rows N] [--runs K]

Generates a lab export of ROWS rows (default 1,000,000: ANC in cells/uL or 10^9/L, some WBC +
differential rows, some LLNs, CTCAE 5.0 and 6.0, a few bad rows) and times, end to end as a user
runs them (a subprocess: start-up, KB load, read, grade, write to a file):

  stream    leuko assess --input FILE
  columnar  leuko assess --input FILE --engine columnar

and prints the ratio stream / columnar (the issue's target: at least 10x on 10 M rows). The
stream engine is linear in rows, so with --stream-rows N it runs on the first N rows only and
its time is scaled up (say so when quoting the figure). The two outputs are compared whenever
both ran on the whole file. With --runs K the two engines run K times, alternately (so both
see the same load on a shared machine), and the medians are compared; each run's wall time
and CPU time (user + system, all threads) are printed.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(path: Path, rows: int, seed: int = 18) -> None:
    rnd = random.Random(seed)
    anc = [str(rnd.randrange(0, 8000, 10)) for _ in range(4096)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id,anc,wbc,neutrophils,bands,unit,ctcae_version,lln\n")
        lines = []
        for i in range(rows):
            r = rnd.random()
            version = "5.0" if r < 0.3 else "6.0"
            if r < 0.0005:
                lines.append(f"P{i},n/a,,,,,{version},\n")
            elif r < 0.7:
                lln = "1800" if r < 0.2 else ""
                lines.append(f"P{i},{anc[i & 4095]},,,,,{version},{lln}\n")
            elif r < 0.8:
                lines.append(f"P{i},{int(anc[i & 4095]) / 1000:g},,,,10^9/L,{version},\n")
            else:
                wbc = rnd.randrange(1000, 12000, 100)
                lines.append(f"P{i},,{wbc},{rnd.randint(0, 80)},{rnd.randint(0, 9)},,{version},\n")
            if len(lines) >= 100_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)


def head(src: Path, dst: Path, rows: int) -> None:
    with open(src, encoding="utf-8") as fi, open(dst, "w", encoding="utf-8") as fo:
        for n, line in enumerate(fi):
            if n > rows:
                break
            fo.write(line)


def run(src: Path, dst: Path, *extra: str) -> tuple[float, float]:
    """(wall, cpu) seconds of one leuko run as a subprocess."""
    before = os.times()
    t = time.perf_counter()
    with open(dst, "wb") as fo:
        proc = subprocess.run(
            [sys.executable, "-m", "leuko_cli", "assess", "--input", str(src), *extra],
            stdout=fo,
            stderr=subprocess.PIPE,
            text=True,
        )
    elapsed = time.perf_counter() - t
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    name = " ".join(extra) or "stream"
    print(
        f"  {name}: {elapsed:.2f} s wall, {cpu:.2f} s cpu; exit {proc.returncode}: "
        f"{proc.stderr.strip()}"
    )
    return elapsed, cpu


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv: list[str]) -> None:
    args = [a for i, a in enumerate(argv) if not a.startswith("--") and not _is_value(argv, i)]
    rows = int(args[0]) if args else 1_000_000
    stream_rows = rows
    if "--stream-rows" in argv:
        stream_rows = min(rows, int(argv[argv.index("--stream-rows") + 1]))
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 1
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "labs.csv"
        generate(src, rows)
        print(
            f"{rows} rows, {os.path.getsize(src) / 1e6:.1f} MB; {os.cpu_count()} cores; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        part, scale = src, 1.0
        if stream_rows < rows:
            part = Path(tmp) / "part.csv"
            head(src, part, stream_rows)
            scale = rows / stream_rows
        columnar, stream = [], []
        for _ in range(runs):
            columnar.append(run(src, Path(tmp) / "columnar.csv", "--engine", "columnar"))
            wall, cpu = run(part, Path(tmp) / "stream.csv")
            stream.append((wall * scale, cpu * scale))
        if stream_rows < rows:
            note = f" (measured on {stream_rows} rows, scaled x{scale:g})"
        else:
            same = digest(Path(tmp) / "stream.csv") == digest(Path(tmp) / "columnar.csv")
            note = f" (outputs {'identical' if same else 'DIFFER'})"
        s_wall, s_cpu = (statistics.median(x) for x in zip(*stream))
        c_wall, c_cpu = (statistics.median(x) for x in zip(*columnar))
        what = f"median of {runs} runs" if runs > 1 else "one run"
        print(f"stream   : {s_wall:.2f} s wall, {s_cpu:.2f} s cpu{note}; {what}")
        print(f"columnar : {c_wall:.2f} s wall, {c_cpu:.2f} s cpu; {what}")
        print(
            f"ratio stream/columnar: {s_wall / c_wall:.1f}x wall, {s_cpu / c_cpu:.1f}x cpu "
            "(target >= 10x at 10 M rows)"
        )


def _is_value(argv: list[str], i: int) -> bool:
    return i > 0 and argv[i - 1] in ("--stream-rows", "--runs")


if __name__ == "__main__":
    main(sys.argv[1:])
