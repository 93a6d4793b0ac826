"""The commands that read data files: trend (serial counts) and batch (lab datasets)."""

from __future__ import annotations

from typing import Optional

import typer

from .cli_app import (
    JSON_OPT,
    app,
    examples,
    out,
)


@app.command(
    epilog=examples(
        "leuko trend counts.csv",
        "leuko trend counts.csv --day1 2024-03-01 --svg anc.svg",
        "leuko trend bundle.json --json",
        "leuko trend adlb.csv --measure wbc --unit 10^9/L --format csv",
    )
)
def trend(
    path: str = typer.Argument(
        ...,
        metavar="FILE",
        help="Dated counts: CSV, JSON Lines, a FHIR Bundle or NDJSON, or - for stdin.",
    ),
    measure: str = typer.Option("anc", "--measure", help="anc, wbc or lymphocytes."),
    day1: Optional[str] = typer.Option(
        None, "--day1", metavar="DATE", help="Day 1 of the cycle, for day numbers (2024-03-01)."
    ),
    recovery_n: Optional[int] = typer.Option(
        None, "--recovery-n", metavar="N", help="Consecutive counts for recovery (KB default 3)."
    ),
    subject: Optional[str] = typer.Option(
        None, "--subject", metavar="ID", help="Only this subject."
    ),
    unit: Optional[str] = typer.Option(
        None, "--unit", "-u", metavar="UNIT", help="Unit of counts without their own unit."
    ),
    ctcae_version: Optional[str] = typer.Option(
        None, "--ctcae-version", metavar="VERSION", help="CTCAE version for the grades."
    ),
    svg: Optional[str] = typer.Option(
        None, "--svg", metavar="FILE", help="Also write a standalone SVG chart (one subject)."
    ),
    input_format: Optional[str] = typer.Option(
        None, "--input-format", metavar="FMT", help="csv, jsonl or fhir (default: detected)."
    ),
    out_format: Optional[str] = typer.Option(
        None, "--format", metavar="FMT", help="table (default) or csv: one row per subject."
    ),
    cycles_on: Optional[bool] = typer.Option(
        None,
        "--cycles/--no-cycles",
        help="Run the cyclic-neutropenia screen (default: only when there is one subject).",
    ),
    on_error: Optional[str] = typer.Option(
        None,
        "--on-error",
        metavar="POLICY",
        help="row or skip (default: bad rows reported on stderr, the rest summarised) or fail "
        "(stop at the first bad row), as for batch.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Serial counts: nadir, days per grade and below 500/µL, recovery, direction and a
    cyclic-neutropenia screen per subject, with a chart. See docs/trend.md."""
    from .trend.command import trend as handler

    out(
        handler(
            path,
            input_format=input_format,
            measure=measure,
            day1=day1,
            recovery_n=recovery_n,
            subject=subject,
            unit=unit,
            ctcae_version=ctcae_version,
            svg=svg,
            out_format=out_format,
            as_json=as_json,
            on_error=on_error,
            cycles_on=cycles_on,
        ),
        as_json,
    )


@app.command(
    epilog=examples(
        "leuko batch adlb.csv --ctcae-version 4.03 --term 'LYMPH=CD4 lymphocytes decreased'",
        "leuko batch lb.csv --preset sdtm-lb",
        "leuko batch adlb.json --format dataset-json > adlb-graded.json",
    )
)
def batch(
    path: str = typer.Argument(
        ..., metavar="FILE", help="CSV/TSV, Dataset-JSON or XPT (- for stdin, not XPT)."
    ),
    preset: Optional[str] = typer.Option(
        None, "--preset", help="adlb or sdtm-lb (default: detected from the columns)."
    ),
    param_col: Optional[str] = typer.Option(None, "--param-col", help="Parameter code column."),
    value_col: Optional[str] = typer.Option(None, "--value-col", help="Numeric result column."),
    unit_col: Optional[str] = typer.Option(None, "--unit-col", help="Unit column."),
    lln_col: Optional[str] = typer.Option(None, "--lln-col", help="Lower limit of normal column."),
    id_col: Optional[str] = typer.Option(None, "--id-col", help="Subject id column."),
    age_col: Optional[str] = typer.Option(
        None,
        "--age-col",
        help="Age column (DAIDS criteria depend on age): in years, or in the AGEU column's unit.",
    ),
    criteria: Optional[str] = typer.Option(
        None, "--criteria", help="CTCAE (default; version from --ctcae-version) or DAIDS (2.1)."
    ),
    term: Optional[list[str]] = typer.Option(
        None,
        "--term",
        metavar="PARAM=TERM",
        help="Grade a parameter code with this CTCAE term (repeatable), e.g. "
        "'LYMPH=CD4 lymphocytes decreased'.",
    ),
    ctcae_version: Optional[str] = typer.Option(
        None, "--ctcae-version", metavar="VERSION", help="4.03, 5.0 or 6.0 (default: settings)."
    ),
    input_format: Optional[str] = typer.Option(
        None, "--input-format", metavar="FORMAT", help="csv, tsv, dataset-json or xpt."
    ),
    out_format: Optional[str] = typer.Option(
        None,
        "--format",
        metavar="FORMAT",
        help="csv, tsv, jsonl or dataset-json (default: as the input).",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines out: --format jsonl."),
) -> None:
    """Grade lab datasets in the long layout (one analyte a row: SDTM LB, ADaM ADLB), adding
    ADaM-style ATOXDSCL, ATOXGRL, the CTCAE version and a reason for every empty grade. See
    docs/cdisc.md."""
    from .batch import cdisc

    if as_json:
        if out_format not in (None, "jsonl"):
            from .errors import InputError

            raise InputError(f"--json means --format jsonl, not {out_format!r}; give one")
        out_format = "jsonl"
    code = cdisc.run(
        path,
        criteria=criteria,
        preset=preset,
        terms=term,
        ctcae_version=ctcae_version,
        input_format=input_format,
        out_format=out_format,
        columns={
            "param": param_col,
            "value": value_col,
            "unit": unit_col,
            "lln": lln_col,
            "id": id_col,
            "age": age_col,
        },
    )
    if code:
        raise typer.Exit(code)
