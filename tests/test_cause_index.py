"""The cause index (kb.KnowledgeBase.match_causes): the same answers as filtering decoded causes,
from the cache or not, and only the causes a query returns are decoded.

The index exists for speed (issue 7, docs/performance.md); these tests pin its meaning to the
plain definition below so a faster implementation can never answer differently.
"""

from __future__ import annotations

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leuko_cli import kb as kbmod
from leuko_cli import paths
from leuko_cli.kb import LINEAGES, fold
from leuko_cli.queries import find_causes


def plain_match(causes, category=None, lineage=None, search=None):
    """The definition: filter, then exact id/name/synonym matches before partial ones."""
    if category:
        causes = [c for c in causes if c["category"] == category]
    if lineage:
        causes = [
            c for c in causes if lineage in c["lineages"] or "all-leukocytes" in c["lineages"]
        ]
    if search is None:
        return causes
    needle = fold(search)
    exact, partial = [], []
    for c in causes:
        names = [fold(c["id"]), fold(c["name"]), *(fold(s) for s in c["synonyms"])]
        if needle in names:
            exact.append(c)
        elif any(needle in n for n in names) or needle in fold(c["summary"]):
            partial.append(c)
    return exact + partial


def write_overlay(causes: list[dict]) -> None:
    path = paths.overlay_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({"causes": causes}))


def synthetic_causes(kb, n: int) -> list[dict]:
    cats = [c["id"] for c in kb.table("categories")]
    ref = kb.table("references")[0]["id"]
    return [
        {
            "id": f"synthetic-{i}",
            "name": f"Synthetic Cause {i}",
            "category": cats[i % len(cats)],
            "synonyms": [f"syn-{i}", "Shared Synonym"],
            "lineages": [LINEAGES[i % len(LINEAGES)]],
            "summary": f"Made-up entry {i} mentioning B12 only when i is even."
            if i % 2 == 0
            else f"Made-up entry {i}.",
            "patient_summary": "Made up.",
            "mechanism": "mixed",
            "mechanism_detail": "Made up.",
            "course": "transient",
            "origin": "extrinsic",
            "features": ["x"],
            "workup": ["x"],
            "management": ["x"],
            "references": [ref],
            "last_reviewed": "2026-11-22",
            "review_status": "draft",
        }
        for i in range(n)
    ]


DIRS = ("CONFIG", "DATA", "CACHE")


@pytest.fixture(scope="module")
def _synthetic_dirs(tmp_path_factory, _bundled_kb):
    """Dirs holding the overlay of 60 synthetic causes and the cache a load of it wrote, made
    once per module (the overlay's path is part of the store's key, so each test's own dirs
    would mean a store build of its own each time)."""
    root = tmp_path_factory.mktemp("cause-index")
    with pytest.MonkeyPatch.context() as mp:
        for kind in DIRS:
            mp.setenv(f"LEUKO_{kind}_DIR", str(root / kind.lower()))
        write_overlay(synthetic_causes(_bundled_kb, 60))
        kbmod.load()  # writes the cache
    return root


@pytest.fixture
def both(_synthetic_dirs, monkeypatch):
    """The same KB (bundled + 60 synthetic causes) decoded directly and read from the cache:
    new KnowledgeBase objects for each test (nothing decoded yet), the store shared."""
    for kind in DIRS:
        monkeypatch.setenv(f"LEUKO_{kind}_DIR", str(_synthetic_dirs / kind.lower()))
    kbmod.load()  # rewrites the store if a test removed it (test_cache_file_gone_...)
    cached = kbmod.load()
    assert cached._store is not None
    return kbmod.load(use_cache=False), cached


def _needles(kb):
    words = set()
    for c in kb.table("causes")[:40]:
        words |= {c["id"], c["name"], *c["synonyms"], c["summary"][:12], c["name"][2:7].upper()}
    return sorted(words)


QUERIES = [
    dict(),
    dict(category="drugs"),
    dict(lineage="lymphocytes"),
    dict(search="b12"),
    dict(search="shared synonym"),
    dict(search="SYN-7"),
    dict(search="made up entry"),
    dict(category="infections", search="virus"),
    dict(lineage="neutrophils", search="drug"),
    dict(search="zz-nothing-matches"),
]


@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_cached_and_direct_answers_equal_the_definition(both, query):
    direct, cached = both
    expected = [c["id"] for c in plain_match(direct.data["causes"], **query)]
    assert [c["id"] for c in direct.match_causes(**_as_needle(query))] == expected
    assert [c["id"] for c in cached.match_causes(**_as_needle(query))] == expected


def _as_needle(query: dict) -> dict:
    q = dict(query)
    if "search" in q:
        q["needle"] = fold(q.pop("search"))
    return q


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_query_matches_the_definition(kb, data):
    category = data.draw(st.sampled_from([None, *(c["id"] for c in kb.table("categories"))]))
    lineage = data.draw(st.sampled_from([None, *LINEAGES]))
    search = data.draw(st.one_of(st.none(), st.sampled_from(_needles(kb)), st.text(max_size=6)))
    expected = [c["id"] for c in plain_match(kb.table("causes"), category, lineage, search)]
    got = kb.match_causes(
        category=category, lineage=lineage, needle=None if search is None else fold(search)
    )
    assert [c["id"] for c in got] == expected


def test_a_query_decodes_only_the_causes_it_returns(both):
    _, cached = both
    found = find_causes(cached, search="b12")
    decoded = sum(c is not None for c in cached._causes)
    assert found and decoded == len(found) < len(cached._causes) // 2


def test_show_decodes_one_cause(both):
    _, cached = both
    assert cached.get("causes", "synthetic-7")["name"] == "Synthetic Cause 7"
    assert sum(c is not None for c in cached._causes) == 1
    assert cached.get("causes", "no-such-cause") is None


def test_lineage_filter_and_its_errors(invoke):
    import json

    rows = json.loads(invoke("causes", "--lineage", "lymphocytes", "--json").stdout)
    assert rows and all({"lymphocytes", "all-leukocytes"} & set(r["lineages"]) for r in rows)
    res = invoke("causes", "--lineage", "platelets")
    assert res.exit_code == 2 and "unknown lineage 'platelets'" in res.stderr
    assert "neutrophils, lymphocytes, all-leukocytes" in res.stderr


def test_cache_file_gone_after_load_still_answers(both):
    """Another process may replace the cache (a different KB) between load and decode."""
    direct, cached = both
    import os

    os.unlink(cached._store.path)
    assert [c["id"] for c in find_causes(cached, search="b12")] == [
        c["id"] for c in find_causes(direct, search="b12")
    ]
    assert cached.data["causes"] == direct.data["causes"]
