"""The assessment core: one pure function from a request to a result, for every channel.

`assess(kb, values, settings)` takes the raw input values (field name -> what the user, the row
or the Observation gave; None when absent) and the resolved settings, and returns a JSON-ready
dict whose top-level fields are `fields.RESULTS`. The CLI, batch (CSV, JSON Lines) and FHIR all
call it, so the same case gives the same result fields through any channel. No Typer, no Rich.

Safety rules kept here (issue 13): inputs that contradict each other are refused with both
numbers named; a grade that needs the lab's lower limit and has none is unknown (null with the
reason), never 0; the headline follows the reference range of the patient's age band and
population; every scale, range or rule that came from the user's overlay is marked.
"""

from __future__ import annotations

from . import fever, grading, inputs
from .errors import InputError
from .fields import BY_NAME, REQUEST_FIELDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase
    from .settings import Setting


def _round(x: float | None) -> float | int | None:
    if x is None:
        return None
    r = round(grading.significant(x), 3)
    return int(r) if r == int(r) else r


def _given(value) -> bool:
    return value is not None and value is not False


def _setting(kb, key: str, raw, settings: dict, origin: str) -> tuple[str, str]:
    """(value, origin) of a setting field: the request's own value, else the resolved one."""
    from .settings import normalise

    if raw is None:
        return settings[key].value, settings[key].origin
    try:
        return normalise(kb, key, raw), origin
    except InputError as err:
        raise InputError(f"{BY_NAME[key].flag}: {err}") from None


# the tables a grade is read from: an overlay entry in any of them can change a batch's grades
GRADING_TABLES = ("scales", "reference_ranges", "fever_rules", "measures", "units")


def overlay_grading_entries(kb, tables: tuple[str, ...] = GRADING_TABLES) -> list[str]:
    """FILE:LINE (table id) of every entry of the personal overlay in the grading tables: what
    a batch, trend or dataset run names, since its rows have no room for overlay_entries."""
    return [
        f"{e.get('source_location') or 'overlay'} ({table} {e['id']})"
        for table in tables
        for e in kb.table(table)
        if e.get("source") == "overlay"
    ]


def overlay_line(kb, tables: tuple[str, ...] = GRADING_TABLES) -> str | None:
    """The stderr line of a batch run graded with overlay entries, or None."""
    return overlay_note(overlay_grading_entries(kb, tables))


def overlay_note(entries: list[str]) -> str | None:
    """The stderr line naming these overlay entries (overlay_grading_entries), or None."""
    return "leuko: graded with your personal overlay: " + ", ".join(entries) if entries else None


class Cited:
    """The references and notes an answer collects as it goes (in order, without repeats)."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.notes: list[str] = []
        self.overlay: list[str] = []  # FILE:LINE of every overlay entry used

    def cite(self, entry_or_ids) -> None:
        ids = entry_or_ids if isinstance(entry_or_ids, list) else entry_or_ids["references"]
        self.refs.extend(r for r in ids if r not in self.refs)
        where = isinstance(entry_or_ids, dict) and (
            entry_or_ids.get("source_location") or entry_or_ids.get("origin")
        )
        if where:
            if where not in self.overlay:
                self.overlay.append(where)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


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
    region, region_origin = _setting(kb, "region", v["region"], settings, origin)
    unit = inputs.find_unit(kb, unit_id)
    if (v["neutrophils"] is not None or v["bands"] is not None) and v["wbc"] is None:
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

    wbc_cells, lymph_cells = cells("wbc"), cells("lymphocytes")
    anc_cells, anc_source = _anc(kb, v, unit, cells, wbc_cells)
    _check_parts_fit(unit, wbc_cells, anc_cells, lymph_cells)
    limits = {name: cells(name) for name in ("lln", "wbc_lln", "lymphocytes_lln")}
    for name, limit in limits.items():
        if limit == 0:  # every count would be "not decreased" against it
            flag = BY_NAME[name].flag
            raise InputError(
                f"{flag} 0: a lower limit of normal is above 0; give the lab's own limit, "
                f"or leave {flag} out"
            )
    cited = Cited()
    result: dict = {
        "anc": _round(anc_cells),
        "unit": "cells/uL",
        "input_unit": unit["id"],
        "anc_in_input_unit": None
        if anc_cells is None
        else _round(inputs.from_cells(anc_cells, unit)),
        "anc_source": anc_source,
        "headline": None,
        "severity": None,
        "ctcae_version": version,
        "ctcae_version_origin": version_origin,
        "ctcae_grade": None,
        "febrile_neutropenia": None,
        "febrile_neutropenia_if_falling": None,
        "below_reference": None,
        "grades": [],
        "fever": None,
        "reference_range": None,
    }
    if anc_cells is not None:
        _grade_anc(kb, result, anc_cells, limits["lln"], version, age_days, duffy_null, cited)
    for measure, count in (("wbc", wbc_cells), ("lymphocytes", lymph_cells)):
        if count is not None:
            limit = BY_NAME[f"{measure}_lln"]
            grade, entry = _other_count(
                kb,
                measure,
                count,
                limits[limit.name],
                version,
                limit.flag,
                age_days,
                duffy_null,
                cited,
            )
            result[measure] = entry
            result["grades"].append(grade)
    if temp_c is not None:
        fever.assess_fever(kb, result, anc_cells, temp_c, sustained, version, cited)
    if v["drug"] is not None:
        if anc_cells is None:
            raise InputError("--drug needs an ANC: add --anc or --wbc with --neutrophils")
        mon = grading.drug_monitoring(kb, v["drug"], anc_cells, duffy_null, region, wbc_cells)
        mon["region_origin"] = region_origin
        result["drug_monitoring"] = mon
        cited.cite(mon)
    result["settings"] = {
        "unit": {"value": unit["id"], "origin": unit_origin},
        "ctcae_version": {"value": version, "origin": version_origin},
        "region": {"value": region, "origin": region_origin},
    }
    if version_origin.startswith("default"):
        cited.note(kb.settings["ctcae_default_note"].format(version=version))
    result["overlay_entries"] = cited.overlay
    result["notes"] = cited.notes
    result["references"] = cited.refs
    return result


def _anc(kb, v: dict, unit: dict, cells, wbc_cells) -> tuple[float | None, dict | None]:
    """The ANC in cells/uL and how it was obtained: given, computed from the differential, or
    given together with a differential that agrees with it (else refused, both named)."""
    differential = v["neutrophils"] is not None or v["bands"] is not None  # with a WBC: checked
    computed = None
    if differential:
        segs = (
            inputs.percent(v["neutrophils"], "--neutrophils")
            if v["neutrophils"] is not None
            else 0.0
        )
        bands = inputs.percent(v["bands"], "--bands") if v["bands"] is not None else 0.0
        if segs + bands > 100:
            raise InputError(f"--neutrophils + --bands = {segs + bands:g}%, which exceeds 100%")
        computed = grading.anc_from_differential(wbc_cells, segs, bands)
        shown = inputs.from_cells
        arithmetic = (
            f"{shown(wbc_cells, unit):g} x ({segs:g} + {bands:g}) / 100 = "
            f"{shown(computed, unit):g} {unit['id']}"
        )
    if v["anc"] is None:
        if computed is None:
            return None, None
        return computed, {
            "method": "computed",
            "unit": unit["id"],
            "formula": grading.ANC_FORMULA,
            "arithmetic": arithmetic,
        }
    anc = cells("anc")
    source = {"method": "given", "value": _round(inputs.from_cells(anc, unit)), "unit": unit["id"]}
    if computed is not None:
        pct = kb.settings["differential_tolerance_pct"]
        if abs(anc - computed) > wbc_cells * pct / 100:
            raise InputError(
                f"--anc {inputs.from_cells(anc, unit):g} and the differential ({arithmetic}) "
                f"disagree by more than {pct:g}% of the WBC; check both, or give one of them"
            )
        source["differential_agrees"] = arithmetic
    return anc, source


def _check_parts_fit(unit: dict, wbc, anc, lymph) -> None:
    """Parts of the white count cannot exceed it: a swapped unit or a typo, never graded."""
    if wbc is None:
        return

    def shown(x):
        return f"{inputs.from_cells(x, unit):g} {unit['id']}"

    for name, part in (("ANC", anc), ("lymphocytes", lymph)):
        if part is not None and part > wbc:
            raise InputError(
                f"{name} {shown(part)} is above the WBC {shown(wbc)}; check the "
                "values and their unit"
            )
    if anc is not None and lymph is not None and anc + lymph > wbc:
        raise InputError(
            f"ANC + lymphocytes ({shown(anc + lymph)}) exceed the WBC "
            f"{shown(wbc)}; check the values"
        )


def _grade_anc(
    kb, result: dict, anc: float, lln, version: str, age_days, duffy_null: bool, cited: Cited
) -> None:
    severity = grading.grade(kb.get("scales", kb.settings["severity_scale"]), anc)
    ctcae_scale = grading.ctcae_scale(kb, "anc", version)
    ctcae = grading.grade(ctcae_scale, anc, lln)
    result["severity"] = severity["label"]
    result["ctcae_grade"] = ctcae["grade"]
    result["grades"] += [severity, ctcae]
    cited.cite(kb.get("scales", kb.settings["severity_scale"]))
    cited.cite(ctcae_scale)
    if ctcae["lln_needed"]:
        cited.note(_unknown_grade_note(version, "ANC", ctcae, "--lln"))
    for other in kb.table("scales"):
        # a scale split by age (DAIDS) gives the grade of the patient's age group; with no age
        # given, every group's grade is listed, each with its ages (grades[].age_min_days)
        if (
            other["measure"] == "anc"
            and not summarised(kb, other)
            and (age_days is None or grading.applies_at_age(other, age_days))
        ):
            result["grades"].append(grading.grade(other, anc))
            cited.cite(other)
    rng, note = grading.reference_range(kb, "anc", age_days, duffy_null)
    if note:
        cited.note(note)
    if rng:
        below, reason = grading.compare_with_range(rng, anc)
        result["below_reference"] = below
        result["reference_range"] = _range_view(rng, reason, age_days, duffy_null)
        if reason:
            cited.note(f"Reference range: unknown, {reason}")
        cited.cite(rng)
    result["headline"] = _headline(severity, rng, result["below_reference"])


def summarised(kb, scale: dict) -> bool:
    """Whether a scale's grade reaches a top-level result field: the severity scale's (the
    `severity` field) and the CTCAE scales' (`ctcae_grade`, and each other count's
    `ctcae_grade`). Every other scale's grade is only listed in `grades`, and the batch
    columns (fields.BATCH_RESULTS) never read it (batch/intervals.py relies on this)."""
    return scale["system"] == "CTCAE" or scale["id"] == kb.settings["severity_scale"]


def _range_view(rng: dict, reason, age_days, duffy_null: bool) -> dict:
    chosen_by = []
    chosen_by.append(_age_text(age_days) if age_days is not None else "no age given: adult range")
    if duffy_null:
        chosen_by.append("Duffy-null (--duffy-null)")
    return {
        "id": rng["id"],
        "basis": rng["name"],
        "population": rng["population"],
        "lower": rng.get("lower"),
        "lower_limit_min": rng.get("lower_limit_min"),
        "lower_limit_max": rng.get("lower_limit_max"),
        "upper": rng.get("upper"),
        "note": rng.get("note"),
        "unknown_because": reason,
        "chosen_by": chosen_by,
        "origin": rng.get("source_location"),
    }


def _age_text(age_days: float) -> str:
    """An age as a person reads it: years from one year on, else days."""
    if age_days >= inputs.DAYS_PER_YEAR:
        return f"age {age_days / inputs.DAYS_PER_YEAR:g} years"
    return f"age {age_days:g} {'day' if age_days == 1 else 'days'}"


def _headline(severity: dict, rng: dict | None, below: bool | None) -> dict:
    """What the answer leads with: the clinical severity where that scale describes the
    patient's population, else the comparison with the population's own reference range."""
    if rng is None or rng.get("severity_scale_applies", False):
        return {"basis": "severity", "label": severity["label"], "scale": severity["scale"]}
    label = {
        True: "below the reference range",
        False: "within the reference range",
        None: "reference range unknown",
    }[below]
    return {"basis": "reference", "label": label, "range": rng["id"], "name": rng["name"]}


def _other_count(
    kb,
    measure: str,
    count: float,
    lln,
    version: str,
    lln_flag: str,
    age_days,
    duffy_null: bool,
    cited: Cited,
) -> tuple[dict, dict]:
    """The CTCAE grade of a WBC or lymphocyte count and its result entry."""
    scale, used = grading.ctcae_scale_or_newest(kb, measure, version)
    if used != version:  # a term this CTCAE version does not define in our sources
        cited.note(
            f"CTCAE {version}: no '{scale['term']}' scale in the knowledge base; "
            f"graded with CTCAE {used}"
        )
    g = grading.grade(scale, count, lln)
    cited.cite(scale)
    if g["lln_needed"]:
        cited.note(_unknown_grade_note(used, measure, g, lln_flag))
    rng, _ = grading.reference_range(kb, measure, age_days, duffy_null)
    below = reason = None
    if rng:
        below, reason = grading.compare_with_range(rng, count)
        cited.cite(rng)
    elif age_days is not None and any(
        r["measure"] == measure and r["population"] == "general"
        for r in kb.table("reference_ranges")
    ):  # ranges for other ages only: unknown, not normal, and the answer says why
        cited.note(
            f"Reference range: unknown, no {measure} reference range in the KB for "
            + _age_text(age_days)
        )
    entry = {
        "value": _round(count),
        "ctcae_grade": g["grade"],
        "ctcae_version": used,
        "label": g["label"],
        "scale": g["scale"],
        "below_reference": below,
        "reference_range": {
            "lower": rng.get("lower"),
            "basis": rng["name"],
            "unknown_because": reason,
        }
        if rng
        else None,
    }
    return g, entry


def _unknown_grade_note(version: str, what: str, grade: dict, flag: str) -> str:
    possible = " or ".join(str(g) for g in grade["possible_grades"])
    return (
        f"CTCAE {version} {what} grade: unknown (grade {possible}) without the "
        f"laboratory's lower limit of normal: pass {flag}"
    )
