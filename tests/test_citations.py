"""`leuko refs --format`: BibTeX, RIS and CSL-JSON export that parses back (issue 6)."""

from __future__ import annotations

import json
import re

import pytest

from leuko_cli import citations

_UNESCAPE = {
    r"\textbackslash{}": "\\",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\{": "{",
    r"\}": "}",
    r"\&": "&",
    r"\%": "%",
    r"\$": "$",
    r"\#": "#",
    r"\_": "_",
}


def parse_bibtex(text: str) -> list[dict]:
    """A minimal BibTeX parser: @type{key, field = {value}, ...} with nested braces."""
    entries = []
    pos = 0
    while m := re.compile(r"@(\w+)\{([^,\s]+),").search(text, pos):
        entry = {"_type": m.group(1), "_key": m.group(2)}
        i = m.end()
        while True:
            fm = re.compile(r"\s*(\w+)\s*=\s*\{").match(text, i)
            if not fm:
                break
            depth, j = 1, fm.end()
            while depth:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            raw = text[fm.end() : j - 1]
            for esc, ch in _UNESCAPE.items():
                raw = raw.replace(esc, ch)
            if raw.startswith("{") and raw.endswith("}"):
                raw = raw[1:-1]
            entry[fm.group(1)] = raw
            i = j
            if text[i] == ",":
                i += 1
        assert text[i:].lstrip().startswith("}"), text[i : i + 40]
        entries.append(entry)
        pos = i
    return entries


def parse_ris(text: str) -> list[dict]:
    records, current = [], None
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^([A-Z][A-Z0-9])  - ?(.*)$", line)
        assert m, f"not a RIS line: {line!r}"
        tag, value = m.groups()
        if tag == "TY":
            current = {"TY": value}
        elif tag == "ER":
            records.append(current)
            current = None
        else:
            current.setdefault(tag, []).append(value)
    assert current is None
    return records


@pytest.fixture
def refs(kb):
    from leuko_cli import queries

    return queries.references(kb)


def test_bibtex_round_trips_every_reference(invoke, refs):
    res = invoke("refs", "--format", "bibtex")
    assert res.exit_code == 0
    entries = parse_bibtex(res.stdout)
    assert [e["_key"] for e in entries] == [r["id"] for r in refs]
    for e, r in zip(entries, refs):
        assert e["title"] == r["title"]
        assert e["year"] == str(r["year"])
        assert e.get("doi") == r.get("doi")
        assert e.get("pmid") == r.get("pmid")
        assert e.get("url") == r.get("url")
        assert e["_type"] in ("article", "misc")
        assert (e.get("journal") or e.get("howpublished")) == r["journal"]


def test_ris_round_trips_every_reference(invoke, refs):
    res = invoke("refs", "--format", "ris")
    records = parse_ris(res.stdout)
    assert len(records) == len(refs)
    for rec, r in zip(records, refs):
        assert rec["TI"] == [r["title"]]
        assert rec["PY"] == [str(r["year"])]
        assert rec.get("DO") == ([r["doi"]] if r.get("doi") else None)
        assert rec.get("UR") == ([r["url"]] if r.get("url") else None)
        assert rec["ID"] == [r["id"]]
        if r.get("pages") and "-" in r["pages"]:
            assert rec["SP"][0] + "-" + rec["EP"][0] == r["pages"]
        authors = [a for a in r["authors"] if a != "et al."]
        assert len(rec.get("AU", [])) == len(authors)


def test_csl_json_round_trips(invoke, refs):
    items = json.loads(invoke("refs", "--format", "csl-json").stdout)
    assert [i["id"] for i in items] == [r["id"] for r in refs]
    for item, r in zip(items, refs):
        assert item["title"] == r["title"]
        assert item["issued"] == {"date-parts": [[r["year"]]]}
        assert item.get("DOI") == r.get("doi")
        assert item.get("PMID") == r.get("pmid")
        assert item["type"] in (
            "article-journal",
            "standard",
            "webpage",
            "book",
            "document",
            "report",
        )


def test_identifiers_only_where_present():
    ref = {"id": "x", "kind": "web", "authors": [], "title": "T", "journal": "J", "year": 2020}
    assert "doi" not in citations.bibtex_entry(ref)
    assert "DO  -" not in citations.ris_entry(ref) and "UR  -" not in citations.ris_entry(ref)
    assert "DOI" not in citations.csl_item(ref) and "author" not in citations.csl_item(ref)


def test_bibtex_escaping_round_trips():
    title = r"50% of {odd} cases & more_than #1 at $5 ~ x^2 \ done"
    ref = {
        "id": "odd key!",
        "kind": "article",
        "authors": ["O'Brien AB", "Smith & Co"],
        "title": title,
        "journal": "J_of Things",
        "year": 2001,
        "pages": "e1-e9",
        "doi": "10.1000/a_b",
    }
    text = citations.bibtex_entry(ref)
    (entry,) = parse_bibtex(text)
    assert entry["title"] == title
    assert entry["journal"] == "J_of Things"
    assert entry["doi"] == "10.1000/a_b"
    assert entry["pages"] == "e1--e9"
    assert entry["_key"] == "odd-key-"
    assert entry["author"] == "O'Brien, A. B. and {Smith & Co}"


@pytest.mark.parametrize("fmt", ["bibtex", "ris", "csl-json"])
def test_control_characters_from_an_overlay_are_shown_not_written(fmt):
    """An overlay reference is text from outside: `leuko refs --format bibtex` printed its raw
    ESC (a title holding ESC [2J cleared the screen), as RIS did; JSON escapes them."""
    evil = "A\x1b[2J\x1b]8;;http://x\x07B\u202ec\x9b"
    ref = {
        "id": "overlay-ref",
        "kind": "web",
        "authors": [f"Smith{evil} J", evil],
        "title": evil,
        "journal": evil,
        "year": 2025,
        "volume": evil,
        "issue": evil,
        "pages": evil,
        "doi": "10.1000/x" + evil,
        "url": "https://example.org/" + evil,
        "pmid": "1" + evil,
    }
    text = citations.export([ref], fmt)
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), repr(text)
    if fmt == "csl-json":  # the same data, escaped as JSON
        assert json.loads(text)[0]["title"] == evil
        return
    assert "\\x1b" in text.replace("\\textbackslash{}", "\\")


def test_author_names():
    assert citations.split_author("Freifeld AG") == ("Freifeld", "A. G.")
    assert citations.split_author("Virizuela Echaburu J") == ("Virizuela Echaburu", "J.")
    assert citations.split_author("World Health Organization") == (
        "World Health Organization",
        None,
    )
    ref = {
        "id": "k",
        "kind": "review",
        "authors": ["Lam L", "et al."],
        "title": "T",
        "journal": "J",
        "year": 2019,
    }
    assert "author = {Lam, L. and others}" in citations.bibtex_entry(ref)
    assert "N1  - Author list truncated" in citations.ris_entry(ref)


def test_json_alias_and_text(invoke):
    a = invoke("refs", "--json")
    b = invoke("refs", "--format", "json")
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout
    assert invoke("refs", "--format", "text").stdout == invoke("refs").stdout


def test_cause_filter(invoke, kb):
    from leuko_cli import queries

    cause = kb.table("causes")[0]
    res = invoke("refs", "--cause", cause["id"], "--format", "bibtex")
    keys = [e["_key"] for e in parse_bibtex(res.stdout)]
    assert keys == [r["id"] for r in queries.references(kb, cause["references"])]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "endnote"], "unknown --format 'endnote'"),
        (["--format", "ris", "--json"], "--json means --format json"),
    ],
)
def test_bad_format_exit_2(invoke, args, message):
    res = invoke("refs", *args)
    assert res.exit_code == 2 and message in res.stderr
