"""`leuko assess --input FILE --engine columnar`: checks, reading, grading, writing, summary.

The same options mean the same as with the stream engine; what the columnar engine cannot do
is refused with the fix (JSON Lines and stdin: the stream; --on-error skip/fail: the stream).
A CSV that Arrow cannot read exactly as Python's csv module would is graded by the stream
engine instead, with a note on stderr: the output is the same either way.
"""

from __future__ import annotations

import sys

from leuko_cli.errors import (
    SAVE_AS_UTF8,
    UTF16,
    InputError,
    OutputError,
    check_choice,
    is_utf16,
    not_empty,
)

ENGINES = {  # --engine choice -> what it does (docs/scale.md lists these)
    "stream": "row by row, any size, CSV and JSON Lines, stdin too (the default)",
    "columnar": "column-wise with Arrow: CSV and Parquet files, many times faster on big files "
    "(needs the optional extra leuko-cli[columnar])",
}
OUT_FORMATS = ("csv", "parquet")


def check_engine(engine: str | None) -> str:
    not_empty("--engine", engine)
    choice = (engine or "stream").strip().lower()
    check_choice("--engine", choice, ENGINES, shown=engine)
    return choice


def _require_extra() -> None:
    try:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(
            "--engine columnar needs the optional extra: pip install 'leuko-cli[columnar]' "
            "(or use --engine stream)"
        ) from None


def dispatch(
    values: dict,
    *,
    input_file: str | None,
    input_format: str | None,
    out_format: str | None,
    as_json: bool,
    audience: str | None,
    on_error: str | None,
    fhir_file: str | None = None,
) -> int:
    """Run a columnar batch; returns the exit code (1 if any row failed)."""
    if input_file is None or fhir_file is not None:
        raise InputError("--engine columnar grades --input FILE (CSV or Parquet)")
    if input_file == "-":
        raise InputError(
            "--engine columnar reads a file, not stdin; give a path, or use --engine stream"
        )
    if on_error not in (None, "row"):
        raise InputError(f"--on-error {on_error} needs the stream engine: add --engine stream")
    if as_json or out_format not in (None, *OUT_FORMATS):
        shown = "jsonl" if as_json else out_format
        raise InputError(
            f"--engine columnar writes {' or '.join(OUT_FORMATS)}, not {shown}; "
            "use --engine stream for JSON Lines or a table"
        )
    if input_format not in (None, "csv", "parquet"):
        raise InputError(
            f"--engine columnar reads csv or parquet, not {input_format}; "
            "use --engine stream for JSON Lines"
        )
    _require_extra()
    fmt = out_format or "csv"
    if fmt == "parquet" and sys.stdout.isatty():
        raise InputError("--format parquet writes binary: redirect it, e.g. > graded.parquet")
    from leuko_cli.batch import command as stream

    grader = _grader(values, audience)
    try:
        kind = _detect(input_file, input_format)
    except OSError as err:
        raise InputError(f"--input {input_file}: cannot read ({err.strerror})") from None
    return _run(stream, grader, input_file, kind, fmt)


def _detect(path: str, input_format: str | None) -> str:
    from .tables import detect

    return detect(path, input_format)


def _grader(values: dict, audience: str | None):
    """The stream engine's grader for these options (the same checks, the same defaults)."""
    from leuko_cli.batch import command as stream
    from leuko_cli.fields import BY_NAME, COUNTS

    for name in COUNTS:
        if values.get(name) is not None:
            raise InputError(
                f"{BY_NAME[name].flag} cannot be combined with --input: the counts "
                "come from the columns in the file"
            )
    if values.get("drug") is not None:
        raise InputError(
            "--drug cannot be combined with --input; run `leuko assess --anc N "
            "--drug NAME` per patient"
        )
    return stream.make_grader(values, audience)


def _starts_utf16(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return is_utf16(fh.read(2))
    except OSError:
        return False  # the read below says why


def _run(stream, grader, path: str, kind: str, fmt: str) -> int:
    from leuko_cli.batch.readers import RowError, field_columns

    from . import tables

    if kind != "parquet" and _starts_utf16(path):  # as the stream engine says it
        raise InputError(f"--input {path} line 1: {UTF16}; {SAVE_AS_UTF8}")
    try:
        if kind == "parquet":
            table, header = tables.read_parquet(path)
        else:
            table, header = tables.read_csv(path)
    except tables.NotColumnar as err:
        if fmt != "csv":
            raise InputError(
                f"--input {path}: Arrow cannot read this CSV exactly ({err}); "
                "use --engine stream (CSV output)"
            ) from None
        sys.stderr.write(f"leuko: --engine columnar: {err}; graded by the stream engine\n")
        return stream._table(grader.kb, path, grader, input_format="csv", fmt="csv", on_error="row")
    except OSError as err:
        raise InputError(f"--input {path}: cannot read ({err.strerror or err})") from None
    except Exception as err:  # pyarrow.ArrowInvalid: not a Parquet file
        raise InputError(f"--input {path}: not a readable {kind} file ({err})") from None
    if not {"anc", "wbc", "lymphocytes"} & _fields(header):
        raise InputError(
            f"the {kind.upper()} header needs an anc, wbc or lymphocytes column (got: "
            f"{', '.join(map(str, header))[:120]}); add a column such as anc"
        )
    try:
        field_columns(table.column_names)  # two columns for one field: refused before output
    except RowError as err:
        raise InputError(f"the {kind.upper()} header: {err}") from None
    stream.lookalike_columns(header)
    sys.stdout.flush()
    sink = getattr(sys.stdout, "buffer", sys.stdout)
    try:
        if fmt == "csv":
            writer = tables.CsvSink(sink, header)
        else:
            writer = tables.ParquetSink(sink, header, table.schema)
        errors = _pipeline(grader, table, writer, text_empty_is_absent=kind == "csv")
        writer.close()
        sink.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise OutputError(f"cannot write the output ({err.strerror or err})") from None
    from leuko_cli.batch.grade import Summary

    summary = Summary()
    summary.rows, summary.errors = table.num_rows, errors
    summary.graded = summary.rows - errors
    return stream.finish(grader, summary)


def _pipeline(grader, table, writer, *, text_empty_is_absent: bool) -> int:
    """Grade and render the batches on a few threads; write them in order. Returns the number
    of error rows."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from . import tables
    from .engine import grade_table

    def work(batch):
        out, failed = grade_table(grader, batch, text_empty_is_absent=text_empty_is_absent)
        return writer.render(batch, tables.assemble(out, batch.num_rows)), failed

    errors, pending = 0, deque()
    with ThreadPoolExecutor(tables.THREADS) as pool:
        try:
            for batch in table.to_batches(max_chunksize=tables.BATCH_ROWS):
                pending.append(pool.submit(work, batch))
                while len(pending) > tables.THREADS:
                    rendered, failed = pending.popleft().result()
                    writer.put(rendered)
                    errors += failed
            while pending:
                rendered, failed = pending.popleft().result()
                writer.put(rendered)
                errors += failed
        finally:
            for job in pending:
                job.cancel()
    return errors


def _fields(header: list) -> set:
    from leuko_cli.batch.readers import field_of

    return {field_of(h) for h in header}
