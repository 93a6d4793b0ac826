"""`leuko kb export`: a loaded (merged) KB written back in the file schema an overlay accepts."""

from __future__ import annotations

import json

from .schema import META, SCHEMA, SETTINGS, TABLES

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

EXPORT_FORMATS = ("toml", "json")


def _export_entry(schema: dict, entry: dict) -> dict:
    out: dict[str, Any] = {}
    for key, (kind, _required, extra) in schema.items():
        value = entry.get(key)
        if value is None:  # absent optional field: TOML has no null
            continue
        if kind == "table":
            value = [_export_entry(extra, row) for row in value]
        elif kind in ("date", "date|false") and isinstance(value, str):
            import datetime as _dt

            value = _dt.date.fromisoformat(value)
        elif isinstance(value, list):
            value = list(value)
        out[key] = value
    return out


def export_data(data: dict) -> dict:
    """A loaded (merged) KB in exactly the file schema an overlay accepts: schema field order,
    absent optional fields and the `source` marker dropped, dates as `datetime.date`."""
    out: dict[str, Any] = {}
    for name, schema in (("meta", META), ("settings", SETTINGS)):
        if data.get(name) is not None:
            out[name] = _export_entry(schema, data[name])
    for table in TABLES:
        rows = data.get(table) or []
        if rows:
            out[table] = [_export_entry(SCHEMA[table], row) for row in rows]
    return out


def dumps(data: dict, fmt: str = "toml") -> str:
    """Serialise a loaded KB for `leuko kb export` (TOML via tomli-w, or JSON). Both escape
    C0 controls; C1 controls and bidi overrides (overlay text may hold them) are written as
    \\uXXXX too, which JSON and TOML basic strings read back as the same character."""
    from leuko_cli.sanitize import escape_json_unsafe

    doc = export_data(data)
    if fmt == "json":
        text = json.dumps(doc, indent=2, ensure_ascii=False, default=lambda v: v.isoformat())
        return escape_json_unsafe(text) + "\n"
    if fmt != "toml":  # pragma: no cover - the CLI checks the format
        raise ValueError(fmt)
    import tomli_w

    header = (
        f"# leuko knowledge base export: KB {doc['meta']['version']}, schema "
        f"{doc['meta']['schema']}.\n# Valid as a personal overlay "
        '(see docs/knowledge-base.md, "Add your own entries").\n\n'
    )
    return header + escape_json_unsafe(tomli_w.dumps(doc))
