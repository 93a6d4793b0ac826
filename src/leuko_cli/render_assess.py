"""Human output of `leuko assess` (Rich): the clinician view and the patient view.

The patient view uses plain words: no "ANC", no scale names, no drug instructions (the KB's
`patient_drug_monitoring` text says to talk with the prescriber), and says when to seek care.
Everything shown comes from the result dict, whose strings were made inert by render.py.
"""

from __future__ import annotations

import math

from rich.text import Text

from .render import (
    SEVERITY_STYLE,
    _cites,
    _disclaimer,
    _prepared,
    _references,
    _settings_line,
    console,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .output import Answer


class _Cited:
    """Cites references inline and remembers them, so the list under the answer holds exactly
    the references some line cites: each at the line it supports, none listed uncited."""

    def __init__(self, kb) -> None:
        self.kb, self.ids = kb, []

    def __call__(self, ids) -> str:
        self.ids += [i for i in ids if i not in self.ids]
        return _cites(self.kb, ids)


def assess(answer: Answer) -> None:
    kb, r = _prepared(answer)
    if answer.audience == "patient":
        _patient(kb, r)
    else:
        _clinician(kb, r)


def _refs_of(kb, table: str, ident) -> list[str]:
    entry = kb.get(table, ident) if ident else None
    return entry["references"] if entry else []


def _range_refs(kb, measure: str, basis: str) -> list[str]:
    """The references of the reference range a WBC or lymphocyte entry names (by its name)."""
    for rng in kb.table("reference_ranges"):
        if rng["measure"] == measure and rng["name"] == basis:
            return rng["references"]
    return []


def _severity_grade(kb, r: dict) -> dict | None:
    return next((g for g in r["grades"] if g["scale"] == kb.settings["severity_scale"]), None)


def _headline_text(kb, r: dict) -> Text | None:
    head = r.get("headline")
    if not head:
        return None
    if head["basis"] == "severity":
        sev = _severity_grade(kb, r)
        return (
            Text("Severity: ", style="bold")
            + Text(head["label"].upper(), style=SEVERITY_STYLE.get(head["label"], "bold"))
            + Text(f"  ({sev['system']}, {sev['version']})", style="dim")
        )
    style = "bold red" if r["below_reference"] else "bold"
    return (
        Text("Reference: ", style="bold")
        + Text(head["label"].upper(), style=style)
        + Text(f"  ({head['name']})", style="dim")
    )


def _limit_text(rng: dict) -> str:
    if rng.get("lower") is not None:
        return f"lower limit {rng['lower']:g}/µL"
    if rng.get("lower_limit_min") is not None:
        return f"lower limit between {rng['lower_limit_min']:g} and {rng['lower_limit_max']:g}/µL"
    return "no established lower limit"


def _clinician(kb, r: dict) -> None:
    con = console()
    cite = _Cited(kb)
    src = r.get("anc_source")
    if r["anc"] is not None:
        value = f"{r['anc']:g} cells/µL"
        if r["input_unit"] != "cells/uL":
            value += f" ({r['anc_in_input_unit']:g} {r['input_unit']})"
        how = "given" if src["method"] == "given" else f"computed: {src['arithmetic']}"
        if src.get("differential_agrees"):
            how += f"; the differential agrees: {src['differential_agrees']}"
        con.print(Text("ANC ", style="bold") + Text(value) + Text(f"  ({how})", style="dim"))
        con.print(_headline_text(kb, r))
        sev = _severity_grade(kb, r)
        if r["headline"]["basis"] == "severity" and sev.get("meaning"):
            con.print(sev["meaning"] + " " + cite(sev["references"]))
    _emergency(con, r, cite, patient=False)
    con.print(Text("Grades", style="bold"))
    for g in r["grades"]:
        # the severity scale is the headline, unless the population's own range leads
        if g["scale"] != kb.settings["severity_scale"] or r["headline"]["basis"] != "severity":
            con.print(Text("  ") + _grade_line(g) + Text(" " + cite(g["references"]), style="dim"))
    ae = r.get("ctcae_febrile_neutropenia")
    if ae:
        state = f"grade {ae['grade']} (criteria met)" if ae["criteria_met"] else "criteria not met"
        con.print(
            Text(f"  CTCAE {ae['version']} · Febrile neutropenia: ", style="bold")
            + Text(state)
            + Text(" " + cite(ae["references"]), style="dim")
        )
    rng = r.get("reference_range")
    if rng:
        below = {True: "below the", False: "within or above the", None: "unknown against the"}
        con.print(
            Text("Reference: ", style="bold")
            + Text(
                f"{below[r['below_reference']]} {_limit_text(rng)} ({rng['basis']}; "
                f"{', '.join(rng['chosen_by'])}) "
                + cite(_refs_of(kb, "reference_ranges", rng.get("id")))
            )
        )
        if rng.get("note"):
            con.print(Text("  " + rng["note"], style="dim"))
    for measure in ("wbc", "lymphocytes"):
        m = r.get(measure)
        if m:
            name = "WBC" if measure == "wbc" else "Lymphocytes"
            line = f"{m['value']:g} cells/µL: CTCAE {m['ctcae_version']} {m['label']}"
            ids = list(_refs_of(kb, "scales", m["scale"]))
            below = m.get("reference_range")
            if below:
                state = {True: "below", False: "not below", None: "unknown against"}
                line += f"; {state[m['below_reference']]} the reference range ({below['basis']})"
                ids += _range_refs(kb, measure, below["basis"])
            con.print(Text(f"{name} ", style="bold") + Text(line + " " + cite(ids)))
    _temperature(con, kb, r, cite, patient=False)
    sev = _severity_grade(kb, r)
    if (
        not r.get("emergency")
        and r.get("headline")
        and r["headline"]["basis"] == "severity"
        and sev
        and sev.get("action")
    ):
        con.print(
            Text("Next: ", style="bold") + Text(sev["action"] + " " + cite(sev["references"]))
        )
    mon = r.get("drug_monitoring")
    if mon:
        con.print(
            Text(f"{mon['name']}: ", style="bold")
            + Text(mon["category"] + " " + cite(mon["references"]))
        )
        con.print(f"  Region: {mon['region']} ({mon['region_origin']})")
        con.print("  Action: " + mon["action"])
        con.print("  Monitoring: " + mon["monitoring"])
        if mon.get("note"):
            con.print("  " + mon["note"])
        con.print(Text("  " + mon["status"], style="dim"))
    con.print(_settings_line(r.get("settings", {})))
    if r.get("overlay_entries"):
        con.print(Text("From your overlay: " + ", ".join(r["overlay_entries"]), style="yellow"))
    for note in r.get("notes", []):
        con.print(Text("Note: " + note, style="yellow"))
    _references(con, kb, cite.ids)
    _disclaimer(con, kb, "clinician")


def _age_group(g: dict) -> str:
    """' (aged 2-7 days)' for a scale split by age, in completed days (a scale applies from
    age_min_days up to, not including, age_max_days); '' for one that is not."""
    lo, hi = g.get("age_min_days"), g.get("age_max_days")
    if lo is None and hi is None:
        return ""
    lo = lo or 0
    if hi is None:
        return f" (aged {lo:g} days or more)"
    last = math.ceil(hi) - 1  # the last completed day below age_max_days
    if last <= lo:
        return f" (aged {lo:g} {'day' if lo == 1 else 'days'})"
    return f" (aged {lo:g}-{last:g} days)"


def _grade_line(g: dict) -> Text:
    label = g["label"]
    style = SEVERITY_STYLE.get(label, "bold" if g["grade"] else "green")
    if g["grade"] is None:
        style = "yellow"
    t = Text(f"{g['system']} {g['version']} · {g['term']}{_age_group(g)}: ", style="bold")
    t.append(label, style=style)
    if g["system"] == "CTCAE" and g["grade"] is not None and not label.startswith("Grade"):
        t.append(f" (grade {g['grade']})")
    if g.get("origin"):
        t.append(f" (from your overlay: {g['origin']})", style="yellow")
    return t


def _emergency(con, r: dict, cite: _Cited, *, patient: bool) -> None:
    em = r.get("emergency")
    if not em:
        return
    title = (
        "FEBRILE NEUTROPENIA: EMERGENCY"
        if em["basis"] == "anc-below"
        else "FEBRILE NEUTROPENIA IF THE COUNT IS FALLING: TREAT AS AN EMERGENCY"
    )
    if patient:
        title = "THIS NEEDS URGENT CARE NOW"
    con.print(Text(title, style="bold white on red"))
    refs = cite(_refs_of(cite.kb, "fever_rules", (r.get("fever") or {}).get("rule")))
    if patient:
        con.print(em["patient_action"] + " " + refs)
        return
    con.print(em["summary"] + " " + refs)
    con.print(em["action"] + " " + refs)


def _temperature(con, kb, r: dict, cite: _Cited, *, patient: bool) -> None:
    fever = r.get("fever")
    if not fever:
        return
    check = fever.get("recheck")
    refs = cite(_refs_of(kb, "fever_rules", fever["rule"])) if check or not patient else ""
    if patient:
        if check:
            con.print(
                f"A single reading of {fever['temp_c']:g} °C is just under the level that "
                f"counts as a fever. Take your temperature again in an hour: if it is still "
                f"{check['sustained_temp_c']:g} °C or higher, or reaches "
                f"{check['single_temp_c']:g} °C, get urgent medical care. {refs}"
            )
        return
    status = "fever" if fever["fever"] else "no fever by this rule"
    con.print(
        Text("Temperature: ", style="bold")
        + Text(
            f"{fever['temp_c']:g} °C{' sustained' if fever['sustained'] else ' once'}: {status} "
            f"({fever['rule_name']}) {refs}"
        )
    )
    if check:
        op = "or more" if check["single_inclusive"] else "or above"
        con.print(
            Text(
                f"  Recheck: one reading of {check['single_temp_c']:g} °C {op}, or "
                f"{check['sustained_temp_c']:g} °C or more for over "
                f"{check['sustained_minutes']:g} minutes, counts as fever; if a repeat in an hour "
                "is still at that level, run again with --sustained.",
                style="yellow",
            )
        )


_PLAIN = {
    "below the reference range": "below the usual range for this age or group",
    "within the reference range": "within the usual range for this age or group",
    "reference range unknown": "hard to compare with the usual range for this age",
}


def _patient(kb, r: dict) -> None:
    con = console()
    cite = _Cited(kb)
    if r["anc"] is not None:
        con.print(
            Text("Your neutrophils (the white blood cells that fight germs): ", style="bold")
            + Text(f"{r['anc']:g} per microlitre of blood")
        )
        head = r["headline"]
        sev = _severity_grade(kb, r)
        if head["basis"] == "severity":
            if sev.get("patient_meaning"):
                con.print(sev["patient_meaning"] + " " + cite(sev["references"]))
        else:
            con.print(f"This count is {_PLAIN[head['label']]}.")
    _emergency(con, r, cite, patient=True)
    _temperature(con, kb, r, cite, patient=True)
    if r.get("drug_monitoring"):
        con.print(
            kb.settings["patient_drug_monitoring"] + " " + cite(r["drug_monitoring"]["references"])
        )
        con.print(f"(Blood-test rules of: {r['drug_monitoring']['region']})", style="dim")
    _references(con, kb, cite.ids)
    _disclaimer(con, kb, "patient")
