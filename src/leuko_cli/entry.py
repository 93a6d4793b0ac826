"""Console-script entry point: a recorded answer if there is one (output_cache.py), else the
Typer-free fast path, else the full CLI.

Every path ends in `errors.run_guarded`, so an error is one line and an exit code wherever it
happened.
"""

from __future__ import annotations

import sys


def run(argv: list[str]) -> int:
    """The exit code of one run: the fast path, else the Typer CLI."""
    from . import fastpath

    code = fastpath.run(argv)
    if code is not None:
        return code
    from .cli import main as cli_main

    try:
        cli_main(argv)
    except SystemExit as done:
        code = done.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")  # sys.exit("text"): print it, as the interpreter would
    return 1


def main() -> None:
    try:
        from . import output_cache

        code = output_cache.run(sys.argv[1:], run)
    except KeyboardInterrupt as err:  # Ctrl-C during the imports, before run_guarded
        from .errors import report

        code = report(err)
    sys.exit(code)
