"""Rich output of `assess --input` and `batch` (render.py's style and console; imported only
to render): the progress bar, each chunk of `--format table`, and a FHIR bundle's header. Every
cell comes from the user's file, so each is made inert first.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from .render import NARROW, _table
from .render_console import console
from .sanitize import inert_line


def batch_progress():
    """A context manager yielding progress(rows_done): a Rich progress bar on stderr (only
    used when stderr is a terminal)."""
    from contextlib import contextmanager

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar():
        con = Console(stderr=True)
        with Progress(
            SpinnerColumn(),
            TextColumn("grading: {task.completed:,} rows"),
            TimeElapsedColumn(),
            console=con,
            transient=True,
        ) as progress:
            task = progress.add_task("grading", total=None)
            yield lambda n: progress.update(task, completed=n)

    return bar()


def batch_table(columns: list[str], rows: list[list]) -> None:
    """One chunk of `assess --input --format table` (each chunk is its own table)."""
    con = console()
    # a readable summary: the row's first column (usually an id) and the results; the full
    # row is in --format csv/jsonl. Result columns empty in this chunk are dropped.
    results = {
        "anc",
        "severity",
        "ctcae_version",
        "ctcae_grade",
        "febrile_neutropenia",
        "below_reference",
        "error",
    }
    keep = [
        i
        for i, col in enumerate(columns)
        if (i == 0 and col not in results)
        or col in ("anc", "severity")
        or (col in results and any(row[i] not in (None, "") for row in rows))
    ]
    columns = [columns[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    short = {
        "ctcae_version": "CTCAE",
        "ctcae_grade": "grade",
        "febrile_neutropenia": "febrile",
        "below_reference": "below ref",
    }
    cells = [
        # cells are the lab export's own text: inert, one line each
        ["" if v is None else str(v).lower() if isinstance(v, bool) else inert_line(v) for v in row]
        for row in rows
    ]
    headers = [inert_line(short.get(col, col)) for col in columns]
    natural = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    if con.width < NARROW or sum(natural) + 2 * len(natural) > con.width:
        # stacked records (docs/usage.md): one "column: value" line each, nothing split
        for row in cells:
            for header, value in zip(headers, row):
                if value:
                    con.print(f"{header}: {value}")
            con.print()
        return
    table = _table()
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in cells:
        table.add_row(*row)
    con.print(table)


def fhir_header(info: dict) -> None:
    con = console()
    who = inert_line(info.get("subject") or "unknown subject")  # the FHIR file's own text
    when = inert_line(info.get("effective") or "no effective time")
    ids = ", ".join(inert_line(i) for i in info.get("observations", []) if i) or "-"
    con.print(
        Text(f"FHIR {who} · {when}", style="bold") + Text(f"  (Observations: {ids})", style="dim")
    )
