"""Command-line interface: parse, dispatch, print. No clinical logic lives here.

JSON goes out through json.dumps; human output through `render` (imported only when used, so the
JSON path never loads Rich).
"""

from __future__ import annotations

import functools
import json
import sys
from enum import Enum
from typing import Optional

import typer
from typer.core import TyperGroup

try:  # Typer 0.28 vendors Click as typer._click; older releases use click itself
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc

from . import __version__
from .commands import emit_json, load_kb, setting
from .errors import LeukoError


class LeukoGroup(TyperGroup):
    """Every error becomes one line on stderr: usage errors exit 2, KB/config errors exit 1."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click_exc.UsageError as err:
            path = err.ctx.command_path if err.ctx else "leuko"
            typer.echo(f"{path}: error: {err.format_message()} (see '{path} --help')", err=True)
            code = 2
        except click_exc.ClickException as err:
            typer.echo(f"leuko: error: {err.format_message()}", err=True)
            code = err.exit_code
        except typer.Exit as err:
            code = err.exit_code
        except LeukoError as err:
            typer.echo(f"leuko: error: {err}", err=True)
            code = err.exit_code
        except (typer.Abort, KeyboardInterrupt):
            typer.echo("leuko: interrupted", err=True)
            code = 130
        except BrokenPipeError:  # `leuko causes | head`: quiet exit
            sys.stderr.close()
            code = 0
        if standalone_mode:
            sys.exit(code)
        return code


def _typer(help_text: str, **kw) -> typer.Typer:
    return typer.Typer(cls=LeukoGroup, help=help_text, no_args_is_help=False,
                       context_settings={"help_option_names": ["-h", "--help"]}, **kw)


app = _typer(
    "leuko: an offline, cited clinical reference on leukopenia and neutropenia.\n\n"
    "Educational reference only, not a substitute for clinical judgement.",
    epilog="Examples:  leuko assess --anc 450 | leuko causes --category drugs | "
           "leuko causes show clozapine | leuko refs --json",
)


def guarded(fn):
    """Turn LeukoError into a one-line message and its exit code (also under CliRunner)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LeukoError as err:
            typer.echo(f"leuko: error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None

    return wrapper


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"leuko {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version_callback,
                                 is_eager=True, help="Print the version and exit."),
) -> None:
    """leuko: an offline, cited clinical reference on leukopenia and neutropenia."""


class Audience(str, Enum):
    clinician = "clinician"
    patient = "patient"


_setting = setting  # flag > env > config file > default (commands.setting)


JSON_OPT = typer.Option(False, "--json", help="Print JSON (stable contract; see docs/usage.md).")
AUDIENCE_OPT = typer.Option(None, "--audience", help="clinician (default) or patient wording.",
                            case_sensitive=False)

# --- causes ------------------------------------------------------------------------------------

causes_app = _typer("List, filter and show causes of leukopenia and neutropenia.")
app.add_typer(causes_app, name="causes")


@causes_app.callback(invoke_without_command=True,
                     epilog="Examples:  leuko causes --category drugs | leuko causes --search "
                            "clozapine | leuko causes show b12-deficiency --audience patient")
@guarded
def causes(
    ctx: typer.Context,
    category: Optional[str] = typer.Option(None, "--category", "-c",
                                           help="Category id, e.g. drugs, infections."),
    search: Optional[str] = typer.Option(None, "--search", "-s",
                                         help="Match name, synonym or summary text."),
    lineage: Optional[str] = typer.Option(None, "--lineage",
                                          help="neutrophils, lymphocytes or all-leukocytes."),
    as_json: bool = JSON_OPT,
) -> None:
    """List causes (a table; --json for an array of full cause objects)."""
    if ctx.invoked_subcommand:
        return
    from . import commands

    commands.run_causes(category=category, search=search, lineage=lineage, as_json=as_json)


@causes_app.command("show", epilog="Example:  leuko causes show clozapine --audience patient")
@guarded
def causes_show(
    ident: str = typer.Argument(..., metavar="ID", help="Cause id, name or synonym."),
    audience: Optional[Audience] = AUDIENCE_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Show one cause in full: mechanism, clues, workup, management, references."""
    from . import commands

    commands.run_cause_show(ident, audience=audience.value if audience else None,
                            as_json=as_json)


# --- assess ------------------------------------------------------------------------------------

@app.command(epilog="Examples:  leuko assess --anc 450 | leuko assess --anc 0.8 --unit 10^9/L "
                    "--ctcae-version 5.0 | leuko assess --wbc 5200 --neutrophils 15 --bands 4 | "
                    "leuko assess --anc 300 --temp 38.6 | leuko assess --anc 1300 --drug "
                    "clozapine --duffy-null")
@guarded
def assess(
    anc: Optional[str] = typer.Option(None, "--anc", help="Absolute neutrophil count."),
    wbc: Optional[str] = typer.Option(None, "--wbc", help="White blood cell count."),
    neutrophils: Optional[str] = typer.Option(None, "--neutrophils",
                                              help="Segmented neutrophils, % of WBC."),
    bands: Optional[str] = typer.Option(None, "--bands", help="Band neutrophils, % of WBC."),
    lymphocytes: Optional[str] = typer.Option(None, "--lymphocytes",
                                              help="Absolute lymphocyte count."),
    unit: Optional[str] = typer.Option(None, "--unit", "-u",
                                       help="cells/uL (default; /uL, /mm3) or 10^9/L "
                                            "(G/L, 10^3/uL, K/uL)."),
    ctcae_version: Optional[str] = typer.Option(None, "--ctcae-version",
                                                help="CTCAE version: 6.0 (default) or 5.0."),
    lln: Optional[str] = typer.Option(None, "--lln", help="Lab's ANC lower limit (CTCAE 5.0 "
                                                          "grade 1), in --unit."),
    wbc_lln: Optional[str] = typer.Option(None, "--wbc-lln", help="Lab's WBC lower limit."),
    lymphocytes_lln: Optional[str] = typer.Option(None, "--lymphocytes-lln",
                                                  help="Lab's lymphocyte lower limit."),
    age: Optional[str] = typer.Option(None, "--age", help="Age in years (decimals allowed)."),
    duffy_null: bool = typer.Option(False, "--duffy-null",
                                    help="Confirmed Duffy-null phenotype (never infer from race)."),
    temp: Optional[str] = typer.Option(None, "--temp", help="Temperature in °C, or e.g. 101.2F."),
    sustained: bool = typer.Option(False, "--sustained",
                                   help="The temperature has lasted an hour or more."),
    drug: Optional[str] = typer.Option(None, "--drug", help="Drug monitoring table, e.g. "
                                                            "clozapine."),
    audience: Optional[Audience] = AUDIENCE_OPT,
    as_json: bool = JSON_OPT,
    input_file: Optional[str] = typer.Option(
        None, "--input", "-i", metavar="FILE",
        help="Batch: grade every row of a CSV or JSON Lines lab export (- for stdin); the "
             "flags above are defaults a row's own column overrides. See docs/batch.md."),
    input_format: Optional[str] = typer.Option(None, "--input-format",
                                               help="csv or jsonl (default: from the file)."),
    out_format: Optional[str] = typer.Option(
        None, "--format", help="Batch output: csv (default), jsonl (default with --json) or "
                               "table."),
    fhir_file: Optional[str] = typer.Option(
        None, "--fhir", metavar="FILE",
        help="Grade a FHIR R4 Observation or Bundle (JSON; - for stdin). See docs/fhir.md."),
) -> None:
    """Grade a neutrophil, white-cell or lymphocyte count: severity, CTCAE grade (version
    named), reference range, febrile neutropenia, and what to do next, with sources."""
    values = dict(anc=anc, wbc=wbc, neutrophils=neutrophils, bands=bands,
                  lymphocytes=lymphocytes, unit=unit, ctcae_version=ctcae_version, lln=lln,
                  wbc_lln=wbc_lln, lymphocytes_lln=lymphocytes_lln, age=age,
                  duffy_null=duffy_null, temp=temp, sustained=sustained, drug=drug)
    if input_file is not None or fhir_file is not None or out_format is not None \
            or input_format is not None:
        from . import batch

        code = batch.dispatch(values, input_file=input_file, fhir_file=fhir_file,
                              input_format=input_format, out_format=out_format,
                              as_json=as_json, audience=audience.value if audience else None)
        if code:
            raise typer.Exit(code)
        return
    from . import commands

    commands.run_assess(values, as_json=as_json, audience=audience.value if audience else None)


# --- references --------------------------------------------------------------------------------

@app.command(epilog="Examples:  leuko refs | leuko refs --json | leuko refs --cause clozapine"
                    " | leuko refs --format bibtex > leuko.bib | leuko refs --format ris")
@guarded
def refs(
    cause: Optional[str] = typer.Option(None, "--cause", help="Only the references one cause "
                                                              "cites."),
    as_json: bool = JSON_OPT,
    out_format: Optional[str] = typer.Option(
        None, "--format", help="text (default), json, bibtex, ris or csl-json."),
) -> None:
    """Numbered citations; PMID/DOI shown only where confirmed against a record."""
    if out_format is not None:
        from . import citations

        citations.command(cause=cause, fmt=out_format, as_json=as_json)
        return
    from . import commands

    commands.run_refs(cause=cause, as_json=as_json)


# --- classification, workup, scales ----------------------------------------------------------

@app.command(epilog="Example:  leuko classify --json")
@guarded
def classify(as_json: bool = JSON_OPT) -> None:
    """How neutropenia is classified: duration, origin, mechanism, severity scales."""
    from . import queries

    kb = load_kb()
    axes = kb.table("classification")
    if as_json:
        emit_json({"axes": axes, "scales": queries.scales(kb),
                   "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    rows = [{"title": a["axis"], "body": a["summary"], "references": a["references"],
             "items": [f"{o['name']}: {o['description']}" for o in a["options"]]} for a in axes]
    rows.append({"title": "Severity scales", "body": None,
                 "references": sorted({r for s in kb.table("scales") for r in s["references"]}),
                 "items": [f"{s['name']} ({s['system']} {s['version']}): {s.get('definition')}"
                           for s in kb.table("scales")]})
    render.sections(kb, "Classification of neutropenia", rows)


@app.command(epilog="Example:  leuko workup --json")
@guarded
def workup(as_json: bool = JSON_OPT) -> None:
    """The stepwise diagnostic approach to a low white count, cited."""
    kb = load_kb()
    steps = sorted(kb.table("workup"), key=lambda s: s["step"])
    if as_json:
        emit_json({"steps": steps, "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    render.sections(kb, "Diagnostic workup", [
        {"title": f"{s['step']}. {s['title']}", "body": s["detail"], "items": s.get("items"),
         "references": s["references"]} for s in steps])


@app.command(epilog="Example:  leuko manage --json")
@guarded
def manage(as_json: bool = JSON_OPT,
           audience: Optional[Audience] = AUDIENCE_OPT) -> None:
    """Clinical presentation and management: infection risk, fever, agranulocytosis, growth
    factor dosing, precautions."""
    from . import config

    kb = load_kb()
    aud = config.check_value("audience", _setting("audience", audience.value if audience else None))
    pres, mgmt = kb.table("presentation"), kb.table("management")
    if as_json:
        emit_json({"presentation": pres, "management": mgmt, "audience": aud,
                   "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    key = "patient_summary" if aud == "patient" else "summary"
    rows = [{"title": p["name"], "body": p[key], "references": p["references"]} for p in pres]
    rows += [{"title": m["topic"], "body": m[key], "references": m["references"],
              "items": None if aud == "patient" else m.get("items")} for m in mgmt]
    render.sections(kb, "Presentation and management", rows)


@app.command(epilog="Example:  leuko scales --json")
@guarded
def scales(as_json: bool = JSON_OPT) -> None:
    """Every grading scale in the knowledge base, with system, version, bands and source."""
    from . import queries

    kb = load_kb()
    rows = queries.scales(kb)
    if as_json:
        emit_json(rows)
        return
    from . import render

    render.sections(kb, "Grading scales", [
        {"title": f"{s['name']} ({s['system']} {s['version']})", "body": s.get("definition"),
         "references": s["references"],
         "items": [f"{b['label']}: {_band_text(b)}" for b in s["bands"]]} for s in rows])


def _band_text(b: dict) -> str:
    lo, hi = b["lower"], b.get("upper")
    if hi is None:
        return f">= {lo}"
    return f"{lo} to < {hi}" if lo else f"< {hi}"


# --- MASCC -------------------------------------------------------------------------------------

@app.command(epilog="Example:  leuko mascc --burden-mild --no-hypotension --no-copd "
                    "--solid-tumour-or-no-fungal --no-dehydration --outpatient")
@guarded
def mascc(
    burden_mild: bool = typer.Option(False, "--burden-mild",
                                     help="Burden of illness: none or mild symptoms."),
    burden_moderate: bool = typer.Option(False, "--burden-moderate",
                                         help="Burden of illness: moderate symptoms."),
    no_hypotension: bool = typer.Option(False, "--no-hypotension",
                                        help="Systolic BP 90 mmHg or more."),
    no_copd: bool = typer.Option(False, "--no-copd", help="No COPD."),
    solid_tumour_or_no_fungal: bool = typer.Option(
        False, "--solid-tumour-or-no-fungal",
        help="Solid tumour, or haematological cancer with no previous fungal infection."),
    no_dehydration: bool = typer.Option(False, "--no-dehydration",
                                        help="No dehydration needing IV fluids."),
    outpatient: bool = typer.Option(False, "--outpatient", help="Outpatient at fever onset."),
    age_under_60: bool = typer.Option(False, "--age-under-60", help="Age under 60 years."),
    as_json: bool = JSON_OPT,
) -> None:
    """MASCC risk index for febrile neutropenia (21 or more = low risk)."""
    from . import grading

    kb = load_kb()
    answers = {"burden-mild": burden_mild, "burden-moderate": burden_moderate,
               "no-hypotension": no_hypotension, "no-copd": no_copd,
               "solid-tumour-or-no-fungal": solid_tumour_or_no_fungal,
               "no-dehydration": no_dehydration, "outpatient": outpatient,
               "age-under-60": age_under_60}
    result = grading.score(kb, "mascc", answers)
    if as_json:
        emit_json({**result, "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    render.score(kb, result)


# --- search (issue 6) ---

@app.command(epilog="Examples:  leuko search clozapine | leuko search \"febrile neutropenia\" "
                    "--json | leuko search b12 --limit 3")
@guarded
def search(
    query: list[str] = typer.Argument(..., metavar="QUERY", help="Words to look for."),
    limit: int = typer.Option(10, "--limit", "-n", help="Most results to show."),
    as_json: bool = JSON_OPT,
) -> None:
    """Ranked offline search over causes, scales, workup, management, presentation and
    classification (BM25)."""
    kb = load_kb()
    text = " ".join(query)
    results = kb.search(text, limit)
    if as_json:
        emit_json(results)
        return
    from . import render

    render.search_results(kb, text, results)


# --- knowledge base ----------------------------------------------------------------------------

kb_app = _typer("Knowledge-base information and checks.")
app.add_typer(kb_app, name="kb")


@kb_app.command("info", epilog="Example:  leuko kb info --json")
@guarded
def kb_info(as_json: bool = JSON_OPT) -> None:
    """Version, last update, counts by category and review status, overlay status."""
    from . import queries

    info = queries.kb_info(load_kb())
    if as_json:
        emit_json(info)
        return
    from . import render

    rows = [(k, v) for k, v in info.items() if not isinstance(v, dict)]
    rows += [(f"category {k}", v) for k, v in info["by_category"].items()]
    rows += [(f"review {k}", v) for k, v in info["by_review_status"].items()]
    render.key_values("Knowledge base", rows)


# --- config (issue 5) ---

@kb_app.command("path", epilog="Example:  leuko kb path")
@guarded
def kb_path() -> None:
    """Print where your personal overlay lives (it need not exist yet)."""
    from . import paths

    typer.echo(str(paths.overlay_path()))


@kb_app.command("check", epilog="Examples:  leuko kb check | leuko kb check my-overlay.toml")
@guarded
def kb_check(
    file: Optional[str] = typer.Argument(None, metavar="[FILE]",
                                         help="KB or overlay file (default: your overlay if it "
                                              "exists, else the bundled KB)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Validate a knowledge-base or overlay file: OK (exit 0), or one line per problem with
    file and line (exit 1). An overlay is checked merged with the bundled KB."""
    from pathlib import Path

    from . import kb as kbmod
    from . import paths
    from .errors import InputError

    if file is None:
        overlay = paths.overlay_path()
        target = overlay if overlay.exists() else kbmod.bundled_path()
    else:
        target = Path(file)
        if not target.is_file():
            raise InputError(f"{file}: no such file; give a knowledge-base or overlay TOML file")
    problems = kbmod.check_file(target)
    if as_json:
        emit_json({"file": str(target), "ok": not problems, "problems": problems})
    elif not problems:
        typer.echo(f"OK: {target} is valid")
    else:
        for line in problems:
            typer.echo(line)
        n = len(problems)
        typer.echo(f"leuko: error: {n} problem{'s' if n > 1 else ''} in {target}", err=True)
    if problems:
        raise typer.Exit(1)


class ExportFormat(str, Enum):
    toml = "toml"
    json = "json"


@kb_app.command("export", epilog="Examples:  leuko kb export > kb.toml | leuko kb export "
                                 "--format json --output kb.json")
@guarded
def kb_export(
    fmt: ExportFormat = typer.Option(ExportFormat.toml, "--format", "-f", case_sensitive=False,
                                     help="toml (default; valid as an overlay) or json."),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="Write to FILE (atomically) instead of stdout."),
) -> None:
    """Write the merged knowledge base (bundled + overlay) in the schema an overlay accepts."""
    from pathlib import Path

    from . import kb as kbmod
    from . import paths
    from .errors import InputError, KBError

    loaded = load_kb()
    text = kbmod.dumps(loaded.data, fmt.value)
    if output is None:
        sys.stdout.write(text)
        return
    path = Path(output)
    if path.is_dir():
        raise InputError(f"--output {output}: is a directory; give a file name")
    if not path.parent.is_dir():
        raise InputError(f"--output {output}: directory {path.parent} does not exist")
    if path.exists() and path.resolve() == kbmod.bundled_path().resolve():
        raise InputError(f"--output {output}: refusing to overwrite the bundled knowledge base; "
                         "put your changes in the overlay (`leuko kb path`)")
    try:
        paths.write_atomic(path, text.encode("utf-8"))
    except OSError as err:
        raise KBError(f"{path}: cannot write ({err.strerror or err}); nothing was written",
                      str(path)) from None
    typer.echo(f"Exported {len(loaded.table('causes'))} causes and "
               f"{len(loaded.table('references'))} references ({fmt.value}) to {path}")


config_app = _typer("Show and change your settings: unit, ctcae_version, audience.\n\n"
                    "Precedence: command-line flag > environment LEUKO_<KEY> > config file > "
                    "default.")
app.add_typer(config_app, name="config")

CONFIG_KEY_ARG = typer.Argument(..., metavar="KEY", help="unit, ctcae_version or audience.")


@config_app.command("path", epilog="Example:  leuko config path")
@guarded
def config_path() -> None:
    """Print where the config file lives (it need not exist yet)."""
    from . import paths

    typer.echo(str(paths.config_path()))


@config_app.command("show", epilog="Examples:  leuko config show | leuko config show --json")
@guarded
def config_show(as_json: bool = JSON_OPT) -> None:
    """Every setting: its effective value and where it came from (env, config file, default)."""
    from . import config, paths

    rows = config.show()
    path = paths.config_path()
    if as_json:
        emit_json({"config_path": str(path), "exists": path.is_file(), "settings": rows})
        return
    typer.echo(f"# {path}" + ("" if path.is_file() else " (not created yet)"))
    width = max(len(r["key"]) for r in rows)
    vwidth = max(len(json.dumps(r["value"], ensure_ascii=False)) for r in rows)
    for r in rows:
        value = json.dumps(r["value"], ensure_ascii=False)
        typer.echo(f"{r['key']:<{width}} = {value:<{vwidth}}  # {r['source']}")


@config_app.command("get", epilog="Examples:  leuko config get unit | leuko config get unit --json")
@guarded
def config_get(key: str = CONFIG_KEY_ARG, as_json: bool = JSON_OPT) -> None:
    """Print one setting's effective value (--json adds where it came from)."""
    from . import config

    row = config.get(key)
    if as_json:
        emit_json(row)
        return
    typer.echo(row["value"])


@config_app.command("set", epilog="Examples:  leuko config set unit 10^9/L | leuko config set "
                                  "ctcae_version 5.0 | leuko config set audience patient")
@guarded
def config_set(
    key: str = CONFIG_KEY_ARG,
    value: str = typer.Argument(..., metavar="VALUE", help="The new value (checked first)."),
) -> None:
    """Validate and save a setting; a refused value leaves the file untouched."""
    import os

    from . import config

    config.check_key(key)
    kb = load_kb() if config.KEYS[key][1] is None else None  # unit/ctcae_version: the KB decides
    normal, path = config.set_value(key, value, kb)
    typer.echo(f"{key} = {normal} (saved in {path})")
    env = config.env_var(key)
    if os.environ.get(env):
        typer.echo(f"leuko: note: {env} is set and takes precedence over the file", err=True)


@config_app.command("unset", epilog="Example:  leuko config unset unit")
@guarded
def config_unset(key: str = CONFIG_KEY_ARG) -> None:
    """Remove a setting from the config file (back to the environment or the default)."""
    from . import config, paths

    removed = config.unset_value(key)
    value, source = config.resolve(key)
    if removed:
        typer.echo(f"{key} unset; now {value} ({source})")
    else:
        typer.echo(f"{key} was not set in {paths.config_path()}; it is {value} ({source})")


def main() -> None:
    app()
