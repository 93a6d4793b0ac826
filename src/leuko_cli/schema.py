"""JSON Schema (draft 2020-12) of an assessment's input and output, from the field table.

`leuko schema input` describes one request as batch JSON Lines and integrators give it (one
object per case, keys = field names); `leuko schema output` the `leuko assess --json` object.
"""

from __future__ import annotations

from . import __version__
from .errors import InputError, nearest
from .fields import AUDIENCES, INPUTS, RESULTS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_DECIMAL = r"^\+?(?:\d+(?:\.\d*)?|\.\d+)$"
_TEMPERATURE = r"^[+-]?\d+(?:\.\d+)?\s*°?\s*[cCfF]?$"

# field kind -> the JSON Schema of its value
_KIND = {
    "count": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DECIMAL}]},
    "limit": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DECIMAL}]},
    "percent": {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": 100},
            {"type": "string", "pattern": _DECIMAL},
        ]
    },
    "age": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DECIMAL}]},
    "temperature": {"anyOf": [{"type": "number"}, {"type": "string", "pattern": _TEMPERATURE}]},
    "switch": {
        "anyOf": [
            {"type": "boolean"},
            {"type": "string", "enum": ["true", "false", "yes", "no", "1", "0"]},
        ]
    },
    "unit": {"type": "string"},
    "ctcae_version": {"type": "string"},
    "drug": {"type": "string"},
    "region": {"type": "string"},
    "audience": {"type": "string", "enum": list(AUDIENCES)},
}
_RESULT_TYPE = {
    "number": "number",
    "string": "string",
    "integer": "integer",
    "boolean": "boolean",
    "object": "object",
    "array": "array",
    "null": "null",
}


def input_schema() -> dict:
    props = {}
    for f in INPUTS:
        prop = {**_KIND[f.kind], "description": f.help}
        extra = {"x-leuko-flag": f.flag}
        if f.columns:
            extra["x-leuko-columns"] = list(f.columns)
        if f.loinc:
            extra["x-leuko-loinc"] = list(f.loinc)
        if f.measure:
            extra["x-leuko-measure"] = f.measure
        props[f.name] = {**prop, **extra}
    return {
        "$schema": DRAFT,
        "$id": f"leuko-{__version__}-assess-input",
        "title": "leuko assess: one case",
        "type": "object",
        "properties": props,
        "additionalProperties": True,
        "description": "Other keys are passed through in batch output. A case needs anc, "
        "or wbc with neutrophils and/or bands, or lymphocytes.",
    }


def output_schema() -> dict:
    props = {}
    for r in RESULTS:
        types = [_RESULT_TYPE[t] for t in r.type.split("|")]
        props[r.name] = {"type": types[0] if len(types) == 1 else types, "description": r.help}
    always = [r.name for r in RESULTS if not r.optional]
    return {
        "$schema": DRAFT,
        "$id": f"leuko-{__version__}-assess-output",
        "title": "leuko assess --json",
        "type": "object",
        "properties": props,
        "required": always,
        "additionalProperties": False,
    }


def schema(which: str) -> dict:
    which = which.strip().lower()
    if which == "input":
        return input_schema()
    if which == "output":
        return output_schema()
    raise InputError(
        f"unknown schema {which!r}{nearest(which, ('input', 'output'))}; use input or output"
    )
