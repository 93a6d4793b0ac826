"""Render docs/cli-reference.md from every command's --help (docs/generate.py writes it).

python docs/generate.py  (this page is one of its parts)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

OUT = Path(__file__).with_name("cli-reference.md")


def commands(group, path=()):
    yield path
    for name in sorted(getattr(group, "commands", {}) or {}):
        yield from commands(group.commands[name], (*path, name))


def render() -> str:
    os.environ["COLUMNS"] = "100"
    os.environ["NO_COLOR"] = "1"
    os.environ["TERM"] = "dumb"
    import typer.main
    from typer.testing import CliRunner

    from leuko_cli.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    parts = [
        "# CLI reference\n",
        "Generated from `--help` by `python docs/generate.py`; "
        "`tests/test_docs.py` fails when it is out of date.\n",
    ]
    for path in commands(root):
        result = runner.invoke(app, [*path, "--help"], prog_name="leuko")
        title = " ".join(("leuko", *path))
        body = "\n".join(line.rstrip() for line in result.stdout.splitlines()).strip()
        parts.append(f"## {title}\n\n```\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    OUT.write_text(render(), "utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
