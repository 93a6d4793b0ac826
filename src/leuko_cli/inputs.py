"""Reading input values strictly: one parser per field kind, for every channel.

The CLI, batch rows and FHIR values all pass through here, so no channel is more lenient than
another. Nothing is reinterpreted: a decimal comma, a thousands separator, a unit glued to the
number, an empty value or an exponent is refused with the fix in one line. Pure Python.
"""

from __future__ import annotations

import math
import re

from .errors import InputError, nearest
from .fields import Field

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase

DAYS_PER_YEAR = 365.25
MAX_AGE_YEARS = 130

# The error-path patterns are compiled on first use: start-up pays for none of them.
_PATTERNS = {
    "exponent": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+",
    "decimal_comma": r"[+-]?\d*,\d+",
    "thousands": r"[+-]?\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?:\.\d+)?",
    "glued_unit": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*[^\d\s.,].*",
    "temperature": r"([+-]?\d+(?:\.\d+)?)\s*°?\s*([cCfF]?)",
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(_PATTERNS[name])


def _is_plain(s: str) -> bool:
    """A plain decimal: optional sign, ASCII digits, at most one dot (no regex on the hot
    path; str.isdigit alone would accept digits such as '²')."""
    body = s[1:] if s[:1] in "+-" else s
    digits = body.replace(".", "", 1)
    return bool(digits) and digits.isascii() and digits.isdigit()


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def number(raw: object, flag: str) -> float:
    """A finite, non-negative plain decimal number, or InputError naming the flag and the fix."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise InputError(f"{flag} expects a number, got {_shown(raw)}")
    if isinstance(raw, (int, float)):
        try:
            value = float(raw)
        except OverflowError:
            raise InputError(f"{flag} {str(raw)[:20]}... is too large to be a count") from None
        if not math.isfinite(value):
            raise InputError(f"{flag} must be a finite number, got {raw!r}")
    else:
        value = _number_text(raw, flag)
    if value < 0:
        raise InputError(
            f"{flag} cannot be negative (got {_shown(raw, quote=False)}); give the "
            "count as reported"
        )
    return value + 0.0  # '-0' is 0, never shown as '-0'


def _number_text(raw: str, flag: str) -> float:
    s = raw.strip()
    if not s:
        raise InputError(f"{flag} is empty; give a number, or leave {flag} out")
    if _is_plain(s):
        return float(s)  # the sign is checked by the caller
    if _pattern("thousands").fullmatch(s) and not s.lstrip("+-").startswith("0"):
        plain = re.sub(r"[,\u00a0\u202f ]", "", s)
        raise InputError(
            f"{flag} {raw!r} has a thousands separator, which could also be a "
            f"decimal comma; write {plain} (or use a dot for decimals)"
        )
    if _pattern("decimal_comma").fullmatch(s):
        raise InputError(f"{flag} {raw!r} has a decimal comma; use a dot: {s.replace(',', '.')}")
    if _pattern("exponent").fullmatch(s):
        raise InputError(
            f"{flag} {raw!r} is in exponent notation; write the number out (e.g. 0.45)"
        )
    if s.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InputError(f"{flag} must be a finite number, got {raw!r}")
    if _pattern("glued_unit").fullmatch(s):
        raise InputError(
            f"{flag} {raw!r} has a unit glued to the number; give the number "
            "alone and the unit with --unit"
        )
    raise InputError(f"{flag} expects a number, got {_shown(raw)}")


def _shown(raw: object, quote: bool = True) -> str:
    text = repr(raw) if quote else str(raw)
    return text if len(text) <= 60 else text[:57] + "..."


def percent(raw: object, flag: str) -> float:
    value = number(raw, flag)
    if value > 100:
        raise InputError(
            f"{flag} is a percentage of the white count and cannot exceed 100 (got {value:g})"
        )
    return value


def temperature(raw: object, flag: str = "--temp", low: float = 25.0, high: float = 45.0) -> float:
    """°C by default; a trailing F means Fahrenheit. Refuses values outside low–high °C."""
    if isinstance(raw, bool):
        raise InputError(f"{flag} expects a temperature like 38.4 or 101.2F, got {raw!r}")
    m = (
        _pattern("temperature").fullmatch(str(raw).strip())
        if isinstance(raw, (str, int, float))
        else None
    )
    if not m:
        hint = "; use a dot: " + str(raw).replace(",", ".") if "," in str(raw) else ""
        raise InputError(
            f"{flag} expects a temperature like 38.4 or 101.2F, got {_shown(raw)}{hint}"
        )
    value = float(m.group(1))
    celsius = (value - 32) * 5 / 9 if m.group(2).lower() == "f" else value
    if not low <= celsius <= high:
        raise InputError(
            f"{flag} {raw} is outside {low:g}–{high:g} °C; give °C, or add F "
            "for Fahrenheit (e.g. 101.2F)"
        )
    return round(celsius, 2)


AGE_UNITS = {  # suffix -> days; a bare number is years (as clinicians write adult ages)
    "h": 1 / 24,
    "hour": 1 / 24,
    "hours": 1 / 24,
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "w": 7.0,
    "wk": 7.0,
    "week": 7.0,
    "weeks": 7.0,
    "mo": DAYS_PER_YEAR / 12,
    "month": DAYS_PER_YEAR / 12,
    "months": DAYS_PER_YEAR / 12,
    "y": DAYS_PER_YEAR,
    "yr": DAYS_PER_YEAR,
    "year": DAYS_PER_YEAR,
    "years": DAYS_PER_YEAR,
}


def age_days(raw: object, flag: str = "--age") -> float:
    """An age in days from `36h`, `3d`, `6w`, `6mo`, `2y` or a bare number of years."""
    if isinstance(raw, str):
        s = raw.strip().lower()
        number_part = s.rstrip("abcdefghijklmnopqrstuvwxyz").rstrip()
        suffix = s[len(number_part) :].strip()
        if suffix:
            if suffix not in AGE_UNITS:
                raise InputError(
                    f"{flag} {raw!r}: unknown age unit {suffix!r}; write e.g. 36h, "
                    "3d, 6w, 6mo, 2y, or a bare number of years"
                )
            days = number(number_part, flag) * AGE_UNITS[suffix]
            return _check_age(days, raw, flag)
    return _check_age(number(raw, flag) * DAYS_PER_YEAR, raw, flag)


def _check_age(days: float, raw: object, flag: str) -> float:
    if days > MAX_AGE_YEARS * DAYS_PER_YEAR:
        raise InputError(
            f"{flag} {raw} is more than {MAX_AGE_YEARS} years; a bare number is "
            "years (write 36h, 3d, 6w or 6mo for a baby)"
        )
    return days


def switch(raw: object, flag: str) -> bool:
    if isinstance(raw, bool):
        return raw
    s = str(raw).strip().casefold()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise InputError(f"{flag} expects true or false (or yes/no, 1/0), got {_shown(raw)}")


# --- units ------------------------------------------------------------------------------------


def _norm_unit(text: str) -> str:
    # case does not matter, except G (giga) against g (gram): G/L is a count, g/L a mass
    s = "".join(c if c in "Gg" else c.lower() for c in text.strip()).replace(" ", "")
    s = s.replace("µ", "u").replace("μ", "u").replace("mcl", "ul").replace("×", "x")
    return s.replace("cells/", "/").replace("e9", "^9").replace("e3", "^3").replace("*", "^")


_UNIT_NAMES: dict[int, tuple[list, dict]] = {}


def _unit_names(units: list) -> dict:
    """Normalised name or alias -> unit, the first unit that has it (as the scan in order
    found it), built once per units table. The table is held with its index, so its id
    cannot be reused by another table while the entry exists (a batch asks for each row's
    unit)."""
    held = _UNIT_NAMES.get(id(units))
    if held is None or held[0] is not units:
        names: dict = {}
        for unit in units:
            for alias in (unit["id"], *unit["aliases"]):
                names.setdefault(_norm_unit(alias), unit)
        if len(_UNIT_NAMES) >= 8:
            _UNIT_NAMES.clear()
        held = _UNIT_NAMES[id(units)] = (units, names)
    return held[1]


def find_unit(kb: KnowledgeBase, text: object) -> dict:
    if not isinstance(text, str) or not text.strip():
        raise InputError(
            f"give a unit name, not {_shown(text)}; use one of: "
            f"{', '.join(u['id'] for u in kb.table('units'))}"
        )
    units = kb.table("units")
    found = _unit_names(units).get(_norm_unit(text))
    if found is not None:
        return found
    ids = [u["id"] for u in kb.table("units")]
    raise InputError(f"unknown unit {text!r}{nearest(text, ids)}; use one of: {', '.join(ids)}")


def to_cells(
    kb: KnowledgeBase,
    measure_id: str,
    value: float,
    unit: dict,
    flag: str,
    fix: str = "add --unit {unit}",
) -> float:
    """Convert to cells/µL and refuse values implausible in the chosen unit (never reinterpret).
    `fix` is how this input changes its unit ({unit}: the other unit), for the message."""
    measure = kb.get("measures", measure_id)
    cells = value * unit["factor_to_cells_per_ul"]
    other = next((u for u in kb.table("units") if u["id"] != unit["id"]), None)
    hint = f"; if it is in {other['id']}, {fix.format(unit=other['id'])}" if other else ""
    name = measure["name"].lower()
    what = ("an " if name[:1] in "aeiou" else "a ") + name
    if 0 < cells < measure["min_positive_cells_per_ul"]:
        raise InputError(f"{flag} {value:g} {unit['id']} is implausibly low for {what}{hint}")
    if cells > measure["max_cells_per_ul"]:
        raise InputError(f"{flag} {value:g} {unit['id']} is implausibly high for {what}{hint}")
    return cells


def from_cells(cells: float, unit: dict) -> float:
    return cells / unit["factor_to_cells_per_ul"]


def cells(kb: KnowledgeBase, field: Field, raw: object, unit: dict) -> float:
    """A count or limit field's value in cells/µL."""
    return to_cells(kb, field.measure, number(raw, field.flag), unit, field.flag)
