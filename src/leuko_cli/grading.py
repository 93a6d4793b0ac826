"""Generic grading: every number comes from the knowledge base; this module only compares.

Pure Python (no Typer, no Rich). Counts are handled in cells/µL internally; units are KB entries.
"""

from __future__ import annotations

import math
import re

from .errors import InputError
from .kb import LLN, KnowledgeBase

TYPE_CHECKING = False  # typing stays off the start-up path (about 3 ms)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

DAYS_PER_YEAR = 365.25


# --- parsing user input -----------------------------------------------------------------------

def parse_number(text: str | float | int, flag: str) -> float:
    """A finite, non-negative number, or InputError naming the flag."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip().replace(",", "") if isinstance(text, str) else ""
        try:
            value = float(s)
        except ValueError:
            raise InputError(f"{flag} expects a number, got {text!r}") from None
        if s.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise InputError(f"{flag} must be a finite number, got {text!r}")
    if math.isnan(value) or math.isinf(value):
        raise InputError(f"{flag} must be a finite number, got {text!r}")
    if value < 0:
        raise InputError(f"{flag} cannot be negative (got {text}); give the count as reported")
    return value


def _norm_unit(text: str) -> str:
    s = text.strip().lower().replace(" ", "")
    s = s.replace("µ", "u").replace("μ", "u").replace("mcl", "ul").replace("×", "x")
    s = s.replace("cells/", "/").replace("e9", "^9").replace("e3", "^3").replace("*", "^")
    return s


def find_unit(kb: KnowledgeBase, text: str) -> dict:
    wanted = _norm_unit(text)
    for unit in kb.table("units"):
        if wanted in {_norm_unit(a) for a in [unit["id"], *unit["aliases"]]}:
            return unit
    names = ", ".join(u["id"] for u in kb.table("units"))
    raise InputError(f"unknown unit {text!r}; use one of: {names}")


def _other_unit(kb: KnowledgeBase, unit: dict) -> dict | None:
    return next((u for u in kb.table("units") if u["id"] != unit["id"]), None)


def to_cells(kb: KnowledgeBase, measure_id: str, value: float, unit: dict, flag: str) -> float:
    """Convert to cells/µL and refuse values implausible in the chosen unit (never reinterpret)."""
    measure = kb.get("measures", measure_id)
    cells = value * unit["factor_to_cells_per_ul"]
    other = _other_unit(kb, unit)
    hint = f"; if it is in {other['id']}, add --unit {other['id']}" if other else ""
    if 0 < cells < measure["min_positive_cells_per_ul"]:
        raise InputError(f"{flag} {value:g} {unit['id']} is implausibly low for a "
                         f"{measure['name'].lower()}{hint}")
    if cells > measure["max_cells_per_ul"]:
        raise InputError(f"{flag} {value:g} {unit['id']} is implausibly high for a "
                         f"{measure['name'].lower()}{hint}")
    return cells


def from_cells(cells: float, unit: dict) -> float:
    return cells / unit["factor_to_cells_per_ul"]


def parse_percent(text: str | float, flag: str) -> float:
    value = parse_number(text, flag)
    if value > 100:
        raise InputError(f"{flag} is a percentage of the white count and cannot exceed 100 "
                         f"(got {value:g})")
    return value


_TEMP = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*°?\s*([cCfF]?)\s*$")


def parse_temperature(text: str | float, low: float = 25.0, high: float = 45.0) -> float:
    """°C by default; a trailing F means Fahrenheit. Refuses values outside low–high °C."""
    m = _TEMP.match(str(text))
    if not m:
        raise InputError(f"--temp expects a temperature like 38.4 or 101.2F, got {text!r}")
    value = float(m.group(1))
    celsius = (value - 32) * 5 / 9 if m.group(2).lower() == "f" else value
    if not low <= celsius <= high:
        raise InputError(f"--temp {text} is outside {low:g}–{high:g} °C; give °C, or add F "
                         "for Fahrenheit (e.g. 101.2F)")
    return round(celsius, 2)


def parse_age_days(text: str | float) -> float:
    years = parse_number(text, "--age")
    if years > 130:
        raise InputError(f"--age is in years and must be at most 130 (got {years:g})")
    return years * DAYS_PER_YEAR


# --- grading ----------------------------------------------------------------------------------

def _bound(value: Any, lln: float | None) -> float | None:
    if value == LLN:
        return lln
    return value


def grade(scale: dict, cells: float, lln: float | None = None) -> dict:
    """Grade a count (cells/µL) on a scale. Bands are [lower, upper).

    A band bounded by "LLN" needs the laboratory's lower limit; without one that band is treated
    as empty, and `lln_needed` says whether the answer could change with an LLN.
    """
    bands = scale["bands"]
    lln_needed = False
    chosen = None
    for band in bands:
        lo, hi = band["lower"], band.get("upper")
        lo_v, hi_v = _bound(lo, lln), _bound(hi, lln)
        if LLN in (lo, hi) and lln is None:
            # the LLN-bounded band is empty without an LLN; its numeric side marks where
            # a count would need one to be graded fully
            numeric = hi if lo == LLN else lo
            if isinstance(numeric, (int, float)) and cells >= numeric:
                lln_needed = True
            if lo == LLN:
                lo_v = hi if isinstance(hi, (int, float)) else None
            if hi == LLN:
                hi_v = lo
        if lo_v is None:
            lo_v = 0
        if lo_v <= cells and (hi_v is None or cells < hi_v):
            chosen = band
            break
    if chosen is None:  # an LLN at or below a numeric bound empties a band: take the top band
        chosen = next(b for b in reversed(bands) if b.get("upper") is None)
    return {
        "scale": scale["id"], "system": scale.get("system"), "version": scale.get("version"),
        "term": scale.get("term"), "grade": chosen["grade"], "label": chosen["label"],
        "meaning": chosen.get("meaning"), "patient_meaning": chosen.get("patient_meaning"),
        "action": chosen.get("action"), "monitoring": chosen.get("monitoring"),
        "lln_needed": lln_needed, "lln": lln, "references": scale["references"],
    }


def ctcae_scale(kb: KnowledgeBase, measure: str, version: str) -> dict | None:
    return next((s for s in kb.table("scales") if s["system"] == "CTCAE"
                 and s["measure"] == measure and s["version"] == version), None)


def check_ctcae_version(kb: KnowledgeBase, version: str) -> str:
    versions = kb.settings["ctcae_versions"]
    v = version.strip().lower().removeprefix("v")
    if v in ("5", "6"):
        v += ".0"
    if v not in versions:
        raise InputError(f"unknown CTCAE version {version!r}; use one of: {', '.join(versions)}")
    return v


def reference_range(kb: KnowledgeBase, measure: str, age_days: float | None,
                    duffy_null: bool) -> tuple[dict | None, str | None]:
    """The reference range for this patient, and a note when a requested population has no
    established range (e.g. Duffy-null children) and the general one was used instead."""
    def fits(r: dict) -> bool:
        lo, hi = r.get("age_min_days"), r.get("age_max_days")
        age = DAYS_PER_YEAR * 40 if age_days is None else age_days  # adult default
        return (lo is None or age >= lo) and (hi is None or age < hi)

    candidates = [r for r in kb.table("reference_ranges") if r["measure"] == measure and fits(r)]
    note = None
    if duffy_null:
        specific = [r for r in candidates if r["population"] == "duffy-null"]
        if specific:
            return specific[0], None
        if any(r["population"] == "duffy-null" and r["measure"] == measure
               for r in kb.table("reference_ranges")):
            note = ("no Duffy-null reference range is established for this age; "
                    "the general range is shown")
    general = [r for r in candidates if r["population"] == "general"]
    return (general[0] if general else None), note


def has_fever(rule: dict, temp_c: float, sustained: bool) -> bool:
    single = temp_c >= rule["single_temp_c"] if rule["single_inclusive"] \
        else temp_c > rule["single_temp_c"]
    return single or (sustained and temp_c >= rule["sustained_temp_c"])


def febrile_neutropenia(rule: dict, anc_cells: float, temp_c: float, sustained: bool) -> bool:
    return has_fever(rule, temp_c, sustained) and anc_cells < rule["anc_below"]


def find_drug(kb: KnowledgeBase, name: str) -> list[dict]:
    wanted = name.strip().lower()
    tables = [d for d in kb.table("drug_monitoring")
              if wanted in {d["drug"].lower(), *(s.lower() for s in d["synonyms"])}]
    if not tables:
        known = sorted({d["drug"] for d in kb.table("drug_monitoring")})
        raise InputError(f"no monitoring table for drug {name!r}; known: {', '.join(known)}")
    return tables


def drug_monitoring(kb: KnowledgeBase, name: str, anc_cells: float, duffy_null: bool) -> dict:
    tables = find_drug(kb, name)
    population = "duffy-null" if duffy_null else "general"
    table = next((t for t in tables if t["population"] == population), tables[0])
    result = grade(table, anc_cells)
    return {"drug": table["drug"], "table": table["id"], "name": table["name"],
            "population": table["population"], "category": result["label"],
            "action": result["action"], "monitoring": result["monitoring"],
            "status": table["status"], "note": table.get("note"),
            "references": table["references"]}


def score(kb: KnowledgeBase, score_id: str, answers: dict[str, bool]) -> dict:
    """Add up a points score (e.g. MASCC). Items sharing a `group` are mutually exclusive."""
    sc = kb.get("scores", score_id)
    groups: dict[str, list[str]] = {}
    for item in sc["items"]:
        if item.get("group") and answers.get(item["id"]):
            groups.setdefault(item["group"], []).append(item["id"])
    for group, chosen in groups.items():
        if len(chosen) > 1:
            raise InputError(f"choose one of {' / '.join('--' + c for c in chosen)} "
                             f"({group} options exclude each other)")
    total = sum(i["points"] for i in sc["items"] if answers.get(i["id"]))
    low = total >= sc["low_risk_min"]
    return {"score": sc["id"], "name": sc["name"], "points": total, "max": sc["max"],
            "low_risk_min": sc["low_risk_min"], "risk": "low" if low else "high",
            "meaning": sc["low_risk_meaning"] if low else sc["high_risk_meaning"],
            "items": [{"id": i["id"], "text": i["text"], "points": i["points"],
                       "present": bool(answers.get(i["id"]))} for i in sc["items"]],
            "limits": sc["limits"], "references": sc["references"]}
