"""Ranked search over every kind of KB entry: what is indexed, how text becomes terms, how the
user's query is made safe for FTS5, and the plain-Python engine for sqlite builds without FTS5.

The store (store.py) keeps an FTS5 table with one row per entry and five columns of falling
weight (COLUMNS): a match in a name or synonym counts far more than a mention in a summary.
Ranking is FTS5's bm25() with those weights, then a boost when the whole query is an entry's
name, id or synonym (or, for several words, a phrase inside one).

Text is turned into terms here, in Python, for both engines: casefolded runs of letters and
digits, stopwords dropped, stored space-separated. FTS5's `ascii` tokenizer then splits on the
spaces only (it treats every non-ASCII byte as part of a word), and its `porter` stemmer stems
each term; the plain engine stems with porter.py, which does what FTS5's stemmer does. So both
engines see the same terms, and PlainIndex computes bm25 the way FTS5 documents it: they find
the same entries in the same order (tests/test_search.py compares them).
"""

from __future__ import annotations

import math
import re

from .porter import stem

COLUMNS = ("title", "names", "body", "detail", "extra")
WEIGHTS = (4.0, 3.0, 1.0, 0.6, 0.3)
K1, B = 1.2, 0.75  # FTS5's bm25 constants
EXACT_BOOST = 2.0  # the whole query is the entry's name, id or a synonym
PHRASE_BOOST = 1.5  # a query of several words is a phrase inside one of those
STOPWORDS = frozenset("a an and are as at be by for from in is it of on or the to with".split())
_WORD = re.compile(r"[^\W_]+")
NAME_SEP = "\x1f"  # between an entry's folded names in the store; never inside folded text


def words(text: str) -> list[str]:
    """Casefolded letter/digit runs (µ and μ read as u): "B12-deficiency" -> b12, deficiency."""
    return _WORD.findall(text.casefold().replace("µ", "u").replace("μ", "u"))


def terms(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def fold_name(text: str) -> str:
    return " ".join(words(text))


def query_terms(query: str) -> list[str]:
    """The query's terms, one per stem (FTS5 would otherwise count a repeated stem twice)."""
    seen: dict[str, str] = {}
    for term in terms(query):
        seen.setdefault(stem(term), term)
    return list(seen.values())


def fts_query(query_words: list[str]) -> str:
    """An FTS5 MATCH expression that can only mean "any of these words": each is a quoted
    string (embedded quotes doubled), so no user text is read as FTS5 syntax."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in query_words)


# --- what is indexed ------------------------------------------------------------------------
# Each entry becomes a document: kind, id, title, (column, text) fields and its names.


def _texts(value) -> list[str]:
    if not value:
        return []
    return [str(v) for v in ([value] if isinstance(value, str) else value) if v]


def _cause(c: dict):
    return (
        c["name"],
        [
            ("title", c["name"]),
            *(("names", s) for s in c["synonyms"]),
            ("names", c["id"].replace("-", " ")),
            ("body", c["summary"]),
            *(("body", t) for t in _texts(c.get("mechanism_detail"))),
            *(("detail", t) for t in (*c["features"], *c["workup"], *c["management"])),
            *(("extra", t) for t in _texts(c.get("patient_summary"))),
        ],
        c["synonyms"],
    )


def _scale(s: dict):
    return (
        f"{s['name']} ({s['system']} {s['version']})",
        [
            ("title", s["name"]),
            ("names", s["term"]),
            ("body", f"{s['system']} {s['version']}"),
            *(("body", t) for t in _texts(s.get("definition"))),
            *(("detail", t) for t in _texts(s.get("note"))),
            *(("detail", f"{b['label']} {b.get('meaning') or ''}") for b in s["bands"]),
        ],
        [],
    )


def _workup(w: dict):
    return (
        f"Workup step {w['step']}: {w['title']}",
        [
            ("title", w["title"]),
            ("body", w["detail"]),
            *(("detail", t) for t in _texts(w.get("items"))),
        ],
        [],
    )


def _management(m: dict):
    return (
        m["topic"],
        [
            ("title", m["topic"]),
            ("body", m["summary"]),
            *(("detail", t) for t in _texts(m.get("items"))),
        ],
        [],
    )


def _presentation(p: dict):
    return p["name"], [("title", p["name"]), ("body", p["summary"])], []


def _classification(a: dict):
    return (
        f"Classification: {a['axis']}",
        [
            ("title", a["axis"]),
            ("body", a["summary"]),
            *(("detail", f"{o['name']}: {o['description']}") for o in a["options"]),
        ],
        [],
    )


def _fever_rule(r: dict):
    return (
        r["name"],
        [
            ("title", r["name"]),
            ("body", r["summary"]),
            *(("detail", t) for t in _texts(r.get("emergency_action"))),
            *(("extra", t) for t in _texts(r.get("note"))),
        ],
        [],
    )


def _drug_monitoring(d: dict):
    return (
        d["name"],
        [
            ("title", d["name"]),
            *(("names", t) for t in (d["drug"], *d["synonyms"])),
            *(("extra", t) for t in _texts(d.get("note"))),
            *(("extra", f"{b['label']} {b.get('action') or ''}") for b in d["bands"]),
        ],
        [],
    )


def _score(s: dict):
    return (
        s["name"],
        [
            ("title", s["name"]),
            ("body", s["summary"]),
            *(("extra", t) for t in _texts(s.get("limits"))),
        ],
        [],
    )


def _reference(r: dict):
    # findable by title, author or journal, but never above an entry that is about the words
    return (
        r["title"],
        [
            ("extra", r["title"]),
            *(("extra", a) for a in r.get("authors") or []),
            ("extra", r["journal"]),
        ],
        [],
    )


# (kind, KB table, document builder); the order is the order rows enter the index
KINDS = [
    ("cause", "causes", _cause),
    ("scale", "scales", _scale),
    ("workup", "workup", _workup),
    ("management", "management", _management),
    ("presentation", "presentation", _presentation),
    ("classification", "classification", _classification),
    ("fever_rule", "fever_rules", _fever_rule),
    ("drug_monitoring", "drug_monitoring", _drug_monitoring),
    ("score", "scores", _score),
    ("reference", "references", _reference),
]
TABLE_OF = {kind: table for kind, table, _ in KINDS}
_BUILDER = {kind: build for kind, _, build in KINDS}


def document(kind: str, entry: dict) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(title, [(column, text)], extra names) of one entry."""
    return _BUILDER[kind](entry)


def rows(tables) -> list[tuple[str, str, list[str], str]]:
    """(kind, id, [column text] in COLUMNS order, folded names) per entry; `tables(name)`
    gives a KB table. Column text is terms joined by spaces, ready for either engine."""
    out = []
    for kind, table, build in KINDS:
        for entry in tables(table):
            title, fields, names = build(entry)
            columns = {c: [] for c in COLUMNS}
            for column, text in fields:
                columns[column].extend(terms(text))
            folded = NAME_SEP.join(fold_name(n) for n in (title, entry["id"], *names))
            out.append((kind, entry["id"], [" ".join(columns[c]) for c in COLUMNS], folded))
    return out


# --- ranking --------------------------------------------------------------------------------


def boost(query: str, names: str) -> float:
    phrase = fold_name(query)
    folded = names.split(NAME_SEP)
    if phrase in folded:
        return EXACT_BOOST
    if " " in phrase and any(f" {phrase} " in f" {n} " for n in folded):
        return PHRASE_BOOST
    return 1.0


def rank(query: str, hits, limit: int) -> list[tuple[str, str, float]]:
    """hits: (kind, id, folded names, bm25 score) -> best (kind, id, score), causes first on
    equal scores, then by id, so the answer never depends on the engine's row order."""
    scored = [(score * boost(query, names), kind, ident) for kind, ident, names, score in hits]
    scored.sort(key=lambda h: (-round(h[0], 9), h[1] != "cause", h[2]))
    return [(kind, ident, score) for score, kind, ident in scored[:limit]]


class PlainIndex:
    """bm25 over rows() without sqlite: used only when the sqlite3 build lacks FTS5."""

    def __init__(self, index_rows) -> None:
        self.docs = []
        total = 0
        for kind, ident, columns, names in index_rows:
            stems = [[stem(t) for t in text.split()] for text in columns]
            total += sum(len(s) for s in stems)
            self.docs.append((kind, ident, names, stems))
        self.n = len(self.docs)
        self.avgdl = total / self.n if self.n else 0.0

    def hits(self, query_words: list[str]):
        wanted = [stem(w) for w in query_words]
        counts = {w: 0 for w in wanted}
        matching = []
        for kind, ident, names, stems in self.docs:
            found = {w for column in stems for w in column if w in counts}
            if found:
                for w in found:
                    counts[w] += 1
                matching.append((kind, ident, names, stems))
        idf = {}
        for w, n in counts.items():  # as FTS5: log((N - n + 0.5) / (n + 0.5)), at least 1e-6
            value = math.log((self.n - n + 0.5) / (n + 0.5)) if self.n else 0.0
            idf[w] = value if value > 0 else 1e-6
        out = []
        for kind, ident, names, stems in matching:
            length = sum(len(column) for column in stems)
            score = 0.0
            for w in wanted:
                freq = 0.0
                for weight, column in zip(WEIGHTS, stems):
                    for t in column:
                        if t == w:
                            freq += weight
                score += (
                    idf[w] * (freq * (K1 + 1)) / (freq + K1 * (1 - B + B * length / self.avgdl))
                )
            out.append((kind, ident, names, score))
        return out


def snippet(fields: list[tuple[str, str]], query_words: list[str], width: int = 160) -> str:
    """A piece of the first summary-like text that mentions a query word (else the first)."""
    wanted = {stem(w) for w in query_words}
    weight = dict(zip(COLUMNS, WEIGHTS))
    texts = [t for _, t in sorted(fields, key=lambda f: abs(weight[f[0]] - 1))]
    chosen = next((t for t in texts if len(t) > 40 and wanted & {stem(w) for w in terms(t)}), None)
    if chosen is None:
        chosen = next((t for t in texts if len(t) > 40), fields[0][1] if fields else "")
    chosen = " ".join(chosen.split())
    if len(chosen) <= width:
        return chosen
    low = chosen.casefold()
    pos = min((low.find(w[:4]) for w in query_words if low.find(w[:4]) >= 0), default=0)
    start = max(0, pos - width // 3)
    piece = chosen[start : start + width].strip()
    return ("…" if start else "") + piece + ("…" if start + width < len(chosen) else "")
