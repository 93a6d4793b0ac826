"""The knowledge-base schema as data: which tables exist, their fields and allowed values.

A field spec is (type, required, extra). Types: str, int, num, bool, date, date|false,
list[str], bound (number or "LLN"), table (a nested array of tables; extra is its schema).
extra for str/list[str] may hold {"enum": [...]}, {"ref": "<table>"} (ids that must resolve),
"pattern", "nonempty" or "positive". Nothing here imports anything: it is on the start-up path.
"""

from __future__ import annotations

SCHEMA_VERSION = 1
LLN = "LLN"  # symbolic band bound: the laboratory's lower limit of normal

REVIEW_STATUSES = ["draft", "reviewed", "verified"]
LINEAGES = ["neutrophils", "lymphocytes", "all-leukocytes"]
MECHANISMS = [
    "reduced-production",
    "increased-destruction",
    "sequestration",
    "margination",
    "redistribution",
    "mixed",
    "artefact",
]
REFERENCE_KINDS = [
    "article",
    "review",
    "guideline",
    "case-report",
    "label",
    "standard",
    "book",
    "web",
]

_REFS = ("list[str]", True, {"ref": "references", "nonempty": True})

BAND = {
    "lower": ("bound", True, {}),
    "upper": ("bound", False, {}),
    "grade": ("int", True, {}),
    "label": ("str", True, {}),
    "meaning": ("str", False, {}),
    "patient_meaning": ("str", False, {}),
    "action": ("str", False, {}),
    "monitoring": ("str", False, {}),
}

SCHEMA: dict[str, dict[str, tuple]] = {
    "categories": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "description": ("str", True, {}),
        "references": ("list[str]", False, {"ref": "references"}),
    },
    "references": {
        "id": ("str", True, {}),
        "kind": ("str", True, {"enum": REFERENCE_KINDS}),
        "authors": ("list[str]", True, {}),
        "title": ("str", True, {}),
        "journal": ("str", True, {}),
        "year": ("int", True, {}),
        "volume": ("str", False, {}),
        "issue": ("str", False, {}),
        "pages": ("str", False, {}),
        "pmid": ("str", False, {"pattern": r"^[0-9]{1,9}$"}),
        "doi": ("str", False, {"pattern": r"^10\.[0-9]{4,9}/\S+$"}),
        "url": ("str", False, {"pattern": r"^https?://\S+$"}),
        "verified": ("date|false", True, {}),
        "verification": ("str", False, {}),
    },
    "causes": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "category": ("str", True, {"ref": "categories"}),
        "synonyms": ("list[str]", True, {}),
        "lineages": ("list[str]", True, {"enum": LINEAGES, "nonempty": True}),
        "summary": ("str", True, {}),
        "patient_summary": ("str", True, {}),
        "mechanism": ("str", True, {"enum": MECHANISMS}),
        "mechanism_detail": ("str", True, {}),
        "course": ("str", True, {"enum": ["transient", "chronic", "either"]}),
        "origin": ("str", True, {"enum": ["extrinsic", "intrinsic", "either"]}),
        "features": ("list[str]", True, {"nonempty": True}),
        "workup": ("list[str]", True, {"nonempty": True}),
        "management": ("list[str]", True, {"nonempty": True}),
        "references": _REFS,
        "last_reviewed": ("date", True, {}),
        "review_status": ("str", True, {"enum": REVIEW_STATUSES}),
    },
    "units": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "factor_to_cells_per_ul": ("num", True, {"positive": True}),
        "aliases": ("list[str]", True, {}),
    },
    "measures": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "min_positive_cells_per_ul": ("num", True, {}),
        "max_cells_per_ul": ("num", True, {"positive": True}),
    },
    "scales": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "system": ("str", True, {}),
        "version": ("str", True, {}),
        "term": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "unit": ("str", True, {"enum": ["cells/uL"]}),
        "definition": ("str", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
        "bands": ("table", True, BAND),
    },
    "reference_ranges": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "age_min_days": ("num", False, {}),
        "age_max_days": ("num", False, {}),
        "lower": ("num", True, {}),
        "upper": ("num", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
    },
    "fever_rules": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "system": ("str", True, {}),
        "version": ("str", True, {}),
        "single_temp_c": ("num", True, {}),
        "single_inclusive": ("bool", True, {}),
        "sustained_temp_c": ("num", True, {}),
        "sustained_minutes": ("num", True, {}),
        "anc_below": ("num", True, {}),
        "summary": ("str", True, {}),
        "emergency_action": ("str", True, {}),
        "patient_action": ("str", True, {}),
        "note": ("str", False, {}),
        "references": _REFS,
    },
    "drug_monitoring": {
        "id": ("str", True, {}),
        "drug": ("str", True, {}),
        "synonyms": ("list[str]", True, {}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "name": ("str", True, {}),
        "status": ("str", True, {}),
        "note": ("str", False, {}),
        "references": _REFS,
        "bands": ("table", True, BAND),
    },
    "scores": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "summary": ("str", True, {}),
        "low_risk_min": ("num", True, {}),
        "max": ("num", True, {}),
        "low_risk_meaning": ("str", True, {}),
        "high_risk_meaning": ("str", True, {}),
        "limits": ("str", True, {}),
        "references": _REFS,
        "items": (
            "table",
            True,
            {
                "id": ("str", True, {}),
                "text": ("str", True, {}),
                "points": ("num", True, {}),
                "group": ("str", False, {}),
            },
        ),
    },
    "classification": {
        "id": ("str", True, {}),
        "axis": ("str", True, {}),
        "summary": ("str", True, {}),
        "references": _REFS,
        "options": (
            "table",
            True,
            {
                "id": ("str", True, {}),
                "name": ("str", True, {}),
                "description": ("str", True, {}),
            },
        ),
    },
    "workup": {
        "id": ("str", True, {}),
        "step": ("int", True, {}),
        "title": ("str", True, {}),
        "detail": ("str", True, {}),
        "items": ("list[str]", False, {}),
        "references": _REFS,
    },
    "presentation": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "summary": ("str", True, {}),
        "patient_summary": ("str", True, {}),
        "references": _REFS,
    },
    "management": {
        "id": ("str", True, {}),
        "topic": ("str", True, {}),
        "summary": ("str", True, {}),
        "patient_summary": ("str", True, {}),
        "items": ("list[str]", False, {}),
        "references": _REFS,
    },
    "trend_rules": {  # the numbers of `leuko trend` (docs/trend.md); ids are fixed in trend/
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "definition": ("str", True, {}),
        "threshold_cells_per_ul": ("num", False, {"positive": True}),
        "consecutive": ("int", False, {}),
        "max_carry_days": ("int", False, {}),
        "min_per_week": ("num", False, {"positive": True}),
        "min_weeks": ("num", False, {"positive": True}),
        "min_period_days": ("num", False, {"positive": True}),
        "max_period_days": ("num", False, {"positive": True}),
        "false_alarm_max": ("num", False, {"positive": True}),
        "permutations": ("int", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
    },
}

META = {
    "version": ("str", True, {"pattern": r"^\d+\.\d+\.\d+$"}),
    "last_updated": ("date", True, {}),
    "schema": ("int", True, {}),
}
SETTINGS = {
    "disclaimer": ("str", True, {}),
    "patient_disclaimer": ("str", True, {}),
    "severity_scale": ("str", True, {"ref": "scales"}),
    "ctcae_versions": ("list[str]", True, {"nonempty": True}),
    "ctcae_default_version": ("str", True, {}),
    "fever_rule": ("str", True, {"ref": "fever_rules"}),
    "default_unit": ("str", True, {"ref": "units"}),
    "default_audience": ("str", True, {"enum": ["clinician", "patient"]}),
}
TABLES = list(SCHEMA)
