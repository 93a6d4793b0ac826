"""The field table: every input of an assessment and every field of its result, written once.

The Typer options of `leuko assess`, the start-up fast path, batch column mapping (CSV and
JSON Lines), FHIR LOINC mapping, the JSON Schema (`leuko schema`) and the field reference in
docs/fields.md are all derived from INPUTS and RESULTS. Adding an input is one `Field(...)` here
plus, where it carries clinical numbers, its knowledge-base entries. Defaults are not written
here: settings come from flag > environment > config file > knowledge base (`settings.py`).

Pure data (no Typer, no Rich, no KB access): imported on every start-up, so keep it light.
"""

from __future__ import annotations


class Field:
    """One assessment input.

    kind: count (a cell count in the request's unit; `measure` names the KB measure),
    limit (a lab's lower limit of normal, in the same unit), percent, age, temperature,
    switch (true/false), unit, ctcae_version, drug, region (a country whose monitoring
    rules apply; the KB's drug_monitoring tables name their region), audience.
    columns: batch column names it is read from (the first is canonical; others are aliases).
    loinc: FHIR Observation codes that carry it. setting: the settings key whose resolved value
    (flag > env > config > KB default) applies when the field is not given.
    """

    __slots__ = (
        "name",
        "kind",
        "flag",
        "short",
        "help",
        "measure",
        "columns",
        "loinc",
        "setting",
        "metavar",
        "label",
    )

    def __init__(
        self,
        name: str,
        kind: str,
        help: str,
        *,
        short: str | None = None,
        measure: str | None = None,
        columns: tuple[str, ...] = (),
        loinc: tuple[str, ...] = (),
        setting: str | None = None,
        metavar: str | None = None,
        label: str | None = None,
    ) -> None:
        self.name, self.kind, self.help = name, kind, help
        self.label = label or name.replace("_", " ")
        self.flag = "--" + name.replace("_", "-")
        self.short, self.measure, self.columns, self.loinc = short, measure, columns, loinc
        self.setting, self.metavar = setting, metavar

    @property
    def takes_value(self) -> bool:
        return self.kind != "switch"

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, self.short) if self.short else (self.flag,)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Field({self.name!r}, {self.kind!r})"


# The order here is the order of `leuko assess --help`, the docs and the JSON Schema.
INPUTS: tuple[Field, ...] = (
    Field(
        "anc",
        "count",
        "Absolute neutrophil count, in the unit of --unit.",
        measure="anc",
        columns=("anc",),
        loinc=("751-8", "26499-4", "753-4"),
        metavar="N",
        label="ANC",
    ),
    Field(
        "wbc",
        "count",
        "White blood cell count, in the unit of --unit.",
        measure="wbc",
        columns=("wbc",),
        loinc=("6690-2", "26464-8", "804-5"),
        metavar="N",
        label="WBC",
    ),
    Field(
        "neutrophils",
        "percent",
        "Segmented neutrophils as a percentage of the WBC (with --wbc; the ANC is computed).",
        columns=("neutrophils", "neut", "segs"),
        loinc=("770-8", "26511-6", "23761-0"),
        metavar="PCT",
        label="neutrophil %",
    ),
    Field(
        "bands",
        "percent",
        "Band neutrophils as a percentage of the WBC (with --wbc).",
        columns=("bands",),
        metavar="PCT",
        label="band %",
    ),
    Field(
        "lymphocytes",
        "count",
        "Absolute lymphocyte count, in the unit of --unit.",
        measure="lymphocytes",
        columns=("lymphocytes", "alc"),
        loinc=("731-0", "26474-7", "732-8"),
        metavar="N",
        label="absolute lymphocytes",
    ),
    Field(
        "unit",
        "unit",
        "Unit of every count: cells/uL (also /uL, /mm3) or 10^9/L (also "
        "G/L, 10^3/uL, K/uL); the default comes from your settings.",
        short="-u",
        columns=("unit", "units"),
        setting="unit",
        metavar="UNIT",
    ),
    Field(
        "ctcae_version",
        "ctcae_version",
        "CTCAE version for the grades, e.g. 5.0 or 6.0; the default comes from your settings.",
        columns=("ctcae_version", "ctcae"),
        setting="ctcae_version",
        metavar="VERSION",
    ),
    Field(
        "lln",
        "limit",
        "The lab's lower limit of normal for the ANC (CTCAE grade 1), in the unit of --unit.",
        measure="anc",
        columns=("lln",),
        metavar="N",
    ),
    Field(
        "wbc_lln",
        "limit",
        "The lab's lower limit of normal for the WBC, in the unit of --unit.",
        measure="wbc",
        columns=("wbc_lln",),
        metavar="N",
    ),
    Field(
        "lymphocytes_lln",
        "limit",
        "The lab's lower limit of normal for lymphocytes, in the unit of --unit.",
        measure="lymphocytes",
        columns=("lymphocytes_lln",),
        metavar="N",
    ),
    Field(
        "age",
        "age",
        "Age in years (decimals allowed), for the age-specific reference range.",
        columns=("age",),
        metavar="YEARS",
    ),
    Field(
        "duffy_null",
        "switch",
        "Confirmed Duffy-null phenotype (never inferred from race or ancestry).",
        columns=("duffy_null", "duffy"),
    ),
    Field(
        "temp",
        "temperature",
        "Temperature in °C, or Fahrenheit with F (e.g. 101.2F).",
        columns=("temp", "temperature"),
        loinc=("8310-5",),
        metavar="TEMP",
    ),
    Field(
        "sustained", "switch", "The temperature has lasted an hour or more.", columns=("sustained",)
    ),
    Field("drug", "drug", "A drug with a monitoring table, e.g. clozapine.", metavar="NAME"),
    Field(
        "region",
        "region",
        "Country whose drug-monitoring rules apply, e.g. US or UK (--drug, leuko meds); "
        "the default comes from your settings.",
        setting="region",
        metavar="REGION",
    ),
    Field(
        "audience",
        "audience",
        "Wording: clinician or patient; the default comes from your settings.",
        setting="audience",
        metavar="WHO",
    ),
)
BY_NAME: dict[str, Field] = {f.name: f for f in INPUTS}
COUNTS = tuple(f.name for f in INPUTS if f.kind in ("count", "percent"))
# inputs that describe the request (everything but the wording of the answer)
REQUEST_FIELDS = tuple(f.name for f in INPUTS if f.kind != "audience")
BATCH_FIELDS = tuple(f for f in INPUTS if f.columns)
SETTINGS_KEYS = tuple(f.setting for f in INPUTS if f.setting)
AUDIENCES = ("clinician", "patient")


def column_aliases() -> dict[str, str]:
    """Folded batch column name -> field name (every alias of every batch field)."""
    return {alias: f.name for f in BATCH_FIELDS for alias in f.columns}


def loinc_codes() -> dict[str, str]:
    """FHIR LOINC code -> field name."""
    return {code: f.name for f in INPUTS for code in f.loinc}


# --- the result -------------------------------------------------------------------------------


class ResultField:
    """One top-level field of an assessment result (`leuko assess --json`). `batch` marks the
    flat fields that batch output carries as columns, in this order; `optional` fields are
    present only when they apply."""

    __slots__ = ("name", "type", "help", "batch", "optional")

    def __init__(
        self, name: str, type: str, help: str, batch: bool = False, optional: bool = False
    ) -> None:
        self.name, self.type, self.help, self.batch = name, type, help, batch
        self.optional = optional


RESULTS: tuple[ResultField, ...] = (
    ResultField(
        "anc",
        "number|null",
        "The ANC in cells/µL (given, converted, or computed "
        "from the differential); null when no ANC could be had.",
        batch=True,
    ),
    ResultField(
        "unit", "string", "The unit of `anc` and every other count in the result: always cells/uL."
    ),
    ResultField("input_unit", "string", "The unit the counts were given in."),
    ResultField("anc_in_input_unit", "number|null", "The ANC in the input unit."),
    ResultField(
        "anc_source",
        "object|null",
        "How the ANC was obtained: `method` given or "
        "computed, with the formula and arithmetic when computed, and "
        "`differential_agrees` when both an ANC and a differential were given.",
    ),
    ResultField(
        "headline",
        "object|null",
        "What the answer leads with: `basis` severity (the "
        "clinical scale, where it describes the patient's population) or reference "
        "(the age band's or population's own range), and its `label`.",
    ),
    ResultField(
        "severity",
        "string|null",
        "Clinical severity on the KB's severity scale (normal, mild, moderate, severe).",
        batch=True,
    ),
    ResultField("ctcae_version", "string", "The CTCAE version used for the grades.", batch=True),
    ResultField(
        "ctcae_version_origin",
        "string",
        "Where the CTCAE version came from: flag, environment, config file, row, or default.",
    ),
    ResultField(
        "ctcae_grade",
        "integer|null",
        "CTCAE 'Neutrophil count decreased' grade "
        "(0 = not decreased); null when it needs the lab's lower limit and none was "
        "given (the notes say so).",
        batch=True,
    ),
    ResultField(
        "febrile_neutropenia",
        "boolean|null",
        "Fever with an ANC below the fever "
        "rule's limit (IDSA 2010: 500); null without a temperature or an ANC.",
        batch=True,
    ),
    ResultField(
        "febrile_neutropenia_if_falling",
        "boolean|null",
        "Fever with an ANC from the "
        "rule's limit up to the CTCAE febrile-neutropenia limit: febrile neutropenia if "
        "the count is expected to fall (IDSA 2010); treat it as such.",
        batch=True,
    ),
    ResultField(
        "below_reference",
        "boolean|null",
        "The ANC is below the reference range "
        "for the age and population; null when that range's lower limit is not "
        "established or the count lies where it is uncertain.",
        batch=True,
    ),
    ResultField(
        "grades",
        "array",
        "Every grade given: scale id, system, version, term, "
        "grade (null when unknown), label, meaning, references; a scale split by age "
        "(DAIDS) gives its ages in completed days (age_min_days, up to but not including "
        "age_max_days) and is listed for the patient's age only, or for every age with none.",
    ),
    ResultField(
        "fever",
        "object|null",
        "The temperature in °C, whether it counts as fever, "
        "the rule used, and `recheck` thresholds when one reading is just under it.",
    ),
    ResultField(
        "reference_range",
        "object|null",
        "The reference range applied to the ANC, "
        "what chose it (`chosen_by`) and, when the comparison is unknown, why.",
    ),
    ResultField(
        "wbc",
        "object",
        "WBC grade and reference (present only when a WBC was given).",
        optional=True,
    ),
    ResultField(
        "lymphocytes",
        "object",
        "Lymphocyte grade and reference (present only when lymphocytes were given).",
        optional=True,
    ),
    ResultField(
        "emergency",
        "object",
        "Febrile neutropenia, definite or if the count is "
        "falling: what to do now (present only then).",
        optional=True,
    ),
    ResultField(
        "ctcae_febrile_neutropenia",
        "object",
        "The CTCAE 'Febrile neutropenia' "
        "adverse event for the version in use (present with a temperature and an ANC).",
        optional=True,
    ),
    ResultField(
        "drug_monitoring",
        "object",
        "The drug's monitoring category (present only with --drug).",
        optional=True,
    ),
    ResultField(
        "fhir",
        "object",
        "The FHIR subject, effective time, Observation ids, LOINC codes, the "
        "reference-range lows used as LLNs and the Observations skipped in the case (present "
        "only for --fhir input).",
        optional=True,
    ),
    ResultField(
        "settings",
        "object",
        "Each setting used (unit, ctcae_version, region, audience) with "
        "its value and origin: flag, environment, config file or default.",
    ),
    ResultField(
        "overlay_entries",
        "array",
        "FILE:LINE of every entry of your personal "
        "overlay that this answer used (a changed scale, range or rule).",
    ),
    ResultField("notes", "array", "Caveats about this answer."),
    ResultField("references", "array", "KB reference ids cited by this answer (see `leuko refs`)."),
    ResultField("audience", "string", "clinician or patient."),
    ResultField("disclaimer", "string", "The one-line disclaimer."),
)


class BatchColumn:
    """A batch column read from inside the result (`path`), so one row carries the grade of
    every analyte it has, not only the ANC's."""

    __slots__ = ("name", "path", "type", "help")

    def __init__(self, name: str, path: tuple[str, ...], type: str, help: str) -> None:
        self.name, self.path, self.type, self.help = name, path, type, help


BATCH_EXTRA: tuple[BatchColumn, ...] = (
    BatchColumn(
        "wbc_ctcae_grade",
        ("wbc", "ctcae_grade"),
        "integer|null",
        "CTCAE 'White blood cell decreased' grade of the row's WBC; null when the row "
        "has no WBC or the grade needs the lab's lower limit (wbc_lln).",
    ),
    BatchColumn(
        "lymphocytes_ctcae_grade",
        ("lymphocytes", "ctcae_grade"),
        "integer|null",
        "CTCAE 'Lymphocyte count decreased' grade of the row's lymphocytes; null when "
        "the row has none or the grade needs the lab's lower limit.",
    ),
    BatchColumn(
        "lymphocytes_ctcae_version",
        ("lymphocytes", "ctcae_version"),
        "string|null",
        "The CTCAE version of lymphocytes_ctcae_grade: the row's ctcae_version, or the "
        "version used when that one has no 'Lymphocyte count decreased' in the KB (6.0: "
        "graded with 5.0); null when the row has no lymphocytes.",
    ),
    BatchColumn(
        "unknown_grade_reason",
        (),
        "string|null",
        "Why a CTCAE grade column of a count the row has is empty: the grade depends on "
        "the lab's lower limit of normal, which the named column gives (e.g. 'ctcae_grade "
        "needs lln'; assess's notes list the possible grades); null when every grade of "
        "the row's counts is known.",
    ),
)
# (grade column, result path of the count, its lower-limit column) for unknown_grade_reason
UNKNOWN_GRADES = (
    ("ctcae_grade", ("anc",), "lln"),
    ("wbc_ctcae_grade", ("wbc", "value"), "wbc_lln"),
    ("lymphocytes_ctcae_grade", ("lymphocytes", "value"), "lymphocytes_lln"),
)


def unknown_grade_reason(unknown: list[str]) -> str | None:
    """The unknown_grade_reason text for these grade columns (in UNKNOWN_GRADES order)."""
    parts = [f"{col} needs {lln}" for col, _p, lln in UNKNOWN_GRADES if col in unknown]
    return "; ".join(parts) or None


BATCH_RESULTS = (
    tuple(r.name for r in RESULTS if r.batch) + tuple(c.name for c in BATCH_EXTRA) + ("error",)
)


def batch_values(result: dict) -> tuple:
    """The BATCH_RESULTS values of an assess result (the error column excluded)."""
    top = tuple(result[r.name] for r in RESULTS if r.batch)
    nested = [_at(result, column.path) for column in BATCH_EXTRA]
    values = dict(zip(BATCH_RESULTS, top + tuple(nested)))
    unknown = [
        col
        for col, path, _lln in UNKNOWN_GRADES
        if values[col] is None and _at(result, path) is not None
    ]
    nested[-1] = unknown_grade_reason(unknown)
    return top + tuple(nested)


def _at(result: dict, path: tuple[str, ...]):
    value = result
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
