"""Every script in benchmarks/ still runs (issue 18, item 6): tiny sizes, never timings.

Each script is run as a user runs it, at a size that takes a second or two, and must finish
without a traceback and print its ratio lines (with a verdict where it has a target). A new
script must be added to SCRIPTS (or name the test that runs it), so none can rot unseen.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

# script -> (arguments for a tiny run, exit codes that mean "ran", lines it must print)
SCRIPTS = {
    "batch.py": (
        ["200", "--runs", "1"],
        (0, 1),  # 1: a target missed (at 200 rows every ratio is start-up noise)
        [
            r"^batch ratio ANC CSV vs csv\.reader->csv\.writer .* <= 1\.3x (met|MISSED)$",
            r"^batch ratio WBC \+ differential CSV .* <= 1\.6x (met|MISSED)$",
            r"^batch ratio JSONL to JSONL vs json\.loads->json\.dumps .* <= 2\.0x (met|MISSED)$",
            r"^batch ratio JSONL to CSV vs json\.loads->json\.dumps .* <= 2\.0x (met|MISSED)$",
            r"^batch least block stream, no grading \(anc\.csv\): [\d.]+s [\d.]+x the floor",
            r"^batch least block stream, no grading \(wbc\.csv\): [\d.]+s [\d.]+x the floor",
            r"^batch two processes, half the file each \(anc\.csv\): [\d.]+s [\d.]+x the floor",
            r"^batch two processes, half the file each \(wbc\.csv\): [\d.]+s [\d.]+x the floor",
            r"^batch peak RSS \(largest CLI run\) [\d.]+ MiB  <= 64 MiB (met|MISSED)$",
            r"^verdicts on the in-process ratio",
        ],
    ),
    "batch_memory.py": (["200"], (0,), [r"^200 rows in .* peak RSS [\d.]+ MiB$"]),
    "startup.py": (
        ["--quick"],
        (0, 1),
        [
            r"^python -c pass .* 1\.0x",
            r"^leuko assess --anc 450 --json .*x .* <= 3x (met|MISSED)$",
            r"^5,000-cause overlay vs bundled KB alone .*x  <= 1\.5x (met|MISSED)$",
            r"^first run after an overlay edit, extra time .* <= 500ms (met|MISSED)$",
            r"^first run, empty cache: .* <= 4x (met|MISSED)",
        ],
    ),
    "trend.py": (["20", "5"], (0,), [r"^ratio +[\d.]+x \(target < 10\)$"]),
}
# scripts whose tiny run lives in another test file (which must name the script)
ELSEWHERE = {"columnar.py": "tests/test_columnar.py"}


def test_every_benchmark_script_is_run_by_a_test():
    scripts = {p.name for p in BENCHMARKS.glob("*.py")}
    assert scripts == set(SCRIPTS) | set(ELSEWHERE)
    for script, test_file in ELSEWHERE.items():
        assert script in (ROOT / test_file).read_text("utf-8")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_benchmark_runs_at_a_tiny_size(script, tmp_path):
    args, codes, patterns = SCRIPTS[script]
    res = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert res.returncode in codes, res.stdout + res.stderr
    assert "Traceback" not in res.stderr, res.stderr
    for pattern in patterns:
        assert re.search(pattern, res.stdout, re.MULTILINE), (pattern, res.stdout)
