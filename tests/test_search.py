"""`leuko search` / KnowledgeBase.search: one FTS5 engine (bm25, porter) over every kind of
entry, and the plain-Python engine that must find the same entries when FTS5 is missing."""

from __future__ import annotations

import json

import pytest

from leuko_cli.kb import KnowledgeBase
from leuko_cli.kb import search as engine
from leuko_cli.kb.porter import stem


def cause(ident, name, synonyms=(), summary="A cause.", features=("clue",)):
    return {
        "id": ident,
        "name": name,
        "synonyms": list(synonyms),
        "summary": summary,
        "patient_summary": "",
        "mechanism_detail": "",
        "features": list(features),
        "workup": ["test"],
        "management": ["treat"],
        "references": ["r"],
    }


def synthetic(*causes, **tables) -> KnowledgeBase:
    return KnowledgeBase({"causes": list(causes), **tables})


def ids(results):
    return [r["id"] for r in results]


def test_name_beats_a_mention_in_another_summary():
    kb = synthetic(
        cause("other", "Something else", summary="Unlike clozapine, this is rare. " * 3),
        cause("clozapine", "Clozapine", ["Clozaril"]),
    )
    assert ids(kb.search("clozapine")) == ["clozapine", "other"]


def test_synonym_weighted_over_features():
    kb = synthetic(
        cause("a", "Alpha", features=["seen after methimazole use"]),
        cause("b", "Antithyroid drugs", ["methimazole", "carbimazole"]),
    )
    assert ids(kb.search("methimazole"))[0] == "b"


def test_rarer_terms_weigh_more():
    kb = synthetic(
        cause("a", "Neutropenia one", summary="neutropenia neutropenia"),
        cause("b", "Neutropenia two", summary="neutropenia with copper"),
        cause("c", "Neutropenia three", summary="neutropenia"),
    )
    assert ids(kb.search("neutropenia copper"))[0] == "b"


def test_stemming_and_casefolding():
    kb = synthetic(cause("a", "Low counts", summary="Counts fall"), cause("b", "Other"))
    assert ids(kb.search("COUNT")) == ["a"]
    assert engine.terms("B12-deficiency") == ["b12", "deficiency"]
    assert stem("infections") == stem("infection") == "infect"
    assert stem("neutropenic") != stem("neutropenia")  # porter keeps these apart


def test_other_kinds_are_indexed():
    kb = synthetic(
        cause("x", "Unrelated"),
        fever_rules=[
            {
                "id": "fn",
                "name": "Febrile neutropenia (IDSA)",
                "summary": "Fever and a low ANC.",
                "emergency_action": "Antibiotics within 1 hour.",
            }
        ],
        management=[
            {"id": "gcsf", "topic": "Growth factor", "summary": "Filgrastim dosing.", "items": []}
        ],
    )
    res = kb.search("febrile neutropenia")
    assert res[0]["kind"] == "fever_rule" and res[0]["id"] == "fn"
    assert ids(kb.search("filgrastim")) == ["gcsf"]


def test_limit_and_no_match():
    kb = synthetic(*(cause(f"c{i}", f"Cause {i}", summary="shared word") for i in range(5)))
    assert len(kb.search("shared", limit=2)) == 2
    assert kb.search("zzzz") == []


def test_result_shape():
    kb = synthetic(
        cause(
            "a",
            "Alpha",
            summary="A long enough summary about alpha neutropenia and what it means here.",
        )
    )
    (r,) = kb.search("alpha")
    assert set(r) == {"kind", "id", "title", "score", "snippet", "command"}
    assert r["kind"] == "cause" and r["title"] == "Alpha" and r["score"] > 0
    assert r["command"] == "leuko causes show a"
    assert "alpha" in r["snippet"].lower()


# --- the bundled knowledge base -------------------------------------------------------------


def test_cli_json_best_first(invoke, kb):
    res = invoke("search", "neutropenia", "--json", "--limit", "5")
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert 0 < len(out) <= 5
    assert [r["score"] for r in out] == sorted((r["score"] for r in out), reverse=True)


def test_clozapine_cause_first(invoke, kb):
    if kb.get("causes", "clozapine") is None:
        pytest.skip("no clozapine cause in this KB yet")
    out = json.loads(invoke("search", "clozapine", "--json").stdout)
    assert (out[0]["kind"], out[0]["id"]) == ("cause", "clozapine")


def test_b12_cause_first(invoke, kb):
    b12 = [c["id"] for c in kb.table("causes") if "b12" in c["id"]]
    if not b12:
        pytest.skip("no B12 cause in this KB yet")
    out = json.loads(invoke("search", "b12", "--json").stdout)
    assert out[0]["kind"] == "cause" and out[0]["id"] in b12


def test_febrile_neutropenia_surfaces_the_fever_rule(invoke, kb):
    out = json.loads(invoke("search", "febrile", "neutropenia", "--json").stdout)
    top = [(r["kind"], r["id"]) for r in out[:3]]
    assert ("fever_rule", kb.settings["fever_rule"]) in top or any(
        kind == "fever_rule" for kind, _ in top
    )


def test_human_output(invoke):
    res = invoke("search", "agranulocytosis")
    assert res.exit_code == 0 and "1." in res.stdout
    res = invoke("search", "qqqqzzzz")
    assert res.exit_code == 1 and "No matches" in res.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["   "], "give a search query"),
        (["clozapine", "--limit", "0"], "--limit"),
        (["the", "of"], "no searchable words"),
    ],
)
def test_bad_input_exit_2(invoke, args, message):
    res = invoke("search", *args)
    assert res.exit_code == 2 and message in res.stderr


# --- one engine: FTS5 and the plain fallback agree; user text is never syntax ---------------

HOSTILE = [
    '"',
    "*",
    "NEAR(",
    "'",
    "[/x]",
    "a AND OR NOT b",
    "col:neutropenia",
    '"unclosed',
    "\x00\x01\x1f\x7f drug",
    "^start",
    "x" * 10_000,
    "neutropenia " * 1000,
    "clozapine)",
    "{title}: b12",
    "-b12",
    "b12*",
    "µL μL",
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_do_not_raise(kb, query):
    from leuko_cli.errors import InputError

    try:
        results = kb.search(query)
    except InputError:  # no searchable words: the CLI's exit 2
        return
    assert isinstance(results, list) and len(results) <= 10


EQUIVALENCE = [
    "neutropenia",
    "febrile neutropenia",
    "clozapine",
    "b12",
    "drug induced",
    "infections",
    "copper deficiency",
    "counting",
    "grade 4",
    "leukaemia",
    "benign ethnic neutropenia",
    "duffy null",
    "agranulocytosis",
    "andersohn",
    "growth factor",
    "zz-nothing",
    "chemotherapy cycles",
]


def test_fts5_and_plain_engine_find_the_same_entries(kb):
    rows = engine.rows(kb.table)
    from leuko_cli.kb.store import MemorySearch

    fts, plain = MemorySearch(rows), engine.PlainIndex(rows)
    for query in EQUIVALENCE:
        words = engine.query_terms(query)
        a = engine.rank([query], fts.hits(words), 1000)
        b = engine.rank([query], plain.hits(words), 1000)
        assert [(k, i) for k, i, _ in a] == [(k, i) for k, i, _ in b], query
        assert all(abs(x[2] - y[2]) < 1e-9 * max(1.0, abs(x[2])) for x, y in zip(a, b)), query


def test_plain_engine_is_used_without_fts5(kb, monkeypatch):
    from leuko_cli.kb import store

    expected = kb.search("febrile neutropenia", limit=20)
    monkeypatch.setattr(store, "fts5_available", lambda: False)
    fresh = KnowledgeBase(kb.data)
    assert fresh.search("febrile neutropenia", limit=20) == expected
    assert isinstance(fresh._search, engine.PlainIndex)


def test_porter_port_matches_fts5_on_every_kb_word(kb):
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='porter ascii')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
    words = sorted(
        {w for _, _, cols, _ in engine.rows(kb.table) for c in cols for w in c.split()}
        | {
            "generalizations",
            "hopping",
            "filing",
            "agreed",
            "conflated",
            "sized",
            "happy",
            "relational",
            "ñandús",
        }
    )
    for w in words:
        conn.execute("INSERT INTO t(a) VALUES (?)", (w,))
    fts = {row[0] for row in conn.execute("SELECT term FROM v")}
    assert {stem(w) for w in words} == fts


def test_a_name_match_outranks_summary_mentions_in_the_bundled_kb(kb):
    results = kb.search("agranulocytosis", limit=50)
    named = [
        i
        for i, r in enumerate(results)
        if "agranulocytosis" in (r["title"] + " " + r["id"]).lower()
    ]
    assert named and named[0] == 0


# --- issue 19: every result opens with a command that works; no match says what it means ----


def _one_entry_per_kind(kb):
    for kind, table, _ in engine.KINDS:
        entries = kb.table(table)
        if kind in ("cause", "reference"):
            entries = entries[:2]
        for entry in entries:
            yield kind, entry


def test_every_result_kind_names_a_command_that_works(kb, invoke):
    import shlex

    seen = set()
    for kind, entry in _one_entry_per_kind(kb):
        command = engine.command(kind, entry)
        argv = shlex.split(command)
        assert argv[0] == "leuko"
        res = invoke(*argv[1:])
        assert res.exit_code == 0, (kind, entry["id"], command, res.stderr)
        seen.add(kind)
    assert seen == set(engine.TABLE_OF)


def test_search_results_carry_their_command(invoke):
    res = invoke("search", "clozapine", "--json")
    first = json.loads(res.stdout)[0]
    assert first["command"] == "leuko causes show clozapine"
    assert "open: leuko causes show clozapine" in invoke("search", "clozapine").stdout


def test_no_match_exits_1_and_says_absence_is_not_safety(invoke):
    res = invoke("search", "zzqxv")
    assert res.exit_code == 1
    assert "does not mean it is not a cause" in res.stdout
    assert invoke("search", "zzqxv", "--json").exit_code == 1


@pytest.mark.parametrize(
    "query", ["clozapene", "G-CSF", "african", "workup", "chemo", "neutropnia", "categories"]
)
def test_plain_engine_agrees_on_typos_synonyms_and_sections(kb, monkeypatch, query):
    from leuko_cli.kb import store

    expected = kb.search(query, limit=20)
    monkeypatch.setattr(store, "fts5_available", lambda: False)
    fresh = KnowledgeBase(kb.data)
    assert fresh.search(query, limit=20) == expected
    assert isinstance(fresh._search, engine.PlainIndex)


def test_every_section_is_found_by_its_own_name(kb):
    for kind, names in engine.SECTION_NAMES.items():
        for name in names:
            results = kb.search(name, limit=1)
            assert results and results[0]["kind"] == kind, name


@pytest.mark.parametrize("query", ["parvovirus", "sjogren", "thymoma", "anaemia", "b12"])
def test_a_snippet_starts_and_ends_on_whole_words(kb, query):
    """A cut snippet shows whole words ('…tological effect' read as a typo)."""
    from leuko_cli.kb.search import snippet

    words = " ".join(
        "Its commonest haematological effect is anaemia from a temporary halt of red-cell "
        "production (pure red cell aplasia). Neutropenia, thrombocytopenia and lymphopenia are "
        "reported less often, and parvovirus sjogren thymoma b12 appear here for the test, "
        "followed by enough further words to make the text longer than one snippet is wide.".split()
    )
    text = snippet([("body", words)], [query])
    inner = text.strip("…")
    assert words.find(inner) >= 0
    start, end = words.find(inner), words.find(inner) + len(inner)
    assert start == 0 or words[start - 1] == " "
    assert end == len(words) or words[end] == " "
    assert query in inner.casefold()
