"""Start-up fast path: the commands run dozens of times a shift, without importing Typer.

Importing Typer costs about 5x a bare interpreter start (docs/performance.md). For the plain
forms of `assess`, `causes`, `causes show` and `refs`, this module parses argv itself and calls
the same handlers as the Typer commands, through the same emitter. The assess options come from
the field table, as Typer's do. Anything it does not recognise exactly (help, completion, an
unknown or repeated option, `--opt=value`, a batch option) returns None and the Typer CLI
handles it, so behaviour never depends on which path ran; tests/test_startup.py checks that both
paths give byte-identical output.
"""

from __future__ import annotations

from .fields import AUDIENCES, INPUTS

# option -> (handler keyword, takes a value)
ASSESS = {flag: (f.name, f.takes_value) for f in INPUTS for flag in f.flags}
ASSESS["--json"] = ("as_json", False)
CAUSES = {
    "--category": ("category", True),
    "-c": ("category", True),
    "--search": ("search", True),
    "-s": ("search", True),
    "--lineage": ("lineage", True),
    "--json": ("as_json", False),
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
                return None  # repeated: Typer words the answer
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


def _audience(opts: dict) -> tuple[bool, str | None]:
    """(valid here, value): an unknown audience goes to Typer, which words the choices."""
    audience = opts.pop("audience", None)
    if audience is None:
        return True, None
    return audience.lower() in AUDIENCES, audience.lower()


def _answer(argv: list[str]):
    """(answer, as_json), or None to fall through to Typer."""
    from . import commands

    if not argv:
        return None
    cmd, args = argv[0], argv[1:]
    if cmd == "assess":
        opts = _parse(args, ASSESS)
        if opts is None:
            return None
        as_json = opts.pop("as_json", False)
        ok, audience = _audience(opts)
        if not ok:
            return None
        return commands.assess(opts, audience=audience), as_json
    if cmd == "causes" and args[:1] == ["show"]:
        opts = _parse(args[1:], CAUSE_SHOW, positional=1)
        if opts is None:
            return None
        ok, audience = _audience(opts)
        if not ok:
            return None
        return (
            commands.cause_show(opts["_positional"][0], audience=audience),
            opts.get("as_json", False),
        )
    if cmd == "causes":
        opts = _parse(args, CAUSES)
        if opts is None:
            return None
        as_json = opts.pop("as_json", False)
        return commands.causes(**opts), as_json
    if cmd == "refs":
        opts = _parse(args, REFS)
        if opts is None:
            return None
        return commands.refs(cause=opts.get("cause"), as_json=opts.get("as_json", False)), False
    return None


def run(argv: list[str]) -> int | None:
    """Exit code when handled here, None to fall through to the Typer CLI. Errors end in
    `errors.run_guarded`, as they do on the Typer path."""
    from .errors import run_guarded
    from .output import emit

    handled: list[bool] = []

    def attempt() -> int:
        answered = _answer(argv)
        handled.append(answered is not None)
        return 0 if answered is None else emit(*answered)

    code = run_guarded(attempt)
    return None if handled == [False] else code
