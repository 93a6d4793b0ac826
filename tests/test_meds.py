"""`leuko meds`: every drug the KB names answers by generic and brand name, any case; unknown
names are absent, never safe; typos get suggestions."""

from __future__ import annotations

import json

import pytest

from leuko_cli import meds
from leuko_cli.kb import SCHEMA
from leuko_cli.kb.schema import DRUG_FIELDS


def _all_drug_names(kb):
    return [(name, c["id"]) for c in kb.table("causes") for name in c.get("drugs") or []]


def test_drug_causes_have_every_drug_field(kb):
    drug_causes = [c for c in kb.table("causes") if c.get("drugs")]
    assert len(drug_causes) >= 15
    for c in drug_causes:
        for field in DRUG_FIELDS:
            assert c[field], (c["id"], field)
        assert set(c["drug_effects"]) <= set(SCHEMA["causes"]["drug_effects"][2]["enum"])


def test_every_kb_drug_answers_by_its_name_in_any_case(kb):
    names = _all_drug_names(kb)
    results = meds.look_up(kb, [n.upper() for n, _ in names])
    for (name, cause), res in zip(names, results):
        assert res["found"], name
        assert cause in [e["cause"] for e in res["entries"]], name


@pytest.mark.parametrize(
    ("brand", "cause"),
    [
        ("Tegretol", "carbamazepine-anticonvulsants"),
        ("clozaril", "clozapine"),
        ("Bactrim", "co-trimoxazole"),
        ("Imuran", "thiopurines-immunosuppressants"),
        ("Neo-Mercazole", "antithyroid-drugs"),
        ("MabThera", "rituximab-late-onset-neutropenia"),
        ("Ferriprox", "deferiprone"),
        ("Rocephin", "beta-lactam-antibiotics"),
    ],
)
def test_brand_names_answer(kb, brand, cause):
    (res,) = meds.look_up(kb, [brand])
    assert res["found"] and res["entries"][0]["cause"] == cause


def test_seed_example(invoke):
    out = json.loads(invoke("meds", "ceftriaxone", "meropenem", "--json").stdout)
    assert out["found"] == 2 and out["not_found"] == 0
    for res in out["results"]:
        entry = res["entries"][0]
        assert "neutropenia" in entry["linked_to"] and entry["references"]
        assert entry["mechanism"] == "idiosyncratic"


def test_unknown_is_absent_never_safe_and_typos_are_suggested(invoke):
    r = invoke("meds", "ceftriaxon", "paracetamol")
    assert r.exit_code == 0
    assert "did you mean: ceftriaxone" in r.stdout
    assert r.stdout.count("not in the knowledge base") >= 2
    assert "does not mean the drug is safe" in r.stdout
    assert " safe." not in r.stdout.replace("is safe", "")


@pytest.mark.parametrize(
    "asked, names",
    [
        ("clozapine, carbamazepine", ["clozapine", "carbamazepine"]),  # two drugs in one name
        ("clozapine 100 mg daily", ["clozapine"]),  # a line of a medication list, dose and all
    ],
)
def test_a_known_drug_inside_a_longer_name_is_suggested(invoke, asked, names):
    """Not found as asked (never split or trimmed silently), but 'not in the knowledge base'
    with no hint read as if clozapine itself were missing."""
    out = json.loads(invoke("meds", asked, "--json").stdout)
    (result,) = out["results"]
    assert result["found"] is False
    assert [n.casefold() for n in result["did_you_mean"]][: len(names)] == names


def test_file_input_one_per_line(invoke, tmp_path):
    f = tmp_path / "meds.txt"
    f.write_text("# ward list\nClozapine\n\nmethotrexate  # weekly\nclozapine\n", "utf-8")
    out = json.loads(invoke("meds", "--file", str(f), "--json").stdout)
    assert [r["query"] for r in out["results"]] == ["Clozapine", "methotrexate"]


def test_a_file_saved_with_a_bom_reads_its_first_drug(invoke, tmp_path):
    """Notepad's UTF-8 BOM was kept in the first name: clozapine came back as not in the KB."""
    f = tmp_path / "meds.txt"
    f.write_bytes("\ufeffclozapine\r\nmethotrexate\r\n".encode("utf-8"))
    out = json.loads(invoke("meds", "--file", str(f), "--json").stdout)
    assert [(r["query"], r["found"]) for r in out["results"]] == [
        ("clozapine", True),
        ("methotrexate", True),
    ]


def test_file_dash_is_stdin_as_for_every_other_file_option(invoke):
    """`--input -`, `--fhir -`, `trend -` and `batch -` read stdin; `meds -f -` looked for a
    file called '-'."""
    r = invoke("meds", "--file", "-", "--json", input="\ufeffclozapine\nmethotrexate\n")
    assert r.exit_code == 0, r.stderr
    assert [x["query"] for x in json.loads(r.stdout)["results"]] == ["clozapine", "methotrexate"]


@pytest.mark.parametrize("args", [["clozapine", ""], ["", "clozapine"], ["clozapine", "  "]])
def test_an_empty_drug_argument_is_refused_not_dropped(invoke, args):
    """`leuko meds clozapine "$DRUG2"` with DRUG2 unset must not answer for one drug silently."""
    from helpers import one_line_error

    assert "empty" in one_line_error(invoke("meds", *args), 2)


@pytest.mark.parametrize("args", [[], ["--file", "/nonexistent/meds.txt"]])
def test_refusals_exit_2(invoke, args):
    r = invoke("meds", *args)
    assert r.exit_code == 2


def test_outside_text_is_inert(invoke):
    r = invoke("meds", "evil\x1b[31mred")
    assert "\x1b" not in r.stdout


def test_region_monitoring_line_cites_its_sources(invoke, kb):
    """Every reference listed under an answer is cited by the line it supports: the region's
    monitoring table (UK: the monitoring services) cites its own references."""
    import re

    from leuko_cli.queries import citation_numbers

    r = invoke("meds", "clozapine", "--region", "UK")
    assert r.exit_code == 0
    body, refs = r.stdout.split("\nReferences\n")
    table = kb.get("drug_monitoring", "clozapine-uk-general")
    line = body[body.index("  UK · ") : body.index("  Refs ")]  # the table's (wrapped) line
    cited = {int(n) for m in re.findall(r"\[([\d, ]+)\]", line) for n in m.split(", ")}
    assert cited == set(citation_numbers(kb, table["references"]))
    listed = {int(n) for n in re.findall(r"^\s+\[(\d+)\]", refs, re.M)}
    everywhere = {int(n) for m in re.findall(r"\[([\d, ]+)\]", body) for n in m.split(", ")}
    assert listed == everywhere
