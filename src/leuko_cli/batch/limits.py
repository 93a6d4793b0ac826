"""What the batch and FHIR readers will read, and how a user raises it.

Each limit has a default that no real lab export reaches and an environment variable for the
file that does. docs/batch.md ("Limits and faults") lists them; a test keeps the list in step.
"""

from __future__ import annotations

import os

from leuko_cli.errors import InputError

# name -> (environment variable, default, what it caps)
LIMITS = {
    "line": (
        "LEUKO_MAX_LINE_BYTES",
        1 << 20,
        "one input line (a CSV record line or one JSON Lines object), and one CSV field",
    ),
    "fhir": ("LEUKO_MAX_FHIR_BYTES", 64 << 20, "a FHIR document (file or stdin)"),
    "table": (
        "LEUKO_MAX_TABLE_BYTES",
        1 << 30,
        "a dataset `leuko batch` reads whole (CSV/TSV or Dataset-JSON in the long layout)",
    ),
}


def limit(name: str) -> int:
    """The limit in bytes: the environment variable when set (a positive integer), else the
    default. A bad value is refused, not ignored."""
    var, default, _what = LIMITS[name]
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if not 0 < value < 1 << 40:
        raise InputError(
            f"{var}={raw[:40]!r} must be a positive whole number of bytes, e.g. {default}"
        )
    return value


def refuse_over(data: bytes | str, name: str, label: str) -> None:
    """One line naming the limit and its variable when data is longer than the limit."""
    cap = limit(name)
    if len(data) > cap:
        raise InputError(
            f"{label}: larger than {cap} bytes (the limit: {LIMITS[name][0]}); "
            "split the file or raise the limit"
        )


def read_capped(path: str, name: str, label: str) -> bytes:
    """At most the limit's bytes of the file, or of stdin for "-": never an unbounded read.
    label starts every message (the path, or the option and the path)."""
    import sys

    cap = limit(name)
    if path == "-":
        if sys.stdin is None:
            raise InputError(f"{label}: standard input is closed; pipe a file in or give a path")
        data = getattr(sys.stdin, "buffer", sys.stdin).read(cap + 1)
        data = data.encode("utf-8") if isinstance(data, str) else data
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read(cap + 1)
        except OSError as err:
            raise InputError(f"{label}: cannot read ({err.strerror})") from None
    refuse_over(data, name, label)
    return data
