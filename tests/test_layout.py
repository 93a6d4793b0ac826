"""Human output at 40, 80 and 120 columns: identifiers, citation lists and numbers with their
units are never split, no line ends in spaces, no line is wider than the terminal (except one
unbreakable token, such as a long URL, alone on its line), and no help text is truncated."""

from __future__ import annotations

import re

import pytest

from leuko_cli import layout

WIDTHS = (40, 80, 120, 200)
COMMANDS = [
    ["assess", "--anc", "450"],
    ["assess", "--anc", "450", "--audience", "patient"],
    ["assess", "--anc", "300", "--temp", "38.6"],
    ["assess", "--anc", "1200", "--drug", "clozapine"],
    ["causes"],
    ["causes", "--category", "nutritional"],
    ["causes", "show", "clozapine"],
    ["causes", "show", "clozapine", "--audience", "patient"],
    ["refs"],
    ["classify"],
    ["workup"],
    ["manage"],
    ["scales"],
    ["mascc", "--burden-mild", "--outpatient"],
    ["search", "clozapine"],
    ["kb", "info"],
    ["meds", "clozapine", "carbamazepine", "notadrug"],
    ["config", "show"],
]
# An independent definition of what must stay whole (not layout.PROTECTED itself).
IDENTIFIER = re.compile(
    r"PMID \d+|doi:\S+|https?://\S+|\[\d+(?:, \d+)*\]|\d[\d,.]* cells/µL|\d[\d,.]*/µL"
)


def render(invoke, argv, columns):
    res = invoke(*argv, env={"COLUMNS": str(columns)})
    assert res.exit_code in (0, 1), res.stderr
    return res.stdout


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_layout_respects_content(invoke, kb, argv):
    wide = render(invoke, argv, 1000)
    wanted = {m.group(0).rstrip(".;,") for m in IDENTIFIER.finditer(wide)}
    ids = {c["id"] for c in kb.table("causes")} & set(re.findall(r"[\w-]+", wide))
    for columns in WIDTHS:
        out = render(invoke, argv, columns)
        lines = out.splitlines()
        assert [line for line in lines if line != line.rstrip()] == [], columns
        too_wide = [
            line
            for line in lines
            if len(line) > columns and len(layout.atoms(line.lstrip("# "))) > 1
        ]
        assert too_wide == [], columns
        split = [w for w in wanted if not any(w in line for line in lines)]
        assert split == [], (columns, split)
        words = {w for line in lines for w in re.findall(r"[\w-]+", line)}
        assert ids - words == set(), columns
        assert not out.startswith("\n") and "\n\n\n" not in out


def _help_commands():
    from typer.main import get_command

    from leuko_cli.cli import app

    group = get_command(app)
    yield []
    for name, cmd in group.commands.items():
        yield [name]
        for sub in getattr(cmd, "commands", {}) or {}:
            yield [name, sub]


@pytest.mark.parametrize("argv", list(_help_commands()), ids=" ".join)
@pytest.mark.parametrize("columns", WIDTHS)
def test_help_is_never_truncated(invoke, argv, columns):
    res = invoke(*argv, "--help", env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.stderr
    assert "…" not in res.stdout
    lines = res.stdout.splitlines()
    assert [line for line in lines if line != line.rstrip()] == []


@pytest.mark.parametrize(
    "text, whole",
    [
        (
            "  [7] Lam L et al. Hematologic Conditions. FP Essentials 2019. PMID 31613563",
            "PMID 31613563",
        ),
        ("a medical emergency with an ANC of 450 cells/µL and more [4, 10, 14]", "[4, 10, 14]"),
        ("an ANC of 450 cells/µL and more words to wrap here", "450 cells/µL"),
        ("see doi:10.1200/JCO.2017.77.6211 for the record", "doi:10.1200/JCO.2017.77.6211"),
        ("then run leuko causes show clozapine for details", "leuko causes show clozapine"),
        ("neutropenia 5 mcg/kg/day; after marrow transplant", "5 mcg/kg/day"),
        ("a single oral temperature of 38.3 °C or more", "38.3 °C"),
    ],
)
@pytest.mark.parametrize("width", range(12, 60, 3))
def test_wrap_keeps_protected_spans_whole(text, whole, width):
    lines = layout.wrap(text, width)
    assert any(whole in line for line in lines)
    assert " ".join(" ".join(lines).split()) == " ".join(text.split())
    for line in lines:
        assert line == line.rstrip()
        assert len(line) <= width or len(layout.atoms(line)) == 1


# --- citations you can follow: every listed reference is cited inline, and nothing else -------

CITING = [
    ["assess", "--anc", "450"],
    ["assess", "--anc", "450", "--audience", "patient"],
    ["assess", "--anc", "300", "--temp", "38.6"],
    ["assess", "--anc", "300", "--temp", "38.6", "--audience", "patient"],
    ["assess", "--anc", "1200", "--drug", "clozapine"],
    ["assess", "--anc", "1200", "--drug", "clozapine", "--audience", "patient"],
    ["assess", "--anc", "1300", "--duffy-null", "--age", "35"],
    ["assess", "--wbc", "5200", "--neutrophils", "15", "--bands", "4"],
    ["assess", "--anc", "800", "--lymphocytes", "400", "--wbc", "1500", "--temp", "38.1"],
    ["causes", "show", "clozapine"],
    ["causes", "show", "clozapine", "--audience", "patient"],
    ["classify"],
    ["workup"],
    ["manage"],
    ["manage", "--audience", "patient"],
    ["scales"],
    ["mascc", "--burden-mild"],
    ["meds", "clozapine", "carbamazepine"],
]


@pytest.mark.parametrize("argv", CITING, ids=" ".join)
def test_every_listed_reference_is_cited_inline(invoke, argv):
    out = render(invoke, argv, 1000)
    body, _, listing = out.partition("\nReferences\n")
    listed = {int(n) for n in re.findall(r"^\s+\[(\d+)\]", listing, re.M)}
    inline = {
        int(n) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", body) for n in group.split(", ")
    }
    assert listed, "an answer with no references"
    assert listed == inline


@pytest.mark.parametrize("argv", [a for a in CITING if a[0] == "assess" and "patient" not in a])
def test_clinician_assess_shows_every_source_it_used(invoke, kb, argv):
    import json

    used = json.loads(invoke(*argv, "--json").stdout)["references"]
    numbers = kb.reference_numbers()
    out = render(invoke, argv, 1000)
    listing = out.partition("\nReferences\n")[2]
    listed = {int(n) for n in re.findall(r"^\s+\[(\d+)\]", listing, re.M)}
    assert {numbers[i] for i in used} <= listed


def test_refs_labels_each_identifier_on_its_own_line(invoke, kb):
    out = render(invoke, ["refs"], 80)
    assert re.search(r"PMID \d+ \d", out) is None  # never glued to volume:pages
    for r in kb.table("references"):
        for label, key in (("PMID", "pmid"), ("DOI", "doi"), ("URL", "url")):
            if r.get(key):
                assert f"{label}: {r[key]}" in out.splitlines()[0] or any(
                    line.strip() == f"{label}: {r[key]}" for line in out.splitlines()
                )


@pytest.mark.parametrize("argv", list(_help_commands()), ids=" ".join)
def test_help_fits_40_columns(invoke, argv):
    """Click wraps help at no less than 50 columns, with a 30-column option column: at 40
    every other line wrapped again. Only an example command (never split) may be longer."""
    res = invoke(*argv, "--help", env={"COLUMNS": "40"})
    assert res.exit_code == 0, res.stderr
    too_wide = [
        line
        for line in res.stdout.splitlines()
        if len(line) > 40 and not line.lstrip().startswith("leuko ")
    ]
    assert too_wide == []
