"""`leuko assess --input FILE` and `leuko assess --fhir FILE`: options, files, exit status."""

from __future__ import annotations

import io
import sys

from leuko_cli.errors import InputError
from leuko_cli.fields import BY_NAME, COUNTS

from . import readers, writers
from .grade import Grader, Summary, run

MAX_FIELD_BYTES = 1 << 20  # a CSV field larger than this is refused (csv.field_size_limit)


def dispatch(
    values: dict,
    *,
    input_file: str | None,
    fhir_file: str | None,
    input_format: str | None,
    out_format: str | None,
    as_json: bool,
    audience: str | None,
) -> int:
    """Run a batch; returns the exit code (1 if any row failed).

    values: the other `assess` options as typed (request fields; None when not given)."""
    from leuko_cli.kb import load
    from leuko_cli.settings import resolve_all

    if input_file is None and fhir_file is None:
        raise InputError("--format and --input-format need --input FILE")
    if input_file is not None and fhir_file is not None:
        raise InputError("give --input or --fhir, not both")
    opt = "--input" if input_file is not None else "--fhir"
    for name in COUNTS:
        if values.get(name) is not None:
            where = "columns in the file" if opt == "--input" else "Observations"
            raise InputError(
                f"{BY_NAME[name].flag} cannot be combined with {opt}: the counts "
                f"come from the {where}"
            )
    if input_format is not None and opt != "--input":
        raise InputError("--input-format applies to --input only")
    if values.get("drug") is not None:
        raise InputError(
            f"--drug cannot be combined with {opt}; run `leuko assess --anc N "
            "--drug NAME` per patient"
        )
    if opt == "--fhir":
        if out_format is not None:
            raise InputError("--format applies to --input; use --json for JSON from --fhir")
        if values.get("unit") is not None:
            raise InputError(
                "--unit cannot be combined with --fhir: each Observation carries its own UCUM unit"
            )
    if as_json and out_format not in (None, "jsonl"):
        raise InputError(f"--json means --format jsonl; drop --json or --format {out_format}")
    fmt = out_format or ("jsonl" if as_json else "csv")
    if fmt not in writers.FORMATS:
        raise InputError(f"unknown --format {fmt!r}; use one of: {', '.join(writers.FORMATS)}")
    if input_format is not None and input_format not in readers.INPUT_FORMATS:
        raise InputError(
            f"unknown --input-format {input_format!r}; use one of: "
            f"{', '.join(readers.INPUT_FORMATS)}"
        )
    kb = load()
    settings = resolve_all(
        kb,
        {
            "unit": values.get("unit"),
            "ctcae_version": values.get("ctcae_version"),
            "audience": audience,
        },
    )
    defaults = {k: v for k, v in values.items() if k not in ("unit", "ctcae_version")}
    grader = Grader(kb, settings, defaults)
    _check_defaults(grader)
    if opt == "--fhir":
        return _fhir(kb, fhir_file, grader, as_json=as_json)
    return _table(kb, input_file, grader, input_format=input_format, fmt=fmt)


def _check_defaults(grader: Grader) -> None:
    """A bad flag is refused (exit 2) before any row is read: grade a probe case with it (an
    ANC of 1000/uL written in the default unit, so the probe itself is always plausible)."""
    from leuko_cli.errors import LeukoError
    from leuko_cli.inputs import find_unit

    unit = find_unit(grader.kb, grader.settings["unit"].value)
    probe = {"anc": f"{1000 / unit['factor_to_cells_per_ul']:g}"}
    try:
        grader.result(probe)
    except LeukoError as err:
        if "give a count" not in str(err):
            raise


def _open(path: str):
    if path == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return sys.stdin, None
        return io.TextIOWrapper(buffer, encoding="utf-8-sig", newline=""), None
    try:
        return open(path, encoding="utf-8-sig", newline=""), path
    except OSError as err:
        raise InputError(f"--input {path}: cannot read ({err.strerror})") from None


def grade_stream(
    grader: Grader,
    lines,
    out,
    *,
    name: str | None = None,
    input_format: str | None = None,
    fmt: str = "csv",
    summary: Summary | None = None,
) -> Summary:
    """Grade every row of a text stream and write each result as soon as it is graded."""
    summary = summary if summary is not None else Summary()
    first, lines = readers.peek(lines)
    if not first.strip():
        raise InputError(f"{name or 'input'} is empty; give a CSV with a header row or JSON Lines")
    kind = input_format or readers.detect_format(name, first)
    if kind == "csv":
        rows = readers.CsvRows(lines, first)
        writer = writers.CsvWriter(out, rows.header, fmt)
    else:
        rows, writer = readers.jsonl_rows(lines), writers.ObjectWriter(out, fmt)
    if sys.stderr.isatty():
        from leuko_cli import render

        with render.batch_progress() as progress:
            run(grader, rows, writer, summary, progress)
    else:
        run(grader, rows, writer, summary)
    return summary


def _table(kb, path: str, grader: Grader, *, input_format: str | None, fmt: str) -> int:
    import csv

    csv.field_size_limit(MAX_FIELD_BYTES)
    stream, name = _open(path)
    out = _buffered_stdout()
    summary = Summary()
    try:
        grade_stream(
            grader, stream, out, name=name, input_format=input_format, fmt=fmt, summary=summary
        )
    except UnicodeDecodeError as err:
        raise InputError(
            f"--input {path}: not UTF-8 text ({err.reason}) after row "
            f"{summary.rows}; {summary.rows} row(s) were written; save the "
            "export as UTF-8"
        ) from None
    except csv.Error as err:
        raise InputError(
            f"--input {path}: {err} after row {summary.rows}; {summary.rows} row(s) were written"
        ) from None
    finally:
        if stream is not sys.stdin:
            if path == "-":
                stream.detach()  # leave the caller's stdin open
            else:
                stream.close()
        out.flush()
    sys.stderr.write(summary.line() + "\n")
    return 1 if summary.errors else 0


def _buffered_stdout():
    """stdout with a real write buffer: under PYTHONUNBUFFERED (or -u) every row would be its
    own system call. Rows are still written as they are graded, 64 KiB at a time."""
    stdout = sys.stdout
    if not getattr(stdout, "write_through", False):
        return stdout
    try:
        fd = stdout.fileno()
    except (AttributeError, OSError, ValueError):  # e.g. a test runner's in-memory stdout
        return stdout
    stdout.flush()
    return open(
        fd,
        "w",
        encoding=stdout.encoding or "utf-8",
        errors=stdout.errors,
        newline="",
        closefd=False,
        buffering=1 << 16,
    )


def _fhir(kb, path: str, grader: Grader, *, as_json: bool) -> int:
    from leuko_cli.output import Answer, emit, json_text

    from . import fhir

    doc = fhir.read(path, sys.stdin.read() if path == "-" else None)
    results = fhir.assess_doc(kb, doc, grader.defaults, grader.settings)
    audience = grader.settings["audience"]
    for r in results:
        r["settings"]["audience"] = audience.as_dict()
        r.update(audience=audience.value, disclaimer=kb.settings["disclaimer"])
    if as_json:
        sys.stdout.write(json_text(results[0] if len(results) == 1 else results))
        return 0
    from leuko_cli import render

    for r in results:
        render.fhir_header(r["fhir"])
        emit(Answer("assess", r, kb, audience=audience.value))
    return 0
