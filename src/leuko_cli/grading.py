"""Generic grading: every number comes from the knowledge base; this module only compares.

Pure Python (no Typer, no Rich). Counts are handled in cells/µL internally; units are KB entries.
"""

from __future__ import annotations

from .errors import InputError
from .inputs import DAYS_PER_YEAR
from .kb import LLN, KnowledgeBase

ADULT_DAYS = DAYS_PER_YEAR * 40
ANC_FORMULA = "ANC = WBC x (segmented % + band %) / 100"


def significant(x: float, digits: int = 15) -> float:
    """x rounded to `digits` significant digits (the precision grades are compared at)."""
    return float(f"{x:.{digits}g}")


def anc_from_differential(wbc_cells: float, segs_pct: float, bands_pct: float) -> float:
    """The ANC formula, written once: segmented plus band neutrophils as a share of the WBC
    (metamyelocytes and younger forms excluded; clinical-facts 8.1)."""
    return wbc_cells * (segs_pct + bands_pct) / 100


TYPE_CHECKING = False  # typing stays off the start-up path (about 3 ms)
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

# --- grading ----------------------------------------------------------------------------------


def _bound(value: Any, lln: float | None) -> float | None:
    if value == LLN:
        return lln
    return value


def grade(scale: dict, cells: float, lln: float | None = None) -> dict:
    """Grade a count (cells/µL) on a scale. Bands are [lower, upper).

    A band bounded by "LLN" needs the laboratory's lower limit; without one that band is treated
    as empty, and `lln_needed` says whether the answer could change with an LLN.

    Values are compared at 15 significant digits, as admiral does: a binary artefact such as
    0.7999999999999999 (x 10^9/L) grades as the 0.8 it prints as.
    """
    cells = significant(cells)
    lln = None if lln is None else significant(lln)
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
    if lln_needed:  # the count could be in the LLN-bounded band or above it: unknown, not zero
        return {
            "scale": scale["id"],
            "system": scale.get("system"),
            "version": scale.get("version"),
            "term": scale.get("term"),
            "grade": None,
            "label": "unknown: needs the lab's lower limit of normal",
            "meaning": None,
            "patient_meaning": None,
            "action": None,
            "monitoring": None,
            "lln_needed": True,
            "lln": None,
            "references": scale["references"],
            "origin": scale.get("source_location"),
            "possible_grades": sorted(
                {chosen["grade"]}
                | {b["grade"] for b in bands if LLN in (b["lower"], b.get("upper"))}
            ),
        }
    return {
        "scale": scale["id"],
        "system": scale.get("system"),
        "version": scale.get("version"),
        "term": scale.get("term"),
        "grade": chosen["grade"],
        "label": chosen["label"],
        "meaning": chosen.get("meaning"),
        "patient_meaning": chosen.get("patient_meaning"),
        "action": chosen.get("action"),
        "monitoring": chosen.get("monitoring"),
        "lln_needed": lln_needed,
        "lln": lln,
        "references": scale["references"],
        "origin": scale.get("source_location"),
    }


def ctcae_scale(kb: KnowledgeBase, measure: str, version: str) -> dict | None:
    return next(
        (
            s
            for s in kb.table("scales")
            if s["system"] == "CTCAE" and s["measure"] == measure and s["version"] == version
        ),
        None,
    )


def check_ctcae_version(kb: KnowledgeBase, version: str) -> str:
    versions = kb.settings["ctcae_versions"]
    aliases = dict(a.split("=", 1) for a in kb.settings.get("ctcae_version_aliases") or [])
    v = version.strip().lower().removeprefix("v")
    v = aliases.get(v, v)
    if v not in versions:
        raise InputError(f"unknown CTCAE version {version!r}; use one of: {', '.join(versions)}")
    return v


def reference_range(
    kb: KnowledgeBase, measure: str, age_days: float | None, duffy_null: bool
) -> tuple[dict | None, str | None]:
    """The reference range for this patient, and a note when a requested population has no
    established range (e.g. Duffy-null children) and the general one was used instead."""

    def fits(r: dict) -> bool:
        lo, hi = r.get("age_min_days"), r.get("age_max_days")
        age = ADULT_DAYS if age_days is None else age_days  # no age given: an adult
        return (lo is None or age >= lo) and (hi is None or age < hi)

    candidates = [r for r in kb.table("reference_ranges") if r["measure"] == measure and fits(r)]
    note = None
    if duffy_null:
        specific = [r for r in candidates if r["population"] == "duffy-null"]
        if specific:
            return specific[0], None
        if any(
            r["population"] == "duffy-null" and r["measure"] == measure
            for r in kb.table("reference_ranges")
        ):
            note = (
                "no Duffy-null reference range is established for this age; "
                "the general range is shown"
            )
    general = [r for r in candidates if r["population"] == "general"]
    return (general[0] if general else None), note


def compare_with_range(rng: dict, cells: float) -> tuple[bool | None, str | None]:
    """(below the lower limit?, why unknown). Unknown when the range has no established lower
    limit, or the count falls inside the bracket where the limit itself lies."""
    cells = significant(cells)
    if rng.get("lower") is not None:
        return cells < rng["lower"], None
    low, high = rng.get("lower_limit_min"), rng.get("lower_limit_max")
    if low is not None:
        if cells < low:
            return True, None
        if cells >= high:
            return False, None
        return None, (
            f"the lower limit for {rng['name']} lies between {low:g} and {high:g}/uL; "
            "this count needs the hour-specific chart"
        )
    return None, f"no lower limit is established for {rng['name']}"


def has_fever(rule: dict, temp_c: float, sustained: bool) -> bool:
    single = (
        temp_c >= rule["single_temp_c"]
        if rule["single_inclusive"]
        else temp_c > rule["single_temp_c"]
    )
    return single or (sustained and temp_c >= rule["sustained_temp_c"])


def febrile_neutropenia(rule: dict, anc_cells: float, temp_c: float, sustained: bool) -> bool:
    return has_fever(rule, temp_c, sustained) and anc_cells < rule["anc_below"]


def febrile_neutropenia_ae(
    kb: KnowledgeBase, version: str, anc_cells: float, temp_c: float, sustained: bool
) -> dict | None:
    """The CTCAE 'Febrile neutropenia' adverse event for this version: the rule's grade when its
    ANC and temperature criteria are met (higher grades depend on consequences a count cannot
    show; the rule's note says so)."""
    rule = next(
        (
            r
            for r in kb.table("fever_rules")
            if r["system"] == "CTCAE" and version in r["version"].split("/")
        ),
        None,
    )
    if rule is None:
        return None
    met = febrile_neutropenia(rule, anc_cells, temp_c, sustained)
    return {
        "term": "Febrile neutropenia",
        "system": "CTCAE",
        "version": version,
        "rule": rule["id"],
        "criteria_met": met,
        "grade": rule.get("grade") if met else None,
        "summary": rule["summary"],
        "note": rule.get("note"),
        "references": rule["references"],
    }


def find_drug(kb: KnowledgeBase, name: str) -> list[dict]:
    wanted = name.strip().lower()
    tables = [
        d
        for d in kb.table("drug_monitoring")
        if wanted in {d["drug"].lower(), *(s.lower() for s in d["synonyms"])}
    ]
    if not tables:
        known = sorted({d["drug"] for d in kb.table("drug_monitoring")})
        raise InputError(f"no monitoring table for drug {name!r}; known: {', '.join(known)}")
    return tables


def drug_monitoring(kb: KnowledgeBase, name: str, anc_cells: float, duffy_null: bool) -> dict:
    tables = find_drug(kb, name)
    population = "duffy-null" if duffy_null else "general"
    table = next((t for t in tables if t["population"] == population), tables[0])
    result = grade(table, anc_cells)
    return {
        "drug": table["drug"],
        "table": table["id"],
        "name": table["name"],
        "population": table["population"],
        "category": result["label"],
        "action": result["action"],
        "monitoring": result["monitoring"],
        "status": table["status"],
        "note": table.get("note"),
        "references": table["references"],
        "origin": table.get("source_location"),
    }


def score(kb: KnowledgeBase, score_id: str, answers: dict[str, bool]) -> dict:
    """Add up a points score (e.g. MASCC). Items sharing a `group` are mutually exclusive."""
    sc = kb.get("scores", score_id)
    groups: dict[str, list[str]] = {}
    for item in sc["items"]:
        if item.get("group") and answers.get(item["id"]):
            groups.setdefault(item["group"], []).append(item["id"])
    for group, chosen in groups.items():
        if len(chosen) > 1:
            raise InputError(
                f"choose one of {' / '.join('--' + c for c in chosen)} "
                f"({group} options exclude each other)"
            )
    total = sum(i["points"] for i in sc["items"] if answers.get(i["id"]))
    low = total >= sc["low_risk_min"]
    return {
        "score": sc["id"],
        "name": sc["name"],
        "points": total,
        "max": sc["max"],
        "low_risk_min": sc["low_risk_min"],
        "risk": "low" if low else "high",
        "meaning": sc["low_risk_meaning"] if low else sc["high_risk_meaning"],
        "items": [
            {
                "id": i["id"],
                "text": i["text"],
                "points": i["points"],
                "present": bool(answers.get(i["id"])),
            }
            for i in sc["items"]
        ],
        "limits": sc["limits"],
        "references": sc["references"],
    }
