"""Console-script entry point: the Typer-free fast path first, the full CLI otherwise.

Both paths end in `errors.run_guarded`, so an error is one line and an exit code wherever it
happened.
"""

from __future__ import annotations

import sys


def main() -> None:
    from . import fastpath

    code = fastpath.run(sys.argv[1:])
    if code is None:
        from .cli import main as cli_main

        cli_main()
    sys.exit(code)
