"""Docs stay true: the CLI reference matches --help, and documented commands exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen", DOCS / "gen_cli_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_reference_is_up_to_date():
    expected = _generator().render()
    actual = (DOCS / "cli-reference.md").read_text("utf-8")
    assert actual == expected, "run: python docs/gen_cli_reference.py"


def test_readme_test_command_is_what_ci_runs():
    root = DOCS.parent
    ci = (root / ".ci" / "run").read_text("utf-8").strip().splitlines()[-1]
    assert ci in (root / "README.md").read_text("utf-8")


def test_sources_doc_is_up_to_date():
    spec = importlib.util.spec_from_file_location("gen_sources", DOCS / "gen_sources.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (DOCS / "sources.md").read_text("utf-8") == mod.render(), \
        "run: python docs/gen_sources.py"
