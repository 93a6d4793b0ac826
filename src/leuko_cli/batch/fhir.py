"""The FHIR reader: counts from FHIR R4 resources, grouped into cases for `assess.assess`.

Pure Python (no Typer, no Rich). LOINC codes come from the field table (fields.INPUTS) and UCUM
units are resolved through the knowledge base's unit table (UCUM `10*3/uL` is the KB alias
`10^3/uL`), so this module only reads and groups Observations; grading happens in
`assess.assess`, with the same request fields a user could type: the counts, the LLN from an
Observation's `referenceRange.low` as `lln` / `wbc_lln` / `lymphocytes_lln`, and a body
temperature as `temp` ("38.6", or "101.5F" for UCUM [degF]).

Which resources are read, and how one Observation's value and range are read:
fhir_resources.py. Grouping: by (subject, sample time); each group is
one case. Observations leuko does not grade (haemoglobin, platelets...) and entered-in-error or
cancelled ones are skipped and listed, never fatal. Within a group, the same analyte twice with
different values is an error for that group.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from leuko_cli.errors import SAVE_AS_UTF8, UTF16, InputError, is_utf16
from leuko_cli.fields import BY_NAME, INPUTS

from . import fhir_resources
from .fhir_resources import (
    Resources,
    analyte_of,
    observation_label,
    quantity,
    reference_low,
    skip_entry,
    temperature_text,
    text,
)

SKIPPED_STATUSES = {"entered-in-error", "cancelled"}
# FHIR R4 Observation.status: the rest are graded; one not final says so in the group's notes
GRADED_STATUSES = {"registered", "preliminary", "final", "amended", "corrected", "unknown"}
FINAL_STATUSES = {"final", "amended", "corrected"}
# count field -> the limit field that carries its lower limit of normal (from the field table)
LIMIT_OF = {f.measure: f.name for f in INPUTS if f.kind == "limit"}
COUNT_FIELDS = {f.name for f in INPUTS if f.kind in ("count", "percent") and f.loinc}
MAX_LISTED = 10  # kinds of skipped Observation named on the summary line


def _codes_text() -> str:
    return "; ".join(f"{f.label} {', '.join(f.loinc)}" for f in INPUTS if f.loinc)


# --- reading the file: one JSON document, or NDJSON -----------------------------------------


def read(path: str, stdin_data: bytes | str | None = None, label: str | None = None) -> Any:
    """Parse FHIR JSON, or FHIR NDJSON (one resource per line: fhir_resources.Resources), from
    path ("-" is stdin), or from stdin_data when given (text already read). At most
    LEUKO_MAX_FHIR_BYTES are read; bad UTF-8, bad JSON, too deep a nesting or too long an
    integer is one line, which starts with `label` (how the user gave the file; by default
    `--fhir PATH`)."""
    from .limits import read_capped, refuse_over

    label = label or f"--fhir {path}"
    if stdin_data is None:
        data = read_capped(path, "fhir", label)
    else:
        data = stdin_data
        refuse_over(data, "fhir", label)
    if is_utf16(data):
        raise InputError(f"{label}: {UTF16}; {SAVE_AS_UTF8} (FHIR JSON is UTF-8)")
    if isinstance(data, bytes):
        try:
            body = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(
                f"{label}: not UTF-8 text (byte {err.start}); FHIR JSON is UTF-8"
            ) from None
    else:
        body = data
    try:
        return json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(f"{label}: JSON nested too deeply") from None
    except ValueError as err:
        if getattr(err, "msg", "") == "Extra data":  # a second JSON value: NDJSON
            return _ndjson(label, body)
        from .readers import _json_reason

        first = body.lstrip().split("\n", 1)[0]
        hint = (
            f"; it looks like a table: grade it with --input {path}"
            if not first.startswith(("{", "[")) and ("," in first or "\t" in first)
            else "; give a FHIR R4 resource in JSON, or FHIR NDJSON (one resource per line)"
        )
        raise InputError(f"{label}: not valid JSON ({_json_reason(err)}){hint}") from None


def _ndjson(label: str, body: str) -> Resources:
    from .readers import _json_reason

    out = Resources()
    for n, line in enumerate(body.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            res = json.loads(line, parse_constant=_no_constant)
        except RecursionError:
            raise InputError(f"{label} line {n}: JSON nested too deeply") from None
        except ValueError as err:
            raise InputError(
                f"{label} line {n}: not valid JSON ({_json_reason(err)}); the file holds "
                "more than one JSON value, so it is read as FHIR NDJSON: one whole resource "
                "per line"
            ) from None
        if not isinstance(res, dict):
            raise InputError(
                f"{label} line {n}: expected a FHIR resource (a JSON object), got "
                f"{type(res).__name__}"
            )
        if not isinstance(res.get("resourceType"), str):
            # not left alone as another resource type would be: its counts would be lost
            raise InputError(
                f"{label} line {n}: a JSON object without a resourceType is not a FHIR "
                "resource; FHIR NDJSON holds one whole resource per line (rows of counts go "
                "to assess --input)"
            )
        out.append(res)
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def table_hint(name: str | None, first_line: str) -> str | None:
    """For `--input`: a one-line fix when the JSON Lines reader is handed FHIR (a
    pretty-printed document, or NDJSON resources), else None."""
    where = name or "-"
    stripped = first_line.strip()
    if (
        stripped in ("{", "[")
        or stripped.startswith('{"resourceType"')
        and not stripped.endswith("}")
    ):
        return (
            f"--input {where} looks like one pretty-printed JSON document, not JSON Lines (one "
            f"object per line); for FHIR JSON use --fhir {where}"
        )
    if is_resource_line(stripped):
        return (
            f"--input {where} holds FHIR resources (resourceType on line 1); grade FHIR "
            f"NDJSON with --fhir {where}"
        )
    return None


def is_resource_line(line: str) -> bool:
    """One whole FHIR resource on a line (a JSON object naming its resourceType), as each
    line of FHIR Bulk Data NDJSON is."""
    stripped = line.strip()
    if not (stripped.startswith("{") and '"resourceType"' in stripped):
        return False
    try:
        obj = json.loads(stripped)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and isinstance(obj.get("resourceType"), str)


# --- grouping -----------------------------------------------------------------------------------


def _group(subject, effective) -> dict:
    return {
        "subject": subject,
        "effective": effective,
        "observations": [],
        "values": {},
        "codes": {},
        "limits": {},
        "temp": None,
        "skipped": [],
        "notes": [],
        "error": None,
    }


def _instant(effective):
    """The grouping key of a sample time: a date-time with an offset is an instant (08:00Z and
    09:00+01:00 are one sample time); anything else groups as written."""
    if isinstance(effective, str) and "T" in effective:
        try:
            when = datetime.fromisoformat(effective)
        except ValueError:
            return effective
        if when.tzinfo is not None:
            return when.astimezone(timezone.utc)
    return effective


def _cells(kb, vu: tuple[float, str]) -> float:
    value, unit = vu[:2]
    return value if unit == "%" else value * kb.get("units", unit)["factor_to_cells_per_ul"]


def _check(kb, analyte: str, vu: tuple, what: str, fix: str) -> None:
    """Refuse, naming the Observation, what the core would refuse naming a flag (--anc,
    --lln, --unit: all refused with --fhir, so the fix is in the file)."""
    from leuko_cli import inputs

    value, unit = vu[:2]
    if unit == "%":
        inputs.percent(value, what)
        return
    if value < 0:
        raise InputError(f"{what} cannot be negative (got {value:g}); give the count as reported")
    inputs.to_cells(kb, BY_NAME[analyte].measure, value, kb.get("units", unit), what, fix)


def _check_consistent(obs: dict, status: str | None, label: str, notes: list) -> None:
    """A status FHIR does not define, or a value beside a dataAbsentReason (FHIR allows one
    of them), cannot be graded; a result not yet final is graded and says so."""
    if status not in GRADED_STATUSES:
        shown = "no status" if status is None else f"status {status[:30]!r}"
        raise InputError(
            f"{label}: {shown} is not a FHIR Observation status; give one of "
            f"{', '.join(sorted(GRADED_STATUSES | SKIPPED_STATUSES))}"
        )
    if "dataAbsentReason" in obs:
        raise InputError(
            f"{label}: has both a value and a dataAbsentReason; FHIR allows one of them"
        )
    if status not in FINAL_STATUSES:
        notes.append(f"{label}: status {status!r}, not final: the result may still change")


def _add(kb, g: dict, obs: dict, analyte: str, code: str, label: str) -> None:
    """Put one graded Observation into its group (InputError: the group cannot be graded)."""
    from leuko_cli.inputs import temperature

    when = f" at {g['effective']}" if g["effective"] else ""
    if analyte == "temp":
        raw = temperature_text(obs, label)
        celsius = temperature(raw, f"{label}: body temperature")
        if g["temp"] is not None and g["temp"][0] != celsius:
            raise InputError(
                f"{label}: a second body temperature ({raw}) differs from the first "
                f"({g['temp'][1]}){when}; give one temperature per time"
            )
        g["temp"] = (celsius, raw)
    else:
        value, unit = quantity(kb, obs, analyte, label)
        _check(kb, analyte, (value, unit), f"{label}: value", "correct valueQuantity.code")
        prev = g["values"].get(analyte)
        if prev is not None and _cells(kb, prev) != _cells(kb, (value, unit)):
            raise InputError(
                f"{label}: a second {BY_NAME[analyte].label} value "
                f"({value:g} {unit}) differs from the first ({prev[0]:g} "
                f"{prev[1]}){when}; give one value per analyte and time"
            )
        g["values"][analyte] = (value, unit)
        limit = LIMIT_OF.get(BY_NAME[analyte].measure)
        if limit is not None:
            low, note = reference_low(kb, obs, analyte, label)
            if note:
                g["notes"].append(note)
            if low is not None:
                fix = "correct referenceRange.low.code"
                _check(kb, analyte, low, f"{label}: referenceRange.low", fix)
                low = (*low, label)
                known = g["limits"].get(limit)
                if known is not None and _cells(kb, known[:2]) != _cells(kb, low[:2]):
                    g["notes"].append(
                        f"{label}: its reference range differs from another "
                        f"{BY_NAME[analyte].label} Observation's; no LLN used"
                    )
                    g["limits"][limit] = None
                elif limit not in g["limits"]:
                    g["limits"][limit] = low
    g["observations"].append(text(obs.get("id")))
    g["codes"].setdefault(analyte, code)


def read_groups(kb, doc: Any, label: str = "--fhir") -> tuple[list[dict], list[dict]]:
    """(groups with a count to grade or an error to show, groups with neither), in the order
    first seen. A group: {subject, effective, observations, values: {field: (value, unit)},
    codes, limits: {limit field: (value, unit)}, temp: (°C, text), skipped, notes, error}."""
    found, missing = fhir_resources.collect(doc, label)
    out: dict[tuple, dict] = {}
    for n, item in enumerate(found, start=1):
        obs = item.obs
        key = (item.subject, _instant(item.effective))
        g = out.setdefault(key, _group(item.subject, item.effective))
        analyte, code = analyte_of(obs)
        status = text(obs.get("status"))
        if status in SKIPPED_STATUSES:
            g["skipped"].append(skip_entry(obs, code, status))
            continue
        if analyte is None:
            g["skipped"].append(skip_entry(obs, code, "not graded"))
            continue
        if "valueQuantity" not in obs and "dataAbsentReason" in obs:
            g["skipped"].append(skip_entry(obs, code, "no value (dataAbsentReason)"))
            continue
        if g["error"] is None:
            label = observation_label(obs, n)
            try:
                _check_consistent(obs, status, label, g["notes"])
                _add(kb, g, obs, analyte, code, label)
            except InputError as err:
                g["error"] = str(err)
    for m in missing:
        key = (m["subject"], _instant(m["effective"]))
        g = out.setdefault(key, _group(m["subject"], m["effective"]))
        g["skipped"].append(
            {
                "id": None,
                "code": None,
                "name": f"{m['report']} result {m['reference'][:80]}",
                "reason": "not in the file",
            }
        )
    graded, rest = [], []
    for g in out.values():
        (graded if g["error"] or COUNT_FIELDS & set(g["values"]) else rest).append(g)
    for g in rest:
        if g["temp"] is not None:
            g["skipped"].append(
                {
                    "id": next((i for i in g["observations"] if i), None),
                    "code": next(iter(g["codes"].values()), None),
                    "name": "body temperature",
                    "reason": "no count at the same subject and time",
                }
            )
    return graded, rest


def groups(kb, doc: Any, label: str = "--fhir") -> list[dict]:
    """The groups that hold a count (or an error); see read_groups. Errors start with label."""
    graded, rest = read_groups(kb, doc, label)
    if not graded:
        raise InputError(_nothing_to_grade(rest, label))
    return graded


def _nothing_to_grade(rest: list[dict], label: str = "--fhir") -> str:
    skipped = [s for g in rest for s in g["skipped"]]
    listed = f"; {skipped_line(skipped)}" if skipped else ""
    return f"{label}: no ANC, WBC or lymphocyte count found ({_codes_text()}){listed}"


def request_values(kb, group: dict, label: str = "--fhir") -> tuple[dict, list[str]]:
    """Request fields for one group (counts, unit, LLNs, temp), plus notes on what was left
    out. InputError when the group cannot be graded."""
    if group["error"]:
        raise InputError(group["error"])
    vals = dict(group["values"])
    notes: list[str] = list(group["notes"])
    # an ANC reported with a WBC and neutrophil % goes to the core with all three, which checks
    # that they agree (as it does for the same numbers typed by hand)
    if "neutrophils" in vals and "wbc" not in vals:
        notes.append("neutrophil % ignored: it needs a WBC in the same group to give an ANC")
        del vals["neutrophils"]
    counts = {k: v for k, v in vals.items() if k != "neutrophils"}
    if not counts:
        raise InputError(f"{label}: no ANC, WBC or lymphocyte count found ({_codes_text()})")
    units = {u for _v, u in counts.values()}
    if len(units) == 1:
        unit = units.pop()
        fields: dict[str, Any] = {k: v for k, (v, _u) in counts.items()}
    else:  # mixed units: give the core cells/uL
        unit = "cells/uL"
        fields = {k: _cells(kb, vu) for k, vu in counts.items()}
    if "neutrophils" in vals:
        fields["neutrophils"] = vals["neutrophils"][0]
    factor = kb.get("units", unit)["factor_to_cells_per_ul"]
    for limit, low in group["limits"].items():
        if low is None or BY_NAME[limit].measure not in counts:
            continue
        fields[limit] = low[0] if low[1] == unit else _cells(kb, low) / factor
        notes.append(
            f"LLN from the FHIR referenceRange.low of {low[2]}: {low[0]:g} {low[1]} "
            f"({BY_NAME[limit].flag})"
        )
    if group["temp"] is not None:
        fields["temp"] = group["temp"][1]
    fields["unit"] = unit
    return fields, notes


def _info(kb, g: dict) -> dict:
    return {
        "subject": g["subject"],
        "effective": g["effective"],
        "observations": g["observations"],
        "loinc": g["codes"],
        "reference_ranges": {
            k: {"low": v[0], "unit": v[1], "from": v[2]}
            for k, v in g["limits"].items()
            if v is not None
        },
        "skipped": g["skipped"],
    }


def assess_doc(kb, doc: Any, base: dict, settings: dict) -> tuple[list[dict], list[dict]]:
    """Grade each group; `base` holds the flags (temp, age, lln...), which an Observation's own
    value overrides. Returns (one result per group, every skipped Observation). A group that
    cannot be graded is {"fhir": ..., "error": message} when the file has several groups, and
    an InputError (exit 2) when it is the only one."""
    from leuko_cli.assess import assess

    graded, rest = read_groups(kb, doc)
    if not graded:
        raise InputError(_nothing_to_grade(rest))
    results = []
    for g in graded:
        try:
            fields, notes = request_values(kb, g)
            result = assess(kb, {**base, **fields}, settings, origin="FHIR Observation")
        except InputError as err:
            if len(graded) == 1:
                raise
            results.append({"fhir": _info(kb, g), "error": str(err)})
            continue
        result["notes"] = notes + result.get("notes", [])
        result["fhir"] = _info(kb, g)
        results.append(result)
    return results, [s for g in graded + rest for s in g["skipped"]]


def skipped_line(skipped: list[dict]) -> str:
    """The summary line, e.g. `skipped 14 observations: Haemoglobin 718-7, ...` (kinds in the
    order met; the names are the file's text, so the caller makes the line inert)."""
    kinds: dict[str, int] = {}
    for s in skipped:
        code = s["code"] or ("(no LOINC code)" if s["reason"] == "not graded" else None)
        label = " ".join(x for x in (s["name"] or "LOINC", code) if x)
        if s["reason"] != "not graded":
            label += f" ({s['reason']})"
        kinds[label] = kinds.get(label, 0) + 1
    shown = [f"{k} x{n}" if n > 1 else k for k, n in list(kinds.items())[:MAX_LISTED]]
    more = len(kinds) - MAX_LISTED
    tail = f", and {more} more kind(s)" if more > 0 else ""
    n = len(skipped)
    return f"skipped {n} observation{'s' if n != 1 else ''}: {', '.join(shown)}{tail}"
