"""Docs stay true: every generated page and block matches the code, and CI runs the README's
test command."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("generate", DOCS / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GENERATE = _generator()
PAGES = GENERATE.pages()


@pytest.mark.parametrize("path", sorted(PAGES), ids=lambda p: p.name)
def test_generated_docs_are_up_to_date(path):
    assert path.read_text("utf-8") == PAGES[path], "run: python docs/generate.py"


def test_generated_blocks_are_where_they_belong():
    names = {name for path in PAGES for name in GENERATE.BLOCK.findall(path.read_text("utf-8"))}
    assert {n for _, n, _, _ in names} >= set(GENERATE.BLOCKS) - {"input-fields", "result-fields"}


def test_a_stale_block_is_detected(tmp_path):
    text = "x\n<!-- generated: exit-codes -->\n| stale |\n<!-- end generated -->\n"
    assert GENERATE.refreshed(text) != text
    assert GENERATE.refreshed(GENERATE.refreshed(text)) == GENERATE.refreshed(text)


def test_readme_test_command_is_what_ci_runs():
    root = DOCS.parent
    ci = (root / ".ci" / "run").read_text("utf-8")
    readme = (root / "README.md").read_text("utf-8")
    test_command = next(
        line.strip() for line in readme.splitlines() if "pytest" in line and line.startswith("    ")
    )
    assert test_command in ci


def test_readme_example_commands_run(invoke):
    """Every `leuko ...` line of the README's examples runs (the part before any pipe)."""
    import shlex

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text("utf-8")
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    leuko ")]
    assert len(commands) >= 10
    for command in commands:
        argv = shlex.split(command.split("|")[0])[1:]
        res = invoke(*argv)
        assert res.exit_code == 0, (command, res.stderr)
