"""Validation of a parsed KB or overlay, cross-reference checks, and the helpers that find the
file line of an entry or field so that every message can say `file:line:`."""

from __future__ import annotations

import math
import re

from leuko_cli.errors import KBError

from .schema import DRUG_FIELDS, LLN, META, SCHEMA, SETTINGS, TABLES

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any


def _where(table: str, index: int, entry: Any) -> str:
    ident = entry.get("id") if isinstance(entry, dict) else None
    return f"{table}[{ident!r}]" if isinstance(ident, str) else f"{table}[#{index + 1}]"


def _is_num(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and value not in (float("inf"), float("-inf"))
    )


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
                        f"{where}: unknown value {v!r} (allowed: {', '.join(extra['enum'])})"
                    )
        if len(set(value)) != len(value):
            problems.append(f"{where}: duplicate values")
        return list(value)
    if kind == "bound":
        if value == LLN or _is_num(value) and value >= 0:
            return value
        problems.append(f'{where}: expected a number >= 0 or "LLN"')
        return value
    raise AssertionError(kind)  # pragma: no cover - schema bug


# Set by the merge, not by authors: where an entry came from ("bundled" or "overlay") and, for
# overlay entries, "FILE:LINE" of its `id =`.
PROVENANCE = ("source", "source_location")

# Patterns stay strings (re caches what it compiles): compiling them at import would add to
# every start-up, since kb/__init__.py imports this module.
_ID_SAFE = r"[^\s\x00-\x1f\x7f]+"


def _check_entry(schema: dict, entry: Any, where: str, problems: list[str]) -> dict:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a table")
        return {}
    out: dict[str, Any] = {}
    for key in entry:
        if key not in schema and key not in PROVENANCE:
            problems.append(f"{where}: unknown field {key!r}")
    ident = entry.get("id")
    if isinstance(ident, str) and ident.strip() and not re.fullmatch(_ID_SAFE, ident):
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
            out[key] = [
                _check_entry(extra, r, f"{where}.{key}[{i + 1}]", problems)
                for i, r in enumerate(rows)
            ]
        else:
            out[key] = _check_value(kind, entry[key], extra, f"{where}.{key}", problems)
    for key in PROVENANCE:  # a loaded KB exported as JSON carries them; keep them as they are
        if key in entry:
            if not isinstance(entry[key], str):  # text only: anything else goes unchecked
                problems.append(f"{where}.{key}: expected text")
            out[key] = entry[key]
    return out


def _check_bands(bands: list[dict], where: str, problems: list[str], name: str = "bands") -> None:
    """Bands: start at 0, contiguous (upper == next lower), open-ended top, grade never rises
    as the count rises."""
    if not bands or any(b.get("lower") is None for b in bands):
        return
    if bands[0]["lower"] != 0:
        problems.append(f"{where}.{name}: the first band must start at 0")
    for i, (a, b) in enumerate(zip(bands, bands[1:]), start=1):
        if a.get("upper") is None:
            problems.append(f"{where}.{name}[{i}]: only the last band may be open-ended")
        elif a["upper"] != b["lower"]:
            problems.append(
                f"{where}.{name}[{i}]: upper {a['upper']!r} does not meet the next "
                f"band's lower {b['lower']!r} (gap or overlap)"
            )
        if (
            isinstance(a.get("grade"), int)
            and isinstance(b.get("grade"), int)
            and b["grade"] > a["grade"]
        ):
            problems.append(f"{where}.{name}[{i + 1}]: grade rises as the count rises")
    numeric = [x for b in bands for x in (b.get("lower"), b.get("upper")) if _is_num(x)]
    if numeric != sorted(numeric):
        problems.append(f"{where}.{name}: bounds are not in increasing order")
    for i, b in enumerate(bands, start=1):
        lo, hi = b.get("lower"), b.get("upper")
        if _is_num(lo) and _is_num(hi) and not lo < hi:
            problems.append(f"{where}.{name}[{i}]: lower must be below upper")
    if bands[-1].get("upper") is not None:
        problems.append(f"{where}.{name}: the last band must be open-ended (no upper)")


def check_entry(table: str, entry: Any, where: str, problems: list[str]) -> dict:
    """One entry of a table, normalised; what is wrong with it goes to `problems`. Depends on
    nothing but the entry (kb/chunks.py memoises it per entry text)."""
    checked = _check_entry(SCHEMA[table], entry, where, problems)
    for key in ("bands", "wbc_bands"):
        if key in SCHEMA[table] and checked.get(key):
            _check_bands(checked[key], where, problems, key)
    if table == "reference_ranges":
        _check_lower_limit(checked, where, problems)
    return checked


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
            checked = check_entry(table, entry, where, problems)
            ident = checked.get("id")
            if isinstance(ident, str):
                if ident in seen:
                    problems.append(f"{where}: duplicate id")
                seen.add(ident)
            entries.append(checked)
        out[table] = entries
    if problems:
        raise KBError(problems)
    return out


def _check_lower_limit(entry: dict, where: str, problems: list[str]) -> None:
    """A range states its lower limit one way: exactly, as a bracket, or not at all (with a
    note saying why)."""
    low, high = entry.get("lower_limit_min"), entry.get("lower_limit_max")
    if (low is None) != (high is None):
        problems.append(f"{where}: give both lower_limit_min and lower_limit_max, or neither")
    elif low is not None and entry.get("lower") is not None:
        problems.append(f"{where}: give lower, or lower_limit_min/lower_limit_max, not both")
    elif _is_num(low) and _is_num(high) and not low < high:  # else _check_value said so
        problems.append(f"{where}: lower_limit_min must be below lower_limit_max")
    elif low is None and entry.get("lower") is None and not entry.get("note"):
        problems.append(f"{where}: a range without a lower limit needs a note saying why")


def _ids(data: dict, table: str) -> set[str]:
    return {e["id"] for e in data.get(table, [])}


_LINKED: dict[int, tuple[dict, list]] = {}  # id(schema) -> (schema, its linked fields)


def _linked(schema: dict) -> list[tuple[str, str, dict]]:
    """The fields of a schema that can hold a cross-reference: ref fields, and nested tables
    with any. The walks below visit only these (a 5,000-cause overlay has 100,000 fields)."""
    cached = _LINKED.get(id(schema))
    if cached is None or cached[0] is not schema:  # the schema is kept: its id stays its own
        cached = _LINKED[id(schema)] = (
            schema,
            [
                (key, kind, extra)
                for key, (kind, _req, extra) in schema.items()
                if (kind == "table" and _linked(extra)) or (kind != "table" and "ref" in extra)
            ],
        )
    return cached[1]


def check_references(data: dict) -> None:
    """Resolve every cross-reference in a merged KB; raise KBError naming each dangling id."""
    problems: list[str] = []
    ids: dict[str, set[str]] = {}  # per target table, built once: a 5,000-cause overlay cites a lot

    def walk(table: str, schema: dict, entry: dict, where: str) -> None:
        for key, kind, extra in _linked(schema):
            value = entry.get(key)
            if value is None:
                continue
            if kind == "table":
                for i, row in enumerate(value):
                    walk(table, extra, row, f"{where}.{key}[{i + 1}]")
            elif "ref" in extra:
                targets = ids.get(extra["ref"])
                if targets is None:
                    targets = ids[extra["ref"]] = _ids(data, extra["ref"])
                for v in value if isinstance(value, list) else [value]:
                    if v not in targets:
                        problems.append(f"{where}.{key}: unknown {extra['ref']} id {v!r}")

    for table in TABLES:
        for i, entry in enumerate(data.get(table, [])):
            walk(table, SCHEMA[table], entry, _where(table, i, entry))
    problems += _integrity(data)
    if "settings" in data:
        walk("settings", SETTINGS, data["settings"], "settings")
        s = data["settings"]
        regions = {d["region"] for d in data.get("drug_monitoring", [])}
        if s.get("default_region") not in regions:
            problems.append(
                f"settings.default_region: {s.get('default_region')!r} is not a region of any "
                f"drug_monitoring table ({', '.join(sorted(regions)) or 'none'})"
            )
        if s.get("ctcae_default_version") not in (s.get("ctcae_versions") or []):
            problems.append("settings.ctcae_default_version: not one of settings.ctcae_versions")
        for version in s.get("ctcae_versions") or []:
            if not any(
                sc["system"] == "CTCAE" and sc["version"] == version and sc["measure"] == "anc"
                for sc in data["scales"]
            ):
                problems.append(f"settings.ctcae_versions: no CTCAE {version} scale for anc")
    if problems:
        raise KBError(problems)


def _cited(data: dict) -> set[str]:
    """Every reference id cited anywhere (any field, nested or not, that refers to references)."""
    cited: set[str] = set()

    def walk(schema: dict, entry: dict) -> None:
        for key, kind, extra in _linked(schema):
            value = entry.get(key)
            if value is None:
                continue
            if kind == "table":
                for row in value:
                    walk(extra, row)
            elif extra.get("ref") == "references":
                cited.update(value if isinstance(value, list) else [value])

    for table in TABLES:
        for entry in data.get(table, []):
            walk(SCHEMA[table], entry)
    return cited


def _fold_title(title: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", title.casefold()).split())


def checked_fields(table: str) -> frozenset[str]:
    """The fields of an entry that check_references (and _integrity) read: a copy of each cause
    with only these is checked alike. kb/chunks.py keeps just this much of every cause; change
    it with those two functions (tests/test_chunks.py compares both on broken KBs)."""
    fields = {"id", *(key for key, _kind, _extra in _linked(SCHEMA[table]))}
    if table == "causes":
        fields |= {*DRUG_FIELDS, "review_status", "review"}
    return frozenset(fields)


def _overlapping_ranges(ranges: list[dict]) -> list[str]:
    """Reference ranges of one measure and population must not share an age: only the first
    in the table would ever be used (grading.reference_range), the other silently never."""
    problems, by_key = [], {}
    for r in ranges:
        by_key.setdefault((r["measure"], r["population"]), []).append(r)
    for group in by_key.values():
        for i, a in enumerate(group):
            for b in group[:i]:
                lo = max(a.get("age_min_days") or 0, b.get("age_min_days") or 0)
                hi = min(
                    math.inf if r.get("age_max_days") is None else r["age_max_days"] for r in (a, b)
                )
                if lo < hi:
                    problems.append(
                        f"reference_ranges[{a['id']!r}]: its ages overlap those of "
                        f"reference_ranges[{b['id']!r}] (same measure and population); only "
                        "the first would be used: make the age bands meet without overlapping"
                    )
    return problems


def _within_measure(data: dict) -> list[str]:
    """Every number the schema compares with a count (`compares: measure`: scale bands,
    reference limits) lies between 0 and its measure's max_cells_per_ul, the bound input counts
    are held to: an overlay's 1e300, or a figure written in 10^9/L by mistake, is refused."""
    tops = {m["id"]: m["max_cells_per_ul"] for m in data.get("measures", [])}
    problems: list[str] = []

    def walk(schema: dict, entry: dict, where: str, top: float, measure: str) -> None:
        for key, (kind, _req, extra) in schema.items():
            value = entry.get(key)
            if kind == "table" and isinstance(value, list):
                for i, row in enumerate(value):
                    if isinstance(row, dict):
                        walk(extra, row, f"{where}.{key}[{i + 1}]", top, measure)
            elif extra.get("compares") == "measure" and _is_num(value) and not 0 <= value <= top:
                problems.append(
                    f"{where}.{key}: {value:g} is outside 0-{top:g} cells/uL (the range "
                    f"measures[{measure!r}] allows); check the number and its unit"
                )

    for table, schema in SCHEMA.items():
        if "measure" not in schema:
            continue
        for i, entry in enumerate(data.get(table, [])):
            top = tops.get(entry.get("measure")) if isinstance(entry, dict) else None
            if top is not None:
                walk(schema, entry, _where(table, i, entry), top, entry["measure"])
    return problems


def _integrity(data: dict) -> list[str]:
    """Rules across entries: category words unique, a reviewed cause carries its review record,
    every reference is cited and none is listed twice (same PMID, DOI, or title and year). Of a
    cause it reads only checked_fields("causes")."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    for c in data.get("categories", []):
        for word in (c["id"], *(c.get("aliases") or [])):
            key = " ".join(word.casefold().replace("-", " ").split())
            if owner.setdefault(key, c["id"]) != c["id"]:
                problems.append(
                    f"categories[{c['id']!r}].aliases: {word!r} already names category "
                    f"{owner[key]!r}"
                )
    last_updated = (data.get("meta") or {}).get("last_updated")
    for c in data.get("causes", []):
        given = [k for k in DRUG_FIELDS if c.get(k) is not None]
        if given and len(given) != len(DRUG_FIELDS):  # `leuko meds` shows every one of them
            missing = ", ".join(k for k in DRUG_FIELDS if k not in given)
            problems.append(f"causes[{c['id']!r}]: a drug cause needs every drug field ({missing})")
        records = c.get("review") or []
        if c.get("review_status") in ("reviewed", "verified") and not records:
            problems.append(
                f"causes[{c['id']!r}].review_status: {c['review_status']!r} needs a review record "
                "([[causes.review]] with date, reviewer, checked, corrections)"
            )
        for r in records:
            if last_updated and isinstance(r.get("date"), str) and r["date"] > last_updated:
                problems.append(
                    f"causes[{c['id']!r}].review: date {r['date']} is after meta.last_updated"
                )
    problems += _overlapping_ranges(data.get("reference_ranges", []))
    problems += _within_measure(data)
    cited = _cited(data)
    seen: dict[tuple[str, str], str] = {}
    for r in data.get("references", []):
        if r["id"] not in cited:
            problems.append(
                f"references[{r['id']!r}]: cited by nothing; cite it where it supports a "
                "statement, or remove it"
            )
        keys = [("PMID", r.get("pmid")), ("DOI", (r.get("doi") or "").casefold() or None)]
        keys.append(("title and year", f"{_fold_title(r['title'])} {r['year']}"))
        for label, value in keys:
            if value is None:
                continue
            first = seen.setdefault((label, value), r["id"])
            if first != r["id"]:
                problems.append(
                    f"references[{r['id']!r}]: duplicates references[{first!r}] (same {label})"
                )
    return problems
