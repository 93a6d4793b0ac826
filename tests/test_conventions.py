"""Conventions (issue 19): `leuko help`, --color, --format tsv, completion from the KB, and a
pager only on a terminal."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("argv", [[], ["assess"], ["causes", "show"], ["kb", "check"]])
def test_help_command_equals_dash_dash_help(invoke, argv):
    via_help = invoke("help", *argv)
    via_flag = invoke(*argv, "--help")
    assert via_help.exit_code == via_flag.exit_code == 0
    assert via_help.stdout.strip() == via_flag.stdout.strip()


def test_help_for_an_unknown_command_is_one_error_line(invoke):
    from helpers import one_line_error

    assert one_line_error(invoke("help", "nope"), 2).startswith("leuko: error:")


def test_bare_leuko_prints_help(invoke):
    res = invoke()
    assert res.exit_code == 0 and "Usage: leuko" in res.stdout


@pytest.mark.parametrize(
    "color, env, ansi",
    [
        ("never", {}, False),
        ("always", {}, True),
        ("auto", {}, False),  # not a terminal
        (None, {"LEUKO_COLOR": "always"}, True),
        ("never", {"FORCE_COLOR": "1"}, False),
        ("always", {"NO_COLOR": "1", "TERM": "dumb"}, True),  # the flag beats the environment
    ],
)
def test_color_option(invoke, monkeypatch, color, env, ansi):
    monkeypatch.delenv("NO_COLOR", raising=False)
    # --color sets LEUKO_COLOR for the process; monkeypatch restores it after the test
    monkeypatch.setenv("LEUKO_COLOR", "auto")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    argv = (["--color", color] if color else []) + ["assess", "--anc", "450"]
    res = invoke(*argv)
    assert res.exit_code == 0
    assert ("\x1b[" in res.stdout) is ansi


def test_bad_color_value_is_refused(invoke):
    from helpers import one_line_error

    assert "--color" in one_line_error(invoke("--color", "sometimes", "causes"), 2)


@pytest.mark.parametrize("value", ["alwys", "yes", "1"])
def test_bad_leuko_color_is_refused_not_ignored(invoke, monkeypatch, value):
    """LEUKO_COLOR=alwys was read as auto: an environment variable is refused like the flag."""
    from helpers import one_line_error

    monkeypatch.setenv("LEUKO_COLOR", value)
    line = one_line_error(invoke("assess", "--anc", "450"), 2)
    assert f"LEUKO_COLOR={value!r}" in line and "auto, always, never" in line


def test_empty_leuko_color_counts_as_unset(invoke, monkeypatch):
    monkeypatch.setenv("LEUKO_COLOR", "")
    assert invoke("assess", "--anc", "450").exit_code == 0


@pytest.mark.parametrize(
    "argv, columns",
    [
        (["causes", "--format", "tsv"], 6),
        (["causes", "-c", "drugs", "--format", "tsv"], 6),
        (["search", "clozapine", "--format", "tsv"], 6),
        (["refs", "--format", "tsv"], 13),
    ],
)
def test_tsv_is_one_record_per_line(invoke, argv, columns):
    res = invoke(*argv, env={"COLUMNS": "40"})
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) > 1
    assert all(line.count("\t") == columns - 1 for line in lines)


def test_tsv_rows_match_the_json(invoke):
    import json

    rows = invoke("causes", "--format", "tsv").stdout.splitlines()[1:]
    data = json.loads(invoke("causes", "--json").stdout)
    assert [r.split("\t")[0] for r in rows] == [c["id"] for c in data]


def test_tsv_and_json_together_are_refused(invoke):
    from helpers import one_line_error

    one_line_error(invoke("causes", "--format", "tsv", "--json"), 2)


# --- completion ------------------------------------------------------------------------------


def _complete(args: list[str], incomplete: str) -> list[str]:
    from typer.main import get_command

    from leuko_cli.cli import app

    try:
        from typer._click.shell_completion import ShellComplete
    except ImportError:  # pragma: no cover - older Typer over Click
        from click.shell_completion import ShellComplete

    class Probe(ShellComplete):  # the shell-independent part of completion
        source_template = ""

        def source_vars(self):  # pragma: no cover - not used
            return {}

        def get_completion_args(self):  # pragma: no cover - not used
            return args, incomplete

        def format_completion(self, item):  # pragma: no cover - not used
            return item.value

    comp = Probe(get_command(app), {}, "leuko", "_LEUKO_COMPLETE")
    return [item.value for item in comp.get_completions(args, incomplete)]


@pytest.mark.parametrize(
    "args, incomplete, expected",
    [
        (["causes", "--category"], "dr", ["drugs"]),
        (["causes", "--category"], "", ["congenital", "drugs", "infections"]),
        (["causes", "--lineage"], "ly", ["lymphocytes"]),
        (["causes", "show"], "cloz", ["clozapine"]),
        (["causes", "show"], "hiv", ["hiv-cd4-lymphopenia", "hiv-infection"]),
        (["scales"], "ctcae-6.0-n", ["ctcae-6.0-neutrophil-count-decreased"]),
        (["meds"], "carbam", ["carbamazepine"]),
        (["assess", "--drug"], "cloz", ["clozapine"]),
    ],
)
def test_completion_from_the_kb(args, incomplete, expected):
    got = _complete(args, incomplete)
    assert set(expected) <= set(got)
    assert all(v.casefold().startswith(incomplete.casefold()) for v in got)


def test_completed_values_are_accepted(invoke):
    for cat in _complete(["causes", "--category"], ""):
        assert invoke("causes", "--category", cat, "--json").exit_code == 0
    for scale in _complete(["scales"], ""):
        assert invoke("scales", scale).exit_code == 0


def test_completion_leaves_out_overlay_values_with_control_characters(monkeypatch):
    """A drug name in an overlay holding ESC ] 0;... BEL or a newline went raw into the shell's
    completion list (retitling the terminal; a newline made two completions)."""
    from leuko_cli import completion

    class KB:
        def table(self, name):
            return [{"id": "x", "drugs": ["zzok", "zz\x1b]0;pwned\x07", "zz\nEVIL", "zz\u202e"]}]

    monkeypatch.setattr("leuko_cli.kb.load", lambda *a, **k: KB())
    assert completion.complete_drug("zz") == ["zzok"]
    assert completion.complete_cause("") == ["x"]


# --- pager ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env, terminal, expected",
    [
        ({}, False, None),  # a pipe: never
        ({}, True, ["less", "-FRX"]),
        ({"LEUKO_NO_PAGER": "1"}, True, None),  # --no-pager
        ({"LEUKO_PAGER": "cat"}, True, None),
        ({"LEUKO_PAGER": ""}, True, None),
        ({"PAGER": "more"}, True, ["more"]),
        ({"PAGER": "more", "LEUKO_PAGER": "less"}, True, ["less"]),
    ],
)
def test_pager_only_on_a_terminal(monkeypatch, env, terminal, expected):
    import shutil

    from leuko_cli.output import pager_command

    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert pager_command(env, terminal) == expected


def test_no_pager_in_tests_or_pipes(invoke, monkeypatch):
    import subprocess

    def boom(*a, **k):  # pragma: no cover - would mean a pager ran
        raise AssertionError("pager started")

    monkeypatch.setattr(subprocess, "run", boom)
    monkeypatch.setenv("LEUKO_NO_PAGER", "")  # restored after --no-pager sets it
    assert invoke("causes").exit_code == 0
    assert invoke("--no-pager", "causes").exit_code == 0
