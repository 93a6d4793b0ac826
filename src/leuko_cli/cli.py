"""Command-line interface: parse, call a handler, emit. No clinical logic lives here.

The options of `leuko assess` are generated from the field table (`fields.INPUTS`); every
command body is `emit(handler(...), as_json)`. Errors of every kind reach `errors.report` in
cli_app.LeukoGroup.main, the one place that turns them into a line and an exit code.
"""

from __future__ import annotations

# isort: off
# importing registers the commands; this order is the order `leuko --help` lists them in
from . import cli_queries  # noqa: F401
from . import cli_files  # noqa: F401
from . import cli_admin  # noqa: F401

# isort: on
from .cli_app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    app(args=argv)
