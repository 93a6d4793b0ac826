"""`leuko assess --fhir FILE`: read counts from a FHIR R4 Observation or Bundle and grade them.

Pure Python (no Typer, no Rich). This module only maps LOINC codes and UCUM units to the
request `assess.assess` already understands; all grading happens there.

Grouping: Observations are grouped by (subject, effectiveDateTime). Each group becomes one
assessment. Within a group, the same analyte twice with different values is an error.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import InputError

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"

# LOINC code -> analyte (clinical-facts §8.3)
LOINC: dict[str, str] = {
    "751-8": "anc", "26499-4": "anc", "753-4": "anc",
    "6690-2": "wbc", "26464-8": "wbc", "804-5": "wbc",
    "731-0": "lymphocytes", "26474-7": "lymphocytes", "732-8": "lymphocytes",
    "770-8": "neutrophils", "26511-6": "neutrophils", "23761-0": "neutrophils",
}
ANALYTE_NAMES = {"anc": "ANC", "wbc": "WBC", "lymphocytes": "absolute lymphocytes",
                 "neutrophils": "neutrophil %"}
# UCUM code -> the knowledge base unit id ("%" is for the neutrophil percentage only)
UCUM: dict[str, str] = {"10*3/uL": "10^9/L", "10*9/L": "10^9/L", "/uL": "cells/uL",
                        "/mm3": "cells/uL", "%": "%"}
COUNT_UNITS = ", ".join(u for u in UCUM if u != "%")
SKIPPED_STATUSES = {"entered-in-error", "cancelled"}


def read(path: str, stdin_text: str | None = None) -> Any:
    """Parse the FHIR JSON (path "-" reads stdin_text)."""
    if path == "-":
        text = stdin_text or ""
    else:
        try:
            with open(path, encoding="utf-8-sig") as fh:
                text = fh.read()
        except OSError as err:
            raise InputError(f"--fhir {path}: cannot read ({err.strerror})") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise InputError(f"--fhir {path}: not valid JSON ({err}); give a FHIR R4 Observation "
                         "or Bundle in JSON") from None


def observations(doc: Any) -> list[dict]:
    """The Observation resources in an Observation or a Bundle (searchset, collection...)."""
    if not isinstance(doc, dict):
        raise InputError("--fhir expects a JSON object: a FHIR Observation or Bundle")
    kind = doc.get("resourceType")
    if kind == "Observation":
        return [doc]
    if kind == "Bundle":
        found = []
        for entry in doc.get("entry") or []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and res.get("resourceType") == "Observation":
                found.append(res)
        if not found:
            raise InputError("--fhir: the Bundle has no Observation entries")
        return found
    raise InputError(f"--fhir: resourceType {kind!r} is not supported; give an Observation or "
                     "a Bundle of Observations")


def _label(obs: dict, n: int) -> str:
    return f"Observation {obs['id']!r}" if isinstance(obs.get("id"), str) else f"Observation #{n}"


def _analyte(obs: dict, label: str) -> tuple[str, str]:
    codings = (obs.get("code") or {}).get("coding") or []
    seen = []
    for c in codings:
        if not isinstance(c, dict):
            continue
        system, code = c.get("system"), c.get("code")
        if system not in (None, LOINC_SYSTEM):
            continue
        seen.append(str(code))
        if code in LOINC:
            return LOINC[code], code
    got = ", ".join(seen) if seen else "none"
    raise InputError(f"{label}: LOINC code {got} is not one leuko grades; use ANC 751-8, "
                     "26499-4, 753-4; WBC 6690-2, 26464-8, 804-5; lymphocytes 731-0, 26474-7, "
                     "732-8; neutrophil % 770-8, 26511-6, 23761-0")


def _quantity(obs: dict, analyte: str, label: str) -> tuple[float, str]:
    q = obs.get("valueQuantity")
    if not isinstance(q, dict) or "value" not in q:
        raise InputError(f"{label}: no valueQuantity.value; leuko reads numeric results only")
    value = q["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{label}: valueQuantity.value must be a number, got {value!r}")
    if q.get("comparator"):
        raise InputError(f"{label}: a value with comparator {q['comparator']!r} cannot be "
                         "graded; give the measured value")
    system = q.get("system")
    ucum = q.get("code") if system in (None, UCUM_SYSTEM) and q.get("code") else q.get("unit")
    unit = UCUM.get(ucum) if isinstance(ucum, str) else None
    if analyte == "neutrophils":
        if unit != "%":
            raise InputError(f"{label}: unit {ucum!r} is not a percentage; the neutrophil "
                             "fraction must be in % (UCUM '%')")
    elif unit is None or unit == "%":
        raise InputError(f"{label}: unit {ucum!r} is not supported for "
                         f"{ANALYTE_NAMES[analyte]}; use one of: {COUNT_UNITS} (UCUM)")
    return float(value), unit


def groups(doc: Any) -> list[dict]:
    """[{subject, effective, observations: [ids], values: {analyte: (value, unit)}}] in the
    order first seen. Raises InputError on unknown codes/units or conflicting values."""
    out: dict[tuple, dict] = {}
    for n, obs in enumerate(observations(doc), start=1):
        if obs.get("status") in SKIPPED_STATUSES:
            continue
        label = _label(obs, n)
        analyte, code = _analyte(obs, label)
        value, unit = _quantity(obs, analyte, label)
        subject = (obs.get("subject") or {}).get("reference")
        effective = obs.get("effectiveDateTime") or (obs.get("effectivePeriod") or {}).get(
            "start")
        key = (subject, effective)
        g = out.setdefault(key, {"subject": subject, "effective": effective,
                                 "observations": [], "values": {}, "codes": {}})
        g["observations"].append(obs.get("id"))
        prev = g["values"].get(analyte)
        if prev is not None and _cells(prev) != _cells((value, unit)):
            when = f" at {effective}" if effective else ""
            raise InputError(f"{label}: a second {ANALYTE_NAMES[analyte]} value "
                             f"({value:g} {unit}) differs from the first ({prev[0]:g} "
                             f"{prev[1]}){when}; give one value per analyte and time")
        g["values"][analyte] = (value, unit)
        g["codes"].setdefault(analyte, code)
    if not out:
        raise InputError("--fhir: every Observation is entered-in-error or cancelled")
    return list(out.values())


def _cells(vu: tuple[float, str]) -> float:
    value, unit = vu
    return value * 1000 if unit == "10^9/L" else value  # only to compare duplicates


def request_values(group: dict, factors: dict[str, float]) -> tuple[dict, list[str]]:
    """AssessRequest count fields (and unit) for one group, plus notes on what was left out.

    factors: KB unit id -> factor_to_cells_per_ul (used only when units are mixed)."""
    vals = dict(group["values"])
    notes: list[str] = []
    if "neutrophils" in vals and "anc" in vals:
        notes.append("neutrophil % ignored: the ANC was reported directly")
        del vals["neutrophils"]
    if "neutrophils" in vals and "wbc" not in vals:
        notes.append("neutrophil % ignored: it needs a WBC in the same group to give an ANC")
        del vals["neutrophils"]
    counts = {k: v for k, v in vals.items() if k != "neutrophils"}
    if not counts:
        raise InputError("--fhir: no ANC, WBC or lymphocyte count found (LOINC 751-8, 6690-2, "
                         "731-0 and their variants)")
    units = {u for _v, u in counts.values()}
    if len(units) == 1:
        unit = units.pop()
        fields: dict[str, Any] = {k: v for k, (v, _u) in counts.items()}
    else:  # mixed units: give assess cells/uL
        unit = "cells/uL"
        fields = {k: v * factors[u] for k, (v, u) in counts.items()}
    if "neutrophils" in vals:
        fields["neutrophils"] = vals["neutrophils"][0]
    fields["unit"] = unit
    return fields, notes


def assess_doc(kb, doc: Any, base: dict) -> list[dict]:
    """Grade each group; `base` holds the other AssessRequest fields (temp, age, ...)."""
    from .assess import AssessRequest, assess

    factors = {u["id"]: u["factor_to_cells_per_ul"] for u in kb.table("units")}
    results = []
    for g in groups(doc):
        fields, notes = request_values(g, factors)
        result = assess(kb, AssessRequest(**{**base, **fields}))
        result["notes"] = notes + result.get("notes", [])
        result["fhir"] = {"subject": g["subject"], "effective": g["effective"],
                          "observations": g["observations"], "loinc": g["codes"]}
        results.append(result)
    return results
