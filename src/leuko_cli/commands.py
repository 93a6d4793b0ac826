"""Command handlers shared by the Typer CLI and the start-up fast path.

No Typer here: a handler takes plain values, prints JSON (json.dumps) or hands a result to
`render` (imported only for human output), and raises LeukoError on bad input.
"""

from __future__ import annotations

import json
import sys


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def load_kb():
    from . import kb

    return kb.load()


def setting(key: str, flag: str | None, kb=None) -> str:
    """flag > env > config file > default, validated (a bad value names where it came from)."""
    from . import config

    return config.setting(key, flag, kb)


def run_assess(values: dict, *, as_json: bool, audience: str | None) -> None:
    """values: AssessRequest fields as typed (unit/ctcae_version may be None -> settings)."""
    from . import assess as core

    kb = load_kb()
    values = dict(values)
    values["unit"] = setting("unit", values.get("unit"), kb)
    values["ctcae_version"] = setting("ctcae_version", values.get("ctcae_version"), kb)
    result = core.assess(kb, core.AssessRequest(**values))
    aud = setting("audience", audience, kb)
    if as_json:
        out = {k: v for k, v in result.items() if k != "severity_detail"}
        emit_json({**out, "audience": aud, "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    render.assess(kb, result, aud)


def run_causes(*, category: str | None, search: str | None, lineage: str | None,
               as_json: bool) -> None:
    from . import queries

    kb = load_kb()
    rows = queries.find_causes(kb, category=category, search=search, lineage=lineage)
    if as_json:
        emit_json(rows)
        return
    from . import render

    render.causes(kb, rows)


def run_cause_show(ident: str, *, audience: str | None, as_json: bool) -> None:
    from . import queries

    kb = load_kb()
    cause = queries.get_cause(kb, ident)
    aud = setting("audience", audience, kb)
    if as_json:
        emit_json({**cause, "references_full": queries.references(kb, cause["references"]),
                   "audience": aud, "disclaimer": kb.settings["disclaimer"]})
        return
    from . import render

    render.cause_detail(kb, cause, aud)


def run_refs(*, cause: str | None, as_json: bool) -> None:
    from . import queries

    kb = load_kb()
    ids = queries.get_cause(kb, cause)["references"] if cause else None
    rows = queries.references(kb, ids)
    if as_json:
        emit_json(rows)
        return
    from . import render

    render.references(kb, rows)
