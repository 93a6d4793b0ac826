"""The columns `leuko trend` and `leuko batch` read besides the field table's counts
(fields.py): dates, subjects and the CDISC long format's test codes, values and units. The
docs' column tables are generated from here (docs/generate.py)."""

from __future__ import annotations


class SeriesColumn:
    """A column `leuko trend` reads besides the field table's counts. `columns` are folded
    names (as batch columns); where a row has several, the first non-empty one in this order
    is used (a CDISC ADLB row carries both ADT and LBDTC)."""

    __slots__ = ("name", "columns", "help")

    def __init__(self, name: str, columns: tuple[str, ...], help: str) -> None:
        self.name, self.columns, self.help = name, columns, help


SERIES_COLUMNS: tuple[SeriesColumn, ...] = (
    SeriesColumn(
        "date",
        ("date", "datetime", "effectivedatetime", "adt", "lbdtc"),
        "When the sample was taken: ISO 8601 date or date-time, with or without a UTC "
        "offset (2024-03-05, 2024-03-05T08:30, 2024-03-05T08:30+01:00).",
    ),
    SeriesColumn(
        "subject",
        ("subject", "patient", "usubjid"),
        "Whose count it is: one summary per subject (absent: the whole file is one subject).",
    ),
    SeriesColumn(
        "test",
        ("paramcd", "lbtestcd"),
        "CDISC LB/ADLB long format: the test code of the row (see CDISC_TESTS).",
    ),
    SeriesColumn(
        "value",
        ("aval", "lbstresn"),
        "CDISC LB/ADLB long format: the numeric result in the standard unit.",
    ),
    SeriesColumn(
        "value_unit",
        ("lbstresu",),
        "CDISC LB: the standard unit of the result (ADLB has none: give --unit).",
    ),
)
# CDISC test codes (PARAMCD / LBTESTCD) -> the field a long-format row's value fills
CDISC_TESTS = {
    "NEUT": "anc",
    "ANC": "anc",
    "WBC": "wbc",
    "LYMPH": "lymphocytes",
    "LYM": "lymphocytes",
}
