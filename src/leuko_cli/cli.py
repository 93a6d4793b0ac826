"""Command-line interface: parse, call a handler, emit. No clinical logic lives here.

The options of `leuko assess` are generated from the field table (`fields.INPUTS`); every
command body is `emit(handler(...), as_json)`. Errors of every kind reach `errors.report` in
LeukoGroup.main, the one place that turns them into a line and an exit code.
"""

from __future__ import annotations

import inspect
import sys
from enum import Enum
from typing import Optional

import typer
from typer.core import TyperGroup

try:  # Typer 0.28 vendors Click as typer._click; older releases use click itself
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc

from . import __version__, commands
from .completion import (
    complete_category,
    complete_cause,
    complete_drug,
    complete_lineage,
    complete_monitored_drug,
    complete_scale,
)
from .errors import InputError, OutputClosed, run_guarded
from .fields import AUDIENCES, BY_NAME, INPUTS, SETTINGS_KEYS
from .output import emit


class LeukoGroup(TyperGroup):
    """Every error becomes one line on stderr (errors.report); usage errors exit 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # `| head`: Typer would exit 1; errors.report exits 0
            raise OutputClosed from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        if not args:
            args = ["--help"]  # `leuko` alone shows the help, and exits 0

        def invoke() -> int:
            _refuse_repeated_options(self, args)
            try:
                rv = super(LeukoGroup, self).main(
                    args, prog_name, complete_var, standalone_mode=False, **extra
                )
            except click_exc.UsageError as err:
                path = err.ctx.command_path if err.ctx else "leuko"
                raise InputError(f"{err.format_message()} (see '{path} --help')") from None
            except click_exc.ClickException as err:
                raise InputError(err.format_message()) from None
            except typer.Exit as err:
                return err.exit_code
            except typer.Abort:
                raise KeyboardInterrupt from None
            return rv if isinstance(rv, int) else 0

        code = run_guarded(invoke)
        if standalone_mode:
            sys.exit(code)
        return code


def _refuse_repeated_options(group, args: list[str]) -> None:
    """A single-value option given twice is refused, never "last one wins" (Click's rule):
    `--temp 37 --temp 38.6` would silently drop a reading."""
    command, rest = group, list(args)
    while (
        isinstance(getattr(command, "commands", None), dict)
        and rest
        and rest[0] in command.commands
    ):
        command = command.commands[rest.pop(0)]
    names = {}
    for param in getattr(command, "params", []):
        if (
            getattr(param, "param_type_name", "") == "option"
            and not getattr(param, "multiple", False)
            and not getattr(param, "count", False)
        ):
            for opt in (*param.opts, *param.secondary_opts):
                names[opt] = param
    seen: dict = {}
    for i, token in enumerate(rest):
        if token == "--":
            break
        name, _, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        param = names.get(name)
        if param is None:
            continue
        value = inline or (rest[i + 1] if not param.is_flag and i + 1 < len(rest) else None)
        if param.name in seen:
            first_name, first_value = seen[param.name]
            both = f" ({first_value!r} and {value!r})" if value is not None else ""
            raise InputError(f"{name} is given twice{both}; give it once")
        seen[param.name] = (name, value)


def _typer(help_text: str, **kw) -> typer.Typer:
    return typer.Typer(
        cls=LeukoGroup,
        help=help_text,
        no_args_is_help=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        rich_markup_mode=None,
        **kw,
    )


def _examples(*lines: str) -> str:
    """An epilog of examples, one copy-pasteable command per line (Click's \\b keeps the
    paragraph from being rewrapped)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


app = _typer(
    "leuko: an offline, cited clinical reference on leukopenia and neutropenia. Educational "
    "reference only, not a substitute for clinical judgement.",
    epilog=_examples(
        "leuko assess --anc 450",
        "leuko causes --category drugs",
        "leuko causes show clozapine",
        "leuko refs --json",
    ),
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"leuko {__version__}")
        raise typer.Exit()


class ColorChoice(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
    color: Optional[ColorChoice] = typer.Option(
        None,
        "--color",
        case_sensitive=False,
        help="auto (default: colour on a terminal, honouring NO_COLOR and FORCE_COLOR), "
        "always or never. Also LEUKO_COLOR.",
    ),
    no_pager: bool = typer.Option(
        False,
        "--no-pager",
        help="Never page long output (it is paged only on a terminal; LEUKO_PAGER chooses "
        "the pager, LEUKO_PAGER=cat turns it off).",
    ),
) -> None:
    """leuko: an offline, cited clinical reference on leukopenia and neutropenia."""
    import os

    # process-wide choices that render.py and output.py read, as the environment would be
    if color is not None:
        os.environ["LEUKO_COLOR"] = color.value
    if no_pager:
        os.environ["LEUKO_NO_PAGER"] = "1"


Audience = Enum("Audience", {a: a for a in AUDIENCES}, type=str)


def _out(answer, as_json: bool = False) -> None:
    code = emit(answer, as_json)
    if code:
        raise typer.Exit(code)


JSON_OPT = typer.Option(
    False, "--json", help="Print JSON (the contract is in docs/fields.md and docs/usage.md)."
)
FORMAT_TSV_OPT = typer.Option(
    None,
    "--format",
    metavar="FORMAT",
    help="text (default) or tsv: one tab-separated line per row, with a header, for grep/cut.",
)


def _tabular(answer, out_format: Optional[str], as_json: bool):
    """The answer, or its rows as TSV lines when --format tsv."""
    fmt = (out_format or "text").strip().lower()
    if fmt not in ("text", "tsv"):
        raise InputError(f"unknown --format {out_format!r}; use text or tsv")
    if fmt == "text":
        return answer
    if as_json:
        raise InputError("--json and --format tsv are two formats; give one")
    from . import tsv

    return tsv.answer(answer)


AUDIENCE_OPT = typer.Option(
    None, "--audience", help="clinician or patient wording.", case_sensitive=False
)

# --- causes ------------------------------------------------------------------------------------

causes_app = _typer("List, filter and show causes of leukopenia and neutropenia.")
app.add_typer(causes_app, name="causes")


@causes_app.callback(
    invoke_without_command=True,
    epilog=_examples(
        "leuko causes --category drugs",
        "leuko causes --search clozapine",
        "leuko causes show b12-deficiency --audience patient",
    ),
)
def causes(
    ctx: typer.Context,
    category: Optional[str] = typer.Option(
        None,
        "--category",
        "-c",
        help="Category id, e.g. drugs, infections.",
        autocompletion=complete_category,
    ),
    search: Optional[str] = typer.Option(
        None, "--search", "-s", help="Match name, synonym or summary text."
    ),
    lineage: Optional[str] = typer.Option(
        None,
        "--lineage",
        help="neutrophils, lymphocytes or all-leukocytes.",
        autocompletion=complete_lineage,
    ),
    as_json: bool = JSON_OPT,
    out_format: Optional[str] = FORMAT_TSV_OPT,
) -> None:
    """List causes (a table; --json for an array of full cause objects; --format tsv for one
    tab-separated line per cause)."""
    if ctx.invoked_subcommand:
        return
    answer = commands.causes(category=category, search=search, lineage=lineage)
    _out(_tabular(answer, out_format, as_json), as_json)


@causes_app.command("show", epilog=_examples("leuko causes show clozapine --audience patient"))
def causes_show(
    ident: str = typer.Argument(
        ..., metavar="ID", help="Cause id, name or synonym.", autocompletion=complete_cause
    ),
    audience: Optional[Audience] = AUDIENCE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show one cause in full: mechanism, clues, workup, management, references."""
    _out(commands.cause_show(ident, audience=audience.value if audience else None), as_json)


# --- assess: options generated from the field table -------------------------------------------


def _field_parameter(field) -> inspect.Parameter:
    if field.kind == "switch":
        default, annotation = typer.Option(False, *field.flags, help=field.help), bool
    elif field.kind == "audience":
        default = typer.Option(None, *field.flags, help=field.help, case_sensitive=False)
        annotation = Optional[Audience]
    else:
        default = typer.Option(
            None,
            *field.flags,
            help=field.help,
            metavar=field.metavar,
            autocompletion=FIELD_COMPLETION.get(field.name),
        )
        annotation = Optional[str]
    return inspect.Parameter(
        field.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


FIELD_COMPLETION = {"drug": complete_monitored_drug}  # assess inputs whose values the KB lists

BATCH_OPTIONS = [
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=JSON_OPT, annotation=bool),
    inspect.Parameter(
        "input_file",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None,
            "--input",
            "-i",
            metavar="FILE",
            help="Batch: grade every row of a CSV or JSON Lines lab export (- for "
            "stdin); the flags above are defaults a row's own column "
            "overrides. See docs/batch.md.",
        ),
    ),
    inspect.Parameter(
        "input_format",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None, "--input-format", metavar="FORMAT", help="csv or jsonl (default: from the file)."
        ),
    ),
    inspect.Parameter(
        "out_format",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None,
            "--format",
            metavar="FORMAT",
            help="Batch output: csv (default), jsonl (default with --json) or table.",
        ),
    ),
    inspect.Parameter(
        "fhir_file",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None,
            "--fhir",
            metavar="FILE",
            help="Grade FHIR R4 lab results: an Observation, a Bundle, a DiagnosticReport or "
            "Bulk Data NDJSON (- for stdin). See docs/fhir.md.",
        ),
    ),
    inspect.Parameter(
        "on_error",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None,
            "--on-error",
            metavar="POLICY",
            help="Batch: what a bad row does: row (default: written with its error), skip "
            "(left out, a line on stderr) or fail (stop there). See docs/batch.md.",
        ),
    ),
    inspect.Parameter(
        "engine",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Optional[str],
        default=typer.Option(
            None,
            "--engine",
            metavar="ENGINE",
            help="Batch: stream (default: row by row) or columnar (CSV or Parquet files "
            "column-wise, --format csv or parquet; the extra leuko-cli[columnar]). See "
            "docs/scale.md.",
        ),
    ),
]


def assess(**options) -> None:
    """Grade a neutrophil, white-cell or lymphocyte count: severity, CTCAE grade (version
    named), reference range, febrile neutropenia, and what to do next, with sources."""
    as_json = options.pop("as_json")
    batch_opts = {
        k: options.pop(k)
        for k in ("input_file", "input_format", "out_format", "fhir_file", "on_error")
    }
    audience = options.pop("audience")
    audience = audience.value if audience is not None else None
    engine = options.pop("engine")
    values = {k: (v if v is not False else None) for k, v in options.items()}
    if engine is not None:  # the columnar engine (docs/scale.md); the stream is the default
        from .columnar import command as columnar

        if columnar.check_engine(engine) == "columnar":
            code = columnar.dispatch(values, as_json=as_json, audience=audience, **batch_opts)
            if code:
                raise typer.Exit(code)
            return
        if batch_opts["input_file"] is None:
            raise InputError("--engine applies to --input FILE")
    if any(v is not None for v in batch_opts.values()):
        from .batch import command as batch_command

        code = batch_command.dispatch(values, as_json=as_json, audience=audience, **batch_opts)
        if code:
            raise typer.Exit(code)
        return
    _out(commands.assess(values, audience=audience), as_json)


assess.__signature__ = inspect.Signature([_field_parameter(f) for f in INPUTS] + BATCH_OPTIONS)
app.command(
    epilog=_examples(
        "leuko assess --anc 450",
        "leuko assess --anc 0.8 --unit 10^9/L --ctcae-version 5.0",
        "leuko assess --wbc 5200 --neutrophils 15 --bands 4",
        "leuko assess --anc 300 --temp 38.6",
        "leuko assess --anc 1300 --drug clozapine --duffy-null",
        "leuko assess --anc 1.8 --wbc 3.2 --unit 10^9/L --drug clozapine --region UK",
    )
)(assess)


# --- references, classification, workup, scales -----------------------------------------------


@app.command(
    epilog=_examples(
        "leuko refs",
        "leuko refs --json",
        "leuko refs --cause clozapine",
        "leuko refs --format bibtex > leuko.bib",
    )
)
def refs(
    cause: Optional[str] = typer.Option(
        None, "--cause", help="Only the references one cause cites."
    ),
    as_json: bool = JSON_OPT,
    out_format: Optional[str] = typer.Option(
        None,
        "--format",
        metavar="FORMAT",
        help="text (default), json, tsv, bibtex, ris or csl-json.",
    ),
) -> None:
    """Numbered citations; PMID/DOI shown only where confirmed against a record."""
    _out(commands.refs(cause=cause, fmt=out_format, as_json=as_json))


@app.command(epilog=_examples("leuko classify --json"))
def classify(as_json: bool = JSON_OPT) -> None:
    """How neutropenia is classified: duration, origin, mechanism, severity scales."""
    _out(commands.classify(), as_json)


@app.command(epilog=_examples("leuko workup --json"))
def workup(as_json: bool = JSON_OPT) -> None:
    """The stepwise diagnostic approach to a low white count, cited."""
    _out(commands.workup(), as_json)


@app.command(epilog=_examples("leuko manage", "leuko manage --audience patient"))
def manage(as_json: bool = JSON_OPT, audience: Optional[Audience] = AUDIENCE_OPT) -> None:
    """Clinical presentation and management: infection risk, fever, agranulocytosis, growth
    factor dosing, precautions."""
    _out(commands.manage(audience=audience.value if audience else None), as_json)


@app.command(epilog=_examples("leuko scales", "leuko scales ctcae-6.0-neutrophil-count-decreased"))
def scales(
    scale: Optional[str] = typer.Argument(
        None, metavar="[ID]", help="One scale by id (default: all).", autocompletion=complete_scale
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Every grading scale in the knowledge base, with system, version, bands and source."""
    _out(commands.scales(scale), as_json)


@app.command(
    epilog=_examples(
        "leuko mascc --burden-mild --no-hypotension --no-copd "
        "--solid-tumour-or-no-fungal --no-dehydration --outpatient"
    )
)
def mascc(
    burden_mild: bool = typer.Option(
        False, "--burden-mild", help="Burden of illness: none or mild symptoms."
    ),
    burden_moderate: bool = typer.Option(
        False, "--burden-moderate", help="Burden of illness: moderate symptoms."
    ),
    no_hypotension: bool = typer.Option(
        False, "--no-hypotension", help="Systolic BP 90 mmHg or more."
    ),
    no_copd: bool = typer.Option(False, "--no-copd", help="No COPD."),
    solid_tumour_or_no_fungal: bool = typer.Option(
        False,
        "--solid-tumour-or-no-fungal",
        help="Solid tumour, or haematological cancer with no previous fungal infection.",
    ),
    no_dehydration: bool = typer.Option(
        False, "--no-dehydration", help="No dehydration needing IV fluids."
    ),
    outpatient: bool = typer.Option(False, "--outpatient", help="Outpatient at fever onset."),
    age_under_60: bool = typer.Option(False, "--age-under-60", help="Age under 60 years."),
    as_json: bool = JSON_OPT,
) -> None:
    """MASCC risk index for febrile neutropenia (21 or more = low risk)."""
    answers = {
        "burden-mild": burden_mild,
        "burden-moderate": burden_moderate,
        "no-hypotension": no_hypotension,
        "no-copd": no_copd,
        "solid-tumour-or-no-fungal": solid_tumour_or_no_fungal,
        "no-dehydration": no_dehydration,
        "outpatient": outpatient,
        "age-under-60": age_under_60,
    }
    _out(commands.mascc(answers), as_json)


@app.command(
    epilog=_examples(
        "leuko search clozapine",
        'leuko search "febrile neutropenia" --json',
        "leuko search b12 --limit 3",
    )
)
def search(
    query: list[str] = typer.Argument(..., metavar="QUERY", help="Words to look for."),
    limit: int = typer.Option(10, "--limit", "-n", help="Most results to show."),
    as_json: bool = JSON_OPT,
    out_format: Optional[str] = FORMAT_TSV_OPT,
) -> None:
    """Ranked offline search over every section of the knowledge base (BM25; typos corrected,
    synonyms from the KB). Each result names the command that opens it. No match exits 1."""
    _out(_tabular(commands.search(" ".join(query), limit), out_format, as_json), as_json)


@app.command(
    epilog=_examples(
        "leuko meds ceftriaxone meropenem",
        "leuko meds Tegretol clozapine --json",
        "leuko meds clozapine --region UK",
        "leuko meds --file meds.txt",
    )
)
def meds(
    names: Optional[list[str]] = typer.Argument(
        None,
        metavar="DRUG...",
        help="Generic or brand names, any case.",
        autocompletion=complete_drug,
    ),
    file: Optional[str] = typer.Option(
        None, "--file", "-f", help="A text file with one drug a line (# starts a comment)."
    ),
    region: Optional[str] = typer.Option(
        None, BY_NAME["region"].flag, help=BY_NAME["region"].help, metavar="REGION"
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Whether each drug is linked to neutropenia, agranulocytosis or lymphopenia: mechanism,
    onset, how often, monitoring and references. A name not in the knowledge base is listed as
    such; that never means the drug is safe."""
    _out(commands.meds(names or [], file=file, region=region), as_json)


@app.command(
    epilog=_examples(
        "leuko trend counts.csv",
        "leuko trend counts.csv --day1 2024-03-01 --svg anc.svg",
        "leuko trend bundle.json --json",
        "leuko trend adlb.csv --measure wbc --unit 10^9/L --format csv",
    )
)
def trend(
    path: str = typer.Argument(
        ..., metavar="FILE", help="Dated counts: CSV, JSON Lines, a FHIR Bundle, or - for stdin."
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

    _out(
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
    epilog=_examples(
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
        None, "--age-col", help="Age column, in years (DAIDS criteria depend on age)."
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
) -> None:
    """Grade lab datasets in the long layout (one analyte a row: SDTM LB, ADaM ADLB), adding
    ADaM-style ATOXDSCL, ATOXGRL, the CTCAE version and a reason for every empty grade. See
    docs/cdisc.md."""
    from .batch import cdisc

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


@app.command(epilog=_examples("leuko schema", "leuko schema output"))
def schema(
    which: str = typer.Argument(
        "input", metavar="[input|output]", help="The assess input (default) or its output."
    ),
) -> None:
    """JSON Schema of an assessment's input or output, generated from the field table."""
    from . import schema as schema_mod

    _out(commands.Answer("json", schema_mod.schema(which)))


@app.command("help", epilog=_examples("leuko help", "leuko help assess", "leuko help causes show"))
def help_command(
    ctx: typer.Context,
    command: Optional[list[str]] = typer.Argument(
        None, metavar="[COMMAND]...", help="The command to explain (default: all)."
    ),
) -> None:
    """Show the help of leuko or of one command (the same as COMMAND --help)."""
    target, target_ctx = ctx.parent.command, ctx.parent
    for name in command or []:
        sub = getattr(target, "commands", {}).get(name)
        if sub is None:
            raise InputError(f"no command {' '.join(command)!r}; see 'leuko help'")
        target_ctx = type(ctx)(sub, info_name=name, parent=target_ctx)
        target = sub
    typer.echo(target.get_help(target_ctx))


# --- knowledge base ----------------------------------------------------------------------------

kb_app = _typer("Knowledge-base information and checks.")
app.add_typer(kb_app, name="kb")


@kb_app.command("info", epilog=_examples("leuko kb info --json"))
def kb_info(as_json: bool = JSON_OPT) -> None:
    """Version, last update, counts by category and review status, overlay status."""
    _out(commands.kb_info(), as_json)


@kb_app.command("path", epilog=_examples("leuko kb path"))
def kb_path() -> None:
    """Print where your personal overlay lives (it need not exist yet)."""
    from . import paths

    _out(commands.Answer("lines", None, lines=[paths.overlay_file()]))


@kb_app.command("check", epilog=_examples("leuko kb check", "leuko kb check my-overlay.toml"))
def kb_check(
    file: Optional[str] = typer.Argument(
        None,
        metavar="[FILE]",
        help="KB or overlay file (default: your overlay if it exists, else the bundled KB).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Validate a knowledge-base or overlay file: OK (exit 0), or one line per problem with
    file and line (exit 1). An overlay is checked merged with the bundled KB."""
    _out(commands.kb_check(file), as_json)


class ExportFormat(str, Enum):
    toml = "toml"
    json = "json"


@kb_app.command(
    "export",
    epilog=_examples("leuko kb export > kb.toml", "leuko kb export --format json --output kb.json"),
)
def kb_export(
    fmt: ExportFormat = typer.Option(
        ExportFormat.toml,
        "--format",
        "-f",
        case_sensitive=False,
        help="toml (default; valid as an overlay) or json.",
    ),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write to FILE (atomically) instead of stdout."
    ),
) -> None:
    """Write the merged knowledge base (bundled + overlay) in the schema an overlay accepts."""
    _out(commands.kb_export(fmt.value, output))


# --- settings ----------------------------------------------------------------------------------

config_app = _typer(
    f"Show and change your settings: {', '.join(SETTINGS_KEYS)}. Precedence: "
    "command-line flag > environment LEUKO_<KEY> > config file > default from "
    "the knowledge base."
)
app.add_typer(config_app, name="config")

CONFIG_KEY_ARG = typer.Argument(..., metavar="KEY", help=f"One of: {', '.join(SETTINGS_KEYS)}.")


@config_app.command("path", epilog=_examples("leuko config path"))
def config_path() -> None:
    """Print where the config file lives (it need not exist yet)."""
    from . import paths

    _out(commands.Answer("lines", None, lines=[paths.config_file()]))


@config_app.command("show", epilog=_examples("leuko config show", "leuko config show --json"))
def config_show(as_json: bool = JSON_OPT) -> None:
    """Every setting: its effective value and where it came from."""
    _out(commands.config_show(), as_json)


@config_app.command(
    "get",
    epilog=_examples(
        "leuko config get unit",
        "leuko config get ctcae_version --show-origin",
        "leuko config get unit --json",
    ),
)
def config_get(
    key: str = CONFIG_KEY_ARG,
    as_json: bool = JSON_OPT,
    show_origin: bool = typer.Option(
        False, "--show-origin", help="Also say where the value came from."
    ),
) -> None:
    """Print one setting's effective value: the one `leuko assess` would use."""
    _out(commands.config_get(key, show_origin=show_origin), as_json)


@config_app.command(
    "set",
    epilog=_examples(
        "leuko config set unit 10^9/L",
        "leuko config set ctcae_version 5.0",
        "leuko config set audience patient",
    ),
)
def config_set(
    key: str = CONFIG_KEY_ARG,
    value: str = typer.Argument(..., metavar="VALUE", help="The new value (checked first)."),
) -> None:
    """Validate and save a setting; a refused value leaves the file untouched."""
    _out(commands.config_set(key, value))


@config_app.command("unset", epilog=_examples("leuko config unset unit"))
def config_unset(key: str = CONFIG_KEY_ARG) -> None:
    """Remove a setting from the config file (back to the environment or the default)."""
    _out(commands.config_unset(key))


def main(argv: list[str] | None = None) -> None:
    app(args=argv)
