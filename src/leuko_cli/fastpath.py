"""Start-up fast path: the commands run dozens of times a shift, without importing Typer.

Importing Typer costs about 5x a bare interpreter start on its own (docs/performance.md), which
leaves no room for a 6x `assess --json`. For the plain forms of `assess`, `causes`, `causes show`
and `refs`, this module parses argv itself and calls the same handlers as the Typer commands
(`commands.py`). Anything it does not recognise exactly -- help, completion, an unknown or
repeated option, `--opt=value`, a batch/FHIR/format option -- returns None and the full Typer CLI
handles it, so behaviour never depends on which path ran. tests/test_startup.py checks that both
paths give byte-identical output and that every option here exists on the Typer command.
"""

from __future__ import annotations

import sys

from .errors import LeukoError

# option -> (handler keyword, takes a value)
ASSESS = {
    "--anc": ("anc", True), "--wbc": ("wbc", True), "--neutrophils": ("neutrophils", True),
    "--bands": ("bands", True), "--lymphocytes": ("lymphocytes", True),
    "--unit": ("unit", True), "-u": ("unit", True),
    "--ctcae-version": ("ctcae_version", True), "--lln": ("lln", True),
    "--wbc-lln": ("wbc_lln", True), "--lymphocytes-lln": ("lymphocytes_lln", True),
    "--age": ("age", True), "--duffy-null": ("duffy_null", False), "--temp": ("temp", True),
    "--sustained": ("sustained", False), "--drug": ("drug", True),
    "--audience": ("audience", True), "--json": ("as_json", False),
}
CAUSES = {
    "--category": ("category", True), "-c": ("category", True),
    "--search": ("search", True), "-s": ("search", True),
    "--lineage": ("lineage", True), "--json": ("as_json", False),
}
CAUSE_SHOW = {"--audience": ("audience", True), "--json": ("as_json", False)}
REFS = {"--cause": ("cause", True), "--json": ("as_json", False)}


def _parse(args: list[str], spec: dict, positional: int = 0) -> dict | None:
    """Parse `--opt value` / `--flag` pairs; None when anything is outside the spec."""
    out: dict = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and not _is_number(arg):
            if arg not in spec:
                return None
            key, takes_value = spec[arg]
            if key in out:
                return None  # repeated: let Typer apply its own rule
            if takes_value:
                if i + 1 >= len(args):
                    return None
                out[key] = args[i + 1]
                i += 2
                continue
            out[key] = True
        else:
            rest.append(arg)
        i += 1
    if len(rest) != positional:
        return None
    if positional:
        out["_positional"] = rest
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _dispatch(argv: list[str]) -> bool:
    from . import commands

    if not argv:
        return False
    cmd, args = argv[0], argv[1:]
    if cmd == "assess":
        opts = _parse(args, ASSESS)
        if opts is None:
            return False
        as_json = opts.pop("as_json", False)
        audience = opts.pop("audience", None)
        if audience is not None and audience.lower() not in ("clinician", "patient"):
            return False  # Typer's enum check words the error
        commands.run_assess(opts, as_json=as_json,
                            audience=audience.lower() if audience else None)
        return True
    if cmd == "causes":
        if args[:1] == ["show"]:
            opts = _parse(args[1:], CAUSE_SHOW, positional=1)
            if opts is None:
                return False
            audience = opts.get("audience")
            if audience is not None and audience.lower() not in ("clinician", "patient"):
                return False
            commands.run_cause_show(opts["_positional"][0],
                                    audience=audience.lower() if audience else None,
                                    as_json=opts.get("as_json", False))
            return True
        opts = _parse(args, CAUSES)
        if opts is None:
            return False
        commands.run_causes(category=opts.get("category"), search=opts.get("search"),
                            lineage=opts.get("lineage"), as_json=opts.get("as_json", False))
        return True
    if cmd == "refs":
        opts = _parse(args, REFS)
        if opts is None:
            return False
        commands.run_refs(cause=opts.get("cause"), as_json=opts.get("as_json", False))
        return True
    return False


def run(argv: list[str]) -> int | None:
    """Exit code when handled here, None to fall through to the Typer CLI."""
    try:
        return 0 if _dispatch(argv) else None
    except LeukoError as err:
        sys.stderr.write(f"leuko: error: {err}\n")
        return err.exit_code
    except BrokenPipeError:
        return 0
