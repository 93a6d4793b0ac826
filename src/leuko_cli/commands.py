"""Command handlers: plain values in, an `Answer` out. No printing, no Typer, no Rich.

The Typer CLI (`cli.py` and its `cli_*.py` modules) and the start-up fast path (`fastpath.py`)
call the same handlers and pass the answer to `output.emit`, so behaviour never depends on which
path ran.
"""

from __future__ import annotations

from .errors import SAVE_AS_UTF8, UTF16, InputError, check_choice, is_utf16, not_empty
from .fields import REQUEST_FIELDS
from .output import Answer


def load_kb():
    from . import kb

    return kb.load()


def _settings(kb, flags: dict | None = None):
    from . import settings

    return settings.resolve_all(kb, flags)


def _audience(kb, flag: str | None) -> str:
    from . import settings

    return settings.resolve(kb, "audience", flag).value


def assess(values: dict, *, audience: str | None = None) -> Answer:
    """values: the request fields as typed (None when absent; unit/ctcae_version from flags)."""
    from . import assess as core

    kb = load_kb()
    resolved = _settings(
        kb,
        {
            "unit": values.get("unit"),
            "ctcae_version": values.get("ctcae_version"),
            "region": values.get("region"),
            "audience": audience,
        },
    )
    request = {
        k: values.get(k) for k in REQUEST_FIELDS if k not in ("unit", "ctcae_version", "region")
    }
    result = core.assess(kb, request, resolved)
    aud = resolved["audience"]
    result["settings"]["audience"] = aud.as_dict()
    data = {**result, "audience": aud.value, "disclaimer": kb.disclaimer(aud.value)}
    return Answer("assess", data, kb, audience=aud.value)


def causes(
    *, category: str | None = None, search: str | None = None, lineage: str | None = None
) -> Answer:
    from . import queries

    kb = load_kb()
    return Answer(
        "causes", queries.find_causes(kb, category=category, search=search, lineage=lineage), kb
    )


def cause_show(ident: str, *, audience: str | None = None) -> Answer:
    from . import queries

    kb = load_kb()
    cause = queries.get_cause(kb, ident)
    aud = _audience(kb, audience)
    data = {
        **cause,
        "references_full": queries.references(kb, cause["references"]),
        "audience": aud,
        "disclaimer": kb.disclaimer(aud),
    }
    return Answer("cause_detail", data, kb, audience=aud)


def refs(*, cause: str | None = None, fmt: str | None = None, as_json: bool = False) -> Answer:
    """--format text/json: the numbered listing; bibtex, ris, csl-json: an export."""
    from . import citations, queries

    if fmt is not None:
        fmt = fmt.strip().lower()
        check_choice("--format", fmt, citations.FORMATS)
        if as_json and fmt != "json":
            raise InputError(f"--json means --format json; drop --json or --format {fmt}")
    fmt = fmt or ("json" if as_json else "text")
    not_empty("--cause", cause)
    kb = load_kb()
    ids = queries.get_cause(kb, cause)["references"] if cause else None
    rows = queries.references(kb, ids)
    if fmt in ("text", "json"):
        return Answer("json" if fmt == "json" else "references", rows, kb)
    if fmt == "tsv":
        from . import tsv

        return tsv.answer(Answer("references", rows, kb))
    return Answer("text", citations.export(rows, fmt), kb)


def classify() -> Answer:
    from . import queries

    kb = load_kb()
    return Answer(
        "classify",
        {
            "axes": kb.table("classification"),
            "scales": queries.scales(kb),
            "disclaimer": kb.disclaimer(),
        },
        kb,
    )


def workup() -> Answer:
    kb = load_kb()
    steps = sorted(kb.table("workup"), key=lambda s: s["step"])
    return Answer("workup", {"steps": steps, "disclaimer": kb.disclaimer()}, kb)


def manage(*, audience: str | None = None) -> Answer:
    kb = load_kb()
    aud = _audience(kb, audience)
    return Answer(
        "manage",
        {
            "presentation": kb.table("presentation"),
            "management": kb.table("management"),
            "audience": aud,
            "disclaimer": kb.disclaimer(aud),
        },
        kb,
        audience=aud,
    )


def scales(ident: str | None = None) -> Answer:
    from . import queries

    kb = load_kb()
    rows = queries.scales(kb)
    if ident is not None:
        rows = [s for s in rows if s["id"] == ident.strip().lower()]
        if not rows:
            known = ", ".join(s["id"] for s in queries.scales(kb))
            raise InputError(f"no scale {ident!r}; use one of: {known}")
    return Answer("scales", rows, kb)


def mascc(answers: dict[str, bool], *, none_apply: bool = False) -> Answer:
    from . import grading

    kb = load_kb()
    result = grading.score(kb, "mascc", answers, none_apply=none_apply)
    return Answer("score", {**result, "disclaimer": kb.disclaimer()}, kb)


def search(query: str, limit: int = 10) -> Answer:
    kb = load_kb()
    if limit < 1:
        raise InputError(f"--limit must be at least 1 (got {limit})")
    results = kb.search(query, limit)
    # no match is exit 1, as grep: and the message says an absence means nothing clinically
    return Answer(
        "search_results",
        results,
        kb,
        context={"query": query, "terms": kb.search_terms(query)},
        exit_code=0 if results else 1,
    )


def meds(names: list[str], *, file: str | None = None, region: str | None = None) -> Answer:
    """What the KB links each drug to; unknown names are listed as absent, never as safe."""
    from . import meds as core

    text = None
    if file is not None:
        from pathlib import Path

        try:
            if file == "-":  # stdin, as for --input, --fhir, trend and batch
                import sys

                data = sys.stdin.buffer.read() if sys.stdin else b""
            else:
                data = Path(file).read_bytes()
            if is_utf16(data):
                raise InputError(f"--file {file}: {UTF16}; {SAVE_AS_UTF8}")
            text = data.decode("utf-8-sig")  # Notepad's BOM is not part of a name
        except (OSError, UnicodeDecodeError) as err:
            why = getattr(err, "strerror", None) or "not UTF-8 text"
            raise InputError(
                f"--file {file}: cannot read ({why}); give a text file, one drug a line"
            )
    wanted = core.read_names(names, text)
    kb = load_kb()
    from . import settings

    chosen = settings.resolve(kb, "region", region)
    results = core.look_up(kb, wanted, chosen.value)
    cited = sorted(
        {
            r
            for res in results
            for e in res["entries"]
            for r in e["references"] + [x for t in e["region_monitoring"] for x in t["references"]]
        }
    )
    data = {
        "region": chosen.as_dict(),
        "results": results,
        "found": sum(1 for r in results if r["found"]),
        "not_found": sum(1 for r in results if not r["found"]),
        "references": cited,
        "disclaimer": kb.disclaimer(),
    }
    return Answer("meds", data, kb)


def kb_info() -> Answer:
    from . import queries

    return Answer("kb_info", queries.kb_info(load_kb()))


def kb_check(file: str | None) -> Answer:
    import os

    from . import kb as kbmod
    from . import paths

    if file is None:
        overlay = paths.overlay_path()  # a dangling link or a directory is checked, and refused
        target = overlay if os.path.lexists(overlay) else kbmod.bundled_path()
    else:
        from pathlib import Path

        target = Path(file)
        if not target.is_file():
            what = "not a regular file" if target.exists() else "no such file"
            raise InputError(f"{file}: {what}; give a knowledge-base or overlay TOML file")
    problems = kbmod.check_file(target)
    data = {"file": os.fspath(target), "ok": not problems, "problems": problems}
    if not problems:
        return Answer("lines", data, lines=[f"OK: {target} is valid"])
    n = len(problems)
    return Answer(
        "lines",
        data,
        lines=problems,
        exit_code=1,
        note=f"leuko: error: {n} problem{'s' if n > 1 else ''} in {target}",
    )


def kb_export(fmt: str, output: str | None) -> Answer:
    from . import kb as kbmod
    from . import paths
    from .errors import OutputError

    loaded = load_kb()
    text = kbmod.dumps(loaded.data, fmt)
    if output is None or output == "-":  # `-o -`: stdout, as `--input -` is stdin
        return Answer("text", text)
    path = paths.output_file("--output", output)
    if path.exists() and path.resolve() == kbmod.bundled_path().resolve():
        raise InputError(
            f"--output {output}: refusing to overwrite the bundled knowledge base; "
            "put your changes in the overlay (`leuko kb path`)"
        )
    try:
        paths.write_atomic(path, text.encode("utf-8"))
    except OSError as err:  # the output, not a data file of leuko's: exit 4
        raise OutputError(
            f"--output {path}: cannot write ({err.strerror or err}); nothing was written"
        ) from None
    message = (
        f"Exported {len(loaded.table('causes'))} causes and "
        f"{len(loaded.table('references'))} references ({fmt}) to {path}"
    )
    return Answer("lines", {"file": str(path), "format": fmt}, lines=[message])


# --- settings -----------------------------------------------------------------------------------


def config_show() -> Answer:
    import json

    from . import paths, settings

    kb = load_kb()
    path = paths.config_path()
    rows = [
        {
            "key": key,
            "value": s.value,
            "origin": s.origin,
            "default": settings.default(kb, key).value,
            "description": settings.describe(key),
        }
        for key, s in _settings(kb).items()
    ]
    # the path alone on its line: it may be wider than the terminal, and is never split
    lines = [f"# {path}"] + ([] if path.is_file() else ["# (not created yet)"])
    width = max(len(r["key"]) for r in rows)
    values = [json.dumps(r["value"], ensure_ascii=False) for r in rows]
    vwidth = max(map(len, values))
    lines += [
        f"{r['key']:<{width}} = {value:<{vwidth}}  # {r['origin']}"
        for r, value in zip(rows, values)
    ]
    return Answer(
        "lines", {"config_path": str(path), "exists": path.is_file(), "settings": rows}, lines=lines
    )


def config_get(key: str, *, show_origin: bool = False) -> Answer:
    from . import settings

    settings.check_key(key)
    s = settings.resolve(load_kb(), key)
    line = f"{s.origin}\t{s.value}" if show_origin else s.value
    return Answer("lines", {"key": key, "value": s.value, "origin": s.origin}, lines=[line])


def path_answer(path: str) -> Answer:
    """`kb path`, `config path`: the path on a line; JSON says whether it exists yet."""
    import os

    return Answer("lines", {"path": path, "exists": os.path.exists(path)}, lines=[path])


def config_set(key: str, value: str) -> Answer:
    import os

    from . import config, settings

    settings.check_key(key)
    normal = settings.normalise(load_kb(), key, value)

    def change(values: dict) -> None:
        values[key] = normal

    path = config.update(change)
    env = settings.env_var(key)
    note = (
        f"leuko: note: {env} is set and takes precedence over the file"
        if os.environ.get(env)
        else None
    )
    return Answer(
        "lines",
        {"key": key, "value": normal, "file": str(path)},
        lines=[f"{key} = {normal} (saved in {path})"],
        note=note,
    )


def config_unset(key: str) -> Answer:
    from . import config, settings

    settings.check_key(key)
    removed: list[bool] = []

    def change(values: dict) -> None:
        removed.append(values.pop(key, None) is not None)

    path = config.update(change)
    s = settings.resolve(load_kb(), key)
    line = (
        f"{key} unset; now {s.value} ({s.origin})"
        if removed[0]
        else f"{key} was not set in {path}; it is {s.value} ({s.origin})"
    )
    return Answer(
        "lines",
        {"key": key, "removed": removed[0], "value": s.value, "origin": s.origin},
        lines=[line],
    )
