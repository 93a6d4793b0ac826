"""Fever and febrile neutropenia in an assessment (the thresholds are KB fever rules).

- The KB's fever rule (IDSA 2010 by default): fever with an ANC below its limit is febrile
  neutropenia. IDSA also counts an ANC expected to fall below that limit within 48 hours, which
  a single count cannot show: fever with an ANC below the CTCAE febrile-neutropenia limit is
  reported as "febrile neutropenia if the count is falling", with the same urgency.
- The CTCAE "Febrile neutropenia" adverse event of the version in use, with its own operators.
- A temperature at or above the sustained threshold but below the single-reading one, taken
  once, is not fever yet: the answer says how to recheck.
"""

from __future__ import annotations

from . import grading


def assess_fever(
    kb, result: dict, anc: float | None, temp_c: float, sustained: bool, version: str, cited
) -> None:
    rule = kb.get("fever_rules", kb.settings["fever_rule"])
    is_fever = grading.has_fever(rule, temp_c, sustained)
    result["fever"] = {
        "temp_c": temp_c,
        "sustained": sustained,
        "fever": is_fever,
        "rule": rule["id"],
        "rule_name": rule["name"],
        "origin": rule.get("source_location"),
        "recheck": _recheck(rule, temp_c, sustained, is_fever),
    }
    cited.cite(rule)
    if anc is None:
        return
    ae = grading.febrile_neutropenia_ae(kb, version, anc, temp_c, sustained)
    definite = is_fever and anc < rule["anc_below"]
    # IDSA's window ends at the CTCAE febrile-neutropenia limit of this version; a version
    # without a KB rule (4.03) leaves the AE ungraded, never the emergency undecided: the
    # window then ends at the newest version's limit
    window = (
        kb.get("fever_rules", ae["rule"])
        if ae
        else grading.newest_ctcae(kb, lambda v: grading.ctcae_fever_rule(kb, v))[0]
    )
    falling_limit = window["anc_below"] if window else None
    if ae is None:
        cited.note(
            f"CTCAE {version}: no 'Febrile neutropenia' criteria in the knowledge base; "
            "the adverse event is not graded"
        )
    if_falling = bool(
        is_fever
        and not definite
        and falling_limit is not None
        and anc < falling_limit
        and rule.get("falling_summary")
    )
    result["febrile_neutropenia"] = definite
    result["febrile_neutropenia_if_falling"] = if_falling
    if definite or if_falling:
        result["emergency"] = {
            "basis": "anc-below" if definite else "anc-expected-to-fall",
            "summary": rule["summary"] if definite else rule["falling_summary"],
            "action": rule["emergency_action"],
            "patient_action": rule["patient_action"],
        }
    if ae is not None:
        result["ctcae_febrile_neutropenia"] = ae
        cited.cite(ae["references"])


def _recheck(rule: dict, temp_c: float, sustained: bool, is_fever: bool) -> dict | None:
    """How to recheck a single reading at or above the sustained threshold but below the
    single-reading one (numbers from the rule)."""
    if is_fever or sustained or temp_c < rule["sustained_temp_c"]:
        return None
    return {
        "single_temp_c": rule["single_temp_c"],
        "single_inclusive": rule["single_inclusive"],
        "sustained_temp_c": rule["sustained_temp_c"],
        "sustained_minutes": rule["sustained_minutes"],
    }
