"""Knowledge-base loading, validation, overlay merge and cache.

Pure Python: no Typer, no Rich. The knowledge base is a plain dict (JSON-compatible: dates are
ISO strings, absent optional fields are None) wrapped in `KnowledgeBase` for look-ups.

Load path: bundled `causes.toml` (+ optional personal overlay) -> content hash -> cache hit
(JSON and integers in the user cache dir) or parse + validate + write cache. A corrupt, stale
or unwritable cache is never fatal: it is ignored and rebuilt. Causes stay undecoded JSON
behind a folded search index until a query needs them (see "cause index" below).
"""

from __future__ import annotations

import json
import os
import re

from . import __version__, paths
from .errors import KBError

# pathlib, typing and datetime cost about 8 ms to import together; the cached load path needs
# none of them (validation imports datetime when it runs).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from typing import Any

SCHEMA_VERSION = 1
LLN = "LLN"  # symbolic band bound: the laboratory's lower limit of normal

# --- schema -----------------------------------------------------------------------------------
# A field spec is (type, required, extra). Types: str, int, num, bool, date, date|false,
# list[str], bound (number or "LLN"), table (a nested array of tables, extra = its schema).
# extra for str/list[str] may be {"enum": [...]} or {"ref": "<table>"} (ids that must resolve).

REVIEW_STATUSES = ["draft", "reviewed", "verified"]
LINEAGES = ["neutrophils", "lymphocytes", "all-leukocytes"]
MECHANISMS = [
    "reduced-production", "increased-destruction", "sequestration", "margination",
    "redistribution", "mixed", "artefact",
]
REFERENCE_KINDS = ["article", "review", "guideline", "case-report", "label", "standard", "book",
                   "web"]

_REFS = ("list[str]", True, {"ref": "references", "nonempty": True})

BAND = {
    "lower": ("bound", True, {}),
    "upper": ("bound", False, {}),
    "grade": ("int", True, {}),
    "label": ("str", True, {}),
    "meaning": ("str", False, {}),
    "patient_meaning": ("str", False, {}),
    "action": ("str", False, {}),
    "monitoring": ("str", False, {}),
}

SCHEMA: dict[str, dict[str, tuple]] = {
    "categories": {
        "id": ("str", True, {}), "name": ("str", True, {}), "description": ("str", True, {}),
        "references": ("list[str]", False, {"ref": "references"}),
    },
    "references": {
        "id": ("str", True, {}), "kind": ("str", True, {"enum": REFERENCE_KINDS}),
        "authors": ("list[str]", True, {}), "title": ("str", True, {}),
        "journal": ("str", True, {}), "year": ("int", True, {}),
        "volume": ("str", False, {}), "issue": ("str", False, {}), "pages": ("str", False, {}),
        "pmid": ("str", False, {"pattern": r"^[0-9]{1,9}$"}),
        "doi": ("str", False, {"pattern": r"^10\.[0-9]{4,9}/\S+$"}),
        "url": ("str", False, {"pattern": r"^https?://\S+$"}),
        "verified": ("date|false", True, {}), "verification": ("str", False, {}),
    },
    "causes": {
        "id": ("str", True, {}), "name": ("str", True, {}),
        "category": ("str", True, {"ref": "categories"}),
        "synonyms": ("list[str]", True, {}),
        "lineages": ("list[str]", True, {"enum": LINEAGES, "nonempty": True}),
        "summary": ("str", True, {}), "patient_summary": ("str", True, {}),
        "mechanism": ("str", True, {"enum": MECHANISMS}),
        "mechanism_detail": ("str", True, {}),
        "course": ("str", True, {"enum": ["transient", "chronic", "either"]}),
        "origin": ("str", True, {"enum": ["extrinsic", "intrinsic", "either"]}),
        "features": ("list[str]", True, {"nonempty": True}),
        "workup": ("list[str]", True, {"nonempty": True}),
        "management": ("list[str]", True, {"nonempty": True}),
        "references": _REFS,
        "last_reviewed": ("date", True, {}),
        "review_status": ("str", True, {"enum": REVIEW_STATUSES}),
    },
    "units": {
        "id": ("str", True, {}), "name": ("str", True, {}),
        "factor_to_cells_per_ul": ("num", True, {"positive": True}),
        "aliases": ("list[str]", True, {}),
    },
    "measures": {
        "id": ("str", True, {}), "name": ("str", True, {}),
        "min_positive_cells_per_ul": ("num", True, {}),
        "max_cells_per_ul": ("num", True, {"positive": True}),
    },
    "scales": {
        "id": ("str", True, {}), "name": ("str", True, {}), "system": ("str", True, {}),
        "version": ("str", True, {}), "term": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "unit": ("str", True, {"enum": ["cells/uL"]}),
        "definition": ("str", False, {}), "note": ("str", False, {}),
        "references": _REFS,
        "bands": ("table", True, BAND),
    },
    "reference_ranges": {
        "id": ("str", True, {}), "name": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "age_min_days": ("num", False, {}), "age_max_days": ("num", False, {}),
        "lower": ("num", True, {}), "upper": ("num", False, {}),
        "note": ("str", False, {}), "references": _REFS,
    },
    "fever_rules": {
        "id": ("str", True, {}), "name": ("str", True, {}), "system": ("str", True, {}),
        "version": ("str", True, {}),
        "single_temp_c": ("num", True, {}),
        "single_inclusive": ("bool", True, {}),
        "sustained_temp_c": ("num", True, {}),
        "sustained_minutes": ("num", True, {}),
        "anc_below": ("num", True, {}),
        "summary": ("str", True, {}), "emergency_action": ("str", True, {}),
        "patient_action": ("str", True, {}), "note": ("str", False, {}),
        "references": _REFS,
    },
    "drug_monitoring": {
        "id": ("str", True, {}), "drug": ("str", True, {}), "synonyms": ("list[str]", True, {}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "name": ("str", True, {}), "status": ("str", True, {}), "note": ("str", False, {}),
        "references": _REFS, "bands": ("table", True, BAND),
    },
    "scores": {
        "id": ("str", True, {}), "name": ("str", True, {}), "summary": ("str", True, {}),
        "low_risk_min": ("num", True, {}), "max": ("num", True, {}),
        "low_risk_meaning": ("str", True, {}), "high_risk_meaning": ("str", True, {}),
        "limits": ("str", True, {}), "references": _REFS,
        "items": ("table", True, {
            "id": ("str", True, {}), "text": ("str", True, {}), "points": ("num", True, {}),
            "group": ("str", False, {}),
        }),
    },
    "classification": {
        "id": ("str", True, {}), "axis": ("str", True, {}), "summary": ("str", True, {}),
        "references": _REFS,
        "options": ("table", True, {
            "id": ("str", True, {}), "name": ("str", True, {}), "description": ("str", True, {}),
        }),
    },
    "workup": {
        "id": ("str", True, {}), "step": ("int", True, {}), "title": ("str", True, {}),
        "detail": ("str", True, {}), "items": ("list[str]", False, {}), "references": _REFS,
    },
    "presentation": {
        "id": ("str", True, {}), "name": ("str", True, {}), "summary": ("str", True, {}),
        "patient_summary": ("str", True, {}), "references": _REFS,
    },
    "management": {
        "id": ("str", True, {}), "topic": ("str", True, {}), "summary": ("str", True, {}),
        "patient_summary": ("str", True, {}), "items": ("list[str]", False, {}),
        "references": _REFS,
    },
}

META = {
    "version": ("str", True, {"pattern": r"^\d+\.\d+\.\d+$"}),
    "last_updated": ("date", True, {}),
    "schema": ("int", True, {}),
}
SETTINGS = {
    "disclaimer": ("str", True, {}),
    "patient_disclaimer": ("str", True, {}),
    "severity_scale": ("str", True, {"ref": "scales"}),
    "ctcae_versions": ("list[str]", True, {"nonempty": True}),
    "ctcae_default_version": ("str", True, {}),
    "fever_rule": ("str", True, {"ref": "fever_rules"}),
    "default_unit": ("str", True, {"ref": "units"}),
    "default_audience": ("str", True, {"enum": ["clinician", "patient"]}),
}
TABLES = list(SCHEMA)


# --- validation -------------------------------------------------------------------------------

def _where(table: str, index: int, entry: Any) -> str:
    ident = entry.get("id") if isinstance(entry, dict) else None
    return f"{table}[{ident!r}]" if isinstance(ident, str) else f"{table}[#{index + 1}]"


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and value not in (float("inf"), float("-inf"))


def _check_value(kind: str, value: Any, extra: dict, where: str, problems: list[str]) -> Any:
    """Type-check one field; return the normalised value (dates -> ISO strings)."""
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: expected a non-empty string")
            return value
        if "enum" in extra and value not in extra["enum"]:
            allowed = ", ".join(extra["enum"])
            problems.append(f"{where}: unknown value {value!r} (allowed: {allowed})")
        if "pattern" in extra and not re.match(extra["pattern"], value):
            problems.append(f"{where}: {value!r} is not in the expected form")
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{where}: expected an integer")
        return value
    if kind == "num":
        if not _is_num(value):
            problems.append(f"{where}: expected a finite number")
        elif extra.get("positive") and value <= 0:
            problems.append(f"{where}: expected a positive number")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true or false")
        return value
    if kind in ("date", "date|false"):
        import datetime as _dt

        if kind == "date|false" and value is False:
            return False
        if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
            return value.isoformat()
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:  # JSON cache / exported KB carry dates as ISO strings
                return _dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        expected = "a date (YYYY-MM-DD) or false" if kind == "date|false" else "a date (YYYY-MM-DD)"
        problems.append(f"{where}: expected {expected}")
        return value
    if kind == "list[str]":
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problems.append(f"{where}: expected a list of non-empty strings")
            return value
        if extra.get("nonempty") and not value:
            problems.append(f"{where}: must not be empty")
        if "enum" in extra:
            for v in value:
                if v not in extra["enum"]:
                    problems.append(
                        f"{where}: unknown value {v!r} (allowed: {', '.join(extra['enum'])})")
        if len(set(value)) != len(value):
            problems.append(f"{where}: duplicate values")
        return list(value)
    if kind == "bound":
        if value == LLN or _is_num(value) and value >= 0:
            return value
        problems.append(f"{where}: expected a number >= 0 or \"LLN\"")
        return value
    raise AssertionError(kind)  # pragma: no cover - schema bug


_ID_SAFE = re.compile(r"[^\s\x00-\x1f\x7f]+")


def _check_entry(schema: dict, entry: Any, where: str, problems: list[str]) -> dict:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a table")
        return {}
    out: dict[str, Any] = {}
    for key in entry:
        if key not in schema and key != "source":
            problems.append(f"{where}: unknown field {key!r}")
    ident = entry.get("id")
    if isinstance(ident, str) and ident.strip() and not _ID_SAFE.fullmatch(ident):
        # ids are typed on command lines and stored raw in the cause index
        problems.append(f"{where}.id: {ident!r} must not contain spaces or control characters")
    for key, (kind, required, extra) in schema.items():
        if key not in entry:
            if required:
                problems.append(f"{where}: missing field {key!r}")
            out[key] = None
            continue
        if kind == "table":
            rows = entry[key]
            if not isinstance(rows, list) or not rows:
                problems.append(f"{where}.{key}: expected a non-empty array of tables")
                out[key] = []
                continue
            out[key] = [_check_entry(extra, r, f"{where}.{key}[{i + 1}]", problems)
                        for i, r in enumerate(rows)]
        else:
            out[key] = _check_value(kind, entry[key], extra, f"{where}.{key}", problems)
    if "source" in entry:
        out["source"] = entry["source"]
    return out


def _check_bands(bands: list[dict], where: str, problems: list[str]) -> None:
    """Bands: start at 0, contiguous (upper == next lower), open-ended top, grade never rises
    as the count rises."""
    if not bands or any(b.get("lower") is None for b in bands):
        return
    if bands[0]["lower"] != 0:
        problems.append(f"{where}.bands: the first band must start at 0")
    for i, (a, b) in enumerate(zip(bands, bands[1:]), start=1):
        if a.get("upper") is None:
            problems.append(f"{where}.bands[{i}]: only the last band may be open-ended")
        elif a["upper"] != b["lower"]:
            problems.append(f"{where}.bands[{i}]: upper {a['upper']!r} does not meet the next "
                            f"band's lower {b['lower']!r} (gap or overlap)")
        if isinstance(a.get("grade"), int) and isinstance(b.get("grade"), int) \
                and b["grade"] > a["grade"]:
            problems.append(f"{where}.bands[{i + 1}]: grade rises as the count rises")
    numeric = [x for b in bands for x in (b.get("lower"), b.get("upper")) if _is_num(x)]
    if numeric != sorted(numeric):
        problems.append(f"{where}.bands: bounds are not in increasing order")
    for i, b in enumerate(bands, start=1):
        lo, hi = b.get("lower"), b.get("upper")
        if _is_num(lo) and _is_num(hi) and not lo < hi:
            problems.append(f"{where}.bands[{i}]: lower must be below upper")
    if bands[-1].get("upper") is not None:
        problems.append(f"{where}.bands: the last band must be open-ended (no upper)")


def validate(raw: dict, *, require_core: bool = True, label: str = "knowledge base") -> dict:
    """Validate a parsed KB (or overlay, require_core=False) and return the normalised dict.
    Cross-references are not resolved here (see `check_references`)."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise KBError(f"{label}: expected a TOML document")
    known = set(TABLES) | {"meta", "settings"}
    for key in raw:
        if key not in known:
            problems.append(f"unknown top-level table {key!r} (known: {', '.join(sorted(known))})")
    out: dict[str, Any] = {}
    for name, schema in (("meta", META), ("settings", SETTINGS)):
        if not require_core:  # an overlay may set just the settings it changes
            schema = {k: (kind, False, extra) for k, (kind, _req, extra) in schema.items()}
        if name in raw:
            out[name] = _check_entry(schema, raw[name], name, problems)
        elif require_core:
            problems.append(f"missing table [{name}]")
    for table in TABLES:
        rows = raw.get(table, [])
        if not isinstance(rows, list):
            problems.append(f"{table}: expected an array of tables ([[{table}]])")
            rows = []
        seen: set[str] = set()
        entries = []
        for i, entry in enumerate(rows):
            where = _where(table, i, entry)
            checked = _check_entry(SCHEMA[table], entry, where, problems)
            ident = checked.get("id")
            if isinstance(ident, str):
                if ident in seen:
                    problems.append(f"{where}: duplicate id")
                seen.add(ident)
            if "bands" in SCHEMA[table] and checked.get("bands"):
                _check_bands(checked["bands"], where, problems)
            entries.append(checked)
        out[table] = entries
    if problems:
        raise KBError(problems)
    return out


def _ids(data: dict, table: str) -> set[str]:
    return {e["id"] for e in data.get(table, [])}


def check_references(data: dict) -> None:
    """Resolve every cross-reference in a merged KB; raise KBError naming each dangling id."""
    problems: list[str] = []

    def walk(table: str, schema: dict, entry: dict, where: str) -> None:
        for key, (kind, _req, extra) in schema.items():
            value = entry.get(key)
            if value is None:
                continue
            if kind == "table":
                for i, row in enumerate(value):
                    walk(table, extra, row, f"{where}.{key}[{i + 1}]")
            elif "ref" in extra:
                targets = _ids(data, extra["ref"])
                for v in value if isinstance(value, list) else [value]:
                    if v not in targets:
                        problems.append(f"{where}.{key}: unknown {extra['ref']} id {v!r}")

    for table in TABLES:
        for i, entry in enumerate(data.get(table, [])):
            walk(table, SCHEMA[table], entry, _where(table, i, entry))
    if "settings" in data:
        walk("settings", SETTINGS, data["settings"], "settings")
        s = data["settings"]
        if s.get("ctcae_default_version") not in (s.get("ctcae_versions") or []):
            problems.append("settings.ctcae_default_version: not one of settings.ctcae_versions")
        for version in s.get("ctcae_versions") or []:
            if not any(sc["system"] == "CTCAE" and sc["version"] == version
                       and sc["measure"] == "anc" for sc in data["scales"]):
                problems.append(f"settings.ctcae_versions: no CTCAE {version} scale for anc")
    if problems:
        raise KBError(problems)


def merge(bundled: dict, overlay: dict | None) -> dict:
    """Overlay entries with a new id are added; an existing id is replaced. Each entry records
    where it came from in `source` ("bundled" or "overlay")."""
    merged: dict[str, Any] = {"meta": bundled["meta"], "settings": dict(bundled["settings"])}
    if overlay and overlay.get("settings"):
        merged["settings"].update({k: v for k, v in overlay["settings"].items() if v is not None})
    for table in TABLES:
        rows = {e["id"]: {**e, "source": "bundled"} for e in bundled.get(table, [])}
        for e in (overlay or {}).get(table, []):
            rows[e["id"]] = {**e, "source": "overlay"}
        merged[table] = list(rows.values())
    return merged


# --- parsing and files ----------------------------------------------------------------------

def bundled_file() -> str:
    """The KB shipped with the package; in an editable install, the repo-root data/ file."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "data", "causes.toml")
    if os.path.isfile(packaged):
        return packaged
    return os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(here))), "data",
                        "causes.toml")


def bundled_path() -> Path:
    from pathlib import Path

    return Path(bundled_file())


def toml_problem(data: bytes, path: str) -> tuple[dict | None, str | None]:
    """Parse TOML bytes: (document, None), or (None, "path:line: what is wrong")."""
    import tomllib  # only on a cache miss

    try:
        return tomllib.loads(data.decode("utf-8")), None
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        return None, f"{path}:{line}: not UTF-8 text ({err.reason} at byte {err.start})"
    except tomllib.TOMLDecodeError as err:
        text = str(err)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", text)
        if m:
            return None, (f"{path}:{m.group(1)}: not valid TOML: {text[:m.start()]} "
                          f"(column {m.group(2)})")
        m = re.search(r"\s*\(at end of document\)\s*$", text)
        if m:
            line = max(1, len(data.splitlines()))
            return None, f"{path}:{line}: not valid TOML: {text[:m.start()]} (at end of file)"
        return None, f"{path}: not valid TOML: {text}"
    except RecursionError:
        return None, f"{path}: not valid TOML: nested too deeply"


def parse_toml(data: bytes, path: str) -> dict:
    doc, problem = toml_problem(data, path)
    if problem is not None:
        raise KBError(problem, path)
    return doc


def line_of(text: str, table: str, ident: str | None) -> int | None:
    """Best-effort line number of an entry (`id = "..."` after `[[table]]`), for messages."""
    if not ident:
        return None
    lines = text.splitlines()
    in_table = False
    for n, line in enumerate(lines, start=1):
        s = line.strip()
        if s.startswith("[["):
            in_table = s == f"[[{table}]]"
        elif in_table and re.match(rf"""id\s*=\s*["']{re.escape(ident)}["']\s*(#.*)?$""", s):
            return n
    return None


def locate_problems(problems: list[str], text: str, path: str) -> list[str]:
    """Prefix each problem with `path:line:` where the entry can be found in the text."""
    out = []
    for p in problems:
        m = re.match(r"(\w+)\['([^']+)'\](?:\.(\w+)\b(?!\[))?", p)
        line = line_of(text, m.group(1), m.group(2)) if m else None
        if not m:  # an entry without a usable id: `table[#N]` is the Nth [[table]] header
            n = re.match(r"(\w+)\[#(\d+)\]", p)
            line = nth_header(text, n.group(1), int(n.group(2))) if n else None
        unknown = re.search(r"unknown field '(\w+)'", p) if m and not m.group(3) else None
        name = m.group(3) if m else None
        if line and (name or unknown):
            line = field_line(text, line, name or unknown.group(1)) or line
        out.append(f"{path}:{line}: {p}" if line else f"{path}: {p}")
    return out


def nth_header(text: str, table: str, index: int) -> int | None:
    """Line of the index-th (1-based) `[[table]]` header."""
    seen = 0
    for n, line in enumerate(text.splitlines(), start=1):
        if re.match(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]", line):
            seen += 1
            if seen == index:
                return n
    return None


def field_line(text: str, id_line: int, name: str) -> int | None:
    """The line of `name = ...` in the entry whose `id` is on `id_line` (same table block)."""
    lines = text.splitlines()
    start = id_line - 1
    while start > 0 and not lines[start - 1].lstrip().startswith("["):
        start -= 1
    end = id_line
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    pattern = re.compile(rf"""^\s*(["']?){re.escape(name)}\1\s*=""")
    for n in range(start, end):
        if pattern.match(lines[n]):
            return n + 1
    return None


def load_file(path: Path, *, require_core: bool) -> dict:
    """Parse and validate one TOML file, with file:line in every message."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise KBError(f"{path}: cannot read ({err.strerror})", str(path)) from None
    raw = parse_toml(data, str(path))
    try:
        return validate(raw, require_core=require_core, label=str(path))
    except KBError as err:
        raise KBError(locate_problems(err.problems, data.decode("utf-8", "replace"), str(path)),
                      str(path)) from None


# --- cause index ----------------------------------------------------------------------------
# With a 5,000-cause overlay most of a query's time went to decoding every cause from the cache
# (json.loads of 3 MB). So causes stay undecoded JSON lines until needed, beside a search index of
# one bytes row per cause:
#     id RS category RS US lineage US lineage US RS UNIT name UNIT synonym UNIT RS summary
# with names and summary folded (fold()). The separators (RS \x1e, US \x1d, UNIT \x1f) are
# whitespace to str.split(), so folded text cannot contain them, and validate() keeps them out
# of ids; a category and a lineage come from fixed lists. A substring test on a row is therefore
# an exact test on one field, and a scan of 5,000 rows takes well under a millisecond.

_RS, _US, _UNIT = "\x1e", "\x1d", "\x1f"


def _has_separator(*texts: str | None) -> bool:
    """True when a query term holds an index separator or newline: it cannot occur inside a
    field, and would otherwise match across one."""
    return any(ch in (text or "") for text in texts for ch in (_RS, _US, _UNIT, "\n"))


def fold(text: str) -> str:
    """Case- and hyphen-insensitive form used to match cause names and search text."""
    return " ".join(text.casefold().replace("-", " ").split())


def index_row(cause: dict) -> bytes:
    names = _UNIT.join([fold(cause["id"]), fold(cause["name"]),
                        *(fold(s) for s in cause["synonyms"])])
    return _RS.join([cause["id"], cause["category"], _US + _US.join(cause["lineages"]) + _US,
                     _UNIT + names + _UNIT, fold(cause["summary"])]).encode()


# --- cache ----------------------------------------------------------------------------------
# One file, kb-<key>.cache, in four sections:
#   1. a JSON header line: format, key, the KB without its causes, the cause count, section
#      offsets and a crc32 of sections 2-3;
#   2. the index rows (above), one per line;
#   3. a table of 12 bytes per cause: start and end offset of its JSON line, and its crc32;
#   4. one JSON line per cause, in KB order.
# A load reads sections 1-3 and checks them; cause lines are read, checked and decoded only
# when a query returns them. Anything damaged or stale means a rebuild from the TOML sources,
# never a wrong answer. JSON and integers only: never pickle from a user-writable directory.

CACHE_FORMAT = 4
_ENTRY = 12  # bytes per cause in the offset table: start, end, crc32 (unsigned 32-bit, little)
_BULK = 64  # decoding more causes than this reads the cause section in one go


class CacheDamaged(Exception):
    """A cause line in the cache is missing or fails its checksum (internal: means rebuild)."""


class _Rebuilt(Exception):
    """The causes were rebuilt from the sources mid-query: positions found so far are void."""


def _cache_file(key: str) -> str | None:
    base = paths.cache_root()
    return os.path.join(base, f"kb-{key[:32]}.cache") if base else None


def _read_cache(key: str) -> tuple[dict, bytes, bytes, str] | None:
    """(KB without causes, index text, offset table, cache file), or None when the cache is
    missing, stale or damaged."""
    path = _cache_file(key)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            header = fh.readline()
            head = json.loads(header)
            if head.get("format") != CACHE_FORMAT or head.get("key") != key:
                return None
            count, index_at, table_at = head["causes"], head["index"], head["table"]
            if index_at != len(header) or head["lines"] != table_at + count * _ENTRY:
                return None
            index = fh.read(table_at - index_at)
            table = fh.read(count * _ENTRY)
        from zlib import crc32

        data = head["kb"]
        if (len(index) != table_at - index_at or len(table) != count * _ENTRY
                or crc32(table, crc32(index)) != head["crc32"]
                or index.count(b"\n") != count or not isinstance(data, dict) or "causes" in data):
            return None
        return data, index, table, path
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or corrupt: rebuild


def _cache_bytes(key: str, kb: dict) -> bytes:
    from zlib import crc32

    causes = kb.get("causes", [])
    index = b"".join(index_row(c) + b"\n" for c in causes)
    lines = [json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
             for c in causes]
    head = {"format": CACHE_FORMAT, "key": key,
            "kb": {k: v for k, v in kb.items() if k != "causes"}, "causes": len(causes)}
    # the header holds its own section offsets, so size it with wide placeholders first
    probe = dict(head, index=10**12, table=10**12, lines=10**12, crc32=2**32)
    index_at = len(json.dumps(probe, separators=(",", ":"), ensure_ascii=False).encode()) + 1
    table_at = index_at + len(index)
    lines_at = table_at + _ENTRY * len(causes)
    table = bytearray()
    at = lines_at
    for line in lines:
        table += at.to_bytes(4, "little") + (at + len(line)).to_bytes(4, "little")
        table += crc32(line).to_bytes(4, "little")
        at += len(line)
    head.update(index=index_at, table=table_at, lines=lines_at, crc32=crc32(index + table))
    header = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()
    header += b" " * (index_at - 1 - len(header))  # JSON allows trailing spaces
    return header + b"\n" + index + bytes(table) + b"".join(lines)


def _replace_cache_file(path: str, payload: bytes) -> None:
    """Write a file in the cache dir whole or not at all (temp file, then os.replace). No
    fsync: a cache lost in a crash is rebuilt. OSError propagates."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(payload)
    os.replace(tmp, path)


def _write_cache(key: str, kb: dict) -> None:
    path = _cache_file(key)
    if path is None:
        return
    try:
        _replace_cache_file(path, _cache_bytes(key, kb))
        base = os.path.dirname(path)
        for old in os.listdir(base):  # keep one entry: the KB in use
            if old.startswith("kb-") and old.endswith((".cache", ".json")) \
                    and os.path.join(base, old) != path:
                os.unlink(os.path.join(base, old))
    except (OSError, OverflowError):
        pass  # read-only or full cache dir (or a KB over 4 GB): run uncached


# --- the loaded KB --------------------------------------------------------------------------

class KnowledgeBase:
    """The loaded KB with id look-ups and the cause index. A plain class: dataclass code
    generation costs start-up time on every run.

    From the cache, causes arrive undecoded: `index` is the index text (one row per line),
    `table` the offset table and `cache_file` where the cause lines are. A cause is read,
    checked and decoded when a query returns it; `table("causes")` and `data` decode them all.
    `rebuild` re-reads the TOML sources if a cause line turns out to be damaged or gone."""

    def __init__(self, data: dict, overlay_path: str | Path | None = None,
                 overlay_status: str = "absent", *, index: bytes | None = None,
                 table: bytes | None = None, cache_file: str | None = None,
                 rebuild=None) -> None:
        self._data = data
        self.overlay_path = overlay_path
        self.overlay_status = overlay_status  # absent | loaded
        self._by_id: dict = {}
        self._index_text = index
        self._table = table
        self._cache_file = cache_file
        self._rebuild = rebuild
        self._causes: list[dict | None] = \
            data["causes"] if index is None else [None] * index.count(b"\n")

    @property
    def data(self) -> dict:
        """Every table as a plain dict (decodes all causes)."""
        if "causes" not in self._data:
            try:
                self._decode(range(len(self._causes)))
            except _Rebuilt:
                pass  # the rebuild set data["causes"]
            self._data.setdefault("causes", self._causes)
        return self._data

    def table(self, name: str) -> list[dict]:
        if name == "causes":
            return self.data["causes"]
        return self._data.get(name, [])

    def get(self, table: str, ident: str) -> dict | None:
        if table == "causes":
            return self._cause_by_id(ident)
        idx = self._by_id.get(table)
        if idx is None:
            idx = self._by_id[table] = {e["id"]: e for e in self.table(table)}
        return idx.get(ident)

    @property
    def meta(self) -> dict:
        return self._data["meta"]

    @property
    def settings(self) -> dict:
        return self._data["settings"]

    def reference_numbers(self) -> dict[str, int]:
        """Stable citation numbers: the order of [[references]] in the KB."""
        return {r["id"]: n for n, r in enumerate(self.table("references"), start=1)}

    # causes, through the index

    def _decode(self, positions) -> list[dict]:
        """The causes at these positions, reading and checking any not yet decoded."""
        missing = [p for p in positions if self._causes[p] is None]
        if missing:
            try:
                for position, cause in zip(missing, self._read_lines(missing)):
                    self._causes[position] = cause
            except CacheDamaged:
                self._replace_damaged_cache()
                raise _Rebuilt from None
        return [self._causes[p] for p in positions]

    def _read_lines(self, positions: list[int]) -> list[dict]:
        from zlib import crc32

        spans = []
        for position in positions:
            entry = self._table[position * _ENTRY:(position + 1) * _ENTRY]
            spans.append((int.from_bytes(entry[0:4], "little"),
                          int.from_bytes(entry[4:8], "little"),
                          int.from_bytes(entry[8:12], "little")))
        try:
            with open(self._cache_file, "rb") as fh:
                if len(spans) > _BULK:  # one read of the whole span, then slices
                    first = min(start for start, _, _ in spans)
                    fh.seek(first)
                    blob = fh.read(max(end for _, end, _ in spans) - first)
                    lines = [blob[start - first:end - first] for start, end, _ in spans]
                else:
                    lines = []
                    for start, end, _ in spans:
                        fh.seek(start)
                        lines.append(fh.read(end - start))
        except OSError:
            raise CacheDamaged from None  # replaced by another KB's cache, or removed
        causes = []
        for line, (_, _, checksum) in zip(lines, spans):
            if crc32(line) != checksum:
                raise CacheDamaged
            causes.append(json.loads(line))
        return causes

    def _replace_damaged_cache(self) -> None:
        fresh = self._rebuild()  # normally the same causes; the overlay may have changed since
        self._causes = fresh["causes"]
        self._data["causes"] = fresh["causes"]
        self._table = self._cache_file = self._index_text = None

    def _index_bytes(self) -> bytes:
        if self._index_text is None:
            self._index_text = b"".join(index_row(c) + b"\n" for c in self._causes)
        return self._index_text

    def _cause_by_id(self, ident: str) -> dict | None:
        try:
            return self._find_cause_by_id(ident)
        except _Rebuilt:
            return self._find_cause_by_id(ident)  # everything is decoded now: cannot recur

    def _find_cause_by_id(self, ident: str) -> dict | None:
        if _has_separator(ident):
            return None
        text = self._index_bytes()
        key = f"{ident}{_RS}".encode()  # ids are unique and lead their row
        if text.startswith(key):
            return self._decode([0])[0]
        at = text.find(b"\n" + key)
        return None if at == -1 else self._decode([text.count(b"\n", 0, at + 1)])[0]

    def _rows_containing(self, probe: bytes) -> list[tuple[int, bytes]]:
        """(position, row) of each index row containing `probe` (not empty, no newline): a
        few C-level finds over the whole index instead of a Python test per row."""
        text = self._index_bytes()
        found = []
        position, counted = 0, 0
        at = text.find(probe)
        while at != -1:
            start = text.rfind(b"\n", 0, at) + 1
            end = text.find(b"\n", at)
            position += text.count(b"\n", counted, start)
            counted = start
            found.append((position, text[start:end]))
            at = text.find(probe, end)
        return found

    def match_causes(self, *, category: str | None = None, lineage: str | None = None,
                     needle: str | None = None) -> list[dict]:
        """Causes in KB order, filtered by category id and lineage (a cause affecting all
        leukocytes matches every lineage); with a folded `needle`, those whose id, name or a
        synonym equals it come first, then those where it occurs in a name or the summary."""
        try:
            return self._match(category, lineage, needle)
        except _Rebuilt:
            return self._match(category, lineage, needle)  # all decoded now: cannot recur

    def _match(self, category: str | None, lineage: str | None,
               needle: str | None) -> list[dict]:
        if _has_separator(category, lineage, needle):
            return []
        cat = f"{_RS}{category}{_RS}".encode() if category else None
        lin = f"{_US}{lineage}{_US}".encode() if lineage else None
        every = f"{_US}all-leukocytes{_US}".encode()
        word = needle.encode() if needle is not None else None
        whole = f"{_UNIT}{needle}{_UNIT}".encode() if needle is not None else None
        names_start = f"{_RS}{_UNIT}".encode()
        probe = word or cat  # most selective filter present: only rows holding it are tested
        if probe:
            candidates = self._rows_containing(probe)
        else:
            candidates = enumerate(self._index_bytes().split(b"\n")[:-1])
        exact: list[int] = []
        partial: list[int] = []
        for i, row in candidates:
            if cat is not None and cat not in row:
                continue
            if lin is not None and lin not in row and every not in row:
                continue
            if word is None or whole in row:
                exact.append(i)
            elif row.find(word, row.find(names_start)) != -1:
                partial.append(i)
        return self._decode(exact + partial)


OVERLAY_HINT = ("your personal overlay is broken: `leuko kb check` lists every problem; fix "
                "them, or move {path} away to use the bundled knowledge base alone")


def _read_bytes(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _blake2b():
    # blake2b: a content hash without importing hashlib's OpenSSL backend (~2 ms per run)
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b
    return blake2b(digest_size=32)


def _content_hash(data: bytes) -> str:
    digest = _blake2b()
    digest.update(data)
    return digest.hexdigest()


def _cache_key(bundled_bytes: bytes, overlay_hash: str) -> str:
    digest = _blake2b()
    for part in (__version__.encode(), str(SCHEMA_VERSION).encode(), bundled_bytes,
                 overlay_hash.encode()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# --- overlay hash memo --------------------------------------------------------------------
# Hashing a 5 MB overlay costs more than the rest of a cached query. As git does for its
# index, the overlay's content hash is remembered with the file's stat signature (path, size,
# mtime, ctime, inode, device) and reused while the signature is unchanged. On POSIX any write
# changes ctime, which no user call can set back; and a file changed within RACY_SECONDS of
# being hashed is not remembered, so a coarse timestamp cannot hide a same-size edit. Elsewhere
# the overlay is hashed on every run.

OVERLAY_MEMO = "overlay-hash.json"
RACY_SECONDS = 2.0


def _signature(stat, path) -> list:
    return [str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino,
            stat.st_dev]


def _remembered_hash(signature: list) -> str | None:
    base = paths.cache_root()
    if base is None:
        return None
    try:
        with open(os.path.join(base, OVERLAY_MEMO), "rb") as fh:
            memo = json.loads(fh.read())
        if memo.get("signature") == signature and isinstance(memo.get("blake2b"), str):
            return memo["blake2b"]
    except (OSError, ValueError, AttributeError):
        pass  # missing or damaged: hash the file
    return None


def _remember_hash(signature: list, content_hash: str, stat) -> None:
    import time

    base = paths.cache_root()
    if base is None or time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) \
            < RACY_SECONDS * 1e9:
        return
    try:
        _replace_cache_file(os.path.join(base, OVERLAY_MEMO), json.dumps(
            {"signature": signature, "blake2b": content_hash}).encode())
    except OSError:
        pass  # read-only cache dir: hash every time


def load(*, overlay: str | Path | None | bool = True, use_cache: bool = True) -> KnowledgeBase:
    """Load the bundled KB merged with the personal overlay (if present).

    overlay=True uses the platform overlay path; a path uses that file; False/None skips it.
    """
    bundled = bundled_file()
    try:
        bundled_bytes = _read_bytes(bundled)
    except OSError as err:
        raise KBError(f"{bundled}: cannot read the bundled knowledge base ({err.strerror}); "
                      "reinstall leuko", str(bundled)) from None
    overlay_path = paths.overlay_file() if overlay is True else (overlay or None)

    def read_overlay() -> bytes:
        try:
            return _read_bytes(overlay_path)
        except OSError as err:
            raise KBError(f"{overlay_path}: cannot read the overlay ({err.strerror})",
                          str(overlay_path),
                          hint=OVERLAY_HINT.format(path=overlay_path)) from None

    overlay_bytes: bytes | None = None
    overlay_hash = ""
    if overlay_path is not None:
        try:
            stat = os.stat(overlay_path)
        except FileNotFoundError:
            overlay_path = None
        except OSError:
            stat = None  # let the read below report it
        if overlay_path is not None:
            # POSIX only: on Windows st_ctime is the creation time, which a write does not move
            signature = _signature(stat, overlay_path) \
                if stat and use_cache and os.name == "posix" else None
            overlay_hash = (_remembered_hash(signature) if signature else None) or ""
            if not overlay_hash:
                overlay_bytes = read_overlay()
                overlay_hash = _content_hash(overlay_bytes)
                if signature:
                    _remember_hash(signature, overlay_hash, stat)
    status = "loaded" if overlay_path is not None else "absent"

    def from_sources() -> dict:
        nonlocal overlay_bytes, overlay_hash
        if overlay_path is not None and overlay_bytes is None:  # the hash came from the memo
            overlay_bytes = read_overlay()
            overlay_hash = _content_hash(overlay_bytes)  # the file may have changed since
        try:
            data = build(bundled_bytes, str(bundled), overlay_bytes,
                         str(overlay_path) if overlay_path else None)
        except KBError as err:
            if overlay_path is None or err.path != str(overlay_path):
                raise
            raise KBError(err.problems, err.path, hint=OVERLAY_HINT.format(path=overlay_path)) \
                from None
        if use_cache:  # keyed by the bytes just built from
            _write_cache(_cache_key(bundled_bytes, overlay_hash), data)
        return data

    cached = _read_cache(_cache_key(bundled_bytes, overlay_hash)) if use_cache else None
    if cached is not None:
        data, index, table, cache_file = cached
        return KnowledgeBase(data, overlay_path, status, index=index, table=table,
                             cache_file=cache_file, rebuild=from_sources)
    return KnowledgeBase(from_sources(), overlay_path, status)


def build(bundled_bytes: bytes, bundled_name: str, overlay_bytes: bytes | None,
          overlay_name: str | None) -> dict:
    """Parse, validate and merge (the uncached path)."""
    def one(data: bytes, name: str, core: bool) -> dict:
        raw = parse_toml(data, name)
        try:
            return validate(raw, require_core=core, label=name)
        except KBError as err:
            raise KBError(locate_problems(err.problems, data.decode("utf-8", "replace"), name),
                          name) from None

    base = one(bundled_bytes, bundled_name, True)
    extra = one(overlay_bytes, overlay_name, False) if overlay_bytes is not None else None
    merged = merge(base, extra)
    try:
        check_references(merged)
    except KBError as err:
        name = overlay_name if extra else bundled_name
        text = (overlay_bytes if extra else bundled_bytes).decode("utf-8", "replace")
        raise KBError(locate_problems(err.problems, text, name), name) from None
    return merged


def check_file(path: Path) -> list[str]:
    """Problems in a KB or overlay file (empty when valid). An overlay is checked merged with
    the bundled KB, so its citations may point at bundled references."""
    is_bundled = path.resolve() == bundled_path().resolve()
    try:
        data = path.read_bytes()
    except OSError as err:
        return [f"{path}: cannot read ({err.strerror})"]
    try:
        if is_bundled:
            build(data, str(path), None, None)
        else:
            build(bundled_path().read_bytes(), str(bundled_path()), data, str(path))
    except KBError as err:
        return err.problems
    return []


# --- export -----------------------------------------------------------------------------------

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
    """Serialise a loaded KB for `leuko kb export` (TOML via tomli-w, or JSON)."""
    doc = export_data(data)
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False,
                          default=lambda v: v.isoformat()) + "\n"
    if fmt != "toml":  # pragma: no cover - the CLI checks the format
        raise ValueError(fmt)
    import tomli_w

    header = (f"# leuko knowledge base export: KB {doc['meta']['version']}, schema "
              f"{doc['meta']['schema']}.\n# Valid as a personal overlay "
              "(see docs/knowledge-base.md, \"Add your own entries\").\n\n")
    return header + tomli_w.dumps(doc)
