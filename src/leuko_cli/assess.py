"""The assessment core: one pure function from a request to a result, for every channel.

`assess(kb, values, settings)` takes the raw input values (field name -> what the user, the row
or the Observation gave; None when absent) and the resolved settings, and returns a JSON-ready
dict whose top-level fields are `fields.RESULTS`. The CLI, batch (CSV, JSON Lines) and FHIR all
call it, so the same case gives the same result fields through any channel. No Typer, no Rich.
"""

from __future__ import annotations

from . import grading, inputs
from .errors import InputError
from .fields import BY_NAME, REQUEST_FIELDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase
    from .settings import Setting


def _round(x: float | None) -> float | int | None:
    if x is None:
        return None
    r = round(x, 3)
    return int(r) if r == int(r) else r


def _given(value) -> bool:
    return value is not None and value is not False


def _setting(
    kb: KnowledgeBase, key: str, raw, settings: dict[str, Setting], origin: str
) -> tuple[str, str]:
    """(value, origin) of a setting field: the request's own value, else the resolved one."""
    from .settings import normalise

    if raw is None:
        return settings[key].value, settings[key].origin
    try:
        return normalise(kb, key, raw), origin
    except InputError as err:
        raise InputError(f"{BY_NAME[key].flag}: {err}") from None


def assess(
    kb: KnowledgeBase, values: dict, settings: dict[str, Setting], *, origin: str = "flag"
) -> dict:
    """Grade one case. `origin` names where the request's own unit/version came from."""
    unknown = set(values) - set(REQUEST_FIELDS)
    if unknown:  # a programming error in a caller, not user input
        raise TypeError(f"unknown assess fields: {sorted(unknown)}")
    v = {name: values.get(name) for name in REQUEST_FIELDS}
    unit_id, unit_origin = _setting(kb, "unit", v["unit"], settings, origin)
    version, version_origin = _setting(kb, "ctcae_version", v["ctcae_version"], settings, origin)
    unit = inputs.find_unit(kb, unit_id)
    differential = v["neutrophils"] is not None or v["bands"] is not None
    if v["anc"] is not None and differential:
        raise InputError("give either --anc or --wbc with --neutrophils/--bands, not both")
    if differential and v["wbc"] is None:
        raise InputError("--neutrophils/--bands need --wbc to compute the ANC")
    if v["anc"] is None and v["wbc"] is None and v["lymphocytes"] is None:
        raise InputError(
            "give a count: --anc N, or --wbc N [--neutrophils % --bands %], or --lymphocytes N"
        )

    def cells(name: str) -> float | None:
        raw = v[name]
        return None if raw is None else inputs.cells(kb, BY_NAME[name], raw, unit)

    age_days = inputs.age_days(v["age"]) if v["age"] is not None else None
    temp_c = inputs.temperature(v["temp"]) if v["temp"] is not None else None
    duffy_null = (
        inputs.switch(v["duffy_null"], "--duffy-null") if _given(v["duffy_null"]) else False
    )
    sustained = inputs.switch(v["sustained"], "--sustained") if _given(v["sustained"]) else False
    if sustained and temp_c is None:
        raise InputError("--sustained describes a temperature: add --temp")

    refs: list[str] = []
    notes: list[str] = []

    def cite(ids):
        refs.extend(r for r in ids if r not in refs)

    wbc_cells = cells("wbc")
    anc_cells = anc_source = None
    if v["anc"] is not None:
        anc_cells = cells("anc")
        anc_source = {
            "method": "given",
            "value": _round(inputs.from_cells(anc_cells, unit)),
            "unit": unit["id"],
        }
    elif differential:
        segs = (
            inputs.percent(v["neutrophils"], "--neutrophils")
            if v["neutrophils"] is not None
            else 0.0
        )
        bands = inputs.percent(v["bands"], "--bands") if v["bands"] is not None else 0.0
        if segs + bands > 100:
            raise InputError(f"--neutrophils + --bands = {segs + bands:g}%, which exceeds 100%")
        anc_cells = grading.anc_from_differential(wbc_cells, segs, bands)
        wbc_shown = inputs.from_cells(wbc_cells, unit)
        anc_source = {
            "method": "computed",
            "unit": unit["id"],
            "formula": grading.ANC_FORMULA,
            "arithmetic": (
                f"{wbc_shown:g} x ({segs:g} + {bands:g}) / 100 = "
                f"{inputs.from_cells(anc_cells, unit):g} {unit['id']}"
            ),
        }

    result: dict = {
        "anc": _round(anc_cells),
        "unit": "cells/uL",
        "input_unit": unit["id"],
        "anc_in_input_unit": _round(inputs.from_cells(anc_cells, unit))
        if anc_cells is not None
        else None,
        "anc_source": anc_source,
        "severity": None,
        "ctcae_version": version,
        "ctcae_grade": None,
        "febrile_neutropenia": None,
        "below_reference": None,
        "grades": [],
        "fever": None,
        "reference_range": None,
    }

    if anc_cells is not None:
        severity = grading.grade(kb.get("scales", kb.settings["severity_scale"]), anc_cells)
        result["severity"] = severity["label"]
        lln = cells("lln")
        ctcae = grading.grade(grading.ctcae_scale(kb, "anc", version), anc_cells, lln)
        result["ctcae_grade"] = ctcae["grade"]
        result["grades"] += [severity, ctcae]
        cite(severity["references"])
        cite(ctcae["references"])
        if ctcae["lln_needed"]:
            notes.append(
                f"CTCAE {version} grade 1 for this count depends on the laboratory's "
                "lower limit of normal: pass --lln to grade it"
            )
        for other in kb.table("scales"):
            if (
                other["measure"] == "anc"
                and other["system"] != "CTCAE"
                and other["id"] != severity["scale"]
            ):
                g = grading.grade(other, anc_cells)
                result["grades"].append(g)
                cite(g["references"])
        rng, note = grading.reference_range(kb, "anc", age_days, duffy_null)
        if note:
            notes.append(note)
        if rng:
            result["below_reference"] = anc_cells < rng["lower"]
            result["reference_range"] = {
                "id": rng["id"],
                "lower": rng["lower"],
                "upper": rng.get("upper"),
                "basis": rng["name"],
                "note": rng.get("note"),
            }
            cite(rng["references"])
    elif v["lln"] is not None:
        cells("lln")  # still checked, so a bad value is never silently ignored

    for measure, limit in (("wbc", "wbc_lln"), ("lymphocytes", "lymphocytes_lln")):
        count = wbc_cells if measure == "wbc" else cells("lymphocytes")
        if count is None:
            if v[limit] is not None:
                cells(limit)
            continue
        grade, entry, used_notes, used_refs = _other_count(
            kb, measure, count, cells(limit), version, BY_NAME[limit].flag, age_days, duffy_null
        )
        result[measure] = entry
        result["grades"].append(grade)
        notes.extend(used_notes)
        cite(used_refs)

    if temp_c is not None:
        rule = kb.get("fever_rules", kb.settings["fever_rule"])
        fever = grading.has_fever(rule, temp_c, sustained)
        result["fever"] = {
            "temp_c": temp_c,
            "sustained": sustained,
            "fever": fever,
            "rule": rule["id"],
            "rule_name": rule["name"],
        }
        cite(rule["references"])
        if anc_cells is not None:
            fn = grading.febrile_neutropenia(rule, anc_cells, temp_c, sustained)
            result["febrile_neutropenia"] = fn
            if fn:
                result["emergency"] = {
                    "summary": rule["summary"],
                    "action": rule["emergency_action"],
                    "patient_action": rule["patient_action"],
                }
            elif fever and rule.get("note"):
                notes.append(rule["note"])

    if v["drug"] is not None:
        if anc_cells is None:
            raise InputError("--drug needs an ANC: add --anc or --wbc with --neutrophils")
        mon = grading.drug_monitoring(kb, v["drug"], anc_cells, duffy_null)
        result["drug_monitoring"] = mon
        cite(mon["references"])

    result["settings"] = {
        "unit": {"value": unit["id"], "origin": unit_origin},
        "ctcae_version": {"value": version, "origin": version_origin},
    }
    result["notes"] = notes
    result["references"] = refs
    return result


def _other_count(
    kb: KnowledgeBase,
    measure: str,
    count: float,
    lln: float | None,
    version: str,
    lln_flag: str,
    age_days: float | None,
    duffy_null: bool,
) -> tuple[dict, dict, list[str], list[str]]:
    """The CTCAE grade of a WBC or lymphocyte count, its result entry, notes and references."""
    notes: list[str] = []
    scale = grading.ctcae_scale(kb, measure, version)
    used = version
    if scale is None:  # a term this CTCAE version does not define in our sources
        used = next(
            x
            for x in reversed(kb.settings["ctcae_versions"])
            if grading.ctcae_scale(kb, measure, x)
        )
        scale = grading.ctcae_scale(kb, measure, used)
        notes.append(
            f"CTCAE {version}: no '{scale['term']}' scale in the knowledge base; "
            f"graded with CTCAE {used}"
        )
    g = grading.grade(scale, count, lln)
    if g["lln_needed"]:
        notes.append(
            f"CTCAE {used} grade 1 for this {measure} count depends on the lab's "
            f"lower limit of normal: pass {lln_flag}"
        )
    rng, _ = grading.reference_range(kb, measure, age_days, duffy_null)
    refs = list(g["references"]) + (list(rng["references"]) if rng else [])
    entry = {
        "value": _round(count),
        "ctcae_grade": g["grade"],
        "ctcae_version": used,
        "label": g["label"],
        "scale": g["scale"],
        "below_reference": (count < rng["lower"]) if rng else None,
        "reference_range": {"lower": rng["lower"], "basis": rng["name"]} if rng else None,
    }
    return g, entry, notes, refs
