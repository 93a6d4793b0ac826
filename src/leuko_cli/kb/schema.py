"""The knowledge-base schema as data: which tables exist, their fields and allowed values.

A field spec is (type, required, extra). Types: str, int, num, bool, date, date|false,
list[str], bound (number or "LLN"), table (a nested array of tables; extra is its schema).
extra for str/list[str] may hold {"enum": [...]}, {"ref": "<table>"} (ids that must resolve),
"pattern", "nonempty" or "positive".

"compares" names the one input a number is compared with, so that the batch memo
(batch/intervals.py) splits that input alone at it: "age" (days), "temp" (°C), "anc", "measure"
(the count of the measure the entry names), "self" (the count of the measure the entry is),
"none" (an output or a factor, compared with no input); on a setting that names an entry,
every number of that entry. A number without it splits every input (the safe default for a
new field). Nothing here imports anything: it is on the start-up path.
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
DRUG_EFFECTS = ["neutropenia", "agranulocytosis", "lymphopenia"]
# dose-dependent marrow toxicity, idiosyncratic (immune) reaction, both, or a shift of cells
# out of the blood (glucocorticoids)
# "expected": an expected effect of the treatment that the sources do not relate to dose (CAR-T
# cytopenias, bispecific antibodies); "unclassified": the sources do not say how
DRUG_MECHANISMS = [
    "dose-dependent",
    "idiosyncratic",
    "both",
    "redistribution",
    "expected",
    "unclassified",
]
DRUG_FIELDS = ("drugs", "drug_effects", "drug_mechanism", "onset", "frequency", "monitoring")
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

# A second reading of a cause: who read it, when, each claim checked against which source and
# page/table ("claim -> source, page/table"), and what was corrected. `reviewed` and `verified`
# causes must carry at least one (validation.check_references), so the status means something.
REVIEW = {
    "date": ("date", True, {}),
    "reviewer": ("str", True, {}),
    "checked": ("list[str]", True, {"nonempty": True}),
    "corrections": ("list[str]", True, {}),
}

BAND = {
    "lower": ("bound", True, {}),
    "upper": ("bound", False, {}),
    # the band includes its upper bound (DAIDS writes "800 to 1,000": 1,000 is grade 1)
    "upper_inclusive": ("bool", False, {}),
    "grade": ("int", True, {"compares": "none"}),
    "label": ("str", True, {}),
    "meaning": ("str", False, {}),
    "patient_meaning": ("str", False, {}),
    "action": ("str", False, {}),
    "monitoring": ("str", False, {}),
}

# a scale's bands are compared with the count of the scale's own measure (a drug-monitoring
# table's are not marked: batch sends drug rows down the full path)
SCALE_BAND = {
    **BAND,
    "lower": ("bound", True, {"compares": "measure"}),
    "upper": ("bound", False, {"compares": "measure"}),
}

SCHEMA: dict[str, dict[str, tuple]] = {
    "categories": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        # the words clinicians type for the category (`--category autoimmune`); checked unique
        "aliases": ("list[str]", False, {}),
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
        "review": ("table", False, REVIEW),
        # drug causes only (`leuko meds`): names and brands, what the drug is linked to, how,
        # when, how often (with its source named) and the monitoring the source recommends
        "drugs": ("list[str]", False, {"nonempty": True}),
        "drug_effects": ("list[str]", False, {"enum": DRUG_EFFECTS, "nonempty": True}),
        "drug_mechanism": ("str", False, {"enum": DRUG_MECHANISMS}),
        "onset": ("str", False, {}),
        "frequency": ("str", False, {}),
        "monitoring": ("str", False, {}),
    },
    "units": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "factor_to_cells_per_ul": ("num", True, {"positive": True, "compares": "none"}),
        # how labs, UCUM and CDISC write it; matched ignoring case and spaces, except G and g
        # (G/L, giga per litre, is not g/L, gram per litre)
        "aliases": ("list[str]", True, {}),
        "note": ("str", False, {}),
        "references": ("list[str]", False, {"ref": "references"}),
    },
    "measures": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "min_positive_cells_per_ul": ("num", True, {"compares": "self"}),
        "max_cells_per_ul": ("num", True, {"positive": True, "compares": "self"}),
    },
    "scales": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "system": ("str", True, {}),
        "version": ("str", True, {}),
        "term": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "unit": ("str", True, {"enum": ["cells/uL"]}),
        # ages the scale applies to, in completed days (DAIDS splits newborns from the rest)
        "age_min_days": ("num", False, {"compares": "age"}),
        "age_max_days": ("num", False, {"compares": "age"}),
        "definition": ("str", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
        "bands": ("table", True, SCALE_BAND),
    },
    "reference_ranges": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "measure": ("str", True, {"ref": "measures"}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "age_min_days": ("num", False, {"compares": "age"}),
        "age_max_days": ("num", False, {"compares": "age"}),
        # the lower limit: exact (`lower`), known only to lie between two values while a chart
        # falls (`lower_limit_min`..`lower_limit_max`), or not established (neither; `note`
        # then says why)
        "lower": ("num", False, {"compares": "measure"}),
        "lower_limit_min": ("num", False, {"compares": "measure"}),
        "lower_limit_max": ("num", False, {"compares": "measure"}),
        "upper": ("num", False, {"compares": "measure"}),
        # true where the clinical severity scale (adult words) describes this population
        "severity_scale_applies": ("bool", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
    },
    "fever_rules": {
        "id": ("str", True, {}),
        "name": ("str", True, {}),
        "system": ("str", True, {}),
        "version": ("str", True, {}),
        "single_temp_c": ("num", True, {"compares": "temp"}),
        "single_inclusive": ("bool", True, {}),
        "sustained_temp_c": ("num", True, {"compares": "temp"}),
        "sustained_minutes": ("num", True, {"compares": "none"}),
        "anc_below": ("num", True, {"compares": "anc"}),
        # for an adverse-event definition (CTCAE): the grade given when the criteria are met
        "grade": ("int", False, {"compares": "none"}),
        "summary": ("str", True, {}),
        "emergency_action": ("str", True, {}),
        "patient_action": ("str", True, {}),
        # what to say when the count may still be falling (IDSA's 48-hour clause)
        "falling_summary": ("str", False, {}),
        "note": ("str", False, {}),
        "references": _REFS,
    },
    "drug_monitoring": {
        "id": ("str", True, {}),
        "drug": ("str", True, {}),
        "synonyms": ("list[str]", True, {}),
        # the country whose rules this table is (monitoring differs by country: `--region`)
        "region": ("str", True, {"pattern": r"^[A-Z]{2,3}$"}),
        "population": ("str", True, {"enum": ["general", "duffy-null"]}),
        "name": ("str", True, {}),
        "status": ("str", True, {}),
        # the routine schedule while counts are normal (what `leuko meds` shows)
        "schedule": ("str", True, {}),
        "note": ("str", False, {}),
        "references": _REFS,
        # bands on the ANC; `wbc_bands`, when present, grade the WBC too and the worse of
        # the two decides (the UK services grade WBC and neutrophils together)
        "bands": ("table", True, BAND),
        "wbc_bands": ("table", False, BAND),
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
    # --- search synonyms (issue 19) ----------------------------------------------------------
    # Words a reader types for what the KB names otherwise: a query containing one of `terms`
    # (as whole words) is searched for `expands_to` instead. A navigation aid for
    # `leuko search`, not a clinical statement; `note` says why the mapping exists.
    "synonyms": {
        "id": ("str", True, {}),
        "terms": ("list[str]", True, {"nonempty": True}),
        "expands_to": ("list[str]", True, {"nonempty": True}),
        "note": ("str", False, {}),
        "references": ("list[str]", False, {"ref": "references"}),
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
    "severity_scale": ("str", True, {"ref": "scales", "compares": "anc"}),
    "ctcae_versions": ("list[str]", True, {"nonempty": True}),
    # other ways of writing a version, as "WRITTEN=VERSION" (e.g. "4.0=4.03")
    "ctcae_version_aliases": ("list[str]", False, {}),
    "ctcae_default_version": ("str", True, {}),
    "fever_rule": ("str", True, {"ref": "fever_rules"}),
    "default_unit": ("str", True, {"ref": "units"}),
    "default_audience": ("str", True, {"enum": ["clinician", "patient"]}),
    # an input check, not a clinical threshold: how far a given ANC may differ from the one
    # its differential gives (percentages are rounded), as a percentage of the WBC
    "differential_tolerance_pct": ("num", True, {}),
    # said when the CTCAE version was not chosen; {version} is replaced
    "ctcae_default_note": ("str", True, {}),
    # the country whose drug-monitoring tables apply unless --region/config says otherwise;
    # must be a region some drug_monitoring table names
    "default_region": ("str", True, {}),
    # what a patient reads beside a drug-monitoring result (never start/stop/continue)
    "patient_drug_monitoring": ("str", True, {}),
}
TABLES = list(SCHEMA)
