"""`leuko batch` in the long layout: one analyte a row, as CDISC SDTM LB and ADaM ADLB hold
them, graded with the KB's criteria and written back with ADaM-style toxicity columns.

A row's parameter code (LBTESTCD / PARAMCD) names the analyte through
`series_fields.CDISC_TESTS`; its value, unit and lower limit of normal come from the preset's
(or the user's) columns. The grade is the KB scale of the chosen term and CTCAE version,
compared by `grading.grade` after the same strict reading and unit conversion as `leuko assess`
(`inputs`). admiral's semantics (docs/cdisc.md): values at 15 significant digits, no grade where
grade 1 needs a missing LLN, no grade without a unit.
"""

from __future__ import annotations

import re

from leuko_cli import grading, inputs
from leuko_cli.errors import InputError, LeukoError, check_choice, nearest, not_empty
from leuko_cli.fields import BY_NAME
from leuko_cli.series_fields import CDISC_TESTS

# preset -> role -> the columns that carry it, first present wins (matched ignoring case)
PRESETS = {
    "adlb": {
        "age": ("AGE",),
        "age_unit": ("AGEU",),
        "param": ("PARAMCD",),
        "value": ("AVAL",),
        "unit": ("AVALU", "LBSTRESU"),
        "label": ("PARAM",),
        "lln": ("ANRLO",),
        "id": ("USUBJID",),
    },
    "sdtm-lb": {
        "param": ("LBTESTCD",),
        "value": ("LBSTRESN",),
        "unit": ("LBSTRESU",),
        "label": (),
        "lln": ("LBSTNRLO",),
        "id": ("USUBJID",),
        "age": ("AGE",),
        "age_unit": ("AGEU",),
    },
}
ROLES = ("param", "value", "unit", "label", "lln", "id", "age", "age_unit")
OUTPUT = ("ATOXDSCL", "ATOXGRL", "ATOXGRL_VERSION", "ATOXGRL_REASON")
_UNIT_IN_LABEL = re.compile(r"\(([^()]+)\)\s*$")  # "Lymphocytes Abs (10^9/L)" -> 10^9/L


def detect_preset(header: list[str]) -> str | None:
    names = {h.strip().upper() for h in header}
    for preset, roles in PRESETS.items():
        if roles["param"][0] in names and roles["value"][0] in names:
            return preset
    return None


class Layout:
    """Which column holds each role, and the term graded for each parameter code."""

    def __init__(
        self,
        kb,
        header: list[str],
        preset: str | None,
        columns: dict,
        terms: dict[str, str],
        version: str,
    ) -> None:
        self.kb, self.version, self.header = kb, version, header
        self.system = "DAIDS" if version.startswith("DAIDS") else "CTCAE"
        self.version = version.removeprefix("DAIDS ").strip() or version
        upper: dict[str, int] = {}
        for i, h in enumerate(header):
            upper.setdefault(h.strip().upper(), i)
        roles = dict(PRESETS.get(preset, {}))
        for role, name in columns.items():
            if name:
                roles[role] = (name,)
                if name.strip().upper() not in upper:  # a column asked for by name: never none
                    raise InputError(f"--{role}-col {name!r}: no such column in the file")
        self.index: dict[str, int | None] = {}
        for role in ROLES:
            self.index[role] = next(
                (upper[c.upper()] for c in roles.get(role, ()) if c.upper() in upper), None
            )
            twins = [
                h
                for h in header
                if self.index[role] is not None
                and h.strip().upper() == header[self.index[role]].strip().upper()
            ]
            if len(twins) > 1:  # AVAL and aval: which one to grade is not guessed
                raise InputError(
                    f"the file has {len(twins)} {role} columns named alike ("
                    f"{', '.join(twins)}; names match ignoring case); rename or drop all but one"
                )
        for role in ("param", "value"):
            if self.index[role] is None:
                wanted = " or ".join(roles.get(role, ())) or f"--{role}-col"
                raise InputError(
                    f"the file has no {role} column ({wanted}); choose one with "
                    f"--{role}-col or a --preset"
                )
        self.terms = {code.upper(): self._scale_term(term) for code, term in terms.items()}

    def _scale_term(self, term: str) -> str:
        wanted = " ".join(term.split()).casefold()
        names = sorted({s["term"] for s in self.kb.table("scales") if s["system"] == self.system})
        for name in names:
            if name.casefold() == wanted:
                return name
        raise InputError(
            f"--term: no {self.system} term {term!r} in the knowledge base; use "
            f"one of: {', '.join(names)}"
        )

    def name(self, role: str) -> str:
        """The column's own name, for messages ('AVAL 0,8 has a decimal comma')."""
        return self.header[self.index[role]]

    def cell(self, row: list[str], role: str) -> str:
        i = self.index[role]
        return row[i].strip() if i is not None and i < len(row) else ""


def grade_row(layout: Layout, row: list[str]) -> tuple[tuple, str]:
    """(OUTPUT values, status) with status graded, not-gradable or error."""
    version = layout.version
    code = layout.cell(row, "param").upper()
    field_name = CDISC_TESTS.get(code)
    if field_name is None and code not in layout.terms:
        return _empty(f"parameter {code or '(empty)'} is not one leuko grades"), "not-gradable"
    system = layout.system
    term = layout.terms.get(code) or _default_term(layout.kb, system, BY_NAME[field_name].measure)
    label = f"{system} {version}"
    age_days = None
    if system == "DAIDS":  # its criteria split by age
        age_raw = layout.cell(row, "age")
        if not age_raw:
            return (term, None, label, "no age: DAIDS criteria depend on age"), "not-gradable"
        days_per = inputs.DAYS_PER_YEAR  # no AGEU column: AGE is in years
        if layout.index["age_unit"] is not None:  # CDISC AGEU: YEARS, MONTHS, WEEKS, DAYS, HOURS
            age_unit = layout.cell(row, "age_unit")
            days_per = inputs.AGE_UNITS.get(age_unit.lower())
            if days_per is None:
                why = (
                    f"{layout.name('age_unit')} {age_unit!r} is not an age unit"
                    if age_unit
                    else (f"no {layout.name('age_unit')}: the unit of the age is not given")
                )
                return (term, None, label, f"{why}; use YEARS, MONTHS, WEEKS, DAYS or HOURS"), (
                    "error"
                )
        try:
            age_days = inputs.number(age_raw, layout.name("age")) * days_per
        except LeukoError as err:
            return (term, None, label, str(err)), "error"
    scale = grading.scale_for(layout.kb, system, version, term, age_days)
    if scale is None:
        # the set has the term, only not for this age (DAIDS lymphocytes at 5 years or under)
        has_term = any(
            s["system"] == system and s["version"] == version and s["term"] == term
            for s in layout.kb.table("scales")
        )
        why = "for this age " if age_days is not None and has_term else ""
        return (
            term,
            None,
            label,
            f"no '{term}' criteria {why}for {system} {version} in the knowledge base",
        ), "not-gradable"
    # plausibility by the analyte the row holds (a lymphocyte count graded with the CD4 term
    # is still a lymphocyte count)
    measure = BY_NAME[field_name].measure if field_name else scale["measure"]
    raw = layout.cell(row, "value")
    if not raw:
        return (term, None, label, "no value"), "not-gradable"
    unit_text = layout.cell(row, "unit") or _unit_from_label(layout.cell(row, "label"))
    if not unit_text:
        return (term, None, label, "no unit: the row cannot be graded"), "not-gradable"
    # batch has no --unit: the fix for a value implausible in its unit is the row's unit
    fix = f"correct the row's {layout.name('unit' if layout.cell(row, 'unit') else 'label')}"
    try:
        unit = inputs.find_unit(layout.kb, unit_text)
        value = inputs.to_cells(
            layout.kb,
            measure,
            inputs.number(raw, layout.name("value")),
            unit,
            layout.name("value"),
            fix,
        )
        lln_raw = layout.cell(row, "lln")
        lln = (
            None
            if not lln_raw
            else inputs.to_cells(
                layout.kb,
                measure,
                inputs.number(lln_raw, layout.name("lln")),
                unit,
                layout.name("lln"),
                fix,
            )
        )
    except LeukoError as err:
        return (term, None, label, str(err)), "error"
    g = grading.grade(scale, value, lln)
    if g["grade"] is None:
        return (
            term,
            None,
            label,
            f"grade {' or '.join(map(str, g['possible_grades']))}: needs the lab's lower "
            "limit of normal",
        ), "not-gradable"
    return (term, g["grade"], label, None), "graded"


def _empty(reason: str) -> tuple:
    return (None, None, None, reason)


def _default_term(kb, system: str, measure: str) -> str:
    """A criteria set's term for a measure (CTCAE anc -> Neutrophil count decreased)."""
    for s in kb.table("scales"):
        if s["system"] == system and s["measure"] == measure:
            return s["term"]
    raise InputError(f"no {system} term for {measure} in the knowledge base")


def _unit_from_label(label: str) -> str:
    """The unit an ADaM PARAM label carries in brackets, as ADaM writes it."""
    m = _UNIT_IN_LABEL.search(label or "")
    return m.group(1).strip() if m else ""


def parse_terms(items: list[str] | None) -> dict[str, str]:
    """`--term CODE=TERM` (repeatable) -> {CODE: TERM}."""
    out: dict[str, str] = {}
    for item in items or []:
        code, sep, term = item.partition("=")
        if not sep or not code.strip() or not term.strip():
            raise InputError(
                f"--term {item!r}: write PARAMCD=TERM, e.g. "
                "--term 'LYMPH=CD4 lymphocytes decreased'"
            )
        if code.strip().upper() in out:
            raise InputError(f"--term gives {code.strip()} twice; give it once")
        out[code.strip().upper()] = term.strip()
    return out


class Counts:
    __slots__ = ("rows", "graded", "not_gradable", "errors", "reasons")

    def __init__(self) -> None:
        self.rows = self.graded = self.not_gradable = self.errors = 0
        self.reasons: dict[str, int] = {}

    def add(self, status: str, reason: str | None) -> None:
        self.rows += 1
        if status == "graded":
            self.graded += 1
            return
        if status == "error":
            self.errors += 1
        else:
            self.not_gradable += 1
        key = reason if status == "not-gradable" else "errors"
        self.reasons[key] = self.reasons.get(key, 0) + 1

    def line(self) -> str:
        from leuko_cli.sanitize import inert_line

        why = "; ".join(  # a reason may name the file's parameter code: inert
            f"{n} {inert_line(r)}"
            for r, n in sorted(self.reasons.items(), key=lambda kv: -kv[1])[:4]
        )
        return (
            f"leuko: {self.rows} row(s): {self.graded} graded, {self.not_gradable} not "
            f"gradable, {self.errors} error(s)" + (f" ({why})" if why else "")
        )


def run(
    path: str,
    *,
    preset: str | None,
    columns: dict,
    terms: list[str] | None,
    ctcae_version: str | None,
    input_format: str | None,
    out_format: str | None,
    criteria: str | None = None,
) -> int:
    """`leuko batch FILE`: grade every row, write it with the toxicity columns, count."""
    import sys

    from leuko_cli.batch import cdisc_io
    from leuko_cli.kb import load
    from leuko_cli.settings import resolve

    not_empty("--format", out_format)
    for role, name in columns.items():
        not_empty(f"--{role}-col", name)
    if preset is not None:
        check_choice("--preset", preset, PRESETS)
    term_map = parse_terms(terms)
    kb = load()
    if criteria is not None and criteria.strip().upper() not in ("CTCAE", "DAIDS"):
        hint = nearest(criteria, ("CTCAE", "DAIDS"))
        raise InputError(f"unknown --criteria {criteria!r}{hint}; use CTCAE or DAIDS")
    if criteria is not None and criteria.strip().upper() == "DAIDS":
        if ctcae_version is not None:
            raise InputError("--ctcae-version goes with --criteria CTCAE, not DAIDS")
        version = "DAIDS " + next(
            s["version"] for s in kb.table("scales") if s["system"] == "DAIDS"
        )
    else:
        version = resolve(kb, "ctcae_version", ctcae_version).value
    kind = cdisc_io.detect(path, input_format)
    if kind == "fhir":  # FHIR resources, a Bundle or Bulk Data NDJSON: the FHIR reader
        from leuko_cli.batch.command import dispatch

        if terms or preset or any(columns.values()) or out_format not in (None, "jsonl"):
            raise InputError(
                "FHIR input takes none of --preset, --term, the --*-col options "
                "or --format: each Observation carries its own code and unit"
            )
        return dispatch(
            {"ctcae_version": ctcae_version},
            input_file=None,
            fhir_file=path,
            input_format=None,
            out_format=None,
            as_json=True,
            audience=None,
        )
    header, rows, meta = cdisc_io.read(path, kind)
    chosen = preset or detect_preset(header)
    if chosen is None and not any(columns.values()):
        from leuko_cli.batch.readers import field_of

        wide = {"anc", "wbc", "lymphocytes"} & {field_of(h) for h in header}
        if wide and kind in ("csv", "tsv") and path != "-":
            # the wide layout (one row per case): the `assess --input` pipeline, every analyte
            from leuko_cli.batch.command import dispatch

            return dispatch(
                {},
                input_file=path,
                fhir_file=None,
                input_format="csv",
                out_format=out_format,
                as_json=False,
                audience=None,
            )
        raise InputError(
            "not a CDISC LB or ADLB layout (no LBTESTCD/LBSTRESN or PARAMCD/AVAL columns) "
            "and no anc, wbc or lymphocytes column; give --preset, or --param-col and "
            "--value-col"
        )
    layout = Layout(kb, header, chosen, columns, term_map, version)
    fmt = out_format or (
        "dataset-json" if kind == "dataset-json" else "tsv" if kind == "tsv" else "csv"
    )
    writer = cdisc_io.Writer(sys.stdout, fmt, header, OUTPUT, meta)
    counts = Counts()
    for row in rows:
        added, status = grade_row(layout, row)
        counts.add(status, added[3])
        writer.write(row, added)
    writer.close()
    sys.stdout.flush()
    sys.stderr.write(counts.line() + "\n")
    from leuko_cli.batch.command import _overlay_note

    _overlay_note(kb)
    return 1 if counts.errors else 0
