"""The reference commands: causes, assess (options from the field table), refs, classify,
workup, manage, scales, mascc, search, meds. Each body is `out(handler(...), as_json)`.
"""

from __future__ import annotations

import inspect
from typing import Optional

import typer

from . import commands
from .cli_app import (
    AUDIENCE_OPT,
    FORMAT_TSV_OPT,
    JSON_OPT,
    Audience,
    app,
    examples,
    out,
    sub_app,
    tabular,
)
from .completion import (
    complete_category,
    complete_cause,
    complete_drug,
    complete_lineage,
    complete_monitored_drug,
    complete_scale,
)
from .errors import InputError
from .fields import BY_NAME, INPUTS

# --- causes ------------------------------------------------------------------------------------

causes_app = sub_app("List, filter and show causes of leukopenia and neutropenia.")
app.add_typer(causes_app, name="causes")


@causes_app.callback(
    invoke_without_command=True,
    epilog=examples(
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
    out(tabular(answer, out_format, as_json), as_json)


@causes_app.command("show", epilog=examples("leuko causes show clozapine --audience patient"))
def causes_show(
    ident: str = typer.Argument(
        ..., metavar="ID", help="Cause id, name or synonym.", autocompletion=complete_cause
    ),
    audience: Optional[Audience] = AUDIENCE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show one cause in full: mechanism, clues, workup, management, references."""
    out(commands.cause_show(ident, audience=audience.value if audience else None), as_json)


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
    out(commands.assess(values, audience=audience), as_json)


assess.__signature__ = inspect.Signature([_field_parameter(f) for f in INPUTS] + BATCH_OPTIONS)
app.command(
    epilog=examples(
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
    epilog=examples(
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
    out(commands.refs(cause=cause, fmt=out_format, as_json=as_json))


@app.command(epilog=examples("leuko classify --json"))
def classify(as_json: bool = JSON_OPT) -> None:
    """How neutropenia is classified: duration, origin, mechanism, severity scales."""
    out(commands.classify(), as_json)


@app.command(epilog=examples("leuko workup --json"))
def workup(as_json: bool = JSON_OPT) -> None:
    """The stepwise diagnostic approach to a low white count, cited."""
    out(commands.workup(), as_json)


@app.command(epilog=examples("leuko manage", "leuko manage --audience patient"))
def manage(as_json: bool = JSON_OPT, audience: Optional[Audience] = AUDIENCE_OPT) -> None:
    """Clinical presentation and management: infection risk, fever, agranulocytosis, growth
    factor dosing, precautions."""
    out(commands.manage(audience=audience.value if audience else None), as_json)


@app.command(epilog=examples("leuko scales", "leuko scales ctcae-6.0-neutrophil-count-decreased"))
def scales(
    scale: Optional[str] = typer.Argument(
        None, metavar="[ID]", help="One scale by id (default: all).", autocompletion=complete_scale
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Every grading scale in the knowledge base, with system, version, bands and source."""
    out(commands.scales(scale), as_json)


@app.command(
    epilog=examples(
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
    none_apply: bool = typer.Option(
        False, "--none-apply", help="None of the factors above applies (score 0)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """MASCC risk index for febrile neutropenia (21 or more = low risk).

    Pass each factor that applies; one not passed counts as absent. With none passed the
    score is refused as unanswered: say --none-apply for a patient with none of them."""
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
    out(commands.mascc(answers, none_apply=none_apply), as_json)


@app.command(
    epilog=examples(
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
    out(tabular(commands.search(" ".join(query), limit), out_format, as_json), as_json)


@app.command(
    epilog=examples(
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
        None,
        "--file",
        "-f",
        help="A text file with one drug a line (# starts a comment; - for stdin).",
    ),
    region: Optional[str] = typer.Option(
        None, BY_NAME["region"].flag, help=BY_NAME["region"].help, metavar="REGION"
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Whether each drug is linked to neutropenia, agranulocytosis or lymphopenia: mechanism,
    onset, how often, monitoring and references. A name not in the knowledge base is listed as
    such; that never means the drug is safe."""
    out(commands.meds(names or [], file=file, region=region), as_json)
