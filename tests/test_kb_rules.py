"""Issue 15: category words, and the cross-entry rules `kb check` enforces (review records,
uncited and duplicate references, causes without references)."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib

import pytest

from leuko_cli import kb as kbmod
from leuko_cli.errors import InputError, KBError
from leuko_cli.queries import check_category, find_causes

# every grouping word of the seed articles (/work/shared/seeds) and the textbook groups
SEED_WORDS = {
    "infections": "infections",
    "infection": "infections",
    "medications": "drugs",
    "drugs": "drugs",
    "autoimmune": "immune",
    "autoimmune disorders": "immune",
    "immunoneutropenia": "immune",
    "bone marrow disorders": "bone-marrow",
    "bone-marrow disorders": "bone-marrow",
    "malignancy": "bone-marrow",
    "cancer": "bone-marrow",
    "malignant hematological disease": "bone-marrow",
    "nutritional deficiencies": "nutritional",
    "megaloblastosis": "nutritional",
    "hypersplenism": "hypersplenism",
    "congenital": "congenital",
    "Congenital Myelopathy": "congenital",
}


@pytest.fixture(scope="module")
def raw():
    return tomllib.loads(kbmod.bundled_path().read_text("utf-8"))


@pytest.mark.parametrize(("word", "category"), sorted(SEED_WORDS.items()))
def test_seed_words_choose_their_category(kb, word, category):
    assert check_category(kb, word) == category
    assert find_causes(kb, category=word)


def test_every_alias_id_and_name_resolves_to_its_category(kb):
    for c in kb.table("categories"):
        for word in (c["id"], c["name"], *(c.get("aliases") or [])):
            assert check_category(kb, word) == c["id"], word
            assert check_category(kb, word.upper()) == c["id"], word


def test_lymphopenia_is_a_lineage_not_a_category(kb):
    assert "lymphopenia" not in {c["id"] for c in kb.table("categories")}
    steroid = kb.get("causes", "corticosteroid-lymphopenia")
    assert steroid["category"] == "drugs" and "lymphocytes" in steroid["lineages"]


@pytest.mark.parametrize(("typed", "suggested"), [("autoimune", "autoimmune"), ("drgs", "drugs")])
def test_unknown_category_suggests_the_nearest_words(kb, typed, suggested):
    with pytest.raises(InputError) as err:
        check_category(kb, typed)
    assert suggested in str(err.value) and "\n" not in str(err.value)


def test_nothing_near_lists_every_category(kb):
    with pytest.raises(InputError) as err:
        check_category(kb, "zzzzqqq")
    assert "use one of: infections" in str(err.value)


def _problems(data) -> list[str]:
    try:
        kbmod.check_references(kbmod.merge(kbmod.validate(data), None))
    except KBError as err:
        return err.problems
    return []


def test_bundled_kb_passes_the_rules(raw):
    assert _problems(copy.deepcopy(raw)) == []


def test_reviewed_without_record_is_refused(raw):
    data = copy.deepcopy(raw)
    data["causes"][0]["review_status"] = "reviewed"
    data["causes"][0].pop("review", None)
    assert any("needs a review record" in p for p in _problems(data))


def test_reviewed_with_record_is_accepted(raw):
    data = copy.deepcopy(raw)
    cause = data["causes"][0]
    cause["review_status"] = "reviewed"
    cause["review"] = [
        {
            "date": dt.date(2026, 11, 1),
            "reviewer": "A Reader",
            "checked": ["summary -> ing1984, p. 1"],
            "corrections": [],
        }
    ]
    assert _problems(data) == []


def test_review_record_after_last_update_is_refused(raw):
    data = copy.deepcopy(raw)
    cause = data["causes"][0]
    cause["review"] = [
        {"date": dt.date(2999, 1, 1), "reviewer": "R", "checked": ["x -> y"], "corrections": []}
    ]
    assert any("after meta.last_updated" in p for p in _problems(data))


def test_unused_reference_is_refused(raw):
    data = copy.deepcopy(raw)
    extra = copy.deepcopy(data["references"][0])
    extra.update(id="orphan2026", title="A paper nobody cites", year=2026)
    for key in ("pmid", "doi"):
        extra.pop(key, None)
    data["references"].append(extra)
    assert any("references['orphan2026']: cited by nothing" in p for p in _problems(data))


@pytest.mark.parametrize("key", ["pmid", "doi", "title"])
def test_duplicate_reference_is_refused(raw, key):
    data = copy.deepcopy(raw)
    original = next(r for r in data["references"] if r.get("pmid") and r.get("doi"))
    copy_ = {k: v for k, v in original.items() if k in ("kind", "authors", "journal", "verified")}
    copy_.update(id="twin", title="Something else entirely", year=1900)
    if key == "title":
        copy_.update(title=original["title"].upper(), year=original["year"])
    else:
        copy_[key] = original[key]
    data["references"].append(copy_)
    data["causes"][0]["references"].append("twin")
    assert any("references['twin']: duplicates" in p for p in _problems(data))


def test_cause_without_references_is_refused(raw):
    data = copy.deepcopy(raw)
    data["causes"][0]["references"] = []
    with pytest.raises(KBError) as err:
        kbmod.validate(data)
    assert any("references: must not be empty" in p for p in err.value.problems)


def test_alias_naming_another_category_is_refused(raw):
    data = copy.deepcopy(raw)
    data["categories"][0]["aliases"] = ["drugs"]
    assert any("already names category" in p for p in _problems(data))


def test_kb_info_counts_review_records(invoke):
    import json

    info = json.loads(invoke("kb", "info", "--json").stdout)
    assert info["with_review_record"] >= sum(
        n for s, n in info["by_review_status"].items() if s != "draft"
    )
