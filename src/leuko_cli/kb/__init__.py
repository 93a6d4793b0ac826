"""The knowledge base: loading, validation, overlay merge, the checked SQLite cache, cause
matching and ranked search. Pure Python: no Typer, no Rich.

    schema.py          the tables and fields, as data
    validation.py      schema checks, cross-references, file:line for messages
    load.py            reading the bundled file and overlay, merge, `load()`
    store.py           the cache (one SQLite file per KB state, every read checked)
    chunks.py          the rebuild entry by entry, from a memo of each entry's text
    knowledge_base.py  `KnowledgeBase`: look-ups, `match_causes`, `search`
    match.py           the cause index behind `match_causes`
    search.py          what `search` indexes and how it ranks; porter.py stems for it
    export.py          `leuko kb export`

This module is on the start-up path: it imports only what a cached load needs and hands out
the rest (validation, export) on first use.
"""

from __future__ import annotations

from .knowledge_base import KnowledgeBase
from .load import (
    OVERLAY_HINT,
    build,
    bundled_file,
    bundled_path,
    check_file,
    load,
    merge,
    parse_toml,
    toml_problem,
)
from .schema import (
    BAND,
    LINEAGES,
    LLN,
    MECHANISMS,
    META,
    REFERENCE_KINDS,
    REVIEW_STATUSES,
    SCHEMA,
    SCHEMA_VERSION,
    SETTINGS,
    TABLES,
)

_LATER = {  # name -> submodule, imported when first asked for (not needed by a cached load)
    "validate": "validation",
    "check_references": "validation",
    "locate_problems": "validation",
    "line_of": "validation",
    "field_line": "validation",
    "nth_header": "validation",
    "entry_lines": "validation",
    "fold": "match",
    "export_data": "export",
    "dumps": "export",
    "EXPORT_FORMATS": "export",
}

__all__ = [
    "BAND",
    "LINEAGES",
    "LLN",
    "MECHANISMS",
    "META",
    "OVERLAY_HINT",
    "REFERENCE_KINDS",
    "REVIEW_STATUSES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SETTINGS",
    "TABLES",
    "KnowledgeBase",
    "build",
    "bundled_file",
    "bundled_path",
    "check_file",
    "load",
    "merge",
    "parse_toml",
    "toml_problem",
    *_LATER,
]


def __getattr__(name: str):
    if name in _LATER:
        from importlib import import_module

        value = getattr(import_module(f"{__name__}.{_LATER[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
