"""The FHIR reader: counts from a FHIR R4 Observation or Bundle, grouped into cases.

Pure Python (no Typer, no Rich). LOINC codes come from the field table (fields.INPUTS) and UCUM
units are resolved through the knowledge base's unit table (UCUM `10*3/uL` is the KB alias
`10^3/uL`), so this module only groups Observations; grading happens in `assess.assess`.

Grouping: Observations are grouped by (subject, effectiveDateTime). Each group becomes one
assessment. Within a group, the same analyte twice with different values is an error.
"""

from __future__ import annotations

import json
from typing import Any

from leuko_cli.errors import InputError
from leuko_cli.fields import BY_NAME, INPUTS, loinc_codes

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
LOINC = loinc_codes()  # LOINC code -> field name (clinical-facts 8.3)
SKIPPED_STATUSES = {"entered-in-error", "cancelled"}


def _codes_text() -> str:
    return "; ".join(f"{f.label} {', '.join(f.loinc)}" for f in INPUTS if f.loinc)


def read(path: str, stdin_data: bytes | str | None = None) -> Any:
    """Parse the FHIR JSON (path "-" reads stdin_data). At most LEUKO_MAX_FHIR_BYTES are
    read; bad UTF-8, bad JSON, too deep a nesting or too long an integer is one line."""
    from .limits import limit

    cap = limit("fhir")
    if path == "-":
        data = stdin_data or b""
    else:
        try:
            with open(path, "rb") as fh:
                data = fh.read(cap + 1)
        except OSError as err:
            raise InputError(f"--fhir {path}: cannot read ({err.strerror})") from None
    if len(data) > cap:
        raise InputError(
            f"--fhir {path}: larger than {cap} bytes; split the Bundle, or raise the limit "
            "with LEUKO_MAX_FHIR_BYTES"
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(
                f"--fhir {path}: not UTF-8 text (byte {err.start}); FHIR JSON is UTF-8"
            ) from None
    else:
        text = data
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(f"--fhir {path}: JSON nested too deeply") from None
    except ValueError as err:
        from .readers import _json_reason

        raise InputError(
            f"--fhir {path}: not valid JSON ({_json_reason(err)}); give a FHIR R4 Observation "
            "or Bundle in JSON"
        ) from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def observations(doc: Any) -> list[dict]:
    """The Observation resources in an Observation or a Bundle (searchset, collection...)."""
    if not isinstance(doc, dict):
        raise InputError("--fhir expects a JSON object: a FHIR Observation or Bundle")
    kind = doc.get("resourceType")
    if kind == "Observation":
        return [doc]
    if kind == "Bundle":
        found = []
        entries = doc.get("entry")
        for entry in entries if isinstance(entries, list) else []:
            res = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(res, dict) and res.get("resourceType") == "Observation":
                found.append(res)
        if not found:
            raise InputError("--fhir: the Bundle has no Observation entries")
        return found
    raise InputError(
        f"--fhir: resourceType {kind!r} is not supported; give an Observation or "
        "a Bundle of Observations"
    )


def _at(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None where a step is missing or not an object (FHIR from
    elsewhere may put any JSON type anywhere)."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _label(obs: dict, n: int) -> str:
    return f"Observation {obs['id']!r}" if isinstance(obs.get("id"), str) else f"Observation #{n}"


def _analyte(obs: dict, label: str) -> tuple[str, str]:
    codings = _at(obs, "code", "coding")
    codings = codings if isinstance(codings, list) else []
    seen = []
    for c in codings:
        if not isinstance(c, dict):
            continue
        system, code = c.get("system"), c.get("code")
        if system not in (None, LOINC_SYSTEM):
            continue
        seen.append(str(code))
        if isinstance(code, str) and code in LOINC:
            return LOINC[code], code
    got = ", ".join(seen) if seen else "none"
    raise InputError(f"{label}: LOINC code {got} is not one leuko grades; use {_codes_text()}")


def _quantity(kb, obs: dict, analyte: str, label: str) -> tuple[float, str]:
    """(value, KB unit id or "%") of an Observation's valueQuantity."""
    from leuko_cli.inputs import find_unit

    q = obs.get("valueQuantity")
    if not isinstance(q, dict) or "value" not in q:
        raise InputError(f"{label}: no valueQuantity.value; leuko reads numeric results only")
    value = q["value"]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, int) and value.bit_length() > 64)
    ):
        raise InputError(
            f"{label}: valueQuantity.value must be a number of plausible size, "
            f"got {str(value)[:40]!r}"
        )
    if q.get("comparator"):
        raise InputError(
            f"{label}: a value with comparator {q['comparator']!r} cannot be "
            "graded; give the measured value"
        )
    system = q.get("system")
    ucum = q.get("code") if system in (None, UCUM_SYSTEM) and q.get("code") else q.get("unit")
    ucum = _text(ucum)
    if BY_NAME[analyte].kind == "percent":
        if ucum != "%":
            raise InputError(
                f"{label}: unit {ucum!r} is not a percentage; the "
                f"{BY_NAME[analyte].label} must be in % (UCUM '%')"
            )
        return float(value), "%"
    try:
        unit = find_unit(kb, ucum)["id"]
    except InputError:
        names = ", ".join(u["id"] for u in kb.table("units"))
        raise InputError(
            f"{label}: unit {ucum!r} is not supported for "
            f"{BY_NAME[analyte].label}; use one of: {names} (or their UCUM "
            "forms)"
        ) from None
    return float(value), unit


def groups(kb, doc: Any) -> list[dict]:
    """[{subject, effective, observations: [ids], values: {analyte: (value, unit)}}] in the
    order first seen. Raises InputError on unknown codes/units or conflicting values."""
    out: dict[tuple, dict] = {}
    for n, obs in enumerate(observations(doc), start=1):
        if _text(obs.get("status")) in SKIPPED_STATUSES:
            continue
        label = _label(obs, n)
        analyte, code = _analyte(obs, label)
        value, unit = _quantity(kb, obs, analyte, label)
        subject = _text(_at(obs, "subject", "reference"))
        effective = _text(obs.get("effectiveDateTime")) or _text(
            _at(obs, "effectivePeriod", "start")
        )
        key = (subject, effective)
        g = out.setdefault(
            key,
            {
                "subject": subject,
                "effective": effective,
                "observations": [],
                "values": {},
                "codes": {},
            },
        )
        g["observations"].append(_text(obs.get("id")))
        prev = g["values"].get(analyte)
        if prev is not None and _cells(kb, prev) != _cells(kb, (value, unit)):
            when = f" at {effective}" if effective else ""
            raise InputError(
                f"{label}: a second {BY_NAME[analyte].label} value "
                f"({value:g} {unit}) differs from the first ({prev[0]:g} "
                f"{prev[1]}){when}; give one value per analyte and time"
            )
        g["values"][analyte] = (value, unit)
        g["codes"].setdefault(analyte, code)
    if not out:
        raise InputError("--fhir: every Observation is entered-in-error or cancelled")
    return list(out.values())


def _cells(kb, vu: tuple[float, str]) -> float:
    value, unit = vu
    return value if unit == "%" else value * kb.get("units", unit)["factor_to_cells_per_ul"]


def request_values(kb, group: dict) -> tuple[dict, list[str]]:
    """Request count fields (and unit) for one group, plus notes on what was left out."""
    vals = dict(group["values"])
    notes: list[str] = []
    # an ANC reported with a WBC and neutrophil % goes to the core with all three, which checks
    # that they agree (as it does for the same numbers typed by hand)
    if "neutrophils" in vals and "wbc" not in vals:
        notes.append("neutrophil % ignored: it needs a WBC in the same group to give an ANC")
        del vals["neutrophils"]
    counts = {k: v for k, v in vals.items() if k != "neutrophils"}
    if not counts:
        raise InputError("--fhir: no ANC, WBC or lymphocyte count found (" + _codes_text() + ")")
    units = {u for _v, u in counts.values()}
    if len(units) == 1:
        unit = units.pop()
        fields: dict[str, Any] = {k: v for k, (v, _u) in counts.items()}
    else:  # mixed units: give the core cells/uL
        unit = "cells/uL"
        fields = {k: _cells(kb, vu) for k, vu in counts.items()}
    if "neutrophils" in vals:
        fields["neutrophils"] = vals["neutrophils"][0]
    fields["unit"] = unit
    return fields, notes


def assess_doc(kb, doc: Any, base: dict, settings: dict) -> list[dict]:
    """Grade each group; `base` holds the other request fields (temp, age, ...)."""
    from leuko_cli.assess import assess

    results = []
    for g in groups(kb, doc):
        fields, notes = request_values(kb, g)
        result = assess(kb, {**base, **fields}, settings, origin="FHIR Observation")
        result["notes"] = notes + result.get("notes", [])
        result["fhir"] = {
            "subject": g["subject"],
            "effective": g["effective"],
            "observations": g["observations"],
            "loinc": g["codes"],
        }
        results.append(result)
    return results
