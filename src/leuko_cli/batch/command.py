"""`leuko assess --input FILE` and `leuko assess --fhir FILE`: options, files, exit status."""

from __future__ import annotations

import json
import sys

from leuko_cli.errors import InputError, OutputError, check_choice, not_empty
from leuko_cli.fields import BY_NAME, COUNTS

from . import readers, writers
from .grade import ON_ERROR, Grader, RowFailed, Summary, run
from .limits import limit


def dispatch(
    values: dict,
    *,
    input_file: str | None,
    fhir_file: str | None,
    input_format: str | None,
    out_format: str | None,
    as_json: bool,
    audience: str | None,
    on_error: str | None = None,
) -> int:
    """Run a batch; returns the exit code (1 if any row failed).

    values: the other `assess` options as typed (request fields; None when not given)."""

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
    if on_error is not None and opt != "--input":
        raise InputError("--on-error applies to --input only (a FHIR document is one case set)")
    if on_error is not None:
        check_choice("--on-error", on_error, ON_ERROR)
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
    not_empty("--format", out_format)
    fmt = out_format or ("jsonl" if as_json else "csv")
    check_choice("--format", fmt, writers.FORMATS)
    if input_format is not None:
        check_choice("--input-format", input_format, readers.INPUT_FORMATS)
    grader = make_grader(values, audience)
    kb = grader.kb
    if opt == "--fhir":
        return _fhir(kb, fhir_file, grader, as_json=as_json)
    return _table(
        kb, input_file, grader, input_format=input_format, fmt=fmt, on_error=on_error or "row"
    )


def make_grader(values: dict, audience: str | None) -> Grader:
    """The Grader for a batch: settings resolved once (a row's unit or version overrides
    them), the other flags as every row's defaults, checked before any row is read."""
    from leuko_cli.kb import load
    from leuko_cli.settings import resolve_all

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
    return grader


def _check_defaults(grader: Grader) -> None:
    """A bad flag is refused (exit 2) before any row is read: grade a probe case with it (an
    ANC of 1000/uL written in the default unit, so the probe itself is always plausible)."""
    from leuko_cli.errors import LeukoError
    from leuko_cli.inputs import find_unit

    unit = find_unit(grader.kb, grader.settings["unit"].value)
    probe = {"anc": f"{1000 / unit['factor_to_cells_per_ul']:g}"}
    if "temp" not in grader.defaults:
        # --sustained describes a temperature that a row or an Observation may carry: the
        # probe lends it one; each case is checked again with its own values
        probe["temp"] = "37"
    try:
        grader.result(probe)
    except LeukoError as err:
        if "give a count" not in str(err):
            raise


def _open(path: str):
    """(binary stream, name to detect the format by, close it after). stdin is read, never
    closed; a closed stdin (`<&-`) is a one-line refusal, not a traceback."""
    if path == "-":
        if sys.stdin is None:
            raise InputError("--input -: standard input is closed; pipe a file in or give a path")
        return getattr(sys.stdin, "buffer", sys.stdin), None, False
    try:
        return open(path, "rb"), path, True
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
    on_error: str = "row",
    blocks: bool = True,
) -> Summary:
    """Grade every row of a text stream and write each result as soon as it is graded.

    CSV to CSV and JSON Lines to JSON Lines from a LineSource go in blocks (blocks.py,
    blocks_jsonl.py) unless `blocks` is False; the output is the same either way
    (tests/test_batch_blocks.py)."""
    summary = summary if summary is not None else Summary()
    source = lines if isinstance(lines, readers.LineSource) else None
    first, lines = readers.peek(lines)
    if not first.strip():
        raise InputError(f"{name or 'input'} is empty; give a CSV with a header row or JSON Lines")
    kind = input_format or readers.detect_format(name, first)
    if kind == "jsonl":
        from .fhir import table_hint

        hint = table_hint(name, first)
        if hint:
            raise InputError(hint)
    if kind == "csv":
        rows = readers.CsvRows(lines, first)
        writer = writers.CsvWriter(out, rows.header, fmt)
        lookalike_columns(rows.header)
    else:
        rows, writer = readers.jsonl_rows(lines), writers.ObjectWriter(out, fmt)
        try:
            keys = json.loads(first)
        except ValueError:
            keys = {}  # the row's error says what is wrong with it
        lookalike_columns(keys if isinstance(keys, dict) else {})
    if blocks and source is not None and fmt != "table" and on_error == "row":
        from . import blocks as fast

        if sys.stderr.isatty() or source.split or not isinstance(source.stream.read(0), bytes):
            pass  # a progress line is drawn per row; or the line source is not plain bytes
        elif kind == "jsonl":  # to JSON Lines or CSV
            from .blocks_jsonl import grade_jsonl

            grade_jsonl(grader, source, first, writer, summary)
            return summary
        elif fmt == "csv" and fast.usable(source, rows):
            fast.grade_csv(grader, source, rows, writer, summary)
            return summary
    if sys.stderr.isatty():
        from leuko_cli import render_batch

        with render_batch.batch_progress() as progress:
            run(grader, rows, writer, summary, progress, on_error)
    else:
        run(grader, rows, writer, summary, on_error=on_error)
    return summary


def _table(
    kb, path: str, grader: Grader, *, input_format: str | None, fmt: str, on_error: str
) -> int:
    import csv

    max_line = limit("line")
    csv.field_size_limit(max_line)
    stream, name, close = _open(path)
    lines = readers.LineSource(stream, max_line)
    out = _buffered_stdout()
    summary = Summary()
    try:
        grade_stream(
            grader,
            lines,
            out,
            name=name,
            input_format=input_format,
            fmt=fmt,
            summary=summary,
            on_error=on_error,
        )
        out.flush()  # a full disk shows here when the last 64 KiB are written
        if fmt == "table":  # human output: it ends with the disclaimer, as every answer does
            from leuko_cli.render import _disclaimer
            from leuko_cli.render_console import console

            _disclaimer(console(), kb, grader.settings["audience"].value)
    except readers.StreamError as err:
        fix = err.fix or "fix or remove that line"
        raise InputError(_broke(path, err.line, err.reason, summary, fix)) from None
    except csv.Error as err:
        raise InputError(
            _broke(
                path,
                lines.line,
                f"not valid CSV ({err})",
                summary,
                "fix that line; raise LEUKO_MAX_LINE_BYTES if a field is rightly that long",
            )
        ) from None
    except OSError as err:
        if not isinstance(err, BrokenPipeError):
            raise OutputError(
                f"cannot write the output ({err.strerror or err}) after {summary.written} row(s)"
            ) from None
        raise
    except RowFailed as err:
        sys.stderr.write(
            _broke(
                path,
                err.line,
                err.message,
                summary,
                "stopped by --on-error fail",
                prefix="leuko: error: ",
            )
            + "\n"
        )
        return 1
    finally:
        if close:
            stream.close()
        _flush(out)
    return finish(grader, summary)


def lookalike_columns(names) -> None:
    """Name each column that is not read but looks like a field's (readers.lookalike_notes),
    once, before any row: the CSV header, the first JSON Lines object's keys, or the
    columnar engine's table."""
    from leuko_cli.sanitize import inert_line

    for note in readers.lookalike_notes(names):
        sys.stderr.write(inert_line(note) + "\n")


def finish(grader: Grader, summary: Summary) -> int:
    """The lines a finished batch ends with on stderr, whichever engine graded it, and its
    exit code. Each row names its CTCAE version (a column) but not the unit its counts were
    read in: the unit of rows without a `unit` cell is named, with where it came from; then
    the summary; then the overlay entries grades may come from."""
    from leuko_cli.sanitize import inert_line

    unit = grader.settings["unit"]
    sys.stderr.write(
        inert_line(f"leuko: counts in rows without a unit read as {unit.value} ({unit.origin})")
        + "\n"
        + summary.line()
        + "\n"
    )
    _overlay_note(grader.kb)
    return 1 if summary.errors else 0


def _overlay_note(kb) -> None:
    """Rows have no room for overlay_entries: an overlay that can change grades is named once."""
    from leuko_cli.assess import overlay_line
    from leuko_cli.sanitize import inert_line

    line = overlay_line(kb)
    if line:
        sys.stderr.write(inert_line(line) + "\n")


def _broke(path: str, line: int, reason: str, summary: Summary, fix: str, prefix: str = "") -> str:
    """One line for a run that stopped part-way: where, why, what was written, the fix."""
    from leuko_cli.errors import one_line, without_line

    return (
        f"{prefix}--input {path} line {line}: {one_line(without_line(line, reason))}; "
        f"{summary.written} row(s) "
        f"were written before it (whole rows only); {fix}"
    )


def _flush(out) -> None:
    try:
        out.flush()
    except OSError:
        pass  # on the error path only: the error being raised says it already


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
    """Grade every (subject, time) group of a FHIR file. Exit 0, or 1 when a group of several
    could not be graded (as a failed batch row); what was skipped is one line on stderr."""
    from leuko_cli.output import Answer, emit, json_text
    from leuko_cli.sanitize import inert_line

    from . import fhir

    doc = fhir.read(path)
    results, skipped = fhir.assess_doc(kb, doc, grader.defaults, grader.settings)
    audience = grader.settings["audience"]
    for r in results:
        if "error" not in r:
            r["settings"]["audience"] = audience.as_dict()
            r.update(audience=audience.value, disclaimer=kb.disclaimer(audience.value))
    failed = sum(1 for r in results if "error" in r)
    if as_json:
        sys.stdout.write(json_text(results[0] if len(results) == 1 else results))
    else:
        from leuko_cli import render, render_batch

        for r in results:
            render_batch.fhir_header(r["fhir"])
            if "error" in r:
                render.console().print("Not graded: " + inert_line(r["error"]))
            else:
                emit(Answer("assess", r, kb, audience=audience.value))
    if skipped:
        sys.stderr.write("leuko: " + inert_line(fhir.skipped_line(skipped)) + "\n")
    if failed:
        sys.stderr.write(
            f"leuko: {len(results)} case(s), {len(results) - failed} graded, {failed} error(s)\n"
        )
    return 1 if failed else 0
