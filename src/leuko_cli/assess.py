"""`leuko assess`: turn what the lab report shows into every relevant grade, with sources.

Pure Python: returns a JSON-ready dict that both the JSON printer and the Rich renderer use.
"""

from __future__ import annotations

from . import grading
from .errors import InputError
from .kb import KnowledgeBase


class AssessRequest:
    """What the user typed (strings as given; parsed and checked by `assess`). A plain class,
    not a dataclass: dataclass code generation costs start-up time on every run."""

    anc: str | float | None = None
    wbc: str | float | None = None
    neutrophils: str | float | None = None  # segmented neutrophils, % of WBC
    bands: str | float | None = None  # band neutrophils, % of WBC
    lymphocytes: str | float | None = None
    unit: str | None = None
    ctcae_version: str | None = None
    lln: str | float | None = None  # the lab's ANC lower limit (CTCAE 5.0 grade 1)
    wbc_lln: str | float | None = None
    lymphocytes_lln: str | float | None = None
    age: str | float | None = None
    duffy_null: bool = False
    temp: str | float | None = None
    sustained: bool = False
    drug: str | None = None

    def __init__(self, **values) -> None:
        for key, value in values.items():
            if not hasattr(type(self), key):
                raise TypeError(f"unknown assess field {key!r}")
            setattr(self, key, value)


def _round(x: float | None) -> float | int | None:
    if x is None:
        return None
    r = round(x, 3)
    return int(r) if r == int(r) else r


def assess(kb: KnowledgeBase, req: AssessRequest) -> dict:
    unit = grading.find_unit(kb, req.unit or kb.settings["default_unit"])
    version = grading.check_ctcae_version(kb, req.ctcae_version or
                                          kb.settings["ctcae_default_version"])
    differential = req.neutrophils is not None or req.bands is not None
    if req.anc is not None and differential:
        raise InputError("give either --anc or --wbc with --neutrophils/--bands, not both")
    if differential and req.wbc is None:
        raise InputError("--neutrophils/--bands need --wbc to compute the ANC")
    if req.anc is None and req.wbc is None and req.lymphocytes is None:
        raise InputError("give a count: --anc N, or --wbc N [--neutrophils % --bands %], "
                         "or --lymphocytes N")

    def count(raw, measure: str, flag: str) -> tuple[float, float]:
        value = grading.parse_number(raw, flag)
        return value, grading.to_cells(kb, measure, value, unit, flag)

    def lln(raw, measure: str, flag: str) -> float | None:
        return None if raw is None else count(raw, measure, flag)[1]

    age_days = grading.parse_age_days(req.age) if req.age is not None else None
    temp_c = grading.parse_temperature(req.temp) if req.temp is not None else None
    if req.sustained and temp_c is None:
        raise InputError("--sustained describes a temperature: add --temp")

    refs: list[str] = []
    notes: list[str] = []

    def cite(ids):
        for r in ids:
            if r not in refs:
                refs.append(r)

    # ANC: given, or computed from the differential (segs + bands; younger forms excluded)
    anc_cells = None
    anc_source = None
    wbc_value = wbc_cells = None
    if req.wbc is not None:
        wbc_value, wbc_cells = count(req.wbc, "wbc", "--wbc")
    if req.anc is not None:
        anc_value, anc_cells = count(req.anc, "anc", "--anc")
        anc_source = {"method": "given", "value": _round(anc_value), "unit": unit["id"]}
    elif differential:
        segs = grading.parse_percent(req.neutrophils or 0, "--neutrophils")
        bands = grading.parse_percent(req.bands or 0, "--bands")
        if segs + bands > 100:
            raise InputError(f"--neutrophils + --bands = {segs + bands:g}%, which exceeds 100%")
        anc_cells = wbc_cells * (segs + bands) / 100
        anc_source = {
            "method": "computed", "unit": unit["id"],
            "formula": "ANC = WBC x (segmented % + band %) / 100",
            "arithmetic": (f"{wbc_value:g} x ({segs:g} + {bands:g}) / 100 = "
                           f"{grading.from_cells(anc_cells, unit):g} {unit['id']}"),
        }

    result: dict = {
        "anc": _round(anc_cells), "unit": "cells/uL", "input_unit": unit["id"],
        "anc_in_input_unit": _round(grading.from_cells(anc_cells, unit))
        if anc_cells is not None else None,
        "anc_source": anc_source,
        "severity": None, "ctcae_version": version, "ctcae_grade": None,
        "grades": [], "febrile_neutropenia": None, "fever": None,
        "below_reference": None, "reference_range": None,
    }

    if anc_cells is not None:
        severity = grading.grade(kb.get("scales", kb.settings["severity_scale"]), anc_cells)
        result["severity"] = severity["label"]
        result["severity_detail"] = severity
        cite(severity["references"])
        ctcae = grading.grade(grading.ctcae_scale(kb, "anc", version), anc_cells,
                              lln(req.lln, "anc", "--lln"))
        result["ctcae_grade"] = ctcae["grade"]
        result["grades"] += [severity, ctcae]
        cite(ctcae["references"])
        if ctcae["lln_needed"]:
            notes.append(f"CTCAE {version} grade 1 for this count depends on the laboratory's "
                         "lower limit of normal: pass --lln to grade it")
        for other in kb.table("scales"):
            if other["measure"] == "anc" and other["system"] not in ("CTCAE",) \
                    and other["id"] != severity["scale"]:
                g = grading.grade(other, anc_cells)
                result["grades"].append(g)
                cite(g["references"])
        rng, note = grading.reference_range(kb, "anc", age_days, req.duffy_null)
        if note:
            notes.append(note)
        if rng:
            result["below_reference"] = anc_cells < rng["lower"]
            result["reference_range"] = {"id": rng["id"], "lower": rng["lower"],
                                         "upper": rng.get("upper"), "basis": rng["name"],
                                         "note": rng.get("note")}
            cite(rng["references"])

    for measure, raw_cells, lln_raw, lln_flag in (
            ("wbc", wbc_cells, req.wbc_lln, "--wbc-lln"),
            ("lymphocytes", None if req.lymphocytes is None else
             count(req.lymphocytes, "lymphocytes", "--lymphocytes")[1],
             req.lymphocytes_lln, "--lymphocytes-lln")):
        if raw_cells is None:
            continue
        scale = grading.ctcae_scale(kb, measure, version)
        used = version
        if scale is None:  # e.g. a term this CTCAE version does not define in our sources
            used = next(v for v in reversed(kb.settings["ctcae_versions"])
                        if grading.ctcae_scale(kb, measure, v))
            scale = grading.ctcae_scale(kb, measure, used)
            notes.append(f"CTCAE {version}: no '{scale['term']}' scale in the knowledge base; "
                         f"graded with CTCAE {used}")
        g = grading.grade(scale, raw_cells, lln(lln_raw, measure, lln_flag))
        if g["lln_needed"]:
            notes.append(f"CTCAE {used} grade 1 for this {measure} count depends on the lab's "
                         f"lower limit of normal: pass {lln_flag}")
        rng, _ = grading.reference_range(kb, measure, age_days, req.duffy_null)
        entry = {"value": _round(raw_cells), "ctcae_grade": g["grade"], "ctcae_version": used,
                 "label": g["label"], "scale": g["scale"],
                 "below_reference": (raw_cells < rng["lower"]) if rng else None,
                 "reference_range": {"lower": rng["lower"], "basis": rng["name"]} if rng
                 else None}
        result[measure] = entry
        result["grades"].append(g)
        cite(g["references"])
        if rng:
            cite(rng["references"])

    if temp_c is not None:
        rule = kb.get("fever_rules", kb.settings["fever_rule"])
        fever = grading.has_fever(rule, temp_c, req.sustained)
        result["fever"] = {"temp_c": temp_c, "sustained": req.sustained, "fever": fever,
                           "rule": rule["id"], "rule_name": rule["name"]}
        cite(rule["references"])
        if anc_cells is not None:
            fn = grading.febrile_neutropenia(rule, anc_cells, temp_c, req.sustained)
            result["febrile_neutropenia"] = fn
            if fn:
                result["emergency"] = {"summary": rule["summary"],
                                       "action": rule["emergency_action"],
                                       "patient_action": rule["patient_action"]}
            elif fever and rule.get("note"):
                notes.append(rule["note"])

    if req.drug:
        if anc_cells is None:
            raise InputError("--drug needs an ANC: add --anc or --wbc with --neutrophils")
        mon = grading.drug_monitoring(kb, req.drug, anc_cells, req.duffy_null)
        result["drug_monitoring"] = mon
        cite(mon["references"])

    result["notes"] = notes
    result["references"] = refs
    return result
