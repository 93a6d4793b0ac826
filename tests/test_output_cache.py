"""Issue 18: the rendered-output cache replays a recorded answer byte for byte, and never
serves a stale one (KB, overlay, config, width, colour or code changed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from test_overlay import local_cause

from leuko_cli import entry, output_cache
from leuko_cli.kb import load as _kb_api  # noqa: F401 - makes the module importable below

KBLOAD = sys.modules["leuko_cli.kb.load"]


@pytest.fixture(autouse=True)
def _memo_at_once(monkeypatch):
    # the KB hash memo is normally not written for a file changed in the last 2 s
    monkeypatch.setattr(KBLOAD, "RACY_SECONDS", 0)


def run(argv, capsys, *, forbid_render=False, monkeypatch=None):
    """One run through the console-script path, in-process: (code, stdout, stderr)."""
    if forbid_render:

        def refuse(_argv):
            raise AssertionError("a recorded answer should have been replayed")

        runner = refuse
    else:
        runner = entry.run
    code = output_cache.run(list(argv), runner)
    out, err = capsys.readouterr()
    return code, out, err


def records(isolated_dirs) -> list[Path]:
    d = isolated_dirs / "cache" / "output"
    return sorted(d.glob("*.out")) if d.exists() else []


CASES = [
    ["causes", "--category", "drugs"],
    ["causes", "--json"],
    ["causes", "show", "clozapine", "--audience", "patient"],
    ["refs"],
    ["scales"],
    ["kb", "info"],
    ["search", "clozapine"],
    ["meds", "clozapine", "Zyvox"],
    ["assess", "--anc", "450"],
    ["classify", "--json"],
    ["--help"],
    ["assess", "--help"],
    ["--version"],
]


@pytest.mark.parametrize("argv", CASES, ids=" ".join)
def test_replay_is_byte_identical_to_a_fresh_run(argv, capsys, isolated_dirs, monkeypatch):
    monkeypatch.setenv("LEUKO_NO_OUTPUT_CACHE", "1")
    fresh = run(argv, capsys)
    assert records(isolated_dirs) == []
    monkeypatch.delenv("LEUKO_NO_OUTPUT_CACHE")
    run(argv, capsys)  # recorded
    assert run(argv, capsys) == fresh
    assert len(records(isolated_dirs)) == 1
    assert run(argv, capsys, forbid_render=True) == fresh


def test_overlay_edits_are_never_served_stale_and_states_coexist(capsys, isolated_dirs, kb):
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    argv = ["causes", "--search", "zebrafish"]

    def write(name: str) -> None:
        cause = local_cause(kb, name=name, synonyms=["zebrafish"])
        overlay.write_text(tomli_w.dumps({"causes": [cause]}))

    write("Zebrafish A")
    run(argv, capsys)
    first = run(argv, capsys)
    assert "Zebrafish A" in first[1]
    write("Zebrafish B")  # an edit: the next run must see it
    second = run(argv, capsys)
    assert "Zebrafish B" in second[1] and "Zebrafish A" not in second[1]
    run(argv, capsys)
    write("Zebrafish A")  # back to A: its record replays, B's stays
    assert run(argv, capsys) == first
    overlay.unlink()  # no overlay at all: the bundled answer
    assert "Zebrafish" not in run(argv, capsys)[1]
    assert len(records(isolated_dirs)) >= 2


def test_a_config_change_is_never_served_stale(capsys, isolated_dirs):
    argv = ["assess", "--anc", "0.45", "--json"]
    config = isolated_dirs / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('unit = "10^9/L"\n')
    run(argv, capsys)
    with_unit = run(argv, capsys)
    assert with_unit[0] == 0
    config.write_text("")
    without = run(argv, capsys)
    assert without != with_unit and without[0] == 2  # 0.45 cells/µL is refused as implausible


@pytest.mark.parametrize(
    ("name", "values"), [("COLUMNS", ("40", "100")), ("LEUKO_COLOR", ("always", "never"))]
)
def test_width_and_colour_are_in_the_key(name, values, capsys, monkeypatch):
    argv = ["causes", "show", "clozapine"]
    outs = []
    for value in values:
        monkeypatch.setenv(name, value)
        run(argv, capsys)
        outs.append(run(argv, capsys))
        assert run(argv, capsys, forbid_render=True) == outs[-1]
    assert outs[0] != outs[1]


def test_a_code_change_is_a_new_key(capsys, monkeypatch):
    argv = ["refs"]
    before = output_cache.record_path(argv)
    signature = output_cache._code_signature()
    here = Path(output_cache.__file__).parent
    assert len(signature[2]) == len(list(here.rglob("*.py")))
    monkeypatch.setattr(output_cache, "_code_signature", lambda: signature + ["edited"])
    assert before is not None and output_cache.record_path(argv) != before


def test_a_damaged_record_is_never_replayed(capsys, isolated_dirs):
    argv = ["refs", "--json"]
    run(argv, capsys)
    good = run(argv, capsys)
    (record,) = records(isolated_dirs)
    data = bytearray(record.read_bytes())
    for at in (len(data) // 2, len(data) - 3, 5):
        damaged = bytearray(data)
        damaged[at] ^= 0x20
        record.write_bytes(bytes(damaged))
        assert run(argv, capsys) == good
    record.write_bytes(b"")
    assert run(argv, capsys) == good


@pytest.mark.parametrize(
    "argv",
    [
        ["meds", "--file", "meds.txt"],
        ["assess", "--input", "-"],
        ["assess", "--fhir=x.json"],
        ["batch", "x.csv"],
        ["trend", "x.csv"],
        ["config", "set", "unit", "cells/uL"],
        ["config", "show"],
        ["kb", "check"],
        ["kb", "export"],
        ["kb", "path"],
        ["trend", "x.csv", "-ox.svg"],
        [],
    ],
    ids=repr,
)
def test_commands_with_outside_input_or_effects_are_never_cached(argv):
    assert not output_cache._cacheable(argv)


@pytest.mark.parametrize(
    "argv",
    [["causes"], ["--color", "never", "refs"], ["--no-pager", "kb", "info"], ["batch", "--help"]],
    ids=repr,
)
def test_pure_queries_and_help_are_cacheable(argv):
    assert output_cache._cacheable(argv)


def test_failures_and_paged_output_are_not_recorded(capsys, isolated_dirs):
    for _ in range(2):
        code, _out, err = run(["assess", "--anc", "4,5"], capsys)
        assert code == 2 and err
    assert records(isolated_dirs) == []

    def paged(argv):
        output_cache.taint("pager")
        sys.stdout.write("paged\n")
        return 0

    for _ in range(2):
        output_cache.run(["refs"], paged)
    assert records(isolated_dirs) == []


def test_no_cache_settings_turn_it_off(capsys, isolated_dirs, monkeypatch):
    for var in ("LEUKO_NO_OUTPUT_CACHE", "LEUKO_NO_CACHE"):
        monkeypatch.setenv(var, "1")
        assert output_cache.record_path(["refs"]) is None
        monkeypatch.delenv(var)


def test_old_records_are_pruned(isolated_dirs, monkeypatch):
    monkeypatch.setattr(output_cache, "KEEP", 3)
    base = isolated_dirs / "cache" / "output"
    for n in range(6):
        output_cache.write_record(str(base / f"{n}.out"), f"answer {n}\n", "")
        os.utime(base / f"{n}.out", ns=(n * 10**9, n * 10**9))
    output_cache._prune(str(base))
    assert sorted(p.name for p in base.glob("*.out")) == ["3.out", "4.out", "5.out"]
    assert output_cache.read_record(str(base / "5.out")) == ("answer 5\n", "")


def test_the_console_script_replays_without_importing_typer_or_rich(isolated_dirs):
    """The real entry point, as a user runs it: the third run is a replay."""
    code = (
        "import sys; from leuko_cli.entry import main\n"
        "sys.argv = ['leuko', 'causes', '--category', 'drugs']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(' '.join(m for m in sys.modules if m in ('typer', 'rich')))\n"
    )
    env = dict(os.environ)
    outs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        for _ in range(3)
    ]
    assert outs[0].stdout == outs[1].stdout == outs[2].stdout
    assert "Clozapine" in outs[2].stdout
    if records(isolated_dirs):  # the bundled KB's memo was written (file older than 2 s)
        assert outs[2].stderr == ""


class ClosesAfter:
    """A pipe whose reader goes away (`| head -1`): the second write fails."""

    encoding, errors = "utf-8", "strict"

    def __init__(self) -> None:
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        if self.writes > 1:
            raise BrokenPipeError(32, "Broken pipe")
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_output_cut_short_by_a_closed_pipe_is_never_recorded(capsys, isolated_dirs, monkeypatch):
    argv = ["causes", "--category", "drugs"]
    for _ in range(2):
        monkeypatch.setattr(sys, "stdout", ClosesAfter())
        monkeypatch.setattr("leuko_cli.errors.silence_stdout", lambda: None)
        assert output_cache.run(list(argv), entry.run) == 0  # `| head` exits 0
        monkeypatch.undo()
        monkeypatch.setattr(KBLOAD, "RACY_SECONDS", 0)
    assert records(isolated_dirs) == []
    monkeypatch.setenv("LEUKO_NO_OUTPUT_CACHE", "1")
    whole = run(argv, capsys)
    monkeypatch.delenv("LEUKO_NO_OUTPUT_CACHE")
    assert run(argv, capsys) == whole and run(argv, capsys, forbid_render=True) == whole


def test_a_bundled_kb_change_is_never_served_stale(capsys, isolated_dirs, monkeypatch, tmp_path):
    from leuko_cli import kb_state

    copy = tmp_path / "causes.toml"
    original = Path(kb_state.bundled_file()).read_text(encoding="utf-8")
    copy.write_text(original, encoding="utf-8")
    for module in (kb_state, KBLOAD):
        monkeypatch.setattr(module, "bundled_file", lambda: str(copy))
    argv = ["causes", "show", "clozapine", "--json"]
    run(argv, capsys)
    before = run(argv, capsys)
    assert run(argv, capsys, forbid_render=True) == before
    copy.write_text(original.replace('name = "Clozapine"', 'name = "Clozapine (edited)"', 1))
    after = run(argv, capsys)
    assert after != before and "Clozapine (edited)" in after[1]


def test_help_words_used_as_values_still_key_on_the_kb(isolated_dirs, kb):
    """`causes --search -h` is a query, not help: its record must change with the overlay."""
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    argv = ["causes", "--search", "-h"]
    keys = []
    for name in ("Hyphen A", "Hyphen B"):
        overlay.write_text(tomli_w.dumps({"causes": [local_cause(kb, name=name)]}))
        keys.append(output_cache.record_path(argv))
    overlay.unlink()
    keys.append(output_cache.record_path(argv))
    assert None not in keys and len(set(keys)) == 3


@pytest.mark.parametrize("victim", ["record", "bundled-hash.json", "overlay-hash.json"])
def test_a_pipe_in_the_cache_dir_is_never_waited_on(isolated_dirs, victim):
    """The cache is read before the command runs: a FIFO put in place of a record or of a
    remembered hash made every run hang on its open."""
    env = dict(os.environ, LEUKO_CACHE_DIR=str(isolated_dirs / "cache"))
    argv = [sys.executable, "-m", "leuko_cli", "causes", "--category", "drugs"]
    if victim == "overlay-hash.json":
        (isolated_dirs / "data").mkdir(exist_ok=True)
        (isolated_dirs / "data" / "overlay.toml").write_text("", "utf-8")
    first = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    assert first.returncode == 0, first.stderr
    cache = isolated_dirs / "cache"
    # (the overlay's hash is remembered only for a file older than 2 s: the FIFO stands in)
    targets = list((cache / "output").iterdir()) if victim == "record" else [cache / victim]
    assert targets
    for target in targets:
        target.unlink(missing_ok=True)
        os.mkfifo(target)
    again = subprocess.run(argv, env=env, capture_output=True, timeout=20)
    assert again.returncode == 0 and again.stdout == first.stdout, again.stderr
