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


def _category(c: dict):
    return (
        f"Category: {c['name']}",
        [("title", c["name"]), *(("names", a) for a in c.get("aliases") or [])],
        [c["name"]],
    )


def _reference_range(r: dict):
    return (
        r["name"],
        [
            ("title", r["name"]),
            ("body", r["population"]),
            *(("extra", t) for t in _texts(r.get("note"))),
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
    ("category", "categories", _category),
    ("reference_range", "reference_ranges", _reference_range),
]
# Each kind is findable by the name of its section ("leuko search workup"): these words go in
# the names column of every entry of the kind. Causes need none (every entry is one).
KIND_WORDS = {
    "scale": "scale grading",
    "workup": "workup diagnostic approach",
    "management": "management",
    "presentation": "presentation",
    "classification": "classification",
    "fever_rule": "fever rule febrile neutropenia definition",
    "drug_monitoring": "monitoring",
    "score": "score risk index",
    "reference": "reference citation",
    "category": "category",
    "reference_range": "reference range",
}
TABLE_OF = {kind: table for kind, table, _ in KINDS}
_BUILDER = {kind: build for kind, _, build in KINDS}


def document(kind: str, entry: dict) -> tuple[str, list[tuple[str, str]], list[str]]:
    """(title, [(column, text)], extra names) of one entry."""
    return _BUILDER[kind](entry)


def row(kind: str, entry: dict) -> tuple[str, str, list[str], str]:
    """(kind, id, [column text] in COLUMNS order, folded names) of one entry. Column text is
    terms joined by spaces, ready for either engine."""
    title, fields, names = _BUILDER[kind](entry)
    columns = {c: [] for c in COLUMNS}
    if kind in KIND_WORDS:
        fields = [*fields, ("names", KIND_WORDS[kind])]
    for column, text in fields:
        columns[column].extend(terms(text))
    folded = NAME_SEP.join(fold_name(n) for n in (title, entry["id"], *names))
    return (kind, entry["id"], [" ".join(columns[c]) for c in COLUMNS], folded)


def rows(tables, row_of=row) -> list[tuple[str, str, list[str], str]]:
    """row() of every entry, kind by kind in KINDS order; `tables(name)` gives a KB table.
    `row_of` may answer from a memo (kb/chunks.py)."""
    return [row_of(kind, entry) for kind, table, _ in KINDS for entry in tables(table)]


# --- ranking --------------------------------------------------------------------------------


def _stemmed(text: str) -> str:
    return " ".join(stem(w) for w in text.split())


def boost(phrases: list[str], names: str) -> float:
    """EXACT_BOOST when the query (or its typo-corrected or synonym-expanded form) is an
    entry's name, id or synonym, word stems compared ("clozapin" is "Clozapine");
    PHRASE_BOOST when a phrase of several words is inside one of them."""
    folded = [_stemmed(n) for n in names.split(NAME_SEP)]
    best = 1.0
    for phrase in (_stemmed(fold_name(p)) for p in phrases):
        if phrase in folded:
            return EXACT_BOOST
        if " " in phrase and any(f" {phrase} " in f" {n} " for n in folded):
            best = PHRASE_BOOST
    return best


def rank(
    phrases: list[str], hits, limit: int, section: str | None = None, order=None
) -> list[tuple[str, str, float]]:
    """hits: (kind, id, folded names, bm25 score) -> best (kind, id, score), causes first on
    equal scores, then by id, so the answer never depends on the engine's row order. When the
    query names a section (`section`, a kind), its entries come first in KB order (`order`
    maps (kind, id) to the position): "workup" lists the steps as the KB numbers them."""
    order = order or {}
    scored = [(score * boost(phrases, names), kind, ident) for kind, ident, names, score in hits]
    scored.sort(
        key=lambda h: (
            h[1] != section,
            order.get((h[1], h[2]), 0) if h[1] == section else 0,
            -round(h[0], 9),
            h[1] != "cause",
            h[2],
        )
    )
    return [(kind, ident, score) for score, kind, ident in scored[:limit]]


# A query that is a section's own name lists that section (stems compared).
SECTION_NAMES = {
    "workup": ("workup", "diagnostic workup", "diagnostic approach"),
    "category": ("category", "cause categories"),
    "classification": ("classification",),
    "management": ("management",),
    "presentation": ("presentation", "clinical presentation"),
    "scale": ("scale", "grading scale", "severity scale"),
    "reference_range": ("reference range",),
    "fever_rule": ("fever rule",),
    "drug_monitoring": ("drug monitoring",),
    "score": ("score", "risk score"),
    "reference": ("reference", "citation"),
}


def section_named(expanded_query: str) -> str | None:
    wanted = _stemmed(fold_name(expanded_query))
    for kind, names in SECTION_NAMES.items():
        if wanted in {_stemmed(n) for n in names}:
            return kind
    return None


# --- what the query means: synonyms and typos -----------------------------------------------


def expand(query: str, synonyms: list[dict]) -> tuple[str, list[str]]:
    """(the query with each synonym term replaced by its expansions, the expansions).
    Terms match as whole words, ignoring case and hyphens; longer terms are tried first, so
    "absolute neutrophil count" wins over "neutrophil count"."""
    text = f" {fold_name(query)} "
    used: list[str] = []
    pairs = [(fold_name(t), e) for e in synonyms for t in e["terms"]]
    for term, entry in sorted(pairs, key=lambda p: -len(p[0])):
        if term and f" {term} " in text:
            text = text.replace(f" {term} ", " ")
            used += [x for x in entry["expands_to"] if x not in used]
    return " ".join([text.strip(), *used]).strip(), used


def correct(query_words: list[str], vocabulary: set[str]) -> list[str]:
    """Each word whose stem the index does not hold is replaced by the closest indexed word
    (difflib ratio 0.8 or more: one or two letters wrong in a drug name), if there is one.
    Done in Python before either engine runs, so FTS5 and the plain engine see the same
    corrected words and still agree."""
    import difflib

    stems = {stem(w) for w in vocabulary}
    out = []
    for word in query_words:
        if stem(word) in stems or len(word) < 4:
            out.append(word)
            continue
        close = difflib.get_close_matches(word, sorted(vocabulary), n=1, cutoff=0.8)
        out.append(close[0] if close else word)
    return list(dict.fromkeys(out))


def vocabulary(index_rows) -> set[str]:
    return {w for _, _, columns, _ in index_rows for text in columns for w in text.split()}


# What opens each kind of result; every one is a command that runs (tests/test_search.py).
def command(kind: str, entry: dict) -> str:
    if kind == "cause":
        return f"leuko causes show {entry['id']}"
    if kind == "category":
        return f"leuko causes --category {entry['id']}"
    if kind == "drug_monitoring":
        duffy = " --duffy-null" if entry.get("population") == "duffy-null" else ""
        return f"leuko assess --anc 1200 --drug {entry['drug']}{duffy}"
    if kind == "fever_rule":
        return "leuko assess --anc 400 --temp 38.6"
    if kind == "reference_range":
        return _range_command(entry)
    return {
        "scale": "leuko scales",
        "workup": "leuko workup",
        "management": "leuko manage",
        "presentation": "leuko manage",
        "classification": "leuko classify",
        "score": f"leuko {entry['id']} --help",  # the factors to pass are listed there
        "reference": "leuko refs",
    }[kind]


def _range_command(r: dict) -> str:
    """An assessment that uses this range: its measure, an age inside it, Duffy-null if so."""
    lo, hi = r.get("age_min_days"), r.get("age_max_days")
    days = (lo or 0) + ((hi - (lo or 0)) / 2 if hi is not None else 365.25 * 30)
    flags = f" --age {days / 365.25:.4g}"
    if r.get("population") == "duffy-null":
        flags += " --duffy-null"
    return f"leuko assess --{r['measure']} 1000{flags}"


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
    end = start + width
    # begin and end at word boundaries, never inside a word (the match itself stays in)
    if start and chosen[start - 1] != " ":
        after = chosen.find(" ", start, pos)
        start = after + 1 if after >= 0 else start
    if end < len(chosen) and chosen[end] != " ":
        before = chosen.rfind(" ", max(start, pos), end)
        end = before if before > 0 else end
    piece = chosen[start:end].strip()
    return ("…" if start else "") + piece + ("…" if end < len(chosen) else "")
