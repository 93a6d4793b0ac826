"""FHIR resources -> the Observations leuko reads (with their subject and time), and their values.

Shapes read (FHIR R4 JSON):
- an Observation;
- a Bundle of any type (collection, transaction, searchset, batch-response, document...): every
  `entry[].resource`, Bundles inside Bundles included (a batch-response entry can hold a
  searchset);
- a DiagnosticReport, its results `contained` (`#id`) or elsewhere in the same file
  (`Observation/id`, an absolute URL ending in it, or an entry's `fullUrl`);
- FHIR Bulk Data NDJSON (one resource per line), which `fhir.read` hands over as `Resources`.

Other resources (Patient, Specimen, OperationOutcome...) are left alone. An Observation without
a subject or time of its own takes its report's: contained Observations usually carry neither
(the HL7 example CBC report is written that way).

Pure Python; any JSON type may sit anywhere (hostile files), so every step checks its type.
"""

from __future__ import annotations

from typing import Any

from leuko_cli.errors import InputError
from leuko_cli.fields import BY_NAME, loinc_codes

LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
LOINC = loinc_codes()  # LOINC code -> field name (clinical-facts 8.3; 8310-5 body temperature)
# UCUM body-temperature codes -> the suffix `--temp` takes (FHIR bodytemp profile: Cel, [degF])
TEMPERATURE_UNITS = {"Cel": "", "[degF]": "F"}
MAX_BUNDLE_DEPTH = 4  # Bundles inside Bundles; deeper nesting is not a real lab export


class Resources(list):
    """The resources of an NDJSON file, one per line (a top-level JSON array is not FHIR)."""


class Found:
    """One Observation and the subject, time and report it belongs to."""

    __slots__ = ("obs", "subject", "effective", "report")

    def __init__(self, obs: dict, subject, effective, report) -> None:
        self.obs, self.subject, self.effective, self.report = obs, subject, effective, report


def at(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]..., or None where a step is missing or not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def subject_of(res: dict) -> str | None:
    return text(at(res, "subject", "reference"))


def effective_of(res: dict) -> str | None:
    """When the sample was taken: effectiveDateTime, else effectivePeriod.start, else
    effectiveInstant. `issued` (when the result was released) is not a sample time."""
    return (
        text(res.get("effectiveDateTime"))
        or text(at(res, "effectivePeriod", "start"))
        or text(res.get("effectiveInstant"))
    )


def _top(doc: Any, label: str) -> list[tuple[dict, str | None]]:
    """(resource, fullUrl) of every resource the file holds, Bundles opened."""
    if isinstance(doc, Resources):
        start = [(r, None) for r in doc]
    elif isinstance(doc, dict):
        start = [(doc, None)]
    else:
        raise InputError(
            f"{label} expects a JSON object (a FHIR Observation, Bundle or DiagnosticReport) "
            "or FHIR NDJSON (one resource per line)"
        )
    out: list[tuple[dict, str | None]] = []

    def walk(res: Any, url: str | None, depth: int) -> None:
        if not isinstance(res, dict):
            return
        if res.get("resourceType") == "Bundle" and depth < MAX_BUNDLE_DEPTH:
            entries = res.get("entry")
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    walk(entry.get("resource"), text(entry.get("fullUrl")), depth + 1)
            return
        out.append((res, url))

    for res, url in start:
        walk(res, url, 0)
    return out


def _index(top: list[tuple[dict, str | None]]) -> dict[str, dict]:
    """Reference text -> Observation, for the references a report may use."""
    index: dict[str, dict] = {}
    for res, url in top:
        if res.get("resourceType") != "Observation":
            continue
        if url:
            index.setdefault(url, res)
        ident = text(res.get("id"))
        if ident:
            index.setdefault(f"Observation/{ident}", res)
    return index


def _resolve(ref: str, contained: dict[str, dict], index: dict[str, dict]) -> dict | None:
    if ref.startswith("#"):
        return contained.get(ref[1:])
    if ref in index:
        return index[ref]
    parts = ref.rstrip("/").split("/")
    # an absolute or versioned reference: .../Observation/id or .../Observation/id/_history/2
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Observation":
        return index.get(f"Observation/{parts[-1]}")
    return None


def _kind_label(res: dict, kind: str) -> str:
    ident = text(res.get("id"))
    return f"{kind} {ident!r}" if ident else kind


def collect(doc: Any, label: str = "--fhir") -> tuple[list[Found], list[dict]]:
    """Every Observation in the file, once, in the order met, with its context; and the
    report results that point at nothing in the file ({report, reference, subject, effective})."""
    top = _top(doc, label)
    index = _index(top)
    inherited: dict[int, tuple] = {}  # id(observation) -> (subject, effective, report label)
    report_obs: dict[int, list[dict]] = {}  # id(report) -> its Observations, in result order
    missing: list[dict] = []
    for res, _url in top:
        if res.get("resourceType") != "DiagnosticReport":
            continue
        label = _kind_label(res, "DiagnosticReport")
        context = (subject_of(res), effective_of(res), label)
        contained: dict[str, dict] = {}
        boxes = res.get("contained")
        for box in boxes if isinstance(boxes, list) else []:
            if isinstance(box, dict) and box.get("resourceType") == "Observation":
                ident = text(box.get("id"))
                if ident:
                    contained.setdefault(ident, box)
        mine: list[dict] = []
        results = res.get("result")
        for item in results if isinstance(results, list) else []:
            ref = text(at(item, "reference"))
            if ref is None:
                continue
            obs = _resolve(ref, contained, index)
            if obs is None:
                missing.append(
                    {
                        "report": label,
                        "reference": ref,
                        "subject": context[0],
                        "effective": context[1],
                    }
                )
                continue
            inherited.setdefault(id(obs), context)
            mine.append(obs)
        for obs in contained.values():  # contained but not listed in result: still the report's
            if id(obs) not in inherited:
                inherited[id(obs)] = context
                mine.append(obs)
        report_obs[id(res)] = mine
    found: list[Found] = []
    seen: set[int] = set()

    def add(obs: dict) -> None:
        if id(obs) in seen:
            return
        seen.add(id(obs))
        subject, effective, report = inherited.get(id(obs), (None, None, None))
        found.append(Found(obs, subject_of(obs) or subject, effective_of(obs) or effective, report))

    for res, _url in top:
        kind = res.get("resourceType")
        if kind == "Observation":
            add(res)
        elif kind == "DiagnosticReport":
            for obs in report_obs.get(id(res), []):
                add(obs)
    if not found and not missing:
        if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            raise InputError(f"{label}: the Bundle has no Observation entries")
        if isinstance(doc, dict):
            raise InputError(
                f"{label}: resourceType {str(doc.get('resourceType'))[:40]!r} is not supported; "
                "give an Observation, a Bundle, a DiagnosticReport with its results, or FHIR "
                "NDJSON"
            )
        kinds = sorted({str(r.get("resourceType"))[:40] for r, _u in top})
        raise InputError(
            f"{label}: no Observation found (resourceType {', '.join(kinds) or 'none'}); give an "
            "Observation, a Bundle, a DiagnosticReport with its results, or FHIR NDJSON"
        )
    return found, missing


# --- one Observation: what it is, its value, its normal range ---------------------------------


def observation_label(obs: dict, n: int) -> str:
    ident = text(obs.get("id"))
    return f"Observation {ident!r}" if ident else f"Observation #{n}"


def analyte_of(obs: dict) -> tuple[str | None, str | None]:
    """(field, LOINC code) of an Observation; field None when leuko does not grade the code
    (then the code is the first LOINC one seen, for the skipped list)."""
    codings = at(obs, "code", "coding")
    seen = None
    for c in codings if isinstance(codings, list) else []:
        if not isinstance(c, dict) or c.get("system") not in (None, LOINC_SYSTEM):
            continue
        code = c.get("code")
        if isinstance(code, str) and code in LOINC:
            return LOINC[code], code
        if seen is None and isinstance(code, (str, int, float)) and not isinstance(code, bool):
            seen = str(code)[:40]
    return None, seen


def _name(obs: dict) -> str | None:
    """What the Observation says it is (code.text, else a coding's display), for messages."""
    name = text(at(obs, "code", "text"))
    codings = at(obs, "code", "coding")
    for c in codings if isinstance(codings, list) and not name else []:
        name = text(at(c, "display"))
        if name:
            break
    return " ".join(name.split())[:60] if name else None


def skip_entry(obs: dict, code: str | None, reason: str) -> dict:
    return {"id": text(obs.get("id")), "code": code, "name": _name(obs), "reason": reason}


def _plain_number(value: Any) -> float | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, int) and value.bit_length() > 64)
    ):
        return None
    return float(value)


def _unit_text(q: dict) -> str | None:
    """The UCUM code when the quantity says it is UCUM (or says nothing), else the unit text."""
    system = q.get("system")
    code = q.get("code") if system in (None, UCUM_SYSTEM) and q.get("code") else q.get("unit")
    return text(code)


def _value(obs: dict, label: str) -> tuple[float, dict]:
    q = obs.get("valueQuantity")
    if not isinstance(q, dict) or "value" not in q:
        raise InputError(f"{label}: no valueQuantity.value; leuko reads numeric results only")
    value = _plain_number(q["value"])
    if value is None:
        raise InputError(
            f"{label}: valueQuantity.value must be a number of plausible size, "
            f"got {str(q['value'])[:40]!r}"
        )
    if q.get("comparator"):
        raise InputError(
            f"{label}: a value with comparator {str(q['comparator'])[:10]!r} cannot be "
            "graded; give the measured value"
        )
    return value, q


def quantity(kb, obs: dict, analyte: str, label: str) -> tuple[float, str]:
    """(value, KB unit id or "%") of a count or percentage Observation."""
    from leuko_cli.inputs import find_unit

    value, q = _value(obs, label)
    ucum = _unit_text(q)
    if BY_NAME[analyte].kind == "percent":
        if ucum != "%":
            raise InputError(
                f"{label}: unit {ucum!r} is not a percentage; the "
                f"{BY_NAME[analyte].label} must be in % (UCUM '%')"
            )
        return value, "%"
    names = ", ".join(u["id"] for u in kb.table("units"))
    if ucum is None:
        raise InputError(
            f"{label}: the {BY_NAME[analyte].label} has no unit; give valueQuantity.code, "
            f"one of: {names} (or their UCUM forms)"
        )
    try:
        unit = find_unit(kb, ucum)["id"]
    except InputError:
        raise InputError(
            f"{label}: unit {ucum!r} is not supported for "
            f"{BY_NAME[analyte].label}; use one of: {names} (or their UCUM forms)"
        ) from None
    clash = _disagreement(q, lambda u: find_unit(kb, u)["id"], "valueQuantity")
    if clash:
        raise InputError(f"{label}: {clash}; correct the one that is wrong")
    return value, unit


def _disagreement(q: dict, resolve, where: str) -> str | None:
    """When the quantity's code was read (_unit_text) and its unit text names another unit
    that `resolve` knows, what says so: the two are never read one over the other. A display
    text `resolve` does not know (InputError, KeyError), such as 'K/uL', is left alone."""
    code, shown = text(q.get("code")), text(q.get("unit"))
    if code is None or shown is None or code == shown or _unit_text(q) != code:
        return None
    try:
        if resolve(code) == resolve(shown):
            return None
    except (InputError, KeyError):
        return None
    return f"{where}.code {code!r} and .unit {shown!r} name different units"


def temperature_text(obs: dict, label: str) -> str:
    """A body temperature as `--temp` takes it: "38.6" (UCUM Cel) or "101.5F" ([degF])."""
    value, q = _value(obs, label)
    ucum = _unit_text(q)
    clash = _disagreement(q, TEMPERATURE_UNITS.__getitem__, "valueQuantity")
    if clash:
        raise InputError(f"{label}: body temperature {clash}; correct the one that is wrong")
    if ucum not in TEMPERATURE_UNITS:
        raise InputError(
            f"{label}: body temperature unit {ucum!r} is not one leuko reads; use UCUM "
            f"{' or '.join(TEMPERATURE_UNITS)}"
        )
    return f"{value!r}{TEMPERATURE_UNITS[ucum]}"


def reference_low(kb, obs: dict, analyte: str, label: str) -> tuple[tuple | None, str | None]:
    """((low, KB unit id), None) from the Observation's normal range, or (None, a note saying
    why a range that is there was not used). Never guessed: a low without a known unit, or
    several ranges that disagree, is left out and the note says so."""
    from leuko_cli.inputs import find_unit

    ranges = obs.get("referenceRange")
    lows = []
    for r in ranges if isinstance(ranges, list) else []:
        codes = at(r, "type", "coding")
        if isinstance(codes, list) and codes:
            if not any(at(c, "code") == "normal" for c in codes):
                continue  # a treatment or therapeutic range, not the normal one
        low = at(r, "low")
        if isinstance(low, dict) and "value" in low:
            lows.append(low)
    if not lows:
        return None, None
    what = f"{label} ({BY_NAME[analyte].label})"
    got = {(str(low.get("value"))[:20], _unit_text(low)) for low in lows}
    if len(got) > 1:
        return None, f"{what}: several reference ranges with different lows; none used as the LLN"
    low = lows[0]
    value = _plain_number(low.get("value"))
    if value is None:
        return None, f"{what}: referenceRange.low is not a number; not used as the LLN"
    if value == 0:  # a range "0-4.0": no lower limit to grade against
        return None, f"{what}: referenceRange.low is 0, no lower limit; not used as the LLN"
    if low.get("comparator"):  # a SimpleQuantity has none: '>1.5' is not a limit
        return None, (
            f"{what}: referenceRange.low has a comparator "
            f"({str(low['comparator'])[:10]!r}); not used as the LLN"
        )
    ucum = _unit_text(low)
    if ucum is None:
        return None, f"{what}: referenceRange.low has no unit; not used as the LLN"
    clash = _disagreement(low, lambda u: find_unit(kb, u)["id"], "referenceRange.low")
    if clash:
        return None, f"{what}: {clash}; not used as the LLN"
    try:
        unit = find_unit(kb, ucum)["id"]
    except InputError:
        return None, (
            f"{what}: referenceRange.low unit {ucum[:20]!r} is unknown; not used as the LLN"
        )
    return (value, unit), None
