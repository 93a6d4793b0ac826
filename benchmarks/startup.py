"""Start-up benchmark (issue 7): median wall time of each command against `python -c pass`,
measured side by side in one run so the ratios hold on a noisy machine.

    python benchmarks/startup.py [--runs 21]

Prints medians and ratios, warm (a repeated command: the rendered-output cache replays it) and
uncached (LEUKO_NO_OUTPUT_CACHE=1: the command renders from the KB store), and the targets:
issue 18's every command <= 3x warm, a query with a 5,000-cause overlay <= 1.5x the same query
without it, an overlay edit picked up at most 0.5 s later than a plain run, and the first run
with an empty cache <= 4x. Also times a bare
one-command Typer app: when a newer Typer's bare app falls back to about 5x, the <0.29 pin in
pyproject.toml can be lifted (see docs/performance.md).

`--quick` is a smoke run for tests/test_benchmarks.py: one run of a few commands, a 20-cause
overlay, no warm-up; it prints the same lines, and its timings mean nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEUKO = shutil.which("leuko", path=str(Path(sys.executable).parent)) or "leuko"

BARE_TYPER = """
import typer
app = typer.Typer()
@app.command()
def a(x: int = 1):
    print(x)
app()
"""


def overlay_text(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(f"""[[causes]]
id = "bench-cause-{i}"
name = "Benchmark cause {i}"
category = "drugs"
synonyms = ["bench{i}", "synthetic {i}"]
lineages = ["neutrophils"]
summary = "Synthetic entry {i} for the overlay benchmark; not clinical content."
patient_summary = "A made-up entry used only to measure speed."
mechanism = "reduced-production"
mechanism_detail = "Synthetic."
course = "transient"
origin = "extrinsic"
features = ["synthetic feature a", "synthetic feature b"]
workup = ["synthetic test"]
management = ["synthetic step"]
references = ["andersohn2007"]
last_reviewed = 2026-11-22
review_status = "draft"
""")
    return "\n".join(parts)


def time_cmd(argv: list[str], env: dict, runs: int, warm: bool = True) -> float:
    if warm:
        subprocess.run(argv, env=env, capture_output=True)  # the KB memo, then the record
        subprocess.run(argv, env=env, capture_output=True)  # warm caches (KB cache, pyc, disk)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--quick", action="store_true", help="a smoke run for tests (no timings)")
    args = ap.parse_args()
    if args.quick:
        args.runs = 1

    tmp = Path(tempfile.mkdtemp(prefix="leuko-bench-"))
    env = dict(
        os.environ,
        LEUKO_CACHE_DIR=str(tmp / "cache"),
        LEUKO_CONFIG_DIR=str(tmp / "cfg"),
        LEUKO_DATA_DIR=str(tmp / "data"),
        COLUMNS="100",
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure what an installed tool does: with .pyc
    configured = dict(env, LEUKO_CONFIG_DIR=str(tmp / "cfg-set"))
    (tmp / "cfg-set").mkdir()
    (tmp / "cfg-set" / "config.toml").write_text('unit = "10^9/L"\n')  # as `config set` writes
    big = dict(env, LEUKO_DATA_DIR=str(tmp / "data-big"))
    (tmp / "data-big").mkdir()
    (tmp / "data-big" / "overlay.toml").write_text(overlay_text(20 if args.quick else 5000))
    overlay_written = time.time()
    bare_typer = tmp / "bare_typer.py"
    bare_typer.write_text(BARE_TYPER)

    py = sys.executable
    rows = [
        ("python -c pass", [py, "-c", "pass"], env, None),
        ("bare Typer app (reference)", [py, str(bare_typer)], env, None),
        ("leuko --help", [LEUKO, "--help"], env, None),
        ("leuko assess --anc 450 --json", [LEUKO, "assess", "--anc", "450", "--json"], env, 6),
        (
            "leuko assess --anc 0.45 --json (config file: unit)",
            [LEUKO, "assess", "--anc", "0.45", "--json"],
            configured,
            6,
        ),
        ("leuko assess --anc 450", [LEUKO, "assess", "--anc", "450"], env, 8),
        ("leuko causes --category drugs", [LEUKO, "causes", "--category", "drugs"], env, 8),
        ("leuko refs", [LEUKO, "refs"], env, None),
        (
            "leuko causes --search b12 --json (bundled KB)",
            [LEUKO, "causes", "--search", "b12", "--json"],
            env,
            None,
        ),
        (
            "leuko causes --search b12 --json (+5,000-cause overlay)",
            [LEUKO, "causes", "--search", "b12", "--json"],
            big,
            None,
        ),
    ]
    # issue 18's goal: every command within 3x warm; listed, not yet a verdict
    rows += [
        (f"leuko {' '.join(a)}", [LEUKO, *a], env, None)
        for a in (
            ["--version"],
            ["assess", "--help"],
            ["refs", "--json"],
            ["causes", "--json"],
            ["classify"],
            ["classify", "--json"],
            ["workup"],
            ["manage"],
            ["scales"],
            ["kb", "info"],
            ["search", "clozapine"],
            ["search", "clozapine", "--json"],
            ["meds", "clozapine"],
            ["meds", "clozapine", "--json"],
            ["schema"],
        )
    ]
    if args.quick:  # a smoke run: python, the overlay pair and the other first rows only
        rows = rows[:10]
    rows = [(n, a, e, 3 if a[0] == LEUKO else None) for n, a, e, _t in rows]
    results, uncached = {}, {}
    for name, argv, e, _target in rows:
        if e is big and not args.quick:
            # Steady state: leuko remembers an overlay's hash only once the file is older than
            # kb.RACY_SECONDS (a same-size edit inside one timestamp tick must not hide).
            time.sleep(max(0.0, overlay_written + 2.5 - time.time()))
        results[name] = time_cmd(argv, e, args.runs, not args.quick)
        if argv[0] == LEUKO:
            plain = dict(e, LEUKO_NO_OUTPUT_CACHE="1")
            few = 1 if args.quick else max(5, args.runs // 3)
            uncached[name] = time_cmd(argv, plain, few, not args.quick)
    base = results["python -c pass"]
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}; "
        f"median of {args.runs} runs"
    )
    print(f"{'command':58} {'median':>9} {'warm':>7} {'uncached':>9}  target (warm)")
    ok = True
    for name, _argv, _e, target in rows:
        ratio = results[name] / base
        verdict = ""
        if target:
            met = ratio <= target
            ok &= met
            verdict = f"<= {target}x {'met' if met else 'MISSED'}"
        plain = f"{uncached[name] / base:8.1f}x" if name in uncached else f"{'':9}"
        print(f"{name:58} {results[name] * 1000:7.1f}ms {ratio:6.1f}x {plain}  {verdict}")
    small = results["leuko causes --search b12 --json (bundled KB)"]
    name_big = "leuko causes --search b12 --json (+5,000-cause overlay)"
    large = results[name_big]
    overlay_ratio = large / small
    met = overlay_ratio <= 1.5
    ok &= met
    print(
        f"{'5,000-cause overlay vs bundled KB alone':58} {'':>9} {overlay_ratio:6.2f}x  "
        f"<= 1.5x {'met' if met else 'MISSED'}"
    )
    # an overlay edit: the first run after it re-hashes and rebuilds the store
    argv = [LEUKO, "causes", "--search", "b12", "--json"]
    edits = []
    for n in range(1 if args.quick else max(3, args.runs // 7)):
        with open(tmp / "data-big" / "overlay.toml", "a") as fh:
            fh.write(f"# edit {n}\n")
        t0 = time.perf_counter()
        subprocess.run(argv, env=big, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        edits.append(time.perf_counter() - t0 - results[name_big])
    extra = statistics.median(edits)
    met = extra <= 0.5
    ok &= met
    print(
        f"{'first run after an overlay edit, extra time':58} {extra * 1000:7.1f}ms "
        f"{'':>7} {'':>9}  <= 500ms {'met' if met else 'MISSED'}"
    )
    # the first run with an empty cache (an installed wheel opens its prebuilt store)
    cold = []
    for _ in range(1 if args.quick else max(3, args.runs // 4)):
        shutil.rmtree(tmp / "cache", ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run(
            [LEUKO, "assess", "--anc", "450", "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cold.append(time.perf_counter() - t0)
    first = statistics.median(cold)
    print(
        f"{'first run, empty cache: assess --anc 450 --json':58} {first * 1000:7.1f}ms "
        f"{first / base:6.1f}x {'':9}  <= 4x {'met' if first / base <= 4 else 'MISSED'}"
        " (an editable install builds the store here)"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
