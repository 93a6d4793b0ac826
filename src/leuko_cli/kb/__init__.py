"""The knowledge base: loading, validation, overlay merge, the checked SQLite cache, cause
matching and ranked search. Pure Python: no Typer, no Rich.

    schema.py          the tables and fields, as data
    validate.py        schema checks, cross-references, file:line for messages
    load.py            reading the bundled file and overlay, merge, `load()`
    store.py           the cache (one SQLite file per KB state, every read checked)
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
from .match import fold
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

# validate and load are also submodule names: importing the function here, first, keeps the
# package attribute the function (a submodule sets its name on the package only when first
# imported). validate.py imports nothing more than this module already has.
from .validate import validate

_LATER = {  # name -> submodule, imported when first asked for
    "check_references": "validate",
    "locate_problems": "validate",
    "line_of": "validate",
    "field_line": "validate",
    "nth_header": "validate",
    "entry_lines": "validate",
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
    "fold",
    "load",
    "merge",
    "parse_toml",
    "toml_problem",
    "validate",
    *_LATER,
]


def __getattr__(name: str):
    if name in _LATER:
        from importlib import import_module

        value = getattr(import_module(f"{__name__}.{_LATER[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
