"""Generic grading: every number comes from the knowledge base; this module only compares.

Pure Python (no Typer, no Rich). Counts are handled in cells/µL internally; units are KB entries.
"""

from __future__ import annotations

from .errors import InputError, check_choice
from .inputs import DAYS_PER_YEAR
from .kb import LLN, KnowledgeBase

ADULT_DAYS = DAYS_PER_YEAR * 40
ANC_FORMULA = "ANC = WBC x (segmented % + band %) / 100"


def significant(x: float, digits: int = 15) -> float:
    """x rounded to `digits` significant digits (the precision grades are compared at)."""
    if digits != 15:
        return float(f"{x:.{digits}g}")
    if type(x) is float and x.is_integer() and -1e15 < x < 1e15:
        return x  # a whole number of at most 15 digits: its own rounding (8x faster)
    return float(f"{x:.15g}")


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
        if lo != LLN and hi != LLN:  # most bands: two numbers (or no upper bound)
            lo_v, hi_v = lo, hi
        else:
            lo_v, hi_v = _bound(lo, lln), _bound(hi, lln)
        if lln is None and (lo == LLN or hi == LLN):
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
        if lo_v <= cells and (
            hi_v is None or cells < hi_v or (band.get("upper_inclusive") and cells == hi_v)
        ):
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
        "age_min_days": scale.get("age_min_days"),
        "age_max_days": scale.get("age_max_days"),
        "references": scale["references"],
        "origin": scale.get("source_location"),
    }


def scale_for(
    kb: KnowledgeBase, system: str, version: str, term: str, age_days: float | None = None
) -> dict | None:
    """The scale of a criteria set for a term, for the age (in days) where the set splits by
    age; None when the set has no such term (or none for this age)."""
    found = [
        s
        for s in kb.table("scales")
        if s["system"] == system and s["version"] == version and s["term"] == term
    ]
    if age_days is None:
        return found[0] if len(found) == 1 else None
    return next((s for s in found if applies_at_age(s, age_days)), None)


def applies_at_age(scale: dict, age_days: float) -> bool:
    """Whether a scale's age limits (age_min_days <= completed days < age_max_days; a scale
    without them applies at every age) include this age: ages count in completed days, as
    DAIDS writes them."""
    lo, hi = scale.get("age_min_days"), scale.get("age_max_days")
    completed = int(age_days)
    return (lo is None or completed >= lo) and (hi is None or completed < hi)


def ctcae_scale(kb: KnowledgeBase, measure: str, version: str) -> dict | None:
    return next(
        (
            s
            for s in kb.table("scales")
            if s["system"] == "CTCAE" and s["measure"] == measure and s["version"] == version
        ),
        None,
    )


def ctcae_scale_or_newest(kb: KnowledgeBase, measure: str, version: str) -> tuple[dict, str]:
    """(scale, version used): the version's own CTCAE scale for the measure, else the newest
    version that defines it (lymphocytes under 6.0: our sources have no 6.0 term). Callers say
    so when the version differs."""
    scale = ctcae_scale(kb, measure, version)
    if scale is not None:
        return scale, version
    return newest_ctcae(kb, lambda v: ctcae_scale(kb, measure, v))


def newest_ctcae(kb: KnowledgeBase, find) -> tuple[Any, str | None]:
    """(find(version), version) for the newest CTCAE version where find gives an entry, or
    (None, None): what stands in for a version the KB has no entry of."""
    for version in reversed(kb.settings["ctcae_versions"]):
        found = find(version)
        if found is not None:
            return found, version
    return None, None


def check_ctcae_version(kb: KnowledgeBase, version: str) -> str:
    versions = kb.settings["ctcae_versions"]
    aliases = dict(a.split("=", 1) for a in kb.settings.get("ctcae_version_aliases") or [])
    v = version.strip().lower().removeprefix("v")
    v = aliases.get(v, v)
    check_choice("CTCAE version", v, versions, shown=version)
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


def ctcae_fever_rule(kb: KnowledgeBase, version: str) -> dict | None:
    """The KB's CTCAE 'Febrile neutropenia' rule of this version, if it has one."""
    return next(
        (
            r
            for r in kb.table("fever_rules")
            if r["system"] == "CTCAE" and version in r["version"].split("/")
        ),
        None,
    )


def febrile_neutropenia_ae(
    kb: KnowledgeBase, version: str, anc_cells: float, temp_c: float, sustained: bool
) -> dict | None:
    """The CTCAE 'Febrile neutropenia' adverse event for this version: the rule's grade when its
    ANC and temperature criteria are met (higher grades depend on consequences a count cannot
    show; the rule's note says so)."""
    rule = ctcae_fever_rule(kb, version)
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


def regions(kb: KnowledgeBase) -> list[str]:
    """The countries the KB holds drug-monitoring rules for (the values `--region` accepts)."""
    return sorted({d["region"] for d in kb.table("drug_monitoring")})


def check_region(kb: KnowledgeBase, value: str) -> str:
    wanted = value.strip().upper()
    known = regions(kb)
    if wanted not in known:
        raise InputError(
            f"unknown region {value!r}; the knowledge base has monitoring rules for: "
            f"{', '.join(known)}"
        )
    return wanted


def find_drug(kb: KnowledgeBase, name: str, region: str | None = None) -> list[dict]:
    """The drug's monitoring tables (of `region` when given); refused, naming the choices,
    when the KB has none (a table of another country is never used silently)."""
    wanted = name.strip().lower()
    tables = [
        d
        for d in kb.table("drug_monitoring")
        if wanted in {d["drug"].lower(), *(s.lower() for s in d["synonyms"])}
    ]
    if not tables:
        known = sorted({d["drug"] for d in kb.table("drug_monitoring")})
        raise InputError(f"no monitoring table for drug {name!r}; known: {', '.join(known)}")
    if region is None:
        return tables
    here = [t for t in tables if t["region"] == region]
    if not here:
        have = sorted({t["region"] for t in tables})
        raise InputError(
            f"no {region} monitoring table for {tables[0]['drug']}; the knowledge base has "
            f"one for: {', '.join(have)} (choose with --region)"
        )
    return here


def drug_monitoring(
    kb: KnowledgeBase,
    name: str,
    anc_cells: float,
    duffy_null: bool,
    region: str,
    wbc_cells: float | None = None,
) -> dict:
    """Grade a count on the drug's monitoring table for `region` and the patient's population.

    A table with `wbc_bands` grades the WBC and the ANC together and the worse band decides
    (the UK scheme); without a WBC its status is known only when the ANC alone is already in
    the worst band, else it is 'this or worse' (`complete` false) and a note asks for --wbc.
    """
    tables = find_drug(kb, name, region)
    population = "duffy-null" if duffy_null else "general"
    notes = []
    table = next((t for t in tables if t["population"] == population), None)
    if table is None:
        table = next((t for t in tables if t["population"] == "general"), tables[0])
        notes.append(
            f"The knowledge base has no {region} {table['drug']} table for a {population} "
            f"population; this is the {table['population']} table."
        )
    by_anc = grade(table, anc_cells)
    chosen, complete = by_anc, True
    wbc_label = None
    if table.get("wbc_bands"):
        worst = max(b["grade"] for b in table["wbc_bands"])
        if wbc_cells is None:
            complete = by_anc["grade"] >= worst
            if not complete:
                notes.append(
                    f"The {region} table grades the WBC and the neutrophils together and the "
                    "worse decides: add --wbc for the full status (with the WBC it can only be "
                    "the same or worse)."
                )
        else:
            by_wbc = grade({**table, "bands": table["wbc_bands"]}, wbc_cells)
            wbc_label = by_wbc["label"]
            if by_wbc["grade"] > by_anc["grade"]:
                chosen = by_wbc
    return {
        "drug": table["drug"],
        "table": table["id"],
        "name": table["name"],
        "region": table["region"],
        "population": table["population"],
        "category": chosen["label"] if complete else f"{chosen['label']} or worse",
        "complete": complete,
        "by_measure": {"anc": by_anc["label"], "wbc": wbc_label},
        "action": chosen["action"],
        "monitoring": chosen["monitoring"],
        "status": table["status"],
        "schedule": table["schedule"],
        "note": " ".join([table["note"], *notes] if table.get("note") else notes) or None,
        "references": table["references"],
        "origin": table.get("source_location"),
    }


def score(
    kb: KnowledgeBase, score_id: str, answers: dict[str, bool], *, none_apply: bool = False
) -> dict:
    """Add up a points score (e.g. MASCC). Items sharing a `group` are mutually exclusive.
    An item not given counts as absent, but no item at all is an unanswered score, not 0:
    `none_apply` says that none of them applies."""
    sc = kb.get("scores", score_id)
    given = any(answers.values())
    if given and none_apply:
        raise InputError("--none-apply means no factor applies: drop it or the factors")
    if not given and not none_apply:
        raise InputError(
            f"no {sc['name']} factor given: pass each one that applies (see --help), "
            "or --none-apply for a patient with none of them"
        )
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
