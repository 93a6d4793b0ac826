"""The CLI through CliRunner: output, JSON contracts, errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import json

import pytest

from leuko_cli import __version__


def test_version(invoke):
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"leuko {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["assess", "--help"],
        ["causes", "--help"],
        ["causes", "show", "--help"],
        ["refs", "--help"],
        ["classify", "--help"],
        ["workup", "--help"],
        ["mascc", "--help"],
        ["kb", "info", "--help"],
    ],
)
def test_help_has_examples(invoke, args):
    r = invoke(*args)
    assert r.exit_code == 0
    assert "Example" in r.stdout


def test_assess_human_output_names_version_and_disclaimer(invoke):
    r = invoke("assess", "--anc", "450")
    assert r.exit_code == 0
    out = r.stdout
    assert "SEVERE" in out and "CTCAE 6.0" in out and "Grade 3" in out
    assert "not a substitute for clinical judgement" in out
    assert "References" in out


def test_assess_json_contract(invoke):
    r = invoke("assess", "--anc", "450", "--json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    assert d["anc"] == 450 and isinstance(d["anc"], (int, float))
    assert d["severity"] == "severe"
    assert d["ctcae_version"] == "6.0" and d["ctcae_grade"] == 3
    assert d["febrile_neutropenia"] is None
    assert d["below_reference"] is True
    assert d["reference_range"]["lower"] == 1500 and d["reference_range"]["basis"]
    assert isinstance(d["references"], list) and d["references"]
    assert "disclaimer" in d


def test_assess_json_with_wbc_and_lymphocytes(invoke):
    r = invoke(
        "assess",
        "--wbc",
        "2.5",
        "--neutrophils",
        "30",
        "--lymphocytes",
        "0.4",
        "--unit",
        "10^9/L",
        "--temp",
        "38.5",
        "--json",
    )
    d = json.loads(r.stdout)
    assert d["anc"] == 750 and d["severity"] == "moderate"
    assert d["wbc"] == {**d["wbc"], "value": 2500, "ctcae_grade": 2}
    assert d["lymphocytes"]["value"] == 400 and d["lymphocytes"]["ctcae_grade"] == 3
    assert d["febrile_neutropenia"] is False


def test_ctcae_versions_differ(invoke):
    g5 = json.loads(invoke("assess", "--anc", "800", "--ctcae-version", "5.0", "--json").stdout)
    g6 = json.loads(invoke("assess", "--anc", "800", "--json").stdout)
    assert (g5["ctcae_grade"], g6["ctcae_grade"]) == (3, 2)


def test_febrile_neutropenia_is_an_emergency(invoke):
    r = invoke("assess", "--anc", "300", "--temp", "38.6")
    assert "FEBRILE NEUTROPENIA: EMERGENCY" in r.stdout and "1 hour" in r.stdout
    d = json.loads(invoke("assess", "--anc", "300", "--temp", "38.6", "--json").stdout)
    assert d["febrile_neutropenia"] is True and "freifeld2011" in d["references"]


def test_assess_patient_audience_plain_words(invoke):
    clin = invoke("assess", "--anc", "450").stdout
    pat = invoke("assess", "--anc", "450", "--audience", "patient").stdout
    assert pat != clin
    assert "germs" in pat and "Grades" not in pat and "Grades" in clin
    assert "talk to your care team" in pat


def test_clozapine_in_assess(invoke):
    r = invoke("assess", "--anc", "1200", "--drug", "clozapine")
    assert "mild neutropenia" in r.stdout and "REMS" in r.stdout


def test_causes_table_and_category(invoke):
    r = invoke("causes", "--category", "drugs")
    assert r.exit_code == 0
    assert "clozapine" in r.stdout.lower()
    assert "not a substitute" in r.stdout


def test_causes_json_contract_every_field(invoke, kb):
    from leuko_cli.kb import SCHEMA

    rows = json.loads(invoke("causes", "--json").stdout)
    assert len(rows) == len(kb.table("causes"))
    for row in rows:
        for field in SCHEMA["causes"]:
            assert field in row, field
        assert isinstance(row["synonyms"], list) and isinstance(row["references"], list)


def test_causes_search_by_synonym(invoke):
    rows = json.loads(invoke("causes", "--search", "Kostmann", "--json").stdout)
    assert rows and rows[0]["category"] == "congenital"


def test_causes_show_both_audiences_differ(invoke):
    clin = invoke("causes", "show", "clozapine")
    pat = invoke("causes", "show", "clozapine", "--audience", "patient")
    assert clin.exit_code == pat.exit_code == 0
    assert clin.stdout != pat.stdout and "Workup" in clin.stdout and "Workup" not in pat.stdout
    d = json.loads(invoke("causes", "show", "clozapine", "--json").stdout)
    assert d["id"] == "clozapine" and d["references_full"]


def test_refs_json_contract(invoke, kb):
    rows = json.loads(invoke("refs", "--json").stdout)
    assert len(rows) == len(kb.table("references"))
    for r in rows:
        assert {"id", "title", "journal", "year", "pmid", "doi"} <= set(r)
        assert isinstance(r["year"], int)
        assert r["pmid"] is None or isinstance(r["pmid"], str)
        assert r["doi"] is None or isinstance(r["doi"], str)


def test_refs_human_numbered(invoke):
    out = invoke("refs").stdout
    assert out.startswith("[1] ")


@pytest.mark.parametrize("cmd", [["classify"], ["workup"], ["manage"], ["scales"], ["kb", "info"]])
def test_other_commands_text_and_json(invoke, cmd):
    r = invoke(*cmd)
    assert r.exit_code == 0 and r.stdout.strip()
    j = invoke(*cmd, "--json")
    assert j.exit_code == 0
    json.loads(j.stdout)


def test_classify_names_scales_and_sources(invoke):
    d = json.loads(invoke("classify", "--json").stdout)
    axes = {a["id"] for a in d["axes"]}
    assert {"duration", "origin", "mechanism"} <= axes
    assert {(s["system"], s["version"]) for s in d["scales"]} >= {
        ("CTCAE", "5.0"),
        ("CTCAE", "6.0"),
    }


def test_workup_steps_in_order(invoke):
    d = json.loads(invoke("workup", "--json").stdout)
    steps = [s["step"] for s in d["steps"]]
    assert steps == sorted(steps) and len(steps) >= 5
    assert all(s["references"] for s in d["steps"])


def test_mascc_cli(invoke):
    r = invoke(
        "mascc",
        "--burden-mild",
        "--no-hypotension",
        "--no-copd",
        "--solid-tumour-or-no-fungal",
        "--no-dehydration",
        "--json",
    )
    d = json.loads(r.stdout)
    assert d["points"] == 21 and d["risk"] == "low"


@pytest.mark.parametrize(
    "args,exit_code,said",
    [
        ([], 2, "no MASCC risk index (febrile neutropenia) factor given"),
        (["--none-apply", "--outpatient"], 2, "--none-apply means no factor applies"),
        (["--none-apply"], 0, ""),
    ],
)
def test_mascc_with_no_factor_is_unanswered_not_zero(invoke, args, exit_code, said):
    """Unknown is not zero: no factor at all is refused, unless --none-apply says so."""
    r = invoke("mascc", *args, "--json")
    assert r.exit_code == exit_code, r.output
    if exit_code:
        assert said in r.stderr and len(r.stderr.strip().splitlines()) == 1
    else:
        d = json.loads(r.stdout)
        assert d["points"] == 0 and d["risk"] == "high"


def test_mascc_flags_match_kb_items(kb):
    import inspect

    from leuko_cli.cli_queries import mascc

    params = {p.replace("_", "-") for p in inspect.signature(mascc).parameters}
    params -= {"as-json", "none-apply"}
    assert params == {i["id"] for i in kb.get("scores", "mascc")["items"]}


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["assess", "--anc", "-5"], "cannot be negative"),
        (["assess", "--anc", "abc"], "expects a number"),
        (["assess", "--anc", "nan"], "finite"),
        (["assess", "--anc", "inf"], "finite"),
        (["assess", "--wbc", "3.2"], "--unit 10^9/L"),
        (["assess"], "give a count"),
        (["assess", "--anc", "450", "--ctcae-version", "7"], "5.0, 6.0"),
        (["assess", "--anc", "450", "--unit", "mg"], "unknown unit"),
        (["causes", "--category", "nonsense"], "infections"),
        (["causes", "show", "no-such-thing-xyz"], "no cause"),
        (["assess", "--bogus"], "No such option"),
        (["assess", "--audience", "robot", "--anc", "4"], "robot"),
        # an LLN of 0 graded every count "not decreased" (CTCAE 5.0 grade 1 is <LLN)
        (["assess", "--anc", "1200", "--lln", "0", "--ctcae-version", "5.0"], "--lln 0"),
        (["assess", "--wbc", "3000", "--wbc-lln", "0"], "--wbc-lln 0"),
        (["assess", "--lymphocytes", "900", "--lymphocytes-lln", "0.0"], "--lymphocytes-lln 0"),
    ],
)
def test_bad_input_exit_2_one_line(invoke, args, fragment):
    r = invoke(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "args,hint",
    [
        (["--color", "alwys", "assess", "--anc", "450"], "did you mean 'always'?"),
        (["assess", "--anc", "450", "--audience", "patinet"], "did you mean 'patient'?"),
        (["assess", "--anc", "450", "--unit", "cels/uL"], "did you mean 'cells/uL'?"),
        (["assess", "--input", "x.csv", "--on-error", "skp"], "did you mean 'skip'?"),
        (["causes", "--lineage", "neutrophil"], "did you mean 'neutrophils'?"),
        (["causes", "--format", "tsx"], "did you mean 'tsv'?"),
        (["refs", "--format", "bibtx"], "did you mean 'bibtex'?"),
        (["kb", "export", "--format", "jsn"], "did you mean 'json'?"),
        (["config", "set", "unti", "G/L"], "did you mean 'unit'?"),
        (["config", "set", "audience", "patinet"], "did you mean 'patient'?"),
        (["help", "asess"], "did you mean 'assess'?"),
        (["schema", "ouput"], "did you mean 'output'?"),
        (["batch", "x.csv", "--criteria", "ctcea"], "did you mean 'ctcae'?"),
    ],
)
def test_a_mistyped_choice_names_the_nearest_one(invoke, args, hint):
    """Commands and options already get "Did you mean"; a choice's value gets it too."""
    r = invoke(*args)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and hint.lower() in lines[0].lower(), r.stderr


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["causes", "--category", ""], "--category is empty"),
        (["causes", "--search", " "], "--search is empty"),
        (["causes", "--lineage", ""], "--lineage is empty"),
        (["causes", "-c", "", "--json"], "--category is empty"),
        (["refs", "--cause", ""], "--cause is empty"),
        (["causes", "show", ""], "give a cause id"),
        (["causes", "show", "-"], "give a cause id"),
        (["refs", "--cause", "-"], "give a cause id"),
        (["causes", "--format", ""], "--format is empty"),
        # hyphens and spaces are ignored: '-' matched everything, as an empty filter did
        (["causes", "--search", "-"], "nothing to match"),
        (["causes", "--search", " - -"], "nothing to match"),
        (["search", "clozapine", "--format", " "], "--format is empty"),
    ],
)
def test_an_empty_filter_is_refused_not_dropped(invoke, args, fragment):
    """`leuko causes --category "$CAT"` with CAT unset listed every cause, unfiltered."""
    r = invoke(*args)
    assert r.exit_code == 2 and r.stdout == "", r.stdout[:200]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr


@pytest.mark.parametrize(
    "args", [["assess", "--anc", "450", "--unit", ""], ["config", "set", "unit", " "]]
)
def test_an_empty_unit_names_the_option_once(invoke, args):
    """It read: --unit: --unit expects a unit name, got ''."""
    r = invoke(*args)
    assert r.exit_code == 2
    assert "--unit: --unit" not in r.stderr and "give a unit name" in r.stderr, r.stderr


@pytest.mark.parametrize(
    "args", [["--wbc", "3000", "--neutrophils", "-0"], ["--anc", "450", "--age", "-0"]]
)
def test_minus_zero_is_zero(invoke, args):
    """'-0' passed the sign check and was shown as '(-0 + 0)' and 'age -0 days'."""
    r = invoke("assess", *args)
    assert r.exit_code == 0 and "-0 " not in r.stdout and "(-0" not in r.stdout, r.stdout


def test_schema_takes_json(invoke):
    """The schema is JSON already; --json (on every command) is accepted, not refused."""
    plain, flagged = invoke("schema", "output"), invoke("schema", "output", "--json")
    assert flagged.exit_code == 0 and flagged.stdout == plain.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["assess", "--anc", "450", "--unit", "10^6/L"],  # 10^6/L is cells/uL: not '10^9/L'
        ["assess", "--anc", "450", "--unit", "10^12/L"],
        ["assess", "--anc", "450", "--ctcae-version", "7.0"],  # not '6.0'
    ],
)
def test_no_guess_that_changes_a_number(invoke, args):
    """A suggestion one digit away is another magnitude or version: following it would grade
    a count 1000 times off, or by another table."""
    r = invoke(*args)
    assert r.exit_code == 2 and "did you mean" not in r.stderr.lower(), r.stderr


def test_a_choice_far_from_every_value_gets_no_guess(invoke):
    r = invoke("causes", "--format", "xml")
    assert r.exit_code == 2 and "did you mean" not in r.stderr and "text or tsv" in r.stderr


# --- width: readable from 40 columns up, ids never cut --------------------------------------


@pytest.mark.parametrize("columns", [40, 59, 60, 80, 100, 160])
@pytest.mark.parametrize(
    "argv",
    [
        ["causes"],
        ["causes", "show", "clozapine"],
        ["refs"],
        ["assess", "--anc", "450", "--temp", "38.5"],
        ["workup"],
    ],
    ids=" ".join,
)
def test_no_line_wider_than_the_terminal(invoke, argv, columns):
    res = invoke(*argv, env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.stderr
    from leuko_cli.layout import atoms

    # a single unbreakable token (a long URL or id) may overflow; it is never split
    too_wide = [
        line for line in res.stdout.splitlines() if len(line) > columns and len(atoms(line)) > 1
    ]
    assert too_wide == []


@pytest.mark.parametrize("columns", [80, 100, 160])
def test_cause_table_shows_every_id_whole(invoke, kb, columns):
    out = invoke("causes", env={"COLUMNS": str(columns)}).stdout
    assert "…" not in out
    words = set(out.split())
    assert [c["id"] for c in kb.table("causes") if c["id"] not in words] == []


@pytest.mark.parametrize("width", range(60, 200, 7))
@pytest.mark.parametrize(
    "natural, least",
    [((10, 7, 4), (10, 7, 4)), ((45, 35, 30), (34, 12, 30)), ((200, 200, 20), (60, 14, 20))],
)
def test_cause_table_widths_fill_at_most_the_terminal(width, natural, least):
    from leuko_cli.render import TABLE_OVERHEAD, cause_table_widths

    widths = cause_table_widths(width, natural, least)
    if sum(least) + TABLE_OVERHEAD > width:
        assert widths is None  # stacked records instead
        return
    assert sum(widths) + TABLE_OVERHEAD <= width
    assert all(w >= lo for w, lo in zip(widths, least))  # no id, word or citation list split


def test_leuko_color_and_color_offer_the_same_choices():
    """--color (a Typer enum, built before Rich may load) and LEUKO_COLOR (checked where the
    console is made) must not drift apart."""
    from leuko_cli.cli_app import ColorChoice
    from leuko_cli.render_console import COLOR_CHOICES

    assert tuple(c.value for c in ColorChoice) == COLOR_CHOICES
