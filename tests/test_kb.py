"""Knowledge-base integrity and the loader's refusals (each naming entry and field)."""

from __future__ import annotations

import copy
import datetime as dt
import re
import tomllib

import pytest

from leuko_cli import kb as kbmod
from leuko_cli.errors import KBError


@pytest.fixture(scope="module")
def raw():
    return tomllib.loads(kbmod.bundled_path().read_text("utf-8"))


def test_bundled_kb_loads_and_is_substantial(kb):
    assert len(kb.table("causes")) >= 60
    assert len(kb.table("references")) >= 25
    assert kb.meta["schema"] == kbmod.SCHEMA_VERSION


def test_every_citation_resolves(kb):
    ids = {r["id"] for r in kb.table("references")}
    for table in kbmod.TABLES:
        for entry in kb.table(table):
            for ref in entry.get("references") or []:
                assert ref in ids, f"{table}[{entry['id']}] cites unknown {ref}"


def test_every_cause_cited_reviewed_and_in_a_known_category(kb):
    categories = {c["id"] for c in kb.table("categories")}
    for c in kb.table("causes"):
        assert c["references"], c["id"]
        assert c["last_reviewed"] and c["review_status"] in kbmod.REVIEW_STATUSES, c["id"]
        assert c["category"] in categories, c["id"]
        assert c["last_reviewed"] <= kb.meta["last_updated"], c["id"]


def test_every_category_has_causes(kb):
    used = {c["category"] for c in kb.table("causes")}
    assert used == {c["id"] for c in kb.table("categories")}


def test_bands_contiguous_from_zero_and_open_ended(kb):
    for table in ("scales", "drug_monitoring"):
        for scale in kb.table(table):
            bands = scale["bands"]
            assert bands[0]["lower"] == 0
            assert bands[-1]["upper"] is None
            for a, b in zip(bands, bands[1:]):
                assert a["upper"] == b["lower"], scale["id"]


def test_identifiers_only_on_verified_references(kb):
    for r in kb.table("references"):
        if r.get("pmid") or r.get("doi"):
            assert r["verified"], f"{r['id']} has an identifier but verified = false"
        if r.get("pmid"):
            assert re.fullmatch(r"\d{1,9}", r["pmid"])


def test_every_ctcae_version_grades_neutrophils(kb):
    versions = {
        s["version"] for s in kb.table("scales") if s["system"] == "CTCAE" and s["measure"] == "anc"
    }
    assert versions == set(kb.settings["ctcae_versions"]) == {"4.03", "5.0", "6.0"}


def test_seed_references_present(kb):
    # the five articles the seed requires (shared/clinical-facts.md section 10)
    for rid in ("aung2024", "ing1984", "duodecim2011", "lam2019", "christen2017"):
        assert kb.get("references", rid)


def test_drug_list_of_andersohn_2007_is_findable(kb):
    from leuko_cli.queries import find_causes

    for drug in (
        "carbimazole",
        "clozapine",
        "dapsone",
        "metamizole",
        "dipyrone",
        "methimazole",
        "penicillin G",
        "procainamide",
        "propylthiouracil",
        "rituximab",
        "sulfasalazine",
        "ticlopidine",
        "ceftriaxone",
        "meropenem",
        "co-trimoxazole",
        "deferiprone",
        "levamisole",
    ):
        assert find_causes(kb, search=drug), drug


# --- refusals ----------------------------------------------------------------------------


def _problems(data) -> list[str]:
    with pytest.raises(KBError) as err:
        merged = kbmod.merge(kbmod.validate(data), None)
        kbmod.check_references(merged)
    return err.value.problems


def _first_cause(data):
    return data["causes"][0]


def test_rejects_unknown_field(raw):
    data = copy.deepcopy(raw)
    _first_cause(data)["colour"] = "blue"
    cid = _first_cause(data)["id"]
    assert any(f"causes['{cid}']" in p and "unknown field 'colour'" in p for p in _problems(data))


def test_rejects_missing_field(raw):
    data = copy.deepcopy(raw)
    del _first_cause(data)["mechanism"]
    assert any("missing field 'mechanism'" in p for p in _problems(data))


def test_rejects_unknown_category(raw):
    data = copy.deepcopy(raw)
    _first_cause(data)["category"] = "astrology"
    assert any("unknown categories id 'astrology'" in p for p in _problems(data))


def test_rejects_dangling_reference(raw):
    data = copy.deepcopy(raw)
    _first_cause(data)["references"] = ["nobody2099"]
    assert any("unknown references id 'nobody2099'" in p for p in _problems(data))


def test_rejects_duplicate_id(raw):
    data = copy.deepcopy(raw)
    data["causes"].append(copy.deepcopy(_first_cause(data)))
    assert any("duplicate id" in p for p in _problems(data))


@pytest.mark.parametrize("bad_id", ["two words", "tab\there", "sep\x1ehidden", "line\nbreak"])
def test_rejects_ids_with_spaces_or_control_characters(raw, bad_id):
    data = copy.deepcopy(raw)
    _first_cause(data)["id"] = bad_id
    assert any("must not contain spaces or control characters" in p for p in _problems(data))


def test_rejects_bad_date(raw):
    data = copy.deepcopy(raw)
    _first_cause(data)["last_reviewed"] = "yesterday"
    assert any("last_reviewed: expected a date" in p for p in _problems(data))


@pytest.mark.parametrize(
    "mutation,fragment",
    [
        (lambda b: b[1].update(lower=450), "gap or overlap"),
        (lambda b: b[1].update(lower=550), "gap or overlap"),
        (lambda b: b[0].update(lower=10), "must start at 0"),
        (lambda b: b[-1].update(upper=99999), "open-ended"),
        (lambda b: b[0].update(grade=0), "grade rises"),
    ],
)
def test_rejects_broken_bands(raw, mutation, fragment):
    data = copy.deepcopy(raw)
    scale = next(s for s in data["scales"] if s["id"] == "ctcae-6.0-neutrophil-count-decreased")
    mutation(scale["bands"])
    assert any(
        fragment in p and "ctcae-6.0-neutrophil-count-decreased" in p for p in _problems(data)
    )


def test_broken_toml_names_file_and_line(tmp_path):
    bad = tmp_path / "overlay.toml"
    bad.write_text('[[causes]]\nid = "x"\nname = \n')
    problems = kbmod.check_file(bad)
    assert len(problems) == 1 and problems[0].startswith(f"{bad}:3:")


def test_dates_normalised_to_iso_strings(kb):
    assert isinstance(kb.meta["last_updated"], str)
    dt.date.fromisoformat(kb.meta["last_updated"])
